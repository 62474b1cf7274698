/**
 * Validation of the spinal canal measures (grade/canal.ts) against SPIDER's expert canal masks: on
 * the middle slice of each T2 SPACE stack, the localiser finds the discs and vertebrae and segments
 * the canal; each AP diameter is measured twice along the same lines (the predicted discs' axes and
 * centres), once on the predicted canal and once on the expert one. The difference is therefore the
 * error of the canal segmentation as the measure sees it, not of disc finding. The mean absolute
 * difference gets a percentile bootstrap CI over patients.
 */
import type { MaskSliceRecord } from '../datasets/types.js';
import { MASK_VALUES } from '../datasets/types.js';
import { isLumbarIvdLabel } from '../disc/levels.js';
import { measureCanal } from '../grade/canal.js';
import { type Localizer, localizeImages } from '../localize/localizer.js';
import { type BootstrapResult, bootstrapCi, groupByPatient } from '../metrics/bootstrap.js';

/** One measure on one disc level, on the predicted and on the expert mask. */
export interface CanalPair {
  patient: string;
  slice: string;
  level: string;
  /** `disc`: at the disc level; `body`: mean at the adjacent mid-vertebral bodies. */
  site: 'disc' | 'body';
  predictedMm: number;
  expertMm: number;
}

/** What {@link validateCanalMeasures} found. */
export interface CanalValidation {
  patients: string[];
  slices: number;
  pairs: CanalPair[];
  /** Measures that one mask gave and the other did not (site, level), counted. */
  missingOnPredicted: number;
  missingOnExpert: number;
  /** Mean |predicted − expert| in mm, with its 95% bootstrap CI over patients, per site and both. */
  meanAbsoluteDifferenceMm: { disc: BootstrapResult; body: BootstrapResult; all: BootstrapResult };
  /** Mean (predicted − expert), mm: the bias. */
  meanDifferenceMm: number;
}

/** Each series' slices in stack order (by the slice number in the record's id), series in first-seen order. */
export function sortedStacks(records: readonly MaskSliceRecord[]): MaskSliceRecord[][] {
  const bySeries = new Map<string, MaskSliceRecord[]>();
  const sliceNumber = (r: MaskSliceRecord) => Number(/slice(\d+)/.exec(r.id)?.[1] ?? Number.NaN);
  for (const r of records) bySeries.set(r.series, [...(bySeries.get(r.series) ?? []), r]);
  return [...bySeries.values()].map((stack) => [...stack].sort((a, b) => sliceNumber(a) - sliceNumber(b)));
}

/** The middle slice of each series' stack (by the slice number in the record's id). */
export function middleSlices(records: readonly MaskSliceRecord[]): MaskSliceRecord[] {
  return sortedStacks(records).map((sorted) => sorted[Math.floor((sorted.length - 1) / 2)] as MaskSliceRecord);
}

/** SPIDER mask values (0 / 29 / 76 / 150) as the localiser's classes (0 / 1 / 2 / 3). */
export function classesOfMask(mask: Uint8Array): Uint8Array {
  return mask.map((v) =>
    v === MASK_VALUES.canal ? 3 : v === MASK_VALUES.vertebra ? 2 : v === MASK_VALUES.disc ? 1 : 0,
  );
}

function meanAbsolute(pairs: readonly CanalPair[]): number {
  return pairs.length ? pairs.reduce((s, p) => s + Math.abs(p.predictedMm - p.expertMm), 0) / pairs.length : Number.NaN;
}

/**
 * Measures the canal on the middle slice of each stack of `records` (those of `patients` only) with
 * `localizer`, on its predicted mask and on the expert mask, and summarises the differences.
 */
export async function validateCanalMeasures(
  records: readonly MaskSliceRecord[],
  localizer: Localizer,
  patients: ReadonlySet<string>,
  options: { resamples?: number } = {},
): Promise<CanalValidation> {
  const slices = middleSlices(records.filter((r) => patients.has(r.patient)));
  const pairs: CanalPair[] = [];
  let missingOnPredicted = 0;
  let missingOnExpert = 0;
  for (const record of slices) {
    const image = await record.loadImage();
    const expert = classesOfMask(await record.loadMask());
    const [found] = localizeImages(localizer, [image]);
    if (!found) continue;
    const map = { width: image.width, height: image.height, pixelSpacing: image.pixelSpacing };
    for (const disc of found.discs.filter((d) => isLumbarIvdLabel(d.ivdLabel))) {
      const predicted = measureCanal({ ...map, classes: found.classes }, found, disc);
      const reference = measureCanal({ ...map, classes: expert }, found, disc);
      for (const [site, p, e] of [
        ['disc', predicted.canalApMm, reference.canalApMm],
        ['body', predicted.canalApBodyMm, reference.canalApBodyMm],
      ] as const) {
        if (p === null && e !== null) missingOnPredicted++;
        if (e === null && p !== null) missingOnExpert++;
        if (p !== null && e !== null) {
          pairs.push({
            patient: record.patient,
            slice: record.id,
            level: disc.level,
            site,
            predictedMm: p,
            expertMm: e,
          });
        }
      }
    }
  }
  const ci = (subset: readonly CanalPair[]) =>
    subset.length
      ? bootstrapCi(groupByPatient(subset), meanAbsolute, { resamples: options.resamples })
      : { estimate: Number.NaN, lower: Number.NaN, upper: Number.NaN, resamples: 0 };
  return {
    patients: [...new Set(slices.map((s) => s.patient))].sort((a, b) => Number(a) - Number(b)),
    slices: slices.length,
    pairs,
    missingOnPredicted,
    missingOnExpert,
    meanAbsoluteDifferenceMm: {
      disc: ci(pairs.filter((p) => p.site === 'disc')),
      body: ci(pairs.filter((p) => p.site === 'body')),
      all: ci(pairs),
    },
    meanDifferenceMm: pairs.length
      ? pairs.reduce((s, p) => s + (p.predictedMm - p.expertMm), 0) / pairs.length
      : Number.NaN,
  };
}
