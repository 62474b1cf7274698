/** `spinegrade predict`, `evaluate` and `train`: the commands that work on a labelled dataset. */

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { restrictToPatients } from '../datasets/common.js';
import { readDataset } from '../datasets/index.js';
import { patientFolds } from '../datasets/splits.js';
import type { MaskSliceRecord, SpineDataset } from '../datasets/types.js';
import { SpinegradeError } from '../errors.js';
import { engineFromEnvironment } from '../models/engine.js';
import { type DatasetPredictions, type PredictionPlan, predictDataset } from '../evaluation/predict.js';
import { type Evaluation, evaluatePredictions } from '../evaluation/score.js';
import { formatEvaluation } from '../evaluation/table.js';
import { fitClassPrior } from '../grade/prior.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeGreyPng } from '../io/png.js';
import {
  type Localizer,
  loadLocalizer,
  localizerForPatient,
  patientsSeenByAll,
  predictSemanticMask,
} from '../localize/localizer.js';
import { DEFAULT_LOCALIZER_CONFIG, type LocalizerConfig } from '../localize/model.js';
import { writeLocalizerCard } from '../training/localizer/report.js';
import { LOCALIZER_NOTES, trainLocalizer } from '../training/localizer/train.js';
import { type LocalizerCardInput, writeModelCard } from '../training/common/card.js';
import { DEFAULT_LOCALIZER_DIR, DEFAULT_MODEL_DIR, readModel, writeModel } from '../store/store.js';
import { readModelMetadata, saveModel } from '../models/tf/io.js';
import { type PredictionLine, readPredictions, toJsonLines } from '../disc/predictions.js';
import type { Progress } from '../util/progress.js';
import { positiveInteger } from './args.js';

/** Options shared by predict and evaluate. */
export interface PlanOptions {
  model?: string;
  crossValidate?: string;
  seed?: string;
  /**
   * Localiser folder, or comma-separated folders of localisers trained on different folds (each patient
   * is localised by one that never saw them); default the bundled one when present; `none` for none.
   */
  localizer?: string;
}

/** The localisers of the options: the given folder(s), the bundled one when present, or none. */
async function localizersFromOptions(option: string | undefined): Promise<Localizer[]> {
  if (option === 'none') return [];
  if (option === undefined)
    return existsSync(join(DEFAULT_LOCALIZER_DIR, 'model.json')) ? [await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: engineFromEnvironment() })] : [];
  const dirs = option.split(',').filter((d) => d.length > 0);
  if (dirs.length === 0)
    throw new SpinegradeError('USAGE', '--localizer wants a folder, folders separated by commas, or none');
  const localizers: Localizer[] = [];
  for (const dir of dirs) localizers.push(await loadLocalizer(resolve(dir), { engine: engineFromEnvironment() }));
  return localizers;
}

/** The prediction plan from the command-line options. */
export async function planFromOptions(options: PlanOptions): Promise<PredictionPlan> {
  const localizers = await localizersFromOptions(options.localizer);
  const withLocalizer = localizers.length > 0 ? { localizers } : {};
  if (options.crossValidate !== undefined) {
    if (options.model !== undefined)
      throw new SpinegradeError('USAGE', '--model and --cross-validate exclude each other');
    const folds = positiveInteger(options.crossValidate, '--cross-validate', 5);
    if (folds < 2) throw new SpinegradeError('USAGE', '--cross-validate needs at least 2 folds');
    return { mode: 'cross-validate', folds, seed: positiveInteger(options.seed, '--seed', 1), ...withLocalizer };
  }
  return { mode: 'model', model: await readModel(resolve(options.model ?? DEFAULT_MODEL_DIR), { engine: engineFromEnvironment() }), ...withLocalizer };
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
  if (options.masksOut !== undefined && !plan.localizers) {
    throw new SpinegradeError('USAGE', '--masks-out needs a localiser (none is bundled or given with --localizer)');
  }
  const dataset = await readDataset(datasetDir);
  const predictions = await predictWithProgress(dataset, plan, progress);
  await writeFileAtomic(out, toJsonLines(predictions.lines), { overwrite: true });
  if (options.masksOut !== undefined && plan.localizers)
    await writePredictedMasks(dataset, plan.localizers, options.masksOut);
  return `wrote ${predictions.lines.length} lines (${dataset.series.length} series, ${dataset.patients.length} patients) to ${out}\nmodel: ${predictions.description}${inSampleWarning(predictions, dataset)}`;
}

