/** `spinegrade predict`, `evaluate` and `train`: the commands that work on a labelled dataset. */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { readDataset } from '../datasets/index.js';
import type { SpineDataset } from '../datasets/types.js';
import { SpinegradeError } from '../errors.js';
import { type DatasetPredictions, type PredictionPlan, predictDataset } from '../evaluation/predict.js';
import { type Evaluation, evaluatePredictions } from '../evaluation/score.js';
import { formatEvaluation } from '../evaluation/table.js';
import { fitClassPrior } from '../grade/prior.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeModelCard } from '../models/card.js';
import { DEFAULT_MODEL_DIR, readModel, writeModel } from '../models/store.js';
import { type PredictionLine, readPredictions, toJsonLines } from '../report/predictions.js';
import type { Progress } from './progress.js';

/** Options shared by predict and evaluate. */
export interface PlanOptions {
  model?: string;
  crossValidate?: string;
  seed?: string;
}

/** Parses a positive integer option. */
export function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new SpinegradeError('USAGE', `${name} wants a positive whole number, got "${text}"`);
  return value;
}

/** The prediction plan from the command-line options. */
export async function planFromOptions(options: PlanOptions): Promise<PredictionPlan> {
  if (options.crossValidate !== undefined) {
    if (options.model !== undefined)
      throw new SpinegradeError('USAGE', '--model and --cross-validate exclude each other');
    const folds = positiveInteger(options.crossValidate, '--cross-validate', 5);
    if (folds < 2) throw new SpinegradeError('USAGE', '--cross-validate needs at least 2 folds');
    return { mode: 'cross-validate', folds, seed: positiveInteger(options.seed, '--seed', 1) };
  }
  return { mode: 'model', model: await readModel(resolve(options.model ?? DEFAULT_MODEL_DIR)) };
}

/** Reads a dataset and predicts it, reporting progress. */
export async function predictWithProgress(
  dataset: SpineDataset,
  plan: PredictionPlan,
  progress: Progress,
): Promise<DatasetPredictions> {
  const predictions = predictDataset(dataset, plan, progress.update);
  progress.finish();
  return predictions;
}

/** `predict`: writes the predictions file; returns what to tell the user. */
export async function runPredict(
  datasetDir: string,
  out: string,
  options: PlanOptions & { masksOut?: string },
  progress: Progress,
): Promise<string> {
  const plan = await planFromOptions(options);
  if (options.masksOut !== undefined) {
    throw new SpinegradeError(
      'USAGE',
      `--masks-out needs a model that segments; ${plan.mode === 'model' ? plan.model.kind : 'class-prior'} does not (no localiser is bundled yet)`,
    );
  }
  const dataset = await readDataset(datasetDir);
  const predictions = await predictWithProgress(dataset, plan, progress);
  await writeFileAtomic(out, toJsonLines(predictions.lines), { overwrite: true });
  return `wrote ${predictions.lines.length} lines (${dataset.series.length} series, ${dataset.patients.length} patients) to ${out}\nmodel: ${predictions.description}${inSampleWarning(predictions, dataset)}`;
}

function inSampleWarning(predictions: DatasetPredictions, dataset: SpineDataset): string {
  if (predictions.inSamplePatients === 0) return '';
  return `\nwarning: ${predictions.inSamplePatients} of ${dataset.patients.length} patients were in the model's training data: these predictions are in-sample; use --cross-validate K for honest figures`;
}

/** `evaluate`: scores predictions (made now, or read from a file) and prints / writes the results. */
export async function runEvaluate(
  datasetDir: string,
  options: PlanOptions & { predictions?: string; json?: string; masks?: string; resamples?: string },
  progress: Progress,
): Promise<{ text: string; evaluation: Evaluation }> {
  const dataset = await readDataset(datasetDir);
  let lines: PredictionLine[];
  let description: string;
  let warning = '';
  if (options.predictions !== undefined) {
    if (options.model !== undefined || options.crossValidate !== undefined) {
      throw new SpinegradeError(
        'USAGE',
        '--predictions scores an existing file: it excludes --model and --cross-validate',
      );
    }
    lines = await readPredictions(options.predictions);
    description = `predictions from ${options.predictions}`;
  } else {
    const predictions = await predictWithProgress(dataset, await planFromOptions(options), progress);
    lines = predictions.lines;
    description = predictions.description;
    warning = inSampleWarning(predictions, dataset);
  }
  const evaluation = await evaluatePredictions(dataset, lines, {
    resamples: positiveInteger(options.resamples, '--resamples', 2000),
    ...(options.masks !== undefined ? { masksDir: options.masks } : {}),
  });
  const header = [
    `spinegrade evaluate: ${dataset.root} (${dataset.layout}): ${dataset.patients.length} patients, ${dataset.series.length} series, ${dataset.discs.length} graded discs`,
    `model: ${description}${warning}`,
  ];
  if (options.json !== undefined) {
    await writeFileAtomic(
      options.json,
      `${JSON.stringify({ version: 1, dataset: { root: dataset.root, layout: dataset.layout, patients: dataset.patients.length, series: dataset.series.length }, model: description, evaluation }, null, 1)}\n`,
      { overwrite: true },
    );
  }
  return { text: formatEvaluation(evaluation, header), evaluation };
}

/** `train prior`: fits the class prior on a dataset, cross-validates it and writes model + card. */
export async function runTrainPrior(
  datasetDir: string,
  out: string,
  options: { seed?: string; folds?: string; resamples?: string },
  progress: Progress,
): Promise<string> {
  const started = Date.now();
  const dataset = await readDataset(datasetDir);
  const seed = positiveInteger(options.seed, '--seed', 1);
  const folds = positiveInteger(options.folds, '--folds', 5);
  const model = fitClassPrior(dataset.discs, dataset.patients, datasetName(dataset));
  const crossValidated = await predictWithProgress(dataset, { mode: 'cross-validate', folds, seed }, progress);
  const evaluation = await evaluatePredictions(dataset, crossValidated.lines, {
    resamples: positiveInteger(options.resamples, '--resamples', 2000),
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

function datasetName(dataset: SpineDataset): string {
  return dataset.layout === 'spider-2d' || dataset.layout === 'spider-original'
    ? `SPIDER training split (${dataset.layout})`
    : `own data at ${dataset.root}`;
}
