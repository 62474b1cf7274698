/** The options of `spinegrade train …`, as given on the command line, parsed into training settings. */
import { SpinegradeError } from '../errors.js';
import { DEFAULT_LOCALIZER_CONFIG, type LocalizerConfig } from '../localize/model.js';
import { engineFromEnvironment } from '../models/engine.js';
import { DEFAULT_LOCALIZER_DIR, GRADER_MODEL_DIR } from '../store/store.js';
import { DEFAULT_FINE_TUNE } from '../training/grader/finetune.js';
import type { GraderTrainingSettings } from '../training/grader/pipeline.js';
import type { FewShotSettings, FineTuneSettings } from '../training/grader/siteTuning.js';
import type { LocalizerTrainingSettings } from '../training/localizer/pipeline.js';
import { positiveInteger } from './args.js';

/** Options of `train grader`, as given on the command line. */
export interface TrainGraderCliOptions {
  localizer?: string;
  epochs?: string;
  contextEpochs?: string;
  folds?: string;
  seed?: string;
  workers?: string;
  resamples?: string;
  reviewThreshold?: string;
}

/** `--workers`: 1 or 2 training threads. */
export function workersOption(text: string | undefined): 1 | 2 {
  const workers = positiveInteger(text, '--workers', 2);
  if (workers > 2) throw new SpinegradeError('USAGE', '--workers must be 1 or 2');
  return workers as 1 | 2;
}

/** The settings of `train grader` from its options; a USAGE error names the first bad one. */
export function graderTrainingSettings(options: TrainGraderCliOptions): GraderTrainingSettings {
  const seed = positiveInteger(options.seed, '--seed', 1);
  const folds = options.folds === '0' ? 0 : positiveInteger(options.folds, '--folds', 5);
  if (folds === 1) throw new SpinegradeError('USAGE', '--folds wants 0 (no cross-validation) or at least 2');
  const workers = workersOption(options.workers);
  const reviewThreshold = options.reviewThreshold === undefined ? 0.5 : Number(options.reviewThreshold);
  if (!(reviewThreshold >= 0 && reviewThreshold <= 1))
    throw new SpinegradeError(
      'USAGE',
      `--review-threshold wants a probability in [0, 1], got "${options.reviewThreshold}"`,
    );
  return {
    localizerDirs: localizerDirsOf(options.localizer),
    engine: engineFromEnvironment(),
    epochs: positiveInteger(options.epochs, '--epochs', 12),
    contextEpochs: positiveInteger(options.contextEpochs, '--context-epochs', 30),
    folds,
    seed,
    workers,
    resamples: positiveInteger(options.resamples, '--resamples', 2000),
    reviewThreshold,
  };
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

/** The settings of `train localizer` from its options; a USAGE error names the first bad one. */
export function localizerTrainingSettings(options: TrainLocalizerCliOptions): LocalizerTrainingSettings {
  const seed = positiveInteger(options.seed, '--seed', 1);
  const folds = positiveInteger(options.folds, '--folds', 5);
  const fold = positiveInteger(options.fold, '--fold', 1);
  const workers = workersOption(options.workers);
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
  return {
    localizerConfig,
    engine: engineFromEnvironment(),
    seed,
    folds,
    fold,
    workers,
    epochs,
    resamples,
    ...(options.patience !== undefined ? { patience: positiveInteger(options.patience, '--patience', 3) } : {}),
    ...(options.crossValidate !== undefined ? { crossValidate: options.crossValidate } : {}),
  };
}

/** The settings of `train prior` from its options. */
export function priorTrainingSettings(options: { seed?: string; folds?: string; resamples?: string }): {
  seed: number;
  folds: number;
  resamples: number;
} {
  return {
    seed: positiveInteger(options.seed, '--seed', 1),
    folds: positiveInteger(options.folds, '--folds', 5),
    resamples: positiveInteger(options.resamples, '--resamples', 2000),
  };
}

/** Options of `finetune`, as given on the command line. */
export interface FineTuneCliOptions {
  model?: string;
  localizer?: string;
  epochs?: string;
  contextEpochs?: string;
  learningRate?: string;
  seed?: string;
  workers?: string;
  overwrite?: boolean;
}

function positiveNumber(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value))
    throw new SpinegradeError('USAGE', `${name} wants a positive number, got "${text}"`);
  return value;
}

/** Options of `train few-shot`, as given on the command line. */
export interface FewShotCliOptions {
  localizer?: string;
  source?: string;
  target?: string;
  shots?: string;
  seeds?: string;
  epochs?: string;
  contextEpochs?: string;
  tuneEpochs?: string;
  tuneContextEpochs?: string;
  learningRate?: string;
  workers?: string;
  resamples?: string;
}

function integerList(text: string | undefined, name: string, fallback: number[], allowZero: boolean): number[] {
  if (text === undefined) return fallback;
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < (allowZero ? 0 : 1)))
    throw new SpinegradeError('USAGE', `${name} wants a comma-separated list of whole numbers, got "${text}"`);
  return values;
}

/** The localiser folders of a `--localizer a,b` option (default the bundled one). */
function localizerDirsOf(list: string | undefined): string[] {
  return (list ?? DEFAULT_LOCALIZER_DIR).split(',').filter((d) => d.length > 0);
}

/** The settings of `finetune` from its options; a USAGE error names the first bad one. */
export function fineTuneSettings(options: FineTuneCliOptions): FineTuneSettings {
  return {
    model: options.model ?? GRADER_MODEL_DIR,
    epochs: positiveInteger(options.epochs, '--epochs', DEFAULT_FINE_TUNE.epochs),
    contextEpochs: positiveInteger(options.contextEpochs, '--context-epochs', DEFAULT_FINE_TUNE.contextEpochs),
    learningRate: positiveNumber(options.learningRate, '--learning-rate', DEFAULT_FINE_TUNE.learningRate),
    seed: positiveInteger(options.seed, '--seed', 1),
    workers: workersOption(options.workers),
    overwrite: options.overwrite === true,
    localizerDirs: localizerDirsOf(options.localizer),
    engine: engineFromEnvironment(),
  };
}

/** The settings of `train few-shot` from its options; a USAGE error names the first bad one. */
export function fewShotSettings(options: FewShotCliOptions): FewShotSettings {
  return {
    ...(options.localizer !== undefined ? { localizerOption: options.localizer } : {}),
    ...(options.source !== undefined ? { source: options.source } : {}),
    ...(options.target !== undefined ? { target: options.target } : {}),
    shots: integerList(options.shots, '--shots', [0, 5, 10, 20], true),
    seeds: integerList(options.seeds, '--seeds', [1, 2, 3], false),
    workers: workersOption(options.workers),
    localizerDirs: localizerDirsOf(options.localizer),
    engine: engineFromEnvironment(),
    epochs: positiveInteger(options.epochs, '--epochs', 16),
    contextEpochs: positiveInteger(options.contextEpochs, '--context-epochs', 10),
    tuneEpochs: positiveInteger(options.tuneEpochs, '--tune-epochs', DEFAULT_FINE_TUNE.epochs),
    tuneContextEpochs: positiveInteger(
      options.tuneContextEpochs,
      '--tune-context-epochs',
      DEFAULT_FINE_TUNE.contextEpochs,
    ),
    learningRate: positiveNumber(options.learningRate, '--learning-rate', DEFAULT_FINE_TUNE.learningRate),
    resamples: positiveInteger(options.resamples, '--resamples', 1000),
  };
}
