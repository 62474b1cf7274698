/**
 * The per-disc grader network: a small ResNet on a disc crop (a strided stem, then residual stages
 * down to a 7 × 7 map for a 56-pixel crop) with one head per finding (logits):
 * Pfirrmann 1-5, Modic 0-3 and six binary findings. The last feature map is the layer `features`
 * (Grad-CAM explains from there), its global average `pool` is the disc's embedding for the
 * across-levels context model. This module is also the model module the data-parallel trainer's
 * workers import.
 */
import { tf, tfl } from '../models/tf/backend.js';
import { convBlock, residualBlock } from '../models/tf/layers.js';
import { forwardTraining } from '../models/tf/trainCore.js';
import { GRADER_HEADS, type GraderLossWeights, graderLoss } from './loss.js';

/** Everything that defines a grader network, its input and its loss. */
export interface GraderConfig {
  /** Crop size in pixels (square, one channel). */
  cropSize: number;
  /** Filters of the stem convolution and of each residual stage after it. */
  filters: number[];
  /** Strides of the stem and of each stage (same length as `filters`). */
  strides: number[];
  dropout: number;
  seed: number;
  loss: GraderLossWeights;
}

/** The configuration the bundled grader is trained with (loss weights are set from the training data). */
export const DEFAULT_GRADER_CONFIG: Omit<GraderConfig, 'loss'> = {
  cropSize: 56,
  filters: [16, 16, 32, 64, 96],
  strides: [2, 1, 2, 2, 1],
  dropout: 0.3,
  seed: 1,
};

/** The head names in output order. */
export const GRADER_OUTPUTS = ['pfirrmann', 'modic', 'findings'] as const;

/** Builds the grader network (model-module export for the trainer). */
export function buildModel(config: GraderConfig): tfl.LayersModel {
  const input = tfl.input({ shape: [config.cropSize, config.cropSize, 1], name: 'crop' });
  if (config.strides.length !== config.filters.length || config.filters.length < 2)
    throw new Error('grader config: filters and strides need one entry each for the stem and every stage');
  const [stem, ...stages] = config.filters as [number, ...number[]];
  let x = convBlock(input, stem, {
    name: 'stem',
    stride: config.strides[0] as number,
    seed: config.seed,
    batchNormMomentum: 0.9,
  });
  stages.forEach((filters, n) => {
    x = residualBlock(x, filters, {
      name: `stage${n}`,
      stride: config.strides[n + 1] as number,
      seed: config.seed + 20 * (n + 1),
      batchNormMomentum: 0.9,
    });
  });
  const features = tfl.layers.activation({ activation: 'relu', name: 'features' }).apply(x) as tfl.SymbolicTensor;
  const pool = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(features) as tfl.SymbolicTensor;
  const dropped = tfl.layers
    .dropout({ rate: config.dropout, name: 'dropout', seed: config.seed })
    .apply(pool) as tfl.SymbolicTensor;
  const outputs = GRADER_OUTPUTS.map(
    (name, n) =>
      tfl.layers
        .dense({
          units: GRADER_HEADS[name],
          name,
          kernelInitializer: tfl.initializers.glorotUniform({ seed: config.seed + 100 + n }),
        })
        .apply(dropped) as tfl.SymbolicTensor,
  );
  const model = tfl.model({ inputs: input, outputs, name: 'grader' });
  lossWeightsOf.set(model, config.loss);
  return model;
}

/** The loss weights each built model trains with (the trainer's loss function gets only the model). */
const lossWeightsOf = new WeakMap<tfl.LayersModel, GraderLossWeights>();

/** Training loss of one batch (model-module export for the trainer). */
export function lossOf(model: tfl.LayersModel, inputs: tf.Tensor4D, targets: Record<string, tf.Tensor>): tf.Scalar {
  const weights = lossWeightsOf.get(model);
  if (!weights) throw new Error('the grader loss needs a model built by buildModel (with its loss weights)');
  return tf.tidy(() => {
    const out = forwardTraining(model, inputs);
    return graderLoss(
      tf,
      { pfirrmann: out.pfirrmann as tf.Tensor, modic: out.modic as tf.Tensor, findings: out.findings as tf.Tensor },
      {
        pfirrmann: targets.pfirrmann as tf.Tensor,
        modic: targets.modic as tf.Tensor,
        findings: targets.findings as tf.Tensor,
        findingsWeight: targets.findingsWeight as tf.Tensor,
      },
      weights,
    );
  });
}
