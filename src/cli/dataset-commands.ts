/** `spinegrade predict`, `evaluate` and `train`: the commands that work on a labelled dataset. */

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { restrictToPatients } from '../datasets/common.js';
import { readDataset } from '../datasets/index.js';
import { patientFolds } from '../datasets/splits.js';
import type { MaskSliceRecord, SpineDataset } from '../datasets/types.js';
import { SpinegradeError } from '../errors.js';
import { type DatasetPredictions, type PredictionPlan, predictDataset } from '../evaluation/predict.js';
import { type Evaluation, evaluatePredictions } from '../evaluation/score.js';
import { formatEvaluation } from '../evaluation/table.js';
import { fitClassPrior } from '../grade/prior.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeGreyPng } from '../io/png.js';
import {
  type Localizer,
  loadLocalizer,
  localizerTrainingPatients,
  predictSemanticMask,
} from '../localize/localizer.js';
import { DEFAULT_LOCALIZER_CONFIG } from '../localize/model.js';
import { writeLocalizerCard } from '../localize/report.js';
import { LOCALIZER_NOTES, trainLocalizer } from '../localize/train.js';
import { writeModelCard } from '../models/card.js';
import { DEFAULT_LOCALIZER_DIR, DEFAULT_MODEL_DIR, readModel, writeModel } from '../models/store.js';
import { saveModel } from '../models/tf/io.js';
import { type PredictionLine, readPredictions, toJsonLines } from '../report/predictions.js';
import type { Progress } from './progress.js';

/** Options shared by predict and evaluate. */
export interface PlanOptions {
  model?: string;
  crossValidate?: string;
  seed?: string;
  /** Localiser folder; default the bundled one when present; `none` for no localiser. */
  localizer?: string;
}

/** The localiser of the options: the given folder, the bundled one when present, or none. */
async function localizerFromOptions(option: string | undefined): Promise<Localizer | undefined> {
  if (option === 'none') return undefined;
  if (option === undefined)
    return existsSync(join(DEFAULT_LOCALIZER_DIR, 'model.json')) ? loadLocalizer(DEFAULT_LOCALIZER_DIR) : undefined;
  return loadLocalizer(resolve(option));
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
  const localizer = await localizerFromOptions(options.localizer);
  const withLocalizer = localizer ? { localizer } : {};
  if (options.crossValidate !== undefined) {
    if (options.model !== undefined)
      throw new SpinegradeError('USAGE', '--model and --cross-validate exclude each other');
    const folds = positiveInteger(options.crossValidate, '--cross-validate', 5);
    if (folds < 2) throw new SpinegradeError('USAGE', '--cross-validate needs at least 2 folds');
    return { mode: 'cross-validate', folds, seed: positiveInteger(options.seed, '--seed', 1), ...withLocalizer };
  }
  return { mode: 'model', model: await readModel(resolve(options.model ?? DEFAULT_MODEL_DIR)), ...withLocalizer };
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
  if (options.masksOut !== undefined && !plan.localizer) {
    throw new SpinegradeError('USAGE', '--masks-out needs a localiser (none is bundled or given with --localizer)');
  }
  const dataset = await readDataset(datasetDir);
  const predictions = await predictWithProgress(dataset, plan, progress);
  await writeFileAtomic(out, toJsonLines(predictions.lines), { overwrite: true });
  if (options.masksOut !== undefined && plan.localizer)
    await writePredictedMasks(dataset, plan.localizer, options.masksOut);
  return `wrote ${predictions.lines.length} lines (${dataset.series.length} series, ${dataset.patients.length} patients) to ${out}\nmodel: ${predictions.description}${inSampleWarning(predictions, dataset)}`;
}

/** Writes the localiser's semantic mask (0/29/76/150) of every reference mask slice, named like the slice. */
async function writePredictedMasks(dataset: SpineDataset, localizer: Localizer, folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (const slice of dataset.maskSlices) {
    const image = await slice.loadImage();
    await writeGreyPng(join(folder, slice.id), predictSemanticMask(localizer, image), image.width, image.height, {
      overwrite: true,
    });
  }
}

