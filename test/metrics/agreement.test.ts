import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accuracy,
  balancedAccuracy,
  cohenKappa,
  confusionMatrix,
  linsCcc,
  withinOneRate,
} from '../../src/metrics/index.js';
import { assertNear, pairsFromMatrix, usageError } from './helpers.js';

test('the confusion matrix counts truth in rows and predictions in columns, in the order of the classes', () => {
  const truth = [1, 1, 2, 3, 3, 3];
  const predicted = [1, 2, 2, 3, 1, 3];
  assert.deepEqual(confusionMatrix(truth, predicted, [1, 2, 3]), [
    [1, 1, 0],
    [0, 1, 0],
    [1, 0, 2],
  ]);
  assert.deepEqual(confusionMatrix(truth, predicted, [3, 2, 1]), [
    [2, 0, 1],
    [0, 1, 0],
    [0, 1, 1],
  ]);
});

test('a value outside the classes is refused, naming the value and the sample', () => {
  assert.throws(() => confusionMatrix([1, 2], [1, 4], [1, 2, 3]), usageError(/predicted value 4 at sample 1/));
  assert.throws(() => confusionMatrix([0], [1], [1, 2]), usageError(/truth value 0 at sample 0/));
  assert.throws(() => confusionMatrix([1], [1], [1, 1]), usageError(/listed twice/));
  assert.throws(() => confusionMatrix([1], [1], []), usageError(/classes is empty/));
});

test('accuracy is the fraction of exact matches and balanced accuracy the mean recall over classes in truth', () => {
  const truth = [1, 1, 1, 1, 2, 2];
  const predicted = [1, 1, 1, 2, 2, 1];
  assertNear(accuracy(truth, predicted), 4 / 6);
  // recall of 1 = 3/4, recall of 2 = 1/2 → (0.75 + 0.5)/2 = 0.625; class 3 never occurs in truth.
  assert.equal(balancedAccuracy(truth, predicted), 0.625);
  assert.equal(balancedAccuracy(truth, predicted, [1, 2, 3]), 0.625);
  assert.throws(() => balancedAccuracy([1, 2], [1, 4], [1, 2, 3]), usageError(/predicted value 4/));
});

test('the Wikipedia worked example gives p_o 0.7, p_e 0.5 and kappa 0.4', () => {
  // 50 grant proposals read by A (truth) and B (predicted): Yes/Yes 20, Yes/No 5, No/Yes 10, No/No 15.
  // p_o = (20 + 15)/50 = 0.7; A says Yes 25/50, B says Yes 30/50:
  // p_e = 0.5·0.6 + 0.5·0.4 = 0.5; κ = (0.7 − 0.5)/(1 − 0.5) = 0.4.
  const yes = 1;
  const no = 0;
  const { truth, predicted } = pairsFromMatrix(
    [
      [20, 5],
      [10, 15],
    ],
    [yes, no],
  );
  assert.equal(truth.length, 50);
  assertNear(accuracy(truth, predicted), 0.7);
  assertNear(cohenKappa(truth, predicted, [yes, no], 'none'), 0.4);
  assertNear(cohenKappa(truth, predicted, [no, yes], 'none'), 0.4);
});

// A 3×3 example worked by hand (rows = truth 1..3, columns = predicted 1..3), n = 20:
//   [5 2 1]  row sums r = 8, 6, 6
//   [1 4 1]  column sums c = 6, 8, 6
//   [0 2 4]
// Diagonal 5+4+4 = 13; off by one: 2+1+1+2 = 6; off by two: 1+0 = 1.
// Σ r_i c_j on the diagonal: 8·6 + 6·8 + 6·6 = 132; off by one: 8·8 + 6·6 + 6·6 + 6·8 = 184;
// off by two: 8·6 + 6·6 = 84 (total 400 = n²).
//   unweighted: p_o = 13/20 = 0.65, p_e = 132/400 = 0.33, κ = 0.32/0.67 = 32/67
//   linear (w = 1, 0.5, 0): p_o = (13 + 0.5·6)/20 = 0.8, p_e = (132 + 0.5·184)/400 = 0.56,
//     κ = 0.24/0.44 = 6/11
//   quadratic (w = 1, 0.75, 0): p_o = (13 + 0.75·6)/20 = 0.875, p_e = (132 + 0.75·184)/400 = 0.675,
//     κ = 0.2/0.325 = 8/13
const worked = pairsFromMatrix(
  [
    [5, 2, 1],
    [1, 4, 1],
    [0, 2, 4],
  ],
  [1, 2, 3],
);

test('unweighted kappa on the hand-worked 3×3 example is 32/67', () => {
  assertNear(cohenKappa(worked.truth, worked.predicted, [1, 2, 3], 'none'), 32 / 67);
});

test('linearly weighted kappa on the hand-worked 3×3 example is 6/11', () => {
  assertNear(cohenKappa(worked.truth, worked.predicted, [1, 2, 3], 'linear'), 6 / 11);
});

