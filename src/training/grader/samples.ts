/**
 * Disc crops of a whole dataset, from the localiser's discs on every series. For training, a series'
 * levels are checked against its annotated disc keypoints (T2), or those of the same patient's T2
 * carried over by position (T1 of the same field of view): when they say the localiser's count is
 * off by one, the training labels follow the keypoints. Predictions always use the localiser's levels.
 */
import { carryKeypoints } from '../../datasets/keypoints.js';
import type { DatasetSequence, DiscKeypoint, SeriesRecord, SpineDataset } from '../../datasets/types.js';
import { type ImageLocalization, type Localizer, localizeSeries } from '../../localize/localizer.js';
import type { LocalizedDisc } from '../../localize/postprocess.js';
import { distanceToPolygon } from '../../metrics/detection.js';
import { robustRange } from '../../transforms/intensity.js';
import type { Image2D } from '../../transforms/resample.js';
import { cropDisc, DEFAULT_CROP_CONFIG, type DiscCropConfig } from '../../grade/crops.js';
import { type DiscMeasures, measureDisc } from '../../grade/measures.js';

/** One localised disc of one series, cropped. */
export interface DiscCropRecord {
  readonly patient: string;
  readonly series: string;
  readonly sequence: DatasetSequence;
  /** The localiser's level (what a prediction reports). */
  readonly ivdLabel: number;
  /** The level whose labels train on this crop: the localiser's, corrected by keypoints where they exist. */
  readonly trainingIvdLabel: number;
  readonly crop: Float32Array;
  /** The localised disc on its slice (pixel coordinates). */
  readonly disc: LocalizedDisc;
  /** Quantitative measures of the disc on its slice (absent when not asked for). */
  readonly measures?: DiscMeasures;
}

/** What grading reads of a cropped disc: crop, level, measures and sequence. */
export function gradableDisc(record: DiscCropRecord): {
  crop: Float32Array;
  ivdLabel: number;
  level: string;
  measures: DiscMeasures | undefined;
  sequence: string;
} {
  return {
    crop: record.crop,
    ivdLabel: record.ivdLabel,
    level: record.disc.level,
    measures: record.measures,
    sequence: record.sequence,
  };
}

/** Highest IVD label cropped (T7/T8): SPIDER grades a few thoracic discs too. */
const MAX_CROPPED_IVD_LABEL = 10;

/**
 * The level offset the keypoints imply for a slice's discs (keypoint label − disc label, the most
 * common over discs whose outline lies within 3 mm of a keypoint); undefined when no disc matches.
 */
export function keypointLevelOffset(
  discs: readonly LocalizedDisc[],
  keypoints: readonly DiscKeypoint[],
  pixelSpacing: readonly [number, number],
): number | undefined {
  const counts = new Map<number, number>();
  for (const keypoint of keypoints) {
    let best: LocalizedDisc | undefined;
    let distance = Number.POSITIVE_INFINITY;
    for (const disc of discs) {
      if (disc.outline.length < 3) continue;
      const d = distanceToPolygon([keypoint.x, keypoint.y], disc.outline, [pixelSpacing[0], pixelSpacing[1]]);
      if (d < distance) {
        distance = d;
        best = disc;
      }
    }
    if (best && distance <= 3) {
      const offset = keypoint.ivdLabel - best.ivdLabel;
      counts.set(offset, (counts.get(offset) ?? 0) + 1);
    }
  }
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || Math.abs(a[0]) - Math.abs(b[0]));
  return ranked[0]?.[0];
}

/** The keypoints that check a series' levels: its own, or its patient's T2 ones carried over to a T1. */
async function checkingKeypoints(
  dataset: SpineDataset,
  series: SeriesRecord,
  image: Image2D,
): Promise<DiscKeypoint[] | undefined> {
  if (series.keypoints.length > 0) return [...series.keypoints];
  if (series.sequence !== 'T1') return undefined;
  const t2 = dataset.series.find((s) => s.patient === series.patient && s.sequence === 'T2' && s.keypoints.length > 0);
  if (!t2) return undefined;
  return carryKeypoints(t2.keypoints, await t2.loadMidSagittal(), image);
}

/** Options of {@link collectDiscCrops}. */
export interface CollectOptions {
  readonly crop?: DiscCropConfig;
  /** Correct training levels with keypoints (default true). */
  readonly correctWithKeypoints?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Localises every series of the dataset (each patient with a localiser that never saw them, when
 * several are given) and crops every disc from L5/S1 (and a transitional S1/S2) up to T7/T8.
 */
export async function collectDiscCrops(
  dataset: SpineDataset,
  localizers: readonly Localizer[],
  options: CollectOptions = {},
): Promise<DiscCropRecord[]> {
  const config = options.crop ?? DEFAULT_CROP_CONFIG;
  const records: DiscCropRecord[] = [];
  let done = 0;
  await localizeSeries(dataset.series, localizers, async (series, image, localization) => {
    records.push(...(await cropsOfSeries(dataset, series, image, localization, config, options)));
    options.onProgress?.(++done, dataset.series.length);
  });
  const order = new Map(dataset.series.map((s, n) => [s.id, n]));
  return records.sort((a, b) => (order.get(a.series) ?? 0) - (order.get(b.series) ?? 0) || a.ivdLabel - b.ivdLabel);
}

/** The crops of one localised series. */
export async function cropsOfSeries(
  dataset: SpineDataset | undefined,
  series: Pick<SeriesRecord, 'id' | 'patient' | 'sequence' | 'keypoints'>,
  image: Image2D,
  localization: Pick<ImageLocalization, 'discs' | 'vertebrae' | 'classes'>,
  config: DiscCropConfig,
  options: Pick<CollectOptions, 'correctWithKeypoints'> & { measure?: boolean } = {},
): Promise<DiscCropRecord[]> {
  const discs = localization.discs.filter((d) => d.ivdLabel >= 0 && d.ivdLabel <= MAX_CROPPED_IVD_LABEL);
  let offset = 0;
  if (dataset && options.correctWithKeypoints !== false) {
    const keypoints = await checkingKeypoints(dataset, series as SeriesRecord, image);
    offset = (keypoints && keypointLevelOffset(discs, keypoints, image.pixelSpacing)) ?? 0;
  }
  const range = robustRange(image.pixels);
  return discs.map((disc) => ({
    patient: series.patient,
    series: series.id,
    sequence: series.sequence,
    ivdLabel: disc.ivdLabel,
    trainingIvdLabel: disc.ivdLabel + offset,
    crop: cropDisc(image, disc, config, range).pixels,
    disc,
    ...(options.measure === false ? {} : { measures: measureDisc(image, localization, disc) }),
  }));
}
