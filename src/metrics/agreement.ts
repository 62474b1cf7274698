/** Agreement between two sets of class labels: confusion matrix, accuracy, Cohen's κ, within-one rate. */
import { SpinegradeError } from '../errors.js';
import { classIndex, indexOfClass, requirePaired } from './checks.js';

/** How Cohen's κ credits partial disagreement between ordered classes. */
export type KappaWeighting = 'none' | 'linear' | 'quadratic';

/**
 * Counts of (truth, predicted) pairs: `matrix[i][j]` is the number of samples whose truth is
 * `classes[i]` and prediction `classes[j]` (rows = truth, columns = prediction). A value outside
 * `classes`, empty input or inputs of different lengths are USAGE errors.
 */
export function confusionMatrix(
  truth: readonly number[],
  predicted: readonly number[],
  classes: readonly number[],
): number[][] {
  const metric = 'confusion matrix';
  requirePaired(metric, truth, predicted);
  const index = classIndex(metric, classes);
  const matrix = classes.map(() => new Array<number>(classes.length).fill(0));
  for (let n = 0; n < truth.length; n++) {
    const i = indexOfClass(metric, index, truth[n] as number, 'truth', n);
    const j = indexOfClass(metric, index, predicted[n] as number, 'predicted', n);
    (matrix[i] as number[])[j] = ((matrix[i] as number[])[j] as number) + 1;
  }
  return matrix;
}

/** The fraction of samples whose prediction equals the truth. */
export function accuracy(truth: readonly number[], predicted: readonly number[]): number {
  requirePaired('accuracy', truth, predicted);
  let correct = 0;
  for (let n = 0; n < truth.length; n++) if (truth[n] === predicted[n]) correct++;
  return correct / truth.length;
}

/**
 * The mean recall over the classes present in `truth` (classes never seen in truth are left out,
 * as their recall is undefined). When `classes` is given, any value outside it is a USAGE error.
 */
export function balancedAccuracy(
  truth: readonly number[],
  predicted: readonly number[],
  classes?: readonly number[],
): number {
  const metric = 'balanced accuracy';
  requirePaired(metric, truth, predicted);
  if (classes !== undefined) {
    const index = classIndex(metric, classes);
    for (let n = 0; n < truth.length; n++) {
      indexOfClass(metric, index, truth[n] as number, 'truth', n);
      indexOfClass(metric, index, predicted[n] as number, 'predicted', n);
    }
  }
  const seen = new Map<number, { total: number; correct: number }>();
  for (let n = 0; n < truth.length; n++) {
    const t = truth[n] as number;
    let entry = seen.get(t);
    if (entry === undefined) {
      entry = { total: 0, correct: 0 };
      seen.set(t, entry);
    }
    entry.total++;
    if (predicted[n] === t) entry.correct++;
  }
  let sum = 0;
  for (const { total, correct } of seen.values()) sum += correct / total;
  return sum / seen.size;
}

/**
 * Cohen's κ between `truth` and `predicted`, optionally weighted for ordered classes. Weights use the
 * INDEX of each class in `classes` (so the classes are taken as equally spaced): agreement weights are
 * w_ij = 1 − |i−j|/(k−1) (linear) or 1 − (i−j)²/(k−1)² (quadratic), and κ = (p_o − p_e)/(1 − p_e).
 * Degenerate case: when the expected agreement p_e is 1 — both raters used one and the same class
 * for every sample — κ is undefined (0/0); this returns 1, as the agreement is perfect.
 */
export function cohenKappa(
  truth: readonly number[],
  predicted: readonly number[],
  classes: readonly number[],
  weighting: KappaWeighting,
): number {
  if (weighting !== 'none' && weighting !== 'linear' && weighting !== 'quadratic') {
    throw new SpinegradeError('USAGE', `Cohen's kappa: unknown weighting '${String(weighting)}'`);
  }
  const matrix = confusionMatrix(truth, predicted, classes);
  const k = classes.length;
  const n = truth.length;
  const rows = matrix.map((row) => row.reduce((a, b) => a + b, 0));
  const columns = classes.map((_, j) => matrix.reduce((a, row) => a + (row[j] as number), 0));
  // κ = 1 − (observed disagreement)/(expected disagreement), with disagreement weights d = 1 − w
  // scaled to integers (|i−j| or (i−j)²; the common factor (k−1) or (k−1)² cancels), so both sums
  // are exact integers and the degenerate case p_e = 1 is exactly "expected disagreement = 0".
  const disagreement = (i: number, j: number): number =>
    weighting === 'none' ? (i === j ? 0 : 1) : weighting === 'linear' ? Math.abs(i - j) : (i - j) * (i - j);
  let observed = 0;
  let expected = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const d = disagreement(i, j);
      observed += d * ((matrix[i] as number[])[j] as number);
      expected += d * (rows[i] as number) * (columns[j] as number);
    }
  }
  if (expected === 0) return 1;
  return 1 - (n * observed) / expected;
}

/** The fraction of samples whose prediction is within one grade of the truth (|t − p| ≤ 1). */
export function withinOneRate(truth: readonly number[], predicted: readonly number[]): number {
  requirePaired('within-one rate', truth, predicted);
  let within = 0;
  for (let n = 0; n < truth.length; n++) if (Math.abs((truth[n] as number) - (predicted[n] as number)) <= 1) within++;
  return within / truth.length;
}