test('quadratically weighted kappa on the hand-worked 3×3 example is 8/13', () => {
  assertNear(cohenKappa(worked.truth, worked.predicted, [1, 2, 3], 'quadratic'), 8 / 13);
});

test('kappa weights use the index of each class, so unevenly numbered classes count as equally spaced', () => {
  const relabel = (v: number): number => [0, 10, 20, 70][v] as number;
  const truth = worked.truth.map(relabel);
  const predicted = worked.predicted.map(relabel);
  assertNear(cohenKappa(truth, predicted, [10, 20, 70], 'linear'), 6 / 11);
  assertNear(cohenKappa(truth, predicted, [10, 20, 70], 'quadratic'), 8 / 13);
});

test('quadratic kappa equals the closed form 2·cov/(var_x + var_y + (mean_x − mean_y)²), i.e. Lin CCC', () => {
  // By hand: x = 1,2,3 and y = 1,3,3: means 2 and 7/3, var_x = 2/3, var_y = 8/9, cov = 2/3,
  // so 2·(2/3) / (2/3 + 8/9 + 1/9) = (4/3)/(5/3) = 0.8.
  assertNear(cohenKappa([1, 2, 3], [1, 3, 3], [1, 2, 3], 'quadratic'), 0.8);
  assertNear(linsCcc([1, 2, 3], [1, 3, 3]), 0.8);

  const truth = [1, 2, 3, 4, 5, 3, 2, 1, 4, 5, 2, 3];
  const predicted = [1, 3, 3, 5, 4, 2, 2, 2, 4, 3, 1, 3];
  const n = truth.length;
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / n;
  const mx = mean(truth);
  const my = mean(predicted);
  const vx = mean(truth.map((v) => (v - mx) ** 2));
  const vy = mean(predicted.map((v) => (v - my) ** 2));
  const cov = mean(truth.map((v, i) => (v - mx) * ((predicted[i] as number) - my)));
  const closedForm = (2 * cov) / (vx + vy + (mx - my) ** 2);
  assertNear(cohenKappa(truth, predicted, [1, 2, 3, 4, 5], 'quadratic'), closedForm, 1e-12);
  assertNear(linsCcc(truth, predicted), closedForm, 1e-12);
});

test('perfect agreement gives kappa 1 under every weighting', () => {
  const grades = [1, 2, 3, 4, 5, 5, 2];
  for (const weighting of ['none', 'linear', 'quadratic'] as const) {
    assert.equal(cohenKappa(grades, grades, [1, 2, 3, 4, 5], weighting), 1);
  }
});

test('when both raters used one and the same class (p_e = 1) kappa is 1 by convention', () => {
  for (const weighting of ['none', 'linear', 'quadratic'] as const) {
    assert.equal(cohenKappa([3, 3, 3], [3, 3, 3], [1, 2, 3, 4, 5], weighting), 1);
    assert.equal(cohenKappa([2, 2], [2, 2], [2], weighting), 1);
  }
});

test('a rater who always gives the same grade agrees no better than chance (kappa 0)', () => {
  // p_o = 1/3; p_e = (1·3)/9 = 1/3 → κ = 0.
  assertNear(cohenKappa([1, 2, 3], [2, 2, 2], [1, 2, 3], 'none'), 0);
});

test('systematic disagreement gives a negative kappa', () => {
  // p_o = 0, p_e = 0.5 → κ = −1.
  assertNear(cohenKappa([1, 2, 1, 2], [2, 1, 2, 1], [1, 2], 'none'), -1);
});

test('an unknown kappa weighting is refused', () => {
  const weighting = 'cubic' as unknown as 'none';
  assert.throws(() => cohenKappa([1], [1], [1], weighting), usageError(/unknown weighting 'cubic'/));
});

test('the within-one rate counts predictions at most one grade away', () => {
  assert.equal(withinOneRate([1, 2, 3, 4], [1, 4, 2, 5]), 0.75);
});

test('empty input is refused with a clear message by every agreement metric', () => {
  const empty = usageError(/no samples \(empty input\)/);
  assert.throws(() => confusionMatrix([], [], [1, 2]), empty);
  assert.throws(() => accuracy([], []), empty);
  assert.throws(() => balancedAccuracy([], []), empty);
  assert.throws(() => cohenKappa([], [], [1, 2], 'linear'), empty);
  assert.throws(() => withinOneRate([], []), empty);
});

test('inputs of different lengths are refused, naming both lengths', () => {
  const mismatch = usageError(/differ in length \(2 vs 3\)/);
  assert.throws(() => confusionMatrix([1, 2], [1, 2, 2], [1, 2]), mismatch);
  assert.throws(() => accuracy([1, 2], [1, 2, 2]), mismatch);
  assert.throws(() => balancedAccuracy([1, 2], [1, 2, 2]), mismatch);
  assert.throws(() => cohenKappa([1, 2], [1, 2, 2], [1, 2], 'quadratic'), mismatch);
  assert.throws(() => withinOneRate([1, 2], [1, 2, 2]), mismatch);
});
