/**
 * Grading a series on a localisation computed beforehand (and possibly corrected by a level
 * override), so the volume is localised once and the grader reads the corrected levels.
 */
import type { Grader } from '../grade/grader.js';
import { type GradedVolume, gradeVolume } from '../grade/volume.js';
import type { Localizer } from '../localize/localizer.js';
import type { VolumeLocalization } from '../localize/volume.js';
import type { Volume } from '../volume/volume.js';

/** Grades the discs of `localization` (a localisation of `volume`, levels possibly corrected). */
export function gradeLocalized(
  grader: Grader,
  localizer: Localizer,
  volume: Volume,
  localization: VolumeLocalization,
): Promise<GradedVolume> {
  return gradeVolume(grader, localizer, volume, { localization });
}
