/** `spinegrade predict`, `evaluate` and `train`: the commands that work on a labelled dataset. */

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { datasetName, describeAccount, restrictToPatients } from '../datasets/common.js';
import { readDataset } from '../datasets/index.js';
import type { MaskSliceRecord, SpineDataset } from '../datasets/types.js';
import { type PredictionLine, readPredictions, toJsonLines } from '../disc/predictions.js';
import type { ModelIdentity } from '../disc/provenance.js';
import { SpinegradeError } from '../errors.js';
import {
  type DatasetPredictions,
  localizerInSamplePatients,
  type PredictionPlan,
  predictWithProgress,
} from '../evaluation/predict.js';
import { type Evaluation, evaluatePredictions } from '../evaluation/score.js';
import { formatEvaluation } from '../evaluation/table.js';
import { assertWritableTarget, writeFileAtomic } from '../io/atomic.js';
import { writeGreyPng } from '../io/png.js';
import { type Localizer, loadLocalizer, localizerForPatient, predictSemanticMask } from '../localize/localizer.js';
import { type EngineChoice, engineFromEnvironment } from '../models/engine.js';
import { identityOfManifest, type ModelManifest, readManifest } from '../models/manifest.js';
import { DEFAULT_LOCALIZER_DIR, DEFAULT_MODEL_DIR, readModel } from '../store/store.js';
import type { Progress } from '../util/progress.js';
import { engineOption, positiveInteger } from './args.js';

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
  /** `--engine`: auto, onnx or tfjs (default: SPINEGRADE_ENGINE, else auto). */
  engine?: string;
  /** Replace an existing output file (without it, an existing one is refused before any work). */
  overwrite?: boolean;
}

/** The engine of the options, checked, or the environment's. */
function engineOf(option: string | undefined): EngineChoice {
  return engineOption(option) ?? engineFromEnvironment();
}

/** The localisers of the options: the given folder(s), the bundled one when present, or none. */
async function localizersFromOptions(option: string | undefined, engine: EngineChoice): Promise<Localizer[]> {
  if (option === 'none') return [];
  if (option === undefined)
    return existsSync(join(DEFAULT_LOCALIZER_DIR, 'model.json'))
      ? [await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine })]
      : [];
  const dirs = option.split(',').filter((d) => d.length > 0);
  if (dirs.length === 0)
    throw new SpinegradeError('USAGE', '--localizer wants a folder, folders separated by commas, or none');
  const localizers: Localizer[] = [];
  for (const dir of dirs) localizers.push(await loadLocalizer(resolve(dir), { engine }));
  return localizers;
}

/** The prediction plan from the command-line options. */
export async function planFromOptions(options: PlanOptions): Promise<PredictionPlan> {
  const engine = engineOf(options.engine);
  const localizers = await localizersFromOptions(options.localizer, engine);
  const withLocalizer = localizers.length > 0 ? { localizers } : {};
  if (options.crossValidate !== undefined) {
    if (options.model !== undefined)
      throw new SpinegradeError('USAGE', '--model and --cross-validate exclude each other');
    const folds = positiveInteger(options.crossValidate, '--cross-validate', 5);
    if (folds < 2) throw new SpinegradeError('USAGE', '--cross-validate needs at least 2 folds');
    return { mode: 'cross-validate', folds, seed: positiveInteger(options.seed, '--seed', 1), ...withLocalizer };
  }
  const modelDir = resolve(options.model ?? DEFAULT_MODEL_DIR);
  const model = await readModel(modelDir, { engine });
  return { mode: 'model', model, manifest: await readManifest(modelDir), ...withLocalizer };
}

/** `predict`: writes the predictions file; returns what to tell the user. */
export async function runPredict(
  datasetDir: string,
  out: string,
  options: PlanOptions & { masksOut?: string },
  progress: Progress,
): Promise<string> {
  await assertWritableTarget(out, options.overwrite === true);
  const plan = await planFromOptions(options);
  if (options.masksOut !== undefined && !plan.localizers) {
    throw new SpinegradeError('USAGE', '--masks-out needs a localiser (none is bundled or given with --localizer)');
  }
  const dataset = await readDataset(datasetDir);
  const predictions = await predictWithProgress(dataset, plan, progress);
  const models = await identitiesOfPlan(plan);
  await writeFileAtomic(out, toJsonLines(predictions.lines.map((line) => ({ ...line, models }))), {
    overwrite: options.overwrite === true,
  });
  if (options.masksOut !== undefined && plan.localizers)
    await writePredictedMasks(dataset, plan.localizers, options.masksOut);
  const warning = inSampleWarning(predictions, dataset, 'predict', modelDirOf(options, plan), manifestOf(plan));
  return [
    `wrote ${predictions.lines.length} lines (${dataset.series.length} series, ${dataset.patients.length} patients) to ${out}`,
    ...accountLines(dataset),
    `model: ${predictions.description}${warning}`,
  ].join('\n');
}

/** The identities of a plan's models, as the predictions file records them. */
async function identitiesOfPlan(
  plan: PredictionPlan,
): Promise<{ model: ModelIdentity | null; localizers: ModelIdentity[] }> {
  const localizers: ModelIdentity[] = [];
  for (const localizer of plan.localizers ?? []) localizers.push(identityOfManifest(await readManifest(localizer.dir)));
  return { model: plan.mode === 'model' && plan.manifest ? identityOfManifest(plan.manifest) : null, localizers };
}

