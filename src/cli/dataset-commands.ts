/** `spinegrade predict`, `evaluate` and `train`: the commands that work on a labelled dataset. */

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { restrictToPatients } from '../datasets/common.js';
import { readDataset } from '../datasets/index.js';
import type { MaskSliceRecord, SpineDataset } from '../datasets/types.js';
import { type PredictionLine, readPredictions, toJsonLines } from '../disc/predictions.js';
import { SpinegradeError } from '../errors.js';
import { type DatasetPredictions, type PredictionPlan, predictWithProgress } from '../evaluation/predict.js';
import { type Evaluation, evaluatePredictions } from '../evaluation/score.js';
import { formatEvaluation } from '../evaluation/table.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeGreyPng } from '../io/png.js';
import {
  type Localizer,
  loadLocalizer,
  localizerForPatient,
  patientsSeenByAll,
  predictSemanticMask,
} from '../localize/localizer.js';
import { engineFromEnvironment } from '../models/engine.js';
import { DEFAULT_LOCALIZER_DIR, DEFAULT_MODEL_DIR, readModel } from '../store/store.js';
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
    return existsSync(join(DEFAULT_LOCALIZER_DIR, 'model.json'))
      ? [await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: engineFromEnvironment() })]
      : [];
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
  return {
    mode: 'model',
    model: await readModel(resolve(options.model ?? DEFAULT_MODEL_DIR), { engine: engineFromEnvironment() }),
    ...withLocalizer,
  };
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
