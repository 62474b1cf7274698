/** Training the class-prior baseline (`spinegrade train prior`): fit, cross-validate, write model and card. */
import { mkdir } from 'node:fs/promises';
import { readDataset } from '../../datasets/index.js';
import { predictWithProgress } from '../../evaluation/predict.js';
import { evaluatePredictions } from '../../evaluation/score.js';
import { fitClassPrior } from '../../grade/prior.js';
import { writeModel } from '../../store/store.js';
import type { Progress } from '../../util/progress.js';
import { datasetName, writeModelCard } from '../common/card.js';

/** `train prior`: fits the class prior on a dataset, cross-validates it and writes model + card. */
export async function trainPriorOnDataset(
  datasetDir: string,
  out: string,
  settings: { seed: number; folds: number; resamples: number },
  progress: Progress,
): Promise<string> {
  const started = Date.now();
  const dataset = await readDataset(datasetDir);
  const { seed, folds } = settings;
  const model = fitClassPrior(dataset.discs, dataset.patients, datasetName(dataset));
  const crossValidated = await predictWithProgress(dataset, { mode: 'cross-validate', folds, seed }, progress);
  const evaluation = await evaluatePredictions(dataset, crossValidated.lines, {
    resamples: settings.resamples,
  });
  await mkdir(out, { recursive: true });
  await writeModel(model, out);
  await writeModelCard(out, {
    model,
    evaluation,
    command: `spinegrade train prior --data ${datasetDir} --out ${out} --folds ${folds} --seed ${seed}`,
    seed,
    folds,
    seconds: (Date.now() - started) / 1000,
    dataset,
  });
  return `wrote ${out}/model.json and ${out}/MODEL_CARD.md (Pfirrmann linear kappa out-of-fold ${evaluation.pfirrmannFused.rows[0]!.estimate.value.toFixed(3)})`;
}
