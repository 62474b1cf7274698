/**
 * The level network combined with the localiser's outlines, scored where the localiser never saw the
 * patient: each outlined disc takes the level of the level point nearest it (`levelsOfDiscs`), and a
 * T2 keypoint counts when it lies within 3 mm of the outline of the disc so named. The localiser's own
 * levels are scored on the same keypoints, for comparison.
 */
import type { SpineDataset } from '../../datasets/types.js';
import { levelsOfDiscs } from '../../localize/levels.js';
import { type Localizer, localizeImages, localizerTrainingPatients } from '../../localize/localizer.js';
import { distanceToPolygon } from '../../metrics/detection.js';
import { type RateWithCi, rateWithCi } from './levelMetrics.js';
import type { LevelPrediction } from './levelTrain.js';

/** The keypoint-to-outline distance within which a disc counts as found, mm. */
export const OUTLINE_TOLERANCE_MM = 3;

/** Figures of outlines named by level points against the localiser's own naming, on the same keypoints. */
export interface OutlineLevelFigures {
  /** Lumbar T2 keypoints within 3 mm of the outline of the disc the level points gave their level. */
  readonly combined: RateWithCi;
  /** The same with the localiser's own levels. */
  readonly localizerAlone: RateWithCi;
  /** Patients scored: those the localiser was not trained on. */
  readonly patients: number;
}

/** Scores the combination on the T2 predictions of patients the localiser never saw; undefined when there are none. */
export async function scoreLevelsWithOutlines(
  dataset: SpineDataset,
  predictions: readonly LevelPrediction[],
  localizer: Localizer,
  resamples = 2000,
): Promise<OutlineLevelFigures | undefined> {
  const seen = new Set(localizerTrainingPatients(localizer));
  const bySeries = new Map(dataset.series.map((s) => [s.id, s]));
  const items: { patient: string; combined: number; alone: number }[] = [];
  for (const prediction of predictions) {
    if (prediction.keypointSource !== 'own' || seen.has(prediction.patient)) continue;
    const series = bySeries.get(prediction.series);
    if (!series) continue;
    const image = await series.loadMidSagittal();
    const [localization] = localizeImages(localizer, [image]);
    const discs = localization?.discs ?? [];
    const spacing: [number, number] = [prediction.mmPerPixel, prediction.mmPerPixel];
    const named = levelsOfDiscs(discs, prediction.points, spacing);
    for (const keypoint of prediction.keypoints) {
      const near = (outline: readonly (readonly [number, number])[] | undefined): number =>
        outline && distanceToPolygon([keypoint.x, keypoint.y], outline, spacing) <= OUTLINE_TOLERANCE_MM ? 1 : 0;
      const combinedDisc = discs.find((_, n) => named[n] === keypoint.ivdLabel);
      const ownDisc = discs.find((d) => d.ivdLabel === keypoint.ivdLabel);
      items.push({ patient: prediction.patient, combined: near(combinedDisc?.outline), alone: near(ownDisc?.outline) });
    }
  }
  if (items.length === 0) return undefined;
  return {
    combined: rateWithCi(items, (i) => i.combined, resamples),
    localizerAlone: rateWithCi(items, (i) => i.alone, resamples),
    patients: new Set(items.map((i) => i.patient)).size,
  };
}
