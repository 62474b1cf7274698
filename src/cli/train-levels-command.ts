/**
 * `spinegrade train levels`: parses and checks the options, then runs the level network's training
 * pipeline (`src/training/localizer/levelPipeline.ts`).
 */
import { join } from 'node:path';
import { SpinegradeError } from '../errors.js';
import { DEFAULT_LEVEL_NETWORK_CONFIG, type LevelNetworkConfig } from '../localize/levels.js';
import { type LevelTrainingSettings, trainLevelsOnDataset } from '../training/localizer/levelPipeline.js';
import type { Progress } from '../util/progress.js';
import { positiveInteger } from './args.js';
import { workersOption } from './train-options.js';

/** Options of `train levels`, as given on the command line. */
export interface TrainLevelsCliOptions {
  epochs?: string;
  workers?: string;
  seed?: string;
  folds?: string;
  canvas?: string;
  /** Filters of the encoder stages, comma-separated (e.g. `8,16,32,64`). */
  filters?: string;
  /** Folder of the per-fold models and predictions (reused when present); default `.cache/levels-folds`. */
  workDir?: string;
  /** `no`: cross-validate only, no network trained on all patients. */
  final?: string;
  resamples?: string;
  /** `no`: score only the folds already trained in the work folder. */
  train?: string;
  /** Train only these folds when missing, comma-separated (e.g. `2,4`; to train folds in parallel processes). */
  trainFolds?: string;
  /** Bundle fold K's saved network (trained on the other folds) instead of training one on all patients. */
  bundleFold?: string;
  /** `yes`: predict the held-out slices again with the saved fold networks (after an inference change). */
  repredict?: string;
  /** A localiser folder: also score its outlines named by the level points, on the patients it never saw. */
  localizer?: string;
}

function yesNo(value: string | undefined, flag: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value !== 'yes' && value !== 'no') throw new SpinegradeError('USAGE', `${flag} wants yes or no, got "${value}"`);
  return value === 'yes';
}

function foldList(value: string | undefined, folds: number): number[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map((part) => Number(part.trim()));
  if (list.some((f) => !Number.isInteger(f) || f < 1 || f > folds)) {
    throw new SpinegradeError(
      'USAGE',
      `--train-folds wants fold numbers from 1 to ${folds} separated by commas, got "${value}"`,
    );
  }
  return list;
}

function filterList(value: string | undefined): number[] {
  if (value === undefined) return [...DEFAULT_LEVEL_NETWORK_CONFIG.filters];
  const filters = value.split(',').map((part) => Number(part.trim()));
  if (filters.length < 2 || filters.some((f) => !Number.isInteger(f) || f < 1)) {
    throw new SpinegradeError(
      'USAGE',
      `--filters wants at least two positive integers separated by commas, got "${value}"`,
    );
  }
  return filters;
}

/** The pipeline settings of `train levels` options (checked; bad values are usage errors). */
export function levelTrainingSettings(
  datasetDir: string,
  out: string,
  options: TrainLevelsCliOptions,
): LevelTrainingSettings {
  const seed = positiveInteger(options.seed, '--seed', 1);
  const folds = positiveInteger(options.folds, '--folds', 5);
  const epochs = positiveInteger(options.epochs, '--epochs', 16);
  const workers = workersOption(options.workers);
  const config: LevelNetworkConfig = {
    ...DEFAULT_LEVEL_NETWORK_CONFIG,
    size: positiveInteger(options.canvas, '--canvas', DEFAULT_LEVEL_NETWORK_CONFIG.size),
    filters: filterList(options.filters),
    seed,
  };
  if (config.size % 2 ** config.filters.length !== 0) {
    throw new SpinegradeError(
      'USAGE',
      `--canvas ${config.size} must be divisible by 2^${config.filters.length} (one halving per filter stage)`,
    );
  }
  return {
    config,
    epochs,
    folds,
    seed,
    workers,
    resamples: positiveInteger(options.resamples, '--resamples', 2000),
    workDir: options.workDir ?? join('.cache', 'levels-folds'),
    final: yesNo(options.final, '--final', true),
    trainMissing: yesNo(options.train, '--train', true),
    ...(options.trainFolds === undefined ? {} : { trainFolds: foldList(options.trainFolds, folds) }),
    repredict: yesNo(options.repredict, '--repredict', false),
    ...(options.bundleFold === undefined
      ? {}
      : { bundleFold: positiveInteger(options.bundleFold, '--bundle-fold', 1) }),
    ...(options.localizer === undefined ? {} : { localizer: options.localizer }),
    command:
      `spinegrade train levels --data ${datasetDir} --out ${out} --epochs ${epochs} --folds ${folds} --seed ${seed} ` +
      `--workers ${workers} --canvas ${config.size} --filters ${config.filters.join(',')}`,
  };
}

/** Runs `train levels`; returns the closing message. */
export function runTrainLevels(
  datasetDir: string,
  out: string,
  options: TrainLevelsCliOptions,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  return trainLevelsOnDataset(datasetDir, out, levelTrainingSettings(datasetDir, out, options), progress, log);
}
