/**
 * The localiser's partially-labelled multi-task loss. A sample contributes to the segmentation
 * loss only if it has a mask (T2 SPACE slices) and to the keypoint loss only if it has disc
 * keypoints (T2 slices); the per-sample weights in the batch switch the terms on and off.
 */
import type * as tfc from '@tensorflow/tfjs-core';

type Tf = typeof tfc;

/** Relative weights of the loss terms. */
export const LOSS_WEIGHTS = { crossEntropy: 1, dice: 1, heatmap: 1 } as const;

/** Heatmap pixels near a keypoint are rare: weight them up so the network does not settle on zero. */
const HEATMAP_POSITIVE_WEIGHT = 50;

/**
 * Loss of one batch: masked categorical cross-entropy + soft Dice (disc, vertebra, canal) on the
 * semantic head, and positive-weighted squared error on the heatmap head.
 */
export function localizerLoss(
  tf: Tf,
  semantic: tfc.Tensor4D,
  heatmap: tfc.Tensor4D,
  targets: { semantic: tfc.Tensor4D; semanticWeight: tfc.Tensor1D; heatmap: tfc.Tensor4D; heatmapWeight: tfc.Tensor1D },
): tfc.Scalar {
  return tf.tidy(() => {
    const eps = 1e-6;
    const segWeight = targets.semanticWeight;
    const segCount = tf.maximum(tf.sum(segWeight), 1);
    // Cross-entropy per sample: mean over pixels of −Σ_c y log p.
    const logP = tf.log(tf.clipByValue(semantic, eps, 1));
    const ce = tf.neg(tf.mean(tf.sum(tf.mul(targets.semantic, logP), -1), [1, 2]));
    const ceLoss = tf.div(tf.sum(tf.mul(ce, segWeight)), segCount);
    // Soft Dice per sample and foreground class.
    const intersection = tf.sum(tf.mul(semantic, targets.semantic), [1, 2]);
    const sums = tf.add(tf.sum(semantic, [1, 2]), tf.sum(targets.semantic, [1, 2]));
    const diceScore = tf.div(tf.add(tf.mul(intersection, 2), 1), tf.add(sums, 1));
    const foreground = tf.slice(diceScore, [0, 1], [-1, 3]);
    const diceLoss = tf.div(tf.sum(tf.mul(tf.sub(1, tf.mean(foreground, 1)), segWeight)), segCount);
    // Heatmap: squared error, weighted up near keypoints.
    const hmWeight = targets.heatmapWeight;
    const hmCount = tf.maximum(tf.sum(hmWeight), 1);
    const pixelWeights = tf.add(1, tf.mul(targets.heatmap, HEATMAP_POSITIVE_WEIGHT));
    const se = tf.mean(tf.mul(tf.square(tf.sub(heatmap, targets.heatmap)), pixelWeights), [1, 2, 3]);
    const hmLoss = tf.div(tf.sum(tf.mul(se, hmWeight)), hmCount);
    return tf.addN([
      tf.mul(ceLoss, LOSS_WEIGHTS.crossEntropy),
      tf.mul(diceLoss, LOSS_WEIGHTS.dice),
      tf.mul(hmLoss, LOSS_WEIGHTS.heatmap),
    ]) as tfc.Scalar;
  });
}
