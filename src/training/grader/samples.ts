/**
 * Disc crops of a whole dataset, from the localiser's discs on every series. For training, a series'
 * levels are checked against its annotated disc keypoints (T2), or those of the same patient's T2
 * carried over by position (T1 of the same field of view): when they say the localiser's count is
 * off by one, the training labels follow the keypoints. Predictions always use the localiser's levels.
 */
import { carryKeypoints } from '../../datasets/keypoints.js';
import type { DiscKeypoint, SeriesRecord, SpineDataset } from '../../datasets/types.js';
import { DEFAULT_CROP_CONFIG, type DiscCropConfig } from '../../grade/crops.js';
import { cropLocalizedDiscs, type LocalizedDiscCrop } from '../../grade/discCrops.js';
import { type ImageLocalization, type Localizer, localizeSeries } from '../../localize/localizer.js';
import type { LocalizedDisc } from '../../localize/postprocess.js';
import { distanceToPolygon } from '../../metrics/detection.js';
import type { Image2D } from '../../transforms/resample.js';

/** A localised disc cropped for training: the inference crop and the level its labels come from. */
export interface DiscCropRecord extends LocalizedDiscCrop {
  /** The level whose labels train on this crop: the localiser's, corrected by keypoints where they exist. */
  readonly trainingIvdLabel: number;
}

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

/** The crops of one localised series, with training levels corrected by the dataset's keypoints. */
export async function cropsOfSeries(
  dataset: SpineDataset,
  series: SeriesRecord,
  image: Image2D,
  localization: Pick<ImageLocalization, 'discs' | 'vertebrae' | 'classes'>,
  config: DiscCropConfig,
  options: Pick<CollectOptions, 'correctWithKeypoints'> = {},
): Promise<DiscCropRecord[]> {
  const crops = cropLocalizedDiscs(series, image, localization, config);
  let offset = 0;
  if (options.correctWithKeypoints !== false) {
    const keypoints = await checkingKeypoints(dataset, series, image);
    const discs = crops.map((crop) => crop.disc);
    offset = (keypoints && keypointLevelOffset(discs, keypoints, image.pixelSpacing)) ?? 0;
  }
  return crops.map((crop) => ({ ...crop, trainingIvdLabel: crop.ivdLabel + offset }));
}
