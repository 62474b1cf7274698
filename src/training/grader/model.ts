/**
 * The grader v2 network and its training loss (the model module the data-parallel trainer's workers
 * import): a plain CNN of 3 × 3 convolution blocks on the crop with its contrast and level planes,
 * global average pooling, and one dense head per output — an ordinal Pfirrmann head (cumulative
 * or CORN logits), Modic 0-3 and the six binary findings.
 */
import { GRADER_HEADS, type GraderLossWeights, graderLoss } from '../../grade/loss.js';
import { V2_HEADS, V2_OUTPUTS } from '../../grade/v2.js';
import { V2_CHANNELS } from '../../grade/v2Crops.js';
import { tf, tfl } from '../../models/tf/backend.js';
import { convBlock } from '../../models/tf/layers.js';
import { forwardTraining } from '../../models/tf/trainCore.js';

/** Everything that defines a v2 network and its loss. */
export interface V2NetworkConfig {
  cropSize: number;
  /** Filters of each convolution block. */
  filters: number[];
  /** Stride of each block (same length as `filters`). */
  strides: number[];
  dropout: number;
  seed: number;
  /** Modic and binary-finding loss weights (Pfirrmann's are per sample, in the batch). */
  loss: Pick<GraderLossWeights, 'modicClass' | 'findingsPositive'>;
  /** Weight of the Modic and findings terms against the Pfirrmann term. */
  auxiliaryWeight: number;
}

/** Builds the v2 network (model-module export for the trainer). */
export function buildModel(config: V2NetworkConfig): tfl.LayersModel {
  if (config.filters.length !== config.strides.length || config.filters.length === 0)
    throw new Error('grader v2 config: one stride per convolution block');
  const input = tfl.input({ shape: [config.cropSize, config.cropSize, V2_CHANNELS], name: 'crop' });
  let x: tfl.SymbolicTensor = input;
  const last = config.filters.length - 1;
  config.filters.forEach((filters, n) => {
    x = convBlock(x, filters, {
      name: `block${n}`,
      stride: config.strides[n] as number,
      seed: config.seed + 10 * n,
      batchNormMomentum: 0.9,
      ...(n === last ? { activation: 'linear' as const } : {}),
    });
  });
  const features = tfl.layers.activation({ activation: 'relu', name: 'features' }).apply(x) as tfl.SymbolicTensor;
  const pool = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(features) as tfl.SymbolicTensor;
  const dropped = tfl.layers
    .dropout({ rate: config.dropout, name: 'dropout', seed: config.seed })
    .apply(pool) as tfl.SymbolicTensor;
  const outputs = V2_OUTPUTS.map(
    (name, n) =>
      tfl.layers
        .dense({
          units: V2_HEADS[name],
          name,
          kernelInitializer: tfl.initializers.glorotUniform({ seed: config.seed + 100 + n }),
        })
        .apply(dropped) as tfl.SymbolicTensor,
  );
  const model = tfl.model({ inputs: input, outputs, name: 'grader_v2' });
  configOf.set(model, config);
  return model;
}

const configOf = new WeakMap<tfl.LayersModel, V2NetworkConfig>();

/**
 * Training loss of one batch (model-module export): the ordinal Pfirrmann term is a binary
 * cross-entropy per threshold, weighted by `ordinalMask × sampleWeight` from the batch (the mask
 * chooses cumulative or CORN training, the weight balances grades), averaged over its weight; plus
 * the shared grader loss of the Modic and findings heads.
 */
export function lossOf(model: tfl.LayersModel, inputs: tf.Tensor4D, targets: Record<string, tf.Tensor>): tf.Scalar {
  const config = configOf.get(model);
  if (!config) throw new Error('the grader v2 loss needs a model built by buildModel');
  return tf.tidy(() => {
    const out = forwardTraining(model, inputs);
    const z = out.pfirrmann as tf.Tensor;
    const y = targets.ordinal as tf.Tensor;
    const w = tf.mul(targets.ordinalMask as tf.Tensor, targets.sampleWeight as tf.Tensor);
    const bce = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
    const ordinal = tf.div(tf.sum(tf.mul(bce, w)), tf.maximum(tf.sum(w), 1e-6));
    const n = inputs.shape[0];
    const none = tf.zeros([n, GRADER_HEADS.pfirrmann]);
    const auxiliary = graderLoss(
      tf,
      { pfirrmann: none, modic: out.modic as tf.Tensor, findings: out.findings as tf.Tensor },
      {
        pfirrmann: none,
        modic: targets.modic as tf.Tensor,
        findings: targets.findings as tf.Tensor,
        findingsWeight: targets.findingsWeight as tf.Tensor,
      },
      { pfirrmannClass: [1, 1, 1, 1, 1], ordinal: 0, ...config.loss },
    );
    return tf.add(ordinal, tf.mul(auxiliary, config.auxiliaryWeight)) as tf.Scalar;
  });
}
