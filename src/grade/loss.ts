/**
 * The grader's multi-task loss over logits, shared by the per-disc CNN and the across-levels
 * context model. Every target may be missing (SPIDER leaves some findings ungraded): a row of
 * zeros in a one-hot target, or a zero in a binary target's weight, switches that term off.
 */
import type * as tfc from '@tensorflow/tfjs-core';

type Tf = typeof tfc;

/** Output names and sizes of every grader head (logits). */
export const GRADER_HEADS = { pfirrmann: 5, modic: 4, findings: 6 } as const;

/** Logits of a batch of discs, `[n, classes]` (or `[spines, levels, classes]`; the last axis is the classes). */
export interface GraderLogits {
  pfirrmann: tfc.Tensor;
  modic: tfc.Tensor;
  findings: tfc.Tensor;
}

/** Targets of the same shapes as {@link GraderLogits}. */
export interface GraderTargets {
  /** One-hot grade 1-5 (index 0-4); all zeros where the disc has no grade. */
  pfirrmann: tfc.Tensor;
  /** One-hot Modic 0-3; all zeros where unknown. */
  modic: tfc.Tensor;
  /** 0/1 per binary finding, in `BINARY_FINDINGS` order. */
  findings: tfc.Tensor;
  /** 1 where the binary finding is graded, 0 where unknown. */
  findingsWeight: tfc.Tensor;
}

/** Class and term weights of the loss. */
export interface GraderLossWeights {
  /** Per Pfirrmann grade (index 0-4), e.g. inverse-frequency to balance rare grades. */
  pfirrmannClass: readonly number[];
  /** Per Modic type (index 0-3). */
  modicClass: readonly number[];
  /** Weight of positives per binary finding (negatives weigh 1). */
  findingsPositive: readonly number[];
  /** Weight of the ordinal term (squared distance of the expected grade from the truth, in grades²/16). */
  ordinal: number;
}

/** Per-class weights ∝ 1/frequency^power, normalised to mean 1 over the present classes and capped. */
export function balancedClassWeights(counts: readonly number[], power = 0.5, cap = 5): number[] {
  const present = counts.filter((c) => c > 0);
  const raw = counts.map((c) => (c > 0 ? c ** -power : 0));
  const mean = raw.reduce((s, w) => s + w, 0) / Math.max(present.length, 1);
  return raw.map((w) => (mean > 0 ? Math.min(w / mean, cap) : 1));
}

/** Weighted cross-entropy of softmax(logits) against one-hot targets, averaged over rows that have a target. */
function weightedCrossEntropy(
  tf: Tf,
  logits: tfc.Tensor,
  oneHot: tfc.Tensor,
  classWeights: readonly number[],
): tfc.Scalar {
  const logP = tf.logSoftmax(logits);
  const w = tf.tensor1d(classWeights as number[]);
  const perRow = tf.neg(tf.sum(tf.mul(tf.mul(oneHot, w), logP), -1));
  return tf.div(tf.sum(perRow), tf.maximum(tf.sum(oneHot), 1)) as tfc.Scalar;
}

/**
 * Loss of one batch: class-weighted cross-entropy for Pfirrmann plus an ordinal term (far misses cost
 * more, as linear/quadratic κ punish them), class-weighted cross-entropy for Modic, and positive-weighted
 * binary cross-entropy for the other findings; each averaged over the discs where it is graded.
 */
export function graderLoss(
  tf: Tf,
  logits: GraderLogits,
  targets: GraderTargets,
  weights: GraderLossWeights,
): tfc.Scalar {
  return tf.tidy(() => {
    const pfirrmannCe = weightedCrossEntropy(tf, logits.pfirrmann, targets.pfirrmann, weights.pfirrmannClass);
    const probs = tf.softmax(logits.pfirrmann);
    const grades = tf.tensor1d([0, 1, 2, 3, 4]);
    const expected = tf.sum(tf.mul(probs, grades), -1);
    const truth = tf.sum(tf.mul(targets.pfirrmann, grades), -1);
    const graded = tf.sum(targets.pfirrmann, -1);
    const ordinal = tf.div(
      tf.sum(tf.mul(tf.div(tf.square(tf.sub(expected, truth)), 16), graded)),
      tf.maximum(tf.sum(graded), 1),
    );
    const modicCe = weightedCrossEntropy(tf, logits.modic, targets.modic, weights.modicClass);
    // Binary cross-entropy with logits, stable form: max(z,0) − z·y + log(1 + e^−|z|).
    const z = logits.findings;
    const y = targets.findings;
    const bce = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
    const positive = tf.tensor1d(weights.findingsPositive as number[]);
    const sampleWeight = tf.mul(targets.findingsWeight, tf.add(1, tf.mul(y, tf.sub(positive, 1))));
    const findings = tf.div(tf.sum(tf.mul(bce, sampleWeight)), tf.maximum(tf.sum(targets.findingsWeight), 1));
    return tf.addN([pfirrmannCe, tf.mul(ordinal, weights.ordinal), modicCe, findings]) as tfc.Scalar;
  });
}
