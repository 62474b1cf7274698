/** The options of `spinegrade train …`, as given on the command line, parsed into training settings. */
import { SpinegradeError } from '../errors.js';
import { DEFAULT_LOCALIZER_CONFIG, type LocalizerConfig } from '../localize/model.js';
import { engineFromEnvironment } from '../models/engine.js';
import { DEFAULT_LOCALIZER_DIR } from '../store/store.js';
import type { GraderTrainingSettings } from '../training/grader/pipeline.js';
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
    localizerDirs: (options.localizer ?? DEFAULT_LOCALIZER_DIR).split(',').filter((d) => d.length > 0),
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
