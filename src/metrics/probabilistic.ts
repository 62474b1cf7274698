/** Metrics on predicted probabilities: ROC AUC, Brier scores and calibration (reliability) data. */
import { SpinegradeError } from '../errors.js';
import {
  classIndex,
  indexOfClass,
  requireBinaryLabels,
  requireBinCount,
  requirePaired,
  requireProbability,
} from './checks.js';

/** One equal-width bin of a calibration (reliability) diagram; the means are NaN for an empty bin. */
export interface CalibrationBin {
  /** The lower edge of the bin (inclusive). */
  lower: number;
  /** The upper edge of the bin (exclusive, except for the last bin, which includes 1). */
  upper: number;
  /** The number of samples in the bin. */
  count: number;
  /** The mean confidence (or predicted probability) of the samples in the bin; NaN when empty. */
  meanConfidence: number;
  /** The fraction of the samples in the bin that are correct (or positive); NaN when empty. */
  accuracy: number;
}

/** The expected calibration error and the per-bin data it was computed from. */
export interface CalibrationResult {
  /** Σ over bins of (count/n)·|accuracy − meanConfidence|. */
  ece: number;
  /** Every bin, in increasing order of confidence, empty ones included. */
  bins: CalibrationBin[];
}

/** The one-vs-rest ROC AUC of each class, and their macro average. */
export interface OneVsRestAuc {
  /** The mean AUC over the classes present in truth with both positives and negatives; NaN if none. */
  macro: number;
  /** The AUC of each class keyed by `String(class)`; NaN for a class without positives or negatives. */
  perClass: Record<string, number>;
}

/**
 * The area under the ROC curve of `scores` for binary `labels` (1 = positive, 0 = negative), computed
 * as the Mann-Whitney U statistic by sorting (O(n log n)), each tied positive/negative pair counting 1/2.
 * When the labels hold one class only the AUC is undefined and this returns NaN (callers print "n/a").
 */
export function rocAuc(labels: readonly (0 | 1)[] | readonly number[], scores: readonly number[]): number {
  const metric = 'ROC AUC';
  requirePaired(metric, labels, scores, 'labels and scores');
  requireBinaryLabels(metric, labels);
  for (let n = 0; n < scores.length; n++) {
    if (Number.isNaN(scores[n])) throw new SpinegradeError('USAGE', `${metric}: score at sample ${n} is NaN`);
  }
  return mannWhitneyAuc(labels, scores);
}

/** The AUC of already validated inputs; NaN when either class is missing. */
function mannWhitneyAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  let positives = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) positives++;
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  const positiveScores = new Float64Array(positives);
  const negativeScores = new Float64Array(negatives);
  for (let i = 0, p = 0, q = 0; i < n; i++) {
    if (labels[i] === 1) positiveScores[p++] = scores[i] as number;
    else negativeScores[q++] = scores[i] as number;
  }
  // Native typed-array sorts (no comparator), then one merge-like walk: for each positive in
  // increasing order, `below` negatives score lower and `belowOrTied − below` tie with it (½ each).
  positiveScores.sort();
  negativeScores.sort();
  let below = 0;
  let belowOrTied = 0;
  let u = 0;
  for (let p = 0; p < positives; p++) {
    const score = positiveScores[p] as number;
    while (below < negatives && (negativeScores[below] as number) < score) below++;
    if (belowOrTied < below) belowOrTied = below;
    while (belowOrTied < negatives && (negativeScores[belowOrTied] as number) <= score) belowOrTied++;
    u += below + (belowOrTied - below) / 2;
  }
  return u / (positives * negatives);
}

/** Checks a matrix of class probabilities (one row per sample, one column per class) against `truth`. */
function checkProbabilityRows(
  metric: string,
  truth: readonly number[],
  probabilities: readonly (readonly number[])[],
  classes: readonly number[],
): number[] {
  requirePaired(metric, truth, probabilities, 'truth and probabilities');
  const index = classIndex(metric, classes);
  return truth.map((t, n) => {
    const row = probabilities[n] as readonly number[];
    if (row.length !== classes.length) {
      throw new SpinegradeError(
        'USAGE',
        `${metric}: sample ${n} has ${row.length} probabilities for ${classes.length} classes`,
      );
    }
    for (let k = 0; k < row.length; k++) requireProbability(metric, row[k], `sample ${n}, class ${classes[k]}`);
    return indexOfClass(metric, index, t, 'truth', n);
  });
}

/**
 * One-vs-rest ROC AUC for each class (its probability column as the score), and the macro average over
 * the classes present in truth with both positives and negatives. Rows need not sum to 1.
 */
