/**
 * Grading a 3D sagittal series: localise it (mid-sagittal slice by the canal, levels voted over
 * neighbours), then crop every disc at the same in-plane place from the chosen slice and from its
 * neighbours within 2 mm either side, grade each crop and average the probabilities per disc.
 */

import { BINARY_FINDINGS } from '../disc/findings.js';
import type { DiscMeasures } from '../disc/measures.js';
import { gradedFinding, MODIC_TYPES, PFIRRMANN_GRADES } from '../disc/predictions.js';
import type { Localizer } from '../localize/localizer.js';
import { localizeVolume, type PhysicalDisc, type VolumeLocalization } from '../localize/volume.js';
import { extractSagittalSlice, sagittalAxis } from '../volume/orientation.js';
import { sequenceOf } from '../volume/suitability.js';
import type { Volume } from '../volume/volume.js';
import { cropLocalizedDiscs, gradableDisc } from './discCrops.js';
import { type GradedDisc, type Grader, gradeSeriesDiscs } from './grader.js';

/** A graded disc of a volume, with its geometry on the chosen slice (pixels) and in patient space (LPS mm). */
export type GradedVolumeDisc = GradedDisc &
  Pick<PhysicalDisc, 'centerMm' | 'posteriorMm'> & {
    center: [number, number];
    posterior: [number, number];
    outline: [number, number][];
    /** Quantitative measures on the chosen slice. */
    measures: DiscMeasures;
  };

/** The localisation of a volume and the grades of every disc found on its chosen slice. */
export interface GradedVolume {
  localization: VolumeLocalization;
  discs: GradedVolumeDisc[];
  /** Sagittal slices whose crops were graded and averaged (the chosen one and its neighbours within 2 mm). */
  slicesGraded: number;
}

/** Neighbouring slices within this distance of the chosen one are graded too (and averaged). */
const NEIGHBOUR_REACH_MM = 2;

/** Options of {@link gradeVolume}. */
export interface GradeVolumeOptions {
  /** Grade on this localisation of the volume (e.g. with corrected levels) instead of localising it. */
  readonly localization?: VolumeLocalization;
}

/** Localises (unless given a localisation) and grades the discs of a sagittal volume. */
export async function gradeVolume(
  grader: Grader,
  localizer: Localizer,
  volume: Volume,
  options: GradeVolumeOptions = {},
): Promise<GradedVolume> {
  const localization = options.localization ?? localizeVolume(localizer, volume);
  const axis = sagittalAxis(volume);
  const reach = Math.floor(NEIGHBOUR_REACH_MM / volume.spacing[axis] + 1e-9);
  const slice = extractSagittalSlice(volume, localization.sliceIndex);
  const series = { id: 'volume', patient: 'volume', sequence: 'other' } as const;
  const { sequence } = sequenceOf(volume);
  const crops = cropLocalizedDiscs(series, slice, localization.slice, grader.crop).map((c) => ({
    ...c,
    sequence,
  }));
  const perSlice: GradedDisc[][] = [];
  let chosen = 0;
  for (let index = localization.sliceIndex - reach; index <= localization.sliceIndex + reach; index++) {
    if (index < 0 || index >= volume.size[axis]) continue;
    const image = index === localization.sliceIndex ? slice : extractSagittalSlice(volume, index);
    if (index === localization.sliceIndex) chosen = perSlice.length;
    const sliceCrops =
      index === localization.sliceIndex
        ? crops
        : cropLocalizedDiscs(series, image, localization.slice, grader.crop, { measure: false });
    // The classical model reads the chosen slice's measures on every neighbour too (same disc, same place).
    perSlice.push(
      gradeSeriesDiscs(
        grader,
        sliceCrops.map((c, n) => ({ ...gradableDisc(c), measures: crops[n]?.measures, sequence })),
        { explain: index === localization.sliceIndex },
      ),
    );
  }
  const grades = averageGrades(perSlice, grader.calibration.reviewThreshold).map((g, n) => {
    // SHAP values explain one input: the chosen slice's.
    const { shap, classicalPfirrmann } = perSlice[chosen]?.[n] ?? {};
    return shap && classicalPfirrmann ? { ...g, shap, classicalPfirrmann } : g;
  });
  const physical = new Map(localization.discs.map((d) => [d.ivdLabel, d]));
  const discs = crops.map((c, n) => {
    const mm = physical.get(c.ivdLabel);
    return {
      ...(grades[n] as GradedDisc),
      center: c.disc.center,
      posterior: c.disc.posterior,
      outline: c.disc.outline,
      measures: c.measures as DiscMeasures,
      centerMm: mm?.centerMm ?? slice.pointOf(c.disc.center[0], c.disc.center[1]),
      posteriorMm: mm?.posteriorMm ?? slice.pointOf(c.disc.posterior[0], c.disc.posterior[1]),
    };
  });
  return { localization, discs, slicesGraded: perSlice.length };
}

/** The per-disc mean of the probabilities graded on several slices (same discs, same order). */
function averageGrades(perSlice: readonly GradedDisc[][], reviewThreshold: number): GradedDisc[] {
  const first = perSlice[0] ?? [];
  return first.map((disc, n) => {
    const all = perSlice.map((grades) => grades[n] as GradedDisc);
    const mean = (pick: (d: GradedDisc) => readonly number[]): number[] =>
      pick(disc).map((_, k) => all.reduce((s, d) => s + (pick(d)[k] as number), 0) / all.length);
    const pfirrmann = mean((d) => d.pfirrmann.probs);
    const averaged: GradedDisc = {
      ...disc,
      pfirrmann: gradedFinding(pfirrmann, PFIRRMANN_GRADES),
      modic: gradedFinding(
        mean((d) => d.modic.probs),
        MODIC_TYPES,
      ),
      needsReview: Math.max(...pfirrmann) < reviewThreshold,
    };
    for (const finding of BINARY_FINDINGS) averaged[finding] = all.reduce((s, d) => s + d[finding], 0) / all.length;
    return averaged;
  });
}
