import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dice, discDetectionRate, distanceToPolygon } from '../../src/metrics/index.js';
import { assertNear, usageError } from './helpers.js';

test('Dice is 2|A∩B|/(|A|+|B|) over the voxels holding the value', () => {
  const truth = [0, 1, 1, 1, 0, 2];
  const predicted = Uint8Array.from([1, 1, 1, 0, 0, 2]);
  // value 1: A = {1,2,3}, B = {0,1,2}, A∩B = {1,2} → 4/6
  assertNear(dice(truth, predicted, 1), 2 / 3);
  // value 0: A = {0,4}, B = {3,4}, A∩B = {4} → 2/4
  assert.equal(dice(truth, predicted, 0), 0.5);
  assert.equal(dice(truth, predicted, 2), 1);
});

test('Dice of two masks that both lack the value is 1', () => {
  assert.equal(dice([0, 1, 2], [0, 1, 2], 5), 1);
  assert.equal(dice([], [], 1), 1);
});

test('Dice refuses masks of different lengths', () => {
  assert.throws(() => dice([0, 1], [0], 1), usageError(/masks differ in length \(2 vs 1\)/));
});

test('the disc detection rate is the fraction of discs found', () => {
  assert.equal(discDetectionRate([true, true, false, true]), 0.75);
  assert.throws(() => discDetectionRate([]), usageError(/no samples/));
});

const rectangle: [number, number][] = [
  [0, 0],
  [4, 0],
  [4, 2],
  [0, 2],
];

test('a point inside or on the polygon is at distance 0', () => {
  assert.equal(distanceToPolygon([1, 1], rectangle), 0);
  assert.equal(distanceToPolygon([4, 1], rectangle), 0);
  assert.equal(distanceToPolygon([1, 1], rectangle, [0.3, 3]), 0);
});

test('the distance outside the polygon is measured in mm after scaling by the pixel spacing', () => {
  // Isotropic: 1 pixel right of x = 4 and 1 pixel above y = 2 are both 1 away.
  assert.equal(distanceToPolygon([5, 1], rectangle), 1);
  assert.equal(distanceToPolygon([2, 3], rectangle), 1);
  // Spacing [0.5, 2] mm: the rectangle spans x 0..2 mm, y 0..4 mm.
  //   [5, 1] → (2.5, 2) mm, 0.5 mm right of the edge x = 2 mm.
  //   [2, 3] → (1, 6) mm, 2 mm above the edge y = 4 mm.
  //   [5, 3] → (2.5, 6) mm, nearest the corner (2, 4) mm: √(0.5² + 2²) = √4.25.
  assert.equal(distanceToPolygon([5, 1], rectangle, [0.5, 2]), 0.5);
  assert.equal(distanceToPolygon([2, 3], rectangle, [0.5, 2]), 2);
  assertNear(distanceToPolygon([5, 3], rectangle, [0.5, 2]), Math.sqrt(4.25));
});

test('the even-odd rule leaves the notch of a concave polygon outside', () => {
  // A U shape: the notch x 1..3, y 1..3 is outside, 1 from both prongs.
  const u: [number, number][] = [
    [0, 0],
    [4, 0],
    [4, 3],
    [3, 3],
    [3, 1],
    [1, 1],
    [1, 3],
    [0, 3],
  ];
  assert.equal(distanceToPolygon([2, 2], u), 1);
  assert.equal(distanceToPolygon([0.5, 2], u), 0);
});

test('a polygon of fewer than 3 points is infinitely far away', () => {
  assert.equal(distanceToPolygon([0, 0], []), Number.POSITIVE_INFINITY);
  assert.equal(
    distanceToPolygon(
      [0, 0],
      [
        [0, 0],
        [1, 1],
      ],
    ),
    Number.POSITIVE_INFINITY,
  );
});

test('a spacing that is not positive is refused', () => {
  assert.throws(() => distanceToPolygon([0, 0], rectangle, [0, 1]), usageError(/spacing must be positive/));
});
