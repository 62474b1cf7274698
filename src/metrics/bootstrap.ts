/** Percentile bootstrap confidence intervals that resample whole groups (patients), never single discs. */
import { SpinegradeError } from '../errors.js';
import { mulberry32 } from './random.js';

/** Options of {@link bootstrapCi}. */
export interface BootstrapOptions {
  /** The number of bootstrap resamples (default 2000). */
  resamples?: number;
  /** The seed of the random generator (default 20261127), so that intervals are reproducible. */
  seed?: number;
  /** The confidence level, within (0, 1) (default 0.95). */
  level?: number;
}

/** A point estimate and its bootstrap confidence interval. */
export interface BootstrapResult {
  /** The statistic on all items. */
  estimate: number;
  /** The lower percentile bound; NaN when fewer than half the resamples gave a number. */
  lower: number;
  /** The upper percentile bound; NaN when fewer than half the resamples gave a number. */
  upper: number;
  /** The number of resamples whose statistic was not NaN (those the bounds come from). */
  resamples: number;
}

/** The default number of bootstrap resamples. */
export const DEFAULT_BOOTSTRAP_RESAMPLES = 2000;
/** The default bootstrap seed. */
export const DEFAULT_BOOTSTRAP_SEED = 20261127;
/** The default confidence level. */
export const DEFAULT_BOOTSTRAP_LEVEL = 0.95;

/**
 * A percentile bootstrap confidence interval for `statistic`. The estimate is the statistic on all
 * items; each resample draws `groups.length` groups (patients) with replacement, keeps each group
 * whole, flattens them and computes the statistic. Resamples whose statistic is NaN (e.g. an AUC of
 * one class) are skipped and not counted; if fewer than half are valid the bounds are NaN. Bounds are
 * the (1 − level)/2 and (1 + level)/2 percentiles of the valid resamples, interpolated linearly.
 * This is how every confidence interval in spinegrade is computed: over patients, never over discs.
 */
export function bootstrapCi<T>(
  groups: readonly T[][],
  statistic: (items: T[]) => number,
  options: BootstrapOptions = {},
): BootstrapResult {
  const resamples = options.resamples ?? DEFAULT_BOOTSTRAP_RESAMPLES;
  const seed = options.seed ?? DEFAULT_BOOTSTRAP_SEED;
  const level = options.level ?? DEFAULT_BOOTSTRAP_LEVEL;
  if (groups.length === 0) throw new SpinegradeError('USAGE', 'bootstrap: no groups (empty input)');
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new SpinegradeError('USAGE', `bootstrap: resamples must be a positive integer, got ${resamples}`);
  }
  if (!(level > 0 && level < 1)) {
    throw new SpinegradeError('USAGE', `bootstrap: level must be within (0, 1), got ${level}`);
  }
  const estimate = statistic(groups.flat());
  const random = mulberry32(seed);
  const values: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const items: T[] = [];
    for (let g = 0; g < groups.length; g++) {
      const group = groups[Math.floor(random() * groups.length)] as T[];
      for (const item of group) items.push(item);
    }
    const value = statistic(items);
    if (!Number.isNaN(value)) values.push(value);
  }
  if (values.length * 2 < resamples) {
    return { estimate, lower: Number.NaN, upper: Number.NaN, resamples: values.length };
  }
  const sorted = Float64Array.from(values).sort();
  return {
    estimate,
    lower: interpolatedPercentile(sorted, (1 - level) / 2),
    upper: interpolatedPercentile(sorted, (1 + level) / 2),
    resamples: values.length,
  };
}

/** Items grouped by `patient`, groups in order of each patient's first item and items in input order. */
export function groupByPatient<T extends { patient: string }>(items: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(item.patient) ?? [];
    list.push(item);
    groups.set(item.patient, list);
  }
  return [...groups.values()];
}

/** The q-quantile (0-1) of sorted values, interpolating linearly between order statistics. */
function interpolatedPercentile(sorted: Float64Array, q: number): number {
  const rank = q * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
}
