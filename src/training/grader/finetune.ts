/**
 * Few-shot site adaptation: fine-tune a trained grader on a handful of a site's labelled patients.
 * The CNN continues from its weights at a low learning rate with the original loss weights; the
 * context model continues from its weights on the fine-tuned CNN's embeddings of the site's crops
 * (its input normalisation kept). The classical model and the calibration are kept as they were:
 * a handful of patients is too few to refit either honestly.
 */

import { type ContextModel, cloneContextModel, trainContextModel } from '../../grade/context.js';
import type { TrainableGrader } from '../../grade/grader.js';
import type { tfl } from '../../models/tf/backend.js';
import type { TrainProgress } from '../../models/tf/train.js';
import { flattenWeights } from '../../models/tf/trainCore.js';
import { cnnOutputs, contextTrainingData } from './experiment.js';
import type { DiscCropRecord } from './samples.js';
import { cropsOfPatients, type LabelledCrop, trainGrader } from './train.js';

/** Options of {@link fineTuneGrader}. */
export interface FineTuneOptions {
  readonly epochs: number;
  readonly contextEpochs: number;
  readonly learningRate: number;
  readonly seed: number;
  readonly workers?: 1 | 2;
  readonly onProgress?: (progress: TrainProgress) => void;
  readonly onLog?: (line: string) => void;
}

/** Defaults of fine-tuning: a few epochs at a tenth of the training learning rate. */
export const DEFAULT_FINE_TUNE = { epochs: 8, contextEpochs: 5, learningRate: 2e-4 } as const;

/** The fine-tuned parts of a grader. */
export interface FineTuned {
  cnn: tfl.LayersModel;
  context: ContextModel | undefined;
  /** Labelled crops it was tuned on. */
  crops: number;
  /** The patients those crops come from. */
  patients: string[];
  /** Mean training loss of the CNN per epoch. */
  lossPerEpoch: number[];
  seconds: number;
}

/** Fine-tunes the grader's CNN and context model on the labelled crops of `patients`. */
export async function fineTuneGrader(
  grader: TrainableGrader,
  records: readonly DiscCropRecord[],
  labelled: readonly LabelledCrop[],
  patients: readonly string[],
  options: FineTuneOptions,
): Promise<FineTuned> {
  const started = Date.now();
  const train = cropsOfPatients(labelled, patients);
  if (train.length < 2) throw new RangeError(`fine-tuning needs at least two graded discs; got ${train.length}`);
  const { loss, ...config } = grader.config;
  const { model, history } = await trainGrader(train, {
    epochs: options.epochs,
    learningRate: options.learningRate,
    seed: options.seed,
    config,
    lossWeights: loss,
    initialWeights: flattenWeights(grader.model.weights),
    ...(options.workers ? { workers: options.workers } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });
  let context: ContextModel | undefined;
  if (grader.context) {
    context = cloneContextModel(grader.context);
    const chosen = new Set(patients);
    const indices = records.flatMap((r, i) => (chosen.has(r.patient) ? [i] : []));
    const outputs = cnnOutputs(model, records, indices, config.cropSize);
    await trainContextModel(context, contextTrainingData(records, labelled, indices, outputs, context.config.levels), {
      epochs: options.contextEpochs,
      seed: options.seed,
      learningRate: options.learningRate * 2,
      weights: loss,
      fitInputNormalization: false,
    });
  }
  return {
    cnn: model,
    context,
    crops: train.length,
    patients: [...new Set(train.map((c) => c.record.patient))].sort(),
    lossPerEpoch: history.map((e) => e.meanLoss),
    seconds: (Date.now() - started) / 1000,
  };
}
