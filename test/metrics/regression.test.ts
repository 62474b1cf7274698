import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linsCcc, meanAbsoluteError } from '../../src/metrics/index.js';
import { assertNear, usageError } from './helpers.js';

test('the mean absolute error averages |truth − predicted|', () => {
  assert.equal(meanAbsoluteError([1, 2, 3, 4], [1, 4, 2, 5]), 1);
  assertNear(meanAbsoluteError([0.5, 2], [1, 1]), 0.75);
});

test('Lin CCC is 1 for identical inputs and penalises a constant shift', () => {
  assert.equal(linsCcc([1, 2, 3], [1, 2, 3]), 1);
  // x = 1,2,3; y = x + 1: var 2/3 each, cov 2/3, (mean diff)² = 1 → (4/3)/(4/3 + 1) = 4/7.
  assertNear(linsCcc([1, 2, 3], [2, 3, 4]), 4 / 7);
  // Perfect inversion: cov = −2/3 → −1.
  assertNear(linsCcc([1, 2, 3], [3, 2, 1]), -1);
});

test('Lin CCC is 1 for identical constant inputs and 0 when only one input varies or both differ', () => {
  assert.equal(linsCcc([2, 2, 2], [2, 2, 2]), 1);
  assert.equal(linsCcc([2, 2, 2], [1, 2, 3]), 0);
  assert.equal(linsCcc([2, 2], [3, 3]), 0);
  assert.equal(linsCcc([4], [4]), 1);
  assert.equal(linsCcc([4], [5]), 0);
});

test('regression metrics refuse empty and mismatched inputs', () => {
  assert.throws(() => meanAbsoluteError([], []), usageError(/no samples/));
  assert.throws(() => linsCcc([], []), usageError(/no samples/));
  assert.throws(() => meanAbsoluteError([1], [1, 2]), usageError(/differ in length \(1 vs 2\)/));
  assert.throws(() => linsCcc([1], [1, 2]), usageError(/x and y differ in length/));
});
