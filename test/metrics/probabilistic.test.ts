import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  binaryCalibration,
  brierScore,
  expectedCalibrationError,
  mulberry32,
  multiclassBrierScore,
  rocAuc,
  rocAucOneVsRest,
} from '../../src/metrics/index.js';
import { assertNear, usageError } from './helpers.js';

test('ROC AUC is 1 for perfect separation and 0 for perfect inversion', () => {
  assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), 1);
  assert.equal(rocAuc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]), 0);
});

test('ROC AUC counts a tied positive/negative pair as one half', () => {
  // The textbook example: positives 0.35, 0.8; negatives 0.1, 0.4 → (1 + 2)/4 = 0.75.
  assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
  // Positives 0.4, 0.8, 0.3 against negatives 0.1, 0.4, 0.6:
  //   0.4 beats 0.1, ties 0.4 (½), loses to 0.6 → 1.5; 0.8 beats all → 3; 0.3 beats 0.1 → 1.
  //   (1.5 + 3 + 1)/9 = 11/18.
  assertNear(rocAuc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.4, 0.8, 0.6, 0.3]), 11 / 18);
  // Every score tied → 0.5.
  assert.equal(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 0.5);
});

test('ROC AUC agrees with the pairwise definition on random scores with many ties', () => {
  const random = mulberry32(7);
  const labels = Array.from({ length: 300 }, () => (random() < 0.3 ? 1 : 0));
  const scores = labels.map((label) => Math.round((random() + 0.3 * label) * 10) / 10);
  let wins = 0;
  let pairs = 0;
  labels.forEach((a, i) => {
    labels.forEach((b, j) => {
      if (a === 1 && b === 0) {
        pairs++;
        const si = scores[i] as number;
        const sj = scores[j] as number;
        wins += si > sj ? 1 : si === sj ? 0.5 : 0;
      }
    });
  });
  assertNear(rocAuc(labels, scores), wins / pairs, 1e-12);
});

test('ROC AUC of one class only is NaN (undefined), for callers to print as n/a', () => {
  assert.ok(Number.isNaN(rocAuc([1, 1, 1], [0.2, 0.5, 0.9])));
  assert.ok(Number.isNaN(rocAuc([0], [0.2])));
});

test('ROC AUC refuses labels other than 0/1, NaN scores, and empty or mismatched input', () => {
  assert.throws(() => rocAuc([0, 2], [0.1, 0.2]), usageError(/label 2 at sample 1 is not 0 or 1/));
  assert.throws(() => rocAuc([0, 1], [0.1, Number.NaN]), usageError(/score at sample 1 is NaN/));
  assert.throws(() => rocAuc([], []), usageError(/no samples/));
  assert.throws(() => rocAuc([0, 1], [0.1]), usageError(/labels and scores differ in length \(2 vs 1\)/));
});

test('one-vs-rest AUC reports each class and their macro average', () => {
  const truth = [0, 0, 1, 2];
  const probabilities = [
    [0.7, 0.2, 0.1],
    [0.3, 0.4, 0.3],
    [0.2, 0.3, 0.5],
    [0.1, 0.3, 0.6],
  ];
  // class 0: positives 0.7, 0.3 beat negatives 0.2, 0.1 → 1
  // class 1: positive 0.3 vs negatives 0.2 (1), 0.4 (0), 0.3 (½) → 1.5/3 = 0.5
  // class 2: positive 0.6 beats 0.1, 0.3, 0.5 → 1;  macro = (1 + 0.5 + 1)/3 = 5/6
  const result = rocAucOneVsRest(truth, probabilities, [0, 1, 2]);
  assert.deepEqual(result.perClass, { '0': 1, '1': 0.5, '2': 1 });
  assertNear(result.macro, 5 / 6);
});

test('one-vs-rest macro AUC leaves out classes absent from truth', () => {
  const truth = [1, 1, 2, 2];
  const probabilities = [
    [0.8, 0.2, 0],
    [0.6, 0.3, 0.1],
    [0.7, 0.3, 0],
    [0.1, 0.8, 0.1],
  ];
  // class 1: positives 0.8, 0.6 vs negatives 0.7, 0.1 → (2 + 1)/4 = 0.75; class 2: 0.3, 0.8 vs
  // 0.2, 0.3 → (1.5 + 2)/4 = 0.875; class 3 never occurs → NaN and left out of the macro.
  const result = rocAucOneVsRest(truth, probabilities, [1, 2, 3]);
  assert.equal(result.perClass['1'], 0.75);
  assert.equal(result.perClass['2'], 0.875);
  assert.ok(Number.isNaN(result.perClass['3']));
  assertNear(result.macro, (0.75 + 0.875) / 2);
  assert.ok(
    Number.isNaN(
      rocAucOneVsRest(
        [1, 1],
        [
          [0.5, 0.5],
          [0.4, 0.6],
        ],
        [1, 2],
      ).macro,
    ),
  );
});

