/** Intensity normalisation that ignores outliers (MR intensities have no absolute scale). */
import { SpinegradeError } from '../errors.js';

/** The `p`-th percentile (0-100) of the values, by linear interpolation between order statistics. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentiles(values, [p])[0] as number;
}

/** Several percentiles at once (one sort). */
export function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  if (values.length === 0) throw new SpinegradeError('USAGE', 'cannot take a percentile of no values');
  const sorted = Float64Array.from(values).sort();
  return ps.map((p) => {
    if (!(p >= 0 && p <= 100)) throw new SpinegradeError('USAGE', `percentile must be within 0-100, got ${p}`);
    const rank = (p / 100) * (sorted.length - 1);
    const lo = Math.floor(rank);
    const hi = Math.min(lo + 1, sorted.length - 1);
    return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
  });
}

/**
 * Maps values linearly so the `low`-th percentile becomes 0 and the `high`-th becomes 1, clipping
 * outside. A constant image maps to all zeros.
 */
export function normalizeByPercentiles(values: ArrayLike<number>, low = 1, high = 99): Float32Array {
  const [lo, hi] = percentiles(values, [low, high]) as [number, number];
  const out = new Float32Array(values.length);
  const range = hi - lo;
  if (range <= 0) return out;
  for (let n = 0; n < values.length; n++) {
    const v = ((values[n] as number) - lo) / range;
    out[n] = Math.min(1, Math.max(0, v));
  }
  return out;
}