export function rocAucOneVsRest(
  truth: readonly number[],
  probabilities: readonly (readonly number[])[],
  classes: readonly number[],
): OneVsRestAuc {
  const truthIndex = checkProbabilityRows('one-vs-rest ROC AUC', truth, probabilities, classes);
  const n = truth.length;
  const labels = new Uint8Array(n);
  const scores = new Float64Array(n);
  const perClass: Record<string, number> = {};
  let sum = 0;
  let defined = 0;
  classes.forEach((c, k) => {
    for (let i = 0; i < n; i++) {
      labels[i] = truthIndex[i] === k ? 1 : 0;
      scores[i] = (probabilities[i] as readonly number[])[k] as number;
    }
    const auc = mannWhitneyAuc(labels, scores);
    perClass[String(c)] = auc;
    if (!Number.isNaN(auc)) {
      sum += auc;
      defined++;
    }
  });
  return { macro: defined === 0 ? Number.NaN : sum / defined, perClass };
}

/** The Brier score of binary predictions: the mean of (p − y)² over samples, y ∈ {0, 1}. */
export function brierScore(labels01: readonly number[], probs: readonly number[]): number {
  const metric = 'Brier score';
  requirePaired(metric, labels01, probs, 'labels and probabilities');
  requireBinaryLabels(metric, labels01);
  let sum = 0;
  for (let n = 0; n < probs.length; n++) {
    const d = requireProbability(metric, probs[n], `sample ${n}`) - (labels01[n] as number);
    sum += d * d;
  }
  return sum / probs.length;
}

/**
 * The multiclass Brier score: the mean over samples of Σ_k (p_k − y_k)², y the one-hot truth over
 * `classes` (ranges from 0, perfect, to 2).
 */
export function multiclassBrierScore(
  truth: readonly number[],
  probabilities: readonly (readonly number[])[],
  classes: readonly number[],
): number {
  const truthIndex = checkProbabilityRows('multiclass Brier score', truth, probabilities, classes);
  let sum = 0;
  probabilities.forEach((row, n) => {
    row.forEach((p, k) => {
      const d = p - (k === truthIndex[n] ? 1 : 0);
      sum += d * d;
    });
  });
  return sum / truth.length;
}

/** Bins (confidence, outcome) pairs into `bins` equal-width bins over [0, 1] and sums the calibration gaps. */
function calibrate(confidences: ArrayLike<number>, outcomes: ArrayLike<number>, bins: number): CalibrationResult {
  const counts = new Float64Array(bins);
  const confidenceSums = new Float64Array(bins);
  const outcomeSums = new Float64Array(bins);
  const n = confidences.length;
  for (let i = 0; i < n; i++) {
    const c = confidences[i] as number;
    const b = Math.min(Math.floor(c * bins), bins - 1);
    counts[b] = (counts[b] as number) + 1;
    confidenceSums[b] = (confidenceSums[b] as number) + c;
    outcomeSums[b] = (outcomeSums[b] as number) + (outcomes[i] as number);
  }
  let ece = 0;
  const result: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const count = counts[b] as number;
    const meanConfidence = count === 0 ? Number.NaN : (confidenceSums[b] as number) / count;
    const binAccuracy = count === 0 ? Number.NaN : (outcomeSums[b] as number) / count;
    if (count > 0) ece += (count / n) * Math.abs(binAccuracy - meanConfidence);
    result.push({ lower: b / bins, upper: (b + 1) / bins, count, meanConfidence, accuracy: binAccuracy });
  }
  return { ece, bins: result };
}

/**
 * The expected calibration error of top-label confidence: each sample's confidence is its largest
 * class probability (the first on ties) and it is correct when that class is the truth. Samples go
 * into `bins` equal-width bins over [0, 1] ([lower, upper), the last bin including 1).
 */
export function expectedCalibrationError(
  truth: readonly number[],
  probabilities: readonly (readonly number[])[],
  classes: readonly number[],
  bins = 10,
): CalibrationResult {
  const metric = 'expected calibration error';
  requireBinCount(metric, bins);
  const truthIndex = checkProbabilityRows(metric, truth, probabilities, classes);
  const confidences = new Float64Array(truth.length);
  const correct = new Uint8Array(truth.length);
  probabilities.forEach((row, n) => {
    let best = 0;
    for (let k = 1; k < row.length; k++) if ((row[k] as number) > (row[best] as number)) best = k;
    confidences[n] = row[best] as number;
    correct[n] = best === truthIndex[n] ? 1 : 0;
  });
  return calibrate(confidences, correct, bins);
}

/**
 * Reliability-diagram data for binary predictions, in the same shape as
 * {@link expectedCalibrationError}: samples are binned by predicted probability, `meanConfidence` is
 * the bin's mean predicted probability and `accuracy` its fraction of positives.
 */
export function binaryCalibration(labels01: readonly number[], probs: readonly number[], bins = 10): CalibrationResult {
  const metric = 'binary calibration';
  requireBinCount(metric, bins);
  requirePaired(metric, labels01, probs, 'labels and probabilities');
  requireBinaryLabels(metric, labels01);
  probs.forEach((p, n) => requireProbability(metric, p, `sample ${n}`));
  return calibrate(probs, labels01, bins);
}