const manifestOf = (plan: PredictionPlan | undefined): ModelManifest | undefined =>
  plan?.mode === 'model' ? plan.manifest : undefined;

const modelDirOf = (options: PlanOptions, plan: PredictionPlan | undefined): string | undefined =>
  plan?.mode === 'model' ? (options.model ?? DEFAULT_MODEL_DIR) : undefined;

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

/**
 * The warning when predictions are in-sample, with the routes that give honest figures: the model's own
 * out-of-fold predictions (when it ships them and this is the data they cover), patients it never saw,
 * and `--held-out-only` for a localiser's training patients. (Cross-validating here refits only the
 * class prior, not the grader, so it is no remedy for a grader's in-sample figures.)
 */
export function inSampleWarning(
  predictions: Pick<DatasetPredictions, 'inSample' | 'inSamplePatients'>,
  dataset: Pick<SpineDataset, 'root' | 'layout' | 'patients'>,
  command: 'predict' | 'evaluate',
  modelDir?: string,
  manifest?: ModelManifest,
): string {
  if (predictions.inSamplePatients === 0) return '';
  const routes: string[] = [];
  const { model, localizers } = predictions.inSample;
  if (model.length > 0) {
    const outOfFold = modelDir !== undefined ? join(modelDir, 'out-of-fold.jsonl') : undefined;
    const untuned = manifest?.tuning === undefined;
    if (outOfFold && untuned && existsSync(outOfFold) && datasetName(dataset) === 'SPIDER')
      routes.push(
        command === 'evaluate'
          ? `score the model's own out-of-fold predictions: spinegrade evaluate ${dataset.root} --predictions ${displayPath(outOfFold)}`
          : `use the model's own out-of-fold predictions (${displayPath(outOfFold)}) instead`,
      );
    routes.push(
      manifest?.tuning
        ? `evaluate it on patients other than its ${manifest.tuning.patients.length} tuning patients of ${manifest.tuning.dataset}`
        : 'evaluate it on patients it was not trained on',
    );
  }
  if (localizers.length > 0 && model.length < predictions.inSamplePatients)
    routes.push(
      command === 'evaluate'
        ? 'add --held-out-only to score only the patients no localiser saw'
        : 'leave out the localiser’s training patients (evaluate --held-out-only)',
    );
  const whose =
    model.length > 0 && localizers.length > 0
      ? "the model's and the localiser's"
      : model.length > 0
        ? "the model's"
        : "the localiser's";
  return `\nwarning: ${predictions.inSamplePatients} of ${dataset.patients.length} patients were in ${whose} training data: these ${command === 'evaluate' ? 'figures' : 'predictions'} are in-sample; for honest figures, ${routes.join('; or ')}`;
}

/** What the dataset reader read and left out, for the command's last words. */
const accountLines = (dataset: SpineDataset): string[] => (dataset.account ? describeAccount(dataset.account) : []);

/** A path as the user can type it: relative to the working folder when inside it. */
function displayPath(path: string): string {
  const relativePath = relative(process.cwd(), resolve(path));
  return relativePath.startsWith('..') || isAbsolute(relativePath) ? path : relativePath;
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
  if (options.json !== undefined) await assertWritableTarget(options.json, options.overwrite === true);
  const plan = options.predictions === undefined ? await planFromOptions(options) : undefined;
  const localizers = plan
    ? (plan.localizers ?? [])
    : options.heldOutOnly
      ? await localizersFromOptions(options.localizer, engineOf(options.engine))
      : [];
  let dataset = await readDataset(datasetDir);
  if (options.heldOutOnly) {
    const seen = new Set(localizerInSamplePatients(dataset, localizers));
    dataset = restrictToPatients(
      dataset,
      new Set(dataset.patients.filter((p) => !seen.has(p))),
      "in the localiser's training data (--held-out-only)",
    );
    if (dataset.patients.length === 0) {
      throw new SpinegradeError('NO_IMAGES', 'every patient was in the localiser training data', datasetDir);
    }
  }
  let lines: PredictionLine[];
  let description: string;
  let warning = '';
  let models: { model: ModelIdentity | null; localizers: ModelIdentity[] } | undefined;
  if (plan === undefined) {
    lines = await readPredictions(options.predictions as string);
    description = `predictions from ${options.predictions}`;
  } else {
    const predictions = await predictWithProgress(dataset, plan, progress);
    lines = predictions.lines;
    description = predictions.description;
    warning = inSampleWarning(predictions, dataset, 'evaluate', modelDirOf(options, plan), manifestOf(plan));
    models = await identitiesOfPlan(plan);
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
    ...accountLines(dataset),
    `model: ${description}${warning}`,
  ];
  if (options.json !== undefined) {
    await writeFileAtomic(
      options.json,
      `${JSON.stringify({ version: 1, dataset: { root: dataset.root, layout: dataset.layout, patients: dataset.patients.length, series: dataset.series.length }, model: description, ...(models ? { models } : {}), ...(dataset.account ? { reader: dataset.account } : {}), evaluation }, null, 1)}\n`,
      { overwrite: options.overwrite === true },
    );
  }
  return { text: formatEvaluation(evaluation, header), evaluation };
}
