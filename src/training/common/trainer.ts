/**
 * The trainer settings the localiser and the grader share, and how they become the engine's
 * training options: Adam at 2e-3 with one warm-up epoch and a cosine decay, gradients clipped to
 * norm 5, two worker threads, shuffled mini-batches of at least two samples.
 */
import { shuffleInPlace } from '../../metrics/random.js';
import type { TrainOptions, TrainProgress } from '../../models/tf/train.js';
import type { Progress } from '../../util/progress.js';

/** The settings of a training run that every trainer takes. */
export interface TrainerSettings {
  readonly epochs: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  readonly workers?: 1 | 2;
  readonly seed?: number;
  readonly onProgress?: (progress: TrainProgress) => void;
  readonly onLog?: (line: string) => void;
}

/** The default base learning rate of both trainers. */
export const DEFAULT_LEARNING_RATE = 2e-3;

/** The engine options a trainer's settings give (`minLearningRate`: where its cosine schedule ends). */
export function trainerOptions(
  settings: TrainerSettings,
  minLearningRate: number,
): Pick<TrainOptions, 'epochs' | 'learningRate' | 'schedule' | 'clipGradientNorm' | 'workers' | 'onProgress'> {
  return {
    epochs: settings.epochs,
    learningRate: settings.learningRate ?? DEFAULT_LEARNING_RATE,
    schedule: { kind: 'cosine', warmupEpochs: 1, minLearningRate },
    clipGradientNorm: 5,
    workers: settings.workers ?? 2,
    ...(settings.onProgress ? { onProgress: settings.onProgress } : {}),
  };
}

/** One epoch's mini-batches: the samples shuffled by `random`, a last batch of one dropped (batch statistics need two). */
export function* shuffledBatches<T>(samples: readonly T[], batchSize: number, random: () => number): Generator<T[]> {
  const order = shuffleInPlace([...samples], random);
  for (let start = 0; start < order.length; start += batchSize) {
    const chunk = order.slice(start, start + batchSize);
    if (chunk.length < 2) break;
    yield chunk;
  }
}

/** Training progress (epochs × steps) drawn on a progress line. */
export function epochProgress(progress: Progress, epochs?: number): (step: TrainProgress) => void {
  return (p) =>
    progress.update(p.epoch * (p.stepsPerEpoch ?? p.step) + p.step, (epochs ?? p.epochs) * (p.stepsPerEpoch ?? p.step));
}
