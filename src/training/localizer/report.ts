/** The figures and model card of a trained localiser, measured on the patients it never saw. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { restrictToPatients } from '../../datasets/common.js';
import type { SpineDataset } from '../../datasets/types.js';
import { predictDataset } from '../../evaluation/predict.js';
import { type Evaluation, evaluatePredictions } from '../../evaluation/score.js';
import { fitClassPrior } from '../../grade/prior.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { type Localizer, localizeImages, predictSemanticMask } from '../../localize/localizer.js';
import { type LocalizerCardInput, localizerCardMarkdown } from '../common/card.js';

/** Localisation and Dice figures of a localiser on the held-out patients (grades from a prior fitted on the rest). */
export async function evaluateLocalizerHeldOut(
  localizer: Localizer,
  dataset: SpineDataset,
  heldOutPatients: readonly string[],
  resamples = 2000,
): Promise<Evaluation> {
  const heldOut = restrictToPatients(dataset, new Set(heldOutPatients));
  const others = dataset.patients.filter((p) => !heldOutPatients.includes(p));
  const prior = fitClassPrior(dataset.discs, others, 'training folds');
  const predictions = await predictDataset(heldOut, { mode: 'model', model: prior, localizers: [localizer] });
  return evaluatePredictions(heldOut, predictions.lines, {
    resamples,
    predictMask: async (slice) => predictSemanticMask(localizer, await slice.loadImage()),
  });
}

/** Mean milliseconds to localise one slice, over a batch of the dataset's series images. */
export async function measureInferenceMs(localizer: Localizer, dataset: SpineDataset, slices = 16): Promise<number> {
  const images = await Promise.all(dataset.series.slice(0, slices).map((s) => s.loadMidSagittal()));
  localizeImages(localizer, images.slice(0, 1)); // warm-up
  const started = performance.now();
  for (let n = 0; n < images.length; n += 8) localizeImages(localizer, images.slice(n, n + 8));
  return (performance.now() - started) / Math.max(images.length, 1);
}

/** Writes `MODEL_CARD.md` for a saved localiser, from its metadata and held-out figures. */
export async function writeLocalizerCard(
  localizer: Localizer,
  dataset: SpineDataset,
  input: Omit<LocalizerCardInput, 'evaluation' | 'dataset' | 'inferenceMsPerSlice' | 'weightsBytes'>,
  resamples = 2000,
): Promise<Evaluation> {
  const evaluation = await evaluateLocalizerHeldOut(localizer, dataset, input.heldOutPatients, resamples);
  const inferenceMsPerSlice = await measureInferenceMs(localizer, dataset);
  const weightsBytes = (await stat(join(localizer.dir, 'weights.bin'))).size;
  await writeFileAtomic(
    join(localizer.dir, 'MODEL_CARD.md'),
    localizerCardMarkdown({ ...input, evaluation, dataset, inferenceMsPerSlice, weightsBytes }),
    { overwrite: true },
  );
  return evaluation;
}
