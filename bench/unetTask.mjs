/**
 * The model module of the U-Net step benchmark (worker threads import it too): a multi-class U-Net
 * with a softmax head "seg" trained with categorical cross-entropy.
 */
import { tf } from '../dist/models/tf/backend.js';
import { buildUNet } from '../dist/models/tf/layers.js';
import { forwardTraining } from '../dist/models/tf/trainCore.js';

/** Builds the benchmark U-Net from its config. */
export function buildModel(config) {
  return buildUNet(config);
}

/** Mean categorical cross-entropy of the "seg" head. */
export function lossOf(model, inputs, targets) {
  return tf.tidy(() => {
    const p = tf.clipByValue(forwardTraining(model, inputs).seg, 1e-6, 1);
    return tf.neg(tf.mean(tf.sum(tf.mul(targets.seg, tf.log(p)), -1)));
  });
}