test('one-vs-rest AUC refuses rows of the wrong width and unknown truth classes', () => {
  assert.throws(() => rocAucOneVsRest([0], [[0.5, 0.5]], [0, 1, 2]), usageError(/2 probabilities for 3 classes/));
  assert.throws(() => rocAucOneVsRest([5], [[0.5, 0.5]], [0, 1]), usageError(/truth value 5/));
  assert.throws(() => rocAucOneVsRest([0], [[1.5, 0.5]], [0, 1]), usageError(/probability 1.5/));
});

test('the binary Brier score is the mean squared difference between probability and label', () => {
  // (0.1² + 0.2² + 0.4² + 0.5²)/4 = (0.01 + 0.04 + 0.16 + 0.25)/4 = 0.115
  assertNear(brierScore([1, 0, 1, 0], [0.9, 0.2, 0.6, 0.5]), 0.115);
  assert.equal(brierScore([1, 0], [1, 0]), 0);
  assert.throws(() => brierScore([1], [1.2]), usageError(/probability 1.2 at sample 0/));
  assert.throws(() => brierScore([], []), usageError(/no samples/));
});

test('the multiclass Brier score sums squared errors over classes and averages over samples', () => {
  // truth 1: (0.7−1)² + 0.2² + 0.1² = 0.14; truth 3: 0.2² + 0.2² + (0.6−1)² = 0.24; mean 0.19
  const probabilities = [
    [0.7, 0.2, 0.1],
    [0.2, 0.2, 0.6],
  ];
  assertNear(multiclassBrierScore([1, 3], probabilities, [1, 2, 3]), 0.19);
  assert.equal(multiclassBrierScore([2], [[0, 1, 0]], [1, 2, 3]), 0);
  assert.equal(multiclassBrierScore([1], [[0, 1, 0]], [1, 2, 3]), 2);
});

test('expected calibration error weights each bin gap by its share of samples', () => {
  const truth = [0, 1, 1, 0, 1];
  const probabilities = [
    [0.9, 0.1], // confidence 0.9, predicts 0, correct      → bin 9
    [0.8, 0.2], // confidence 0.8, predicts 0, wrong        → bin 8
    [0.35, 0.65], // confidence 0.65, predicts 1, correct   → bin 6
    [0.4, 0.6], // confidence 0.6, predicts 1, wrong        → bin 6
    [0, 1], // confidence 1, predicts 1, correct (the last bin includes 1) → bin 9
  ];
  // bin 6: 2/5·|0.5 − 0.625| = 0.05; bin 8: 1/5·|0 − 0.8| = 0.16; bin 9: 2/5·|1 − 0.95| = 0.02
  const { ece, bins } = expectedCalibrationError(truth, probabilities, [0, 1]);
  assertNear(ece, 0.23);
  assert.equal(bins.length, 10);
  assert.deepEqual(
    bins.map((b) => b.count),
    [0, 0, 0, 0, 0, 0, 2, 0, 1, 2],
  );
  const six = bins[6];
  assert.ok(six !== undefined);
  assertNear(six.lower, 0.6);
  assertNear(six.upper, 0.7);
  assertNear(six.meanConfidence, 0.625);
  assert.equal(six.accuracy, 0.5);
  assert.ok(Number.isNaN(bins[0]?.meanConfidence) && Number.isNaN(bins[0]?.accuracy));
  assert.equal(bins[9]?.upper, 1);
});

test('binary calibration bins by predicted probability and reports the fraction of positives', () => {
  // bin [0, 0.5): 0.1, 0.15 → mean 0.125, positives 1/2; bin [0.5, 1]: 0.7, 0.75 → 0.725, 1/2.
  // ECE = 0.5·0.375 + 0.5·0.225 = 0.3
  const { ece, bins } = binaryCalibration([0, 1, 1, 0], [0.1, 0.15, 0.7, 0.75], 2);
  assertNear(ece, 0.3);
  assert.equal(bins.length, 2);
  assertNear(bins[0]?.meanConfidence ?? Number.NaN, 0.125);
  assert.equal(bins[0]?.accuracy, 0.5);
  assertNear(bins[1]?.meanConfidence ?? Number.NaN, 0.725);
  assert.deepEqual(
    binaryCalibration([1, 0, 1], [0.5, 0.2, 1], 2).bins.map((b) => b.count),
    [1, 2],
  );
});

test('calibration refuses a bin count that is not a positive integer', () => {
  assert.throws(() => binaryCalibration([1], [0.5], 0), usageError(/positive integer, got 0/));
  assert.throws(() => expectedCalibrationError([1], [[1]], [1], 2.5), usageError(/positive integer, got 2.5/));
});
