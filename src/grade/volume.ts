/** Grading a 3D sagittal series: localise it (mid-sagittal slice by the canal, levels voted over neighbours), crop and grade its discs. */
import type { Localizer } from '../localize/localizer.js';
import { localizeVolume, type PhysicalDisc, type VolumeLocalization } from '../localize/volume.js';
import { extractSagittalSlice } from '../volume/orientation.js';
import type { Volume } from '../volume/volume.js';
import { type GradedDisc, type Grader, gradeSeriesDiscs } from './grader.js';
import { cropsOfSeries } from './samples.js';

/** A graded disc of a volume, with its geometry on the chosen slice (pixels) and in patient space (LPS mm). */
export type GradedVolumeDisc = GradedDisc &
  Pick<PhysicalDisc, 'centerMm' | 'posteriorMm'> & {
    center: [number, number];
    posterior: [number, number];
    outline: [number, number][];
  };

/** The localisation of a volume and the grades of every disc found on its chosen slice. */
export interface GradedVolume {
  localization: VolumeLocalization;
  discs: GradedVolumeDisc[];
}

/** Localises and grades the discs of a sagittal volume. */
export async function gradeVolume(grader: Grader, localizer: Localizer, volume: Volume): Promise<GradedVolume> {
  const localization = localizeVolume(localizer, volume);
  const slice = extractSagittalSlice(volume, localization.sliceIndex);
  const crops = await cropsOfSeries(
    undefined,
    { id: 'volume', patient: 'volume', sequence: 'other', keypoints: [] },
    slice,
    localization.slice,
    grader.crop,
  );
  const grades = gradeSeriesDiscs(
    grader,
    crops.map((c) => ({ crop: c.crop, ivdLabel: c.ivdLabel, level: c.disc.level })),
  );
  const physical = new Map(localization.discs.map((d) => [d.ivdLabel, d]));
  const discs = crops.map((c, n) => {
    const mm = physical.get(c.ivdLabel);
    return {
      ...(grades[n] as GradedDisc),
      center: c.disc.center,
      posterior: c.disc.posterior,
      outline: c.disc.outline,
      centerMm: mm?.centerMm ?? slice.pointOf(c.disc.center[0], c.disc.center[1]),
      posteriorMm: mm?.posteriorMm ?? slice.pointOf(c.disc.posterior[0], c.disc.posterior[1]),
    };
  });
  return { localization, discs };
}