function inSampleWarning(predictions: DatasetPredictions, dataset: SpineDataset): string {
  if (predictions.inSamplePatients === 0) return '';
  return `\nwarning: ${predictions.inSamplePatients} of ${dataset.patients.length} patients were in the model's training data: these predictions are in-sample; use --cross-validate K for honest figures`;
}

/** `evaluate`: scores predictions (made now, or read from a file) and prints / writes the results. */
export async function runEvaluate(
  datasetDir: string,
  options: PlanOptions & {
    predictions?: string;
    json?: string;
    masks?: string;
    resamples?: string;
    heldOutOnly?: boolean;
  },
  progress: Progress,
): Promise<{ text: string; evaluation: Evaluation }> {
  if (options.predictions !== undefined && (options.model !== undefined || options.crossValidate !== undefined)) {
    throw new SpinegradeError(
      'USAGE',
      '--predictions scores an existing file: it excludes --model and --cross-validate',
    );
  }
  const plan = options.predictions === undefined ? await planFromOptions(options) : undefined;
  const localizer = plan
    ? plan.localizer
    : options.heldOutOnly
      ? await localizerFromOptions(options.localizer)
      : undefined;
  let dataset = await readDataset(datasetDir);
  if (options.heldOutOnly) {
    const seen = new Set(localizerTrainingPatients(localizer));
    dataset = restrictToPatients(dataset, new Set(dataset.patients.filter((p) => !seen.has(p))));
    if (dataset.patients.length === 0) {
      throw new SpinegradeError('NO_IMAGES', 'every patient was in the localiser training data', datasetDir);
    }
  }
  let lines: PredictionLine[];
  let description: string;
  let warning = '';
  if (plan === undefined) {
    lines = await readPredictions(options.predictions as string);
    description = `predictions from ${options.predictions}`;
  } else {
    const predictions = await predictWithProgress(dataset, plan, progress);
    lines = predictions.lines;
    description = predictions.description;
    warning = inSampleWarning(predictions, dataset);
  }
  const predictMask =
    plan?.localizer && options.masks === undefined
      ? async (slice: MaskSliceRecord) => predictSemanticMask(localizer as Localizer, await slice.loadImage())
      : undefined;
  const evaluation = await evaluatePredictions(dataset, lines, {
    resamples: positiveInteger(options.resamples, '--resamples', 2000),
    ...(options.masks !== undefined ? { masksDir: options.masks } : {}),
    ...(predictMask ? { predictMask } : {}),
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

function heatmapChannelsOption(text: string | undefined): 1 | 5 {
  if (text === undefined) return DEFAULT_LOCALIZER_CONFIG.heatmapChannels;
  if (text === '1' || text === '5') return Number(text) as 1 | 5;
  throw new SpinegradeError(
    'USAGE',
    `--heatmap-channels must be 1 (any lumbar disc) or 5 (one per level), got "${text}"`,
  );
}

/** `train localizer`: trains the disc localiser on all patients but one held-out fold, which gives its figures. */
export async function runTrainLocalizer(
  datasetDir: string,
  out: string,
  options: {
    epochs?: string;
    workers?: string;
    seed?: string;
    folds?: string;
    fold?: string;
    patience?: string;
    canvas?: string;
    spacingMm?: string;
    baseFilters?: string;
    depth?: string;
    heatmapChannels?: string;
    resamples?: string;
  },
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const started = Date.now();
  const dataset = await readDataset(datasetDir);
  const seed = positiveInteger(options.seed, '--seed', 1);
  const folds = positiveInteger(options.folds, '--folds', 5);
  const foldIndex = positiveInteger(options.fold, '--fold', 1) - 1;
  const workers = positiveInteger(options.workers, '--workers', 2);
  if (workers > 2) throw new SpinegradeError('USAGE', '--workers must be 1 or 2');
  const split = patientFolds(dataset, folds, seed)[foldIndex];
  if (!split) throw new SpinegradeError('USAGE', `--fold must be within 1..${folds}`);
  const epochs = positiveInteger(options.epochs, '--epochs', 10);
  const spacingMm = options.spacingMm === undefined ? DEFAULT_LOCALIZER_CONFIG.spacingMm : Number(options.spacingMm);
  if (!(spacingMm > 0))
    throw new SpinegradeError('USAGE', `--spacing-mm wants a positive number, got "${options.spacingMm}"`);
  const localizerConfig = {
    ...DEFAULT_LOCALIZER_CONFIG,
    size: positiveInteger(options.canvas, '--canvas', DEFAULT_LOCALIZER_CONFIG.size),
    spacingMm,
    baseFilters: positiveInteger(options.baseFilters, '--base-filters', DEFAULT_LOCALIZER_CONFIG.baseFilters),
    depth: positiveInteger(options.depth, '--depth', DEFAULT_LOCALIZER_CONFIG.depth),
    heatmapChannels: heatmapChannelsOption(options.heatmapChannels),
    seed,
  };
  const { result, scores, config } = await trainLocalizer(dataset, {
    config: localizerConfig,
    trainPatients: split.trainPatients,
    validationPatients: split.testPatients,
    epochs,
    workers: workers as 1 | 2,
    seed,
    ...(options.patience !== undefined ? { patience: positiveInteger(options.patience, '--patience', 3) } : {}),
    onProgress: (p) =>
      progress.update(p.epoch * (p.stepsPerEpoch ?? p.step) + p.step, epochs * (p.stepsPerEpoch ?? p.step)),
    onLog: log,
  });
  progress.finish();
  const seconds = (Date.now() - started) / 1000;
  const sizeOptions =
    localizerConfig.size === DEFAULT_LOCALIZER_CONFIG.size &&
    localizerConfig.spacingMm === DEFAULT_LOCALIZER_CONFIG.spacingMm &&
    localizerConfig.baseFilters === DEFAULT_LOCALIZER_CONFIG.baseFilters &&
    localizerConfig.depth === DEFAULT_LOCALIZER_CONFIG.depth
      ? ''
      : ` --canvas ${localizerConfig.size} --spacing-mm ${localizerConfig.spacingMm} --base-filters ${localizerConfig.baseFilters} --depth ${localizerConfig.depth}`;
  const channelOption =
    localizerConfig.heatmapChannels === DEFAULT_LOCALIZER_CONFIG.heatmapChannels
      ? ''
      : ` --heatmap-channels ${localizerConfig.heatmapChannels}`;
  const command = `spinegrade train localizer --data ${datasetDir} --out ${out} --epochs ${epochs} --folds ${folds} --fold ${foldIndex + 1} --seed ${seed} --workers ${workers}${sizeOptions}${channelOption}`;
  await mkdir(out, { recursive: true });
  await saveModel(result.model, out, {
    localizerConfig: config,
    trainedOn: { dataset: datasetName(dataset), patients: split.trainPatients, heldOutPatients: split.testPatients },
    heldOutScores: scores,
    command,
    seconds,
    history: result.history,
  });
  const localizer = await loadLocalizer(out);
  const evaluation = await writeLocalizerCard(
    localizer,
    dataset,
    {
      heldOutPatients: split.testPatients,
      trainPatients: split.trainPatients,
      command,
      seed,
      seconds,
      history: result.history,
      config: { ...config },
      notes: LOCALIZER_NOTES,
    },
    positiveInteger(options.resamples, '--resamples', 2000),
  );
  const rate = evaluation.localisation?.rows[0]?.estimate.value ?? Number.NaN;
  log(`held-out patients: discs found at the right level ${rate.toFixed(3)}`);
  return `wrote ${out} in ${(seconds / 60).toFixed(1)} min: held-out Dice disc ${scores.dice.disc.toFixed(3)}, vertebra ${scores.dice.vertebra.toFixed(3)}, canal ${scores.dice.canal.toFixed(3)}; level rate ${scores.levelRate.toFixed(3)}`;
}
