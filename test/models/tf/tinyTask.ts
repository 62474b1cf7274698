/**
 * A model module for the training tests (loaded by worker threads too): a tiny U-Net with one sigmoid
 * head "mask" and a binary cross-entropy loss; optionally deterministic weights.
 */
import { tf, type tfl } from '../../../src/models/tf/backend.js';
import { buildUNet, type UNetConfig } from '../../../src/models/tf/layers.js';
import { assignFlatWeights, type Batch, forwardTraining, weightCount } from '../../../src/models/tf/trainCore.js';
import { seededValues } from './tfHelpers.js';

/** The task's build configuration. */
export interface TinyTaskConfig {
  unet: UNetConfig;
  /** When set, trainable weights are seeded pseudo-random values (identical in every thread). */
  seed?: number;
}

/** Builds the U-Net (and seeds its weights when asked). */
export function buildModel(config: TinyTaskConfig): tfl.LayersModel {
  const model = buildUNet(config.unet);
  if (config.seed !== undefined) {
    const values = seededValues(weightCount(model.trainableWeights), config.seed).map((v) => v * 0.3);
    assignFlatWeights(model.trainableWeights, values);
  }
  return model;
}

/** Mean binary cross-entropy of the "mask" head. */
export function lossOf(model: tfl.LayersModel, inputs: tf.Tensor4D, targets: Record<string, tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const predicted = forwardTraining(model, inputs).mask;
    const target = targets.mask;
    if (predicted === undefined || target === undefined) throw new Error('missing mask output or target');
    const p = tf.clipByValue(predicted, 1e-6, 1 - 1e-6);
    const ll = tf.add(tf.mul(target, tf.log(p)), tf.mul(tf.sub(1, target), tf.log(tf.sub(1, p))));
    return tf.neg(tf.mean(ll)) as tf.Scalar;
  });
}

/** A batch of smooth random 16×16 images whose target is the threshold `image > 0`. */
export function thresholdBatch(n: number, seed: number, size = 16): Batch {
  const noise = seededValues(n * size * size, seed);
  const inputs = new Float32Array(n * size * size);
  const mask = new Float32Array(n * size * size);
  for (let b = 0; b < n; b++) {
    const phase = (noise[b] ?? 0) * Math.PI;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = (b * size + y) * size + x;
        const v = Math.sin(x / 2.5 + phase) * Math.cos(y / 3.5 - phase) + 0.3 * (noise[i] ?? 0);
        inputs[i] = v;
        mask[i] = v > 0 ? 1 : 0;
      }
    }
  }
  return { inputs, inputShape: [n, size, size, 1], targets: { mask: { data: mask, shape: [n, size, size, 1] } } };
}
