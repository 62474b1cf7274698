/**
 * The disc crops grading reads: every disc the localiser found on a slice, from L5/S1 (and a
 * transitional S1/S2) up to T7/T8, cropped and measured. Levels are always the localiser's; the
 * training sampler (training/grader/samples.ts) corrects them with a dataset's keypoints.
 */
import type { DatasetSequence } from '../datasets/types.js';
import type { DiscMeasures } from '../disc/measures.js';
import type { ImageLocalization } from '../localize/localizer.js';
import type { LocalizedDisc } from '../localize/postprocess.js';
import { robustRange } from '../transforms/intensity.js';
import type { Image2D } from '../transforms/resample.js';
import { cropDisc, type DiscCropConfig } from './crops.js';
import { measureDisc } from './measures.js';

/** One localised disc of one series, cropped. */
export interface LocalizedDiscCrop {
  readonly patient: string;
  readonly series: string;
  readonly sequence: DatasetSequence;
  /** The localiser's level (what a prediction reports). */
  readonly ivdLabel: number;
  readonly crop: Float32Array;
  /** The localised disc on its slice (pixel coordinates). */
  readonly disc: LocalizedDisc;
  /** Quantitative measures of the disc on its slice (absent when not asked for). */
  readonly measures?: DiscMeasures;
}

/** What grading reads of a cropped disc: crop, level, measures and sequence. */
export function gradableDisc(record: LocalizedDiscCrop): {
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

/** The crops of one localised slice, in the localiser's disc order; `measure: false` skips the measures. */
export function cropLocalizedDiscs(
  series: { readonly id: string; readonly patient: string; readonly sequence: DatasetSequence },
  image: Image2D,
  localization: Pick<ImageLocalization, 'discs' | 'vertebrae' | 'classes'>,
  config: DiscCropConfig,
  options: { measure?: boolean } = {},
): LocalizedDiscCrop[] {
  const discs = localization.discs.filter((d) => d.ivdLabel >= 0 && d.ivdLabel <= MAX_CROPPED_IVD_LABEL);
  const range = robustRange(image.pixels);
  return discs.map((disc) => ({
    patient: series.patient,
    series: series.id,
    sequence: series.sequence,
    ivdLabel: disc.ivdLabel,
    crop: cropDisc(image, disc, config, range).pixels,
    disc,
    ...(options.measure === false ? {} : { measures: measureDisc(image, localization, disc) }),
  }));
}
