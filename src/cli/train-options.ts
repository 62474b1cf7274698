/** The options of `spinegrade train …`, as given on the command line, parsed into training settings. */
import { SpinegradeError } from '../errors.js';
import { engineFromEnvironment } from '../models/engine.js';
import { DEFAULT_LOCALIZER_DIR } from '../store/store.js';
import type { GraderTrainingSettings } from '../training/grader/pipeline.js';
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