/** Writes the localiser's semantic mask (0/29/76/150) of every reference mask slice, named like the slice. */
async function writePredictedMasks(
  dataset: SpineDataset,
  localizers: readonly Localizer[],
  folder: string,
): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (const slice of dataset.maskSlices) {
    const image = await slice.loadImage();
    const mask = predictSemanticMask(localizerForPatient(localizers, slice.patient), image);
    await writeGreyPng(join(folder, slice.id), mask, image.width, image.height, {
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
  const localizers = plan
    ? (plan.localizers ?? [])
    : options.heldOutOnly
      ? await localizersFromOptions(options.localizer)
      : [];
  let dataset = await readDataset(datasetDir);
  if (options.heldOutOnly) {
    const seen = patientsSeenByAll(localizers);
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
    plan?.localizers && options.masks === undefined
      ? async (slice: MaskSliceRecord) =>
          predictSemanticMask(localizerForPatient(localizers, slice.patient), await slice.loadImage())
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

/** Options of `train localizer`, as given on the command line. */
export interface TrainLocalizerCliOptions {
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
  /** Folder for the other folds' models: train (or reuse) every fold and report out-of-fold figures. */
  crossValidate?: string;
}

/** Same training: same network configuration, same training patients, same epoch budget. */
async function sameTrainingIn(
  dir: string,
  config: LocalizerConfig,
  trainPatients: readonly string[],
  epochs: number,
): Promise<boolean> {
  if (!existsSync(join(dir, 'model.json'))) return false;
  const metadata = await readModelMetadata(dir);
  const patients = (metadata.trainedOn as { patients?: string[] } | undefined)?.patients ?? [];
  const command = typeof metadata.command === 'string' ? metadata.command : '';
  return (
    JSON.stringify(metadata.localizerConfig) === JSON.stringify(config) &&
    patients.length === trainPatients.length &&
    patients.every((p, n) => p === trainPatients[n]) &&
    command.includes(` --epochs ${epochs} `)
  );
}

/**
 * `train localizer`: trains the disc localiser on all patients but one held-out fold, which gives its
 * figures; with `--cross-validate <dir>` also the other folds' localisers (reused when already trained
 * the same way), whose out-of-fold figures go into the card and `cross-validation.json`.
 */
export async function runTrainLocalizer(
  datasetDir: string,
  out: string,
  options: TrainLocalizerCliOptions,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const dataset = await readDataset(datasetDir);
  const seed = positiveInteger(options.seed, '--seed', 1);
  const folds = positiveInteger(options.folds, '--folds', 5);
  const foldIndex = positiveInteger(options.fold, '--fold', 1) - 1;
  const workers = positiveInteger(options.workers, '--workers', 2);
  if (workers > 2) throw new SpinegradeError('USAGE', '--workers must be 1 or 2');
  const splits = patientFolds(dataset, folds, seed);
  const split = splits[foldIndex];
  if (!split) throw new SpinegradeError('USAGE', `--fold must be within 1..${folds}`);
  const epochs = positiveInteger(options.epochs, '--epochs', 10);
  const resamples = positiveInteger(options.resamples, '--resamples', 2000);
  const spacingMm = options.spacingMm === undefined ? DEFAULT_LOCALIZER_CONFIG.spacingMm : Number(options.spacingMm);
  if (!(spacingMm > 0))
    throw new SpinegradeError('USAGE', `--spacing-mm wants a positive number, got "${options.spacingMm}"`);
  const localizerConfig: LocalizerConfig = {
    ...DEFAULT_LOCALIZER_CONFIG,
    size: positiveInteger(options.canvas, '--canvas', DEFAULT_LOCALIZER_CONFIG.size),
    spacingMm,
    baseFilters: positiveInteger(options.baseFilters, '--base-filters', DEFAULT_LOCALIZER_CONFIG.baseFilters),
    depth: positiveInteger(options.depth, '--depth', DEFAULT_LOCALIZER_CONFIG.depth),
    heatmapChannels: heatmapChannelsOption(options.heatmapChannels),
    seed,
  };
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
  const commandOf = (dir: string, fold: number, crossValidate = ''): string =>
    `spinegrade train localizer --data ${datasetDir} --out ${dir} --epochs ${epochs} --folds ${folds} --fold ${fold} --seed ${seed} --workers ${workers}${sizeOptions}${channelOption}${crossValidate}`;

  const trainFold = async (fold: number, dir: string): Promise<void> => {
    const started = Date.now();
    const foldSplit = splits[fold - 1] as (typeof splits)[number];
    log(`fold ${fold} of ${folds}: training on ${foldSplit.trainPatients.length} patients into ${dir}`);
    const { result, scores, config } = await trainLocalizer(dataset, {
      config: localizerConfig,
      trainPatients: foldSplit.trainPatients,
      validationPatients: foldSplit.testPatients,
      epochs,
      workers: workers as 1 | 2,
      seed,
      ...(options.patience !== undefined ? { patience: positiveInteger(options.patience, '--patience', 3) } : {}),
      onProgress: (p) =>
        progress.update(p.epoch * (p.stepsPerEpoch ?? p.step) + p.step, epochs * (p.stepsPerEpoch ?? p.step)),
      onLog: log,
    });
    progress.finish();
    await mkdir(dir, { recursive: true });
    await saveModel(result.model, dir, {
      localizerConfig: config,
      trainedOn: {
        dataset: datasetName(dataset),
        patients: foldSplit.trainPatients,
        heldOutPatients: foldSplit.testPatients,
      },
      heldOutScores: scores,
      command: commandOf(dir, fold),
      seconds: (Date.now() - started) / 1000,
      history: result.history,
    });
    log(
      `fold ${fold}: held-out Dice disc ${scores.dice.disc.toFixed(3)}, vertebra ${scores.dice.vertebra.toFixed(3)}, canal ${scores.dice.canal.toFixed(3)}; level rate ${scores.levelRate.toFixed(3)}`,
    );
  };

  const foldDirs = splits.map((_, n) =>
    n === foldIndex || options.crossValidate === undefined ? out : join(options.crossValidate, `fold-${n + 1}`),
  );
  const foldsToRun = options.crossValidate === undefined ? [foldIndex] : splits.map((_, n) => n);
  for (const n of foldsToRun) {
    const dir = foldDirs[n] as string;
    const trainPatients = (splits[n] as (typeof splits)[number]).trainPatients;
    if (options.crossValidate !== undefined && (await sameTrainingIn(dir, localizerConfig, trainPatients, epochs))) {
      log(`fold ${n + 1} of ${folds}: reusing ${dir} (same configuration, patients and epochs)`);
      continue;
    }
    await trainFold(n + 1, dir);
  }

  const localizer = await loadLocalizer(out, { engine: engineFromEnvironment() });
  const metadata = localizer.metadata;
  const seconds = Number(metadata.seconds);
  let crossValidation: LocalizerCardInput['crossValidation'];
  if (options.crossValidate !== undefined) {
    const localizers: Localizer[] = [];
    for (const dir of foldDirs) localizers.push(await loadLocalizer(dir, { engine: engineFromEnvironment() }));
    const predictions = await predictWithProgress(
      dataset,
      { mode: 'cross-validate', folds, seed, localizers },
      progress,
    );
    const evaluation = await evaluatePredictions(dataset, predictions.lines, {
      resamples,
      predictMask: async (slice) =>
        predictSemanticMask(localizerForPatient(localizers, slice.patient), await slice.loadImage()),
    });
    crossValidation = {
      evaluation,
      folds,
      seconds: localizers.reduce((sum, l) => sum + Number(l.metadata.seconds), 0),
      command: commandOf(out, foldIndex + 1, ` --cross-validate ${options.crossValidate}`),
    };
    await writeFileAtomic(
      join(out, 'cross-validation.json'),
      `${JSON.stringify(
        {
          version: 1,
          command: crossValidation.command,
          folds: splits.map((split, n) => ({
            fold: n + 1,
            command: localizers[n]?.metadata.command,
            seconds: localizers[n]?.metadata.seconds,
            heldOutPatients: split.testPatients,
          })),
          evaluation,
        },
        null,
        1,
      )}\n`,
      { overwrite: true },
    );
  }
  const history = (metadata.history ?? []) as LocalizerCardInput['history'];
  const evaluation = await writeLocalizerCard(
    localizer,
    dataset,
    {
      heldOutPatients: split.testPatients,
      trainPatients: split.trainPatients,
      command: String(metadata.command),
      seed,
      seconds,
      history,
      config: { ...localizerConfig },
      notes: LOCALIZER_NOTES,
      ...(crossValidation ? { crossValidation } : {}),
    },
    resamples,
  );
  const rateOf = (e: Evaluation | undefined): string =>
    (e?.localisation?.rows[0]?.estimate.value ?? Number.NaN).toFixed(3);
  return (
    `wrote ${out} (${(seconds / 60).toFixed(1)} min of training): held-out patients: T2 discs at the right level ${rateOf(evaluation)}` +
    (crossValidation ? `; ${folds}-fold out-of-fold ${rateOf(crossValidation.evaluation)}` : '')
  );
}
