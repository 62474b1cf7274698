import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32, shuffleInPlace } from '../../src/metrics/index.js';
import { usageError } from './helpers.js';

test('mulberry32 gives the same sequence for the same seed and another for another seed', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const first = Array.from({ length: 5 }, a);
  assert.deepEqual(first, Array.from({ length: 5 }, b));
  assert.notDeepEqual(first, Array.from({ length: 5 }, c));
});

test('mulberry32 draws uniformly from [0, 1)', () => {
  const random = mulberry32(1);
  const counts = new Array<number>(10).fill(0);
  let sum = 0;
  for (let n = 0; n < 100_000; n++) {
    const value = random();
    assert.ok(value >= 0 && value < 1);
    sum += value;
    const bin = Math.floor(value * 10);
    counts[bin] = (counts[bin] as number) + 1;
  }
  assert.ok(Math.abs(sum / 100_000 - 0.5) < 0.01);
  for (const count of counts) assert.ok(Math.abs(count - 10_000) < 500, `bin count ${count}`);
});

test('mulberry32 refuses a seed that is not a finite number', () => {
  assert.throws(() => mulberry32(Number.NaN), usageError(/finite number/));
});

test('shuffling permutes the array in place, reproducibly for a seed', () => {
  const original = Array.from({ length: 20 }, (_, n) => n);
  const once = shuffleInPlace(original.slice(), mulberry32(5));
  const again = shuffleInPlace(original.slice(), mulberry32(5));
  assert.deepEqual(once, again);
  assert.notDeepEqual(once, original);
  assert.deepEqual(
    once.slice().sort((x, y) => x - y),
    original,
  );
  const array = [1, 2, 3];
  assert.equal(shuffleInPlace(array, mulberry32(1)), array);
  assert.deepEqual(shuffleInPlace([], mulberry32(1)), []);
});

test('shuffling visits every permutation of three items about equally often', () => {
  const random = mulberry32(11);
  const seen = new Map<string, number>();
  for (let n = 0; n < 6000; n++) {
    const key = shuffleInPlace(['a', 'b', 'c'], random).join('');
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  assert.equal(seen.size, 6);
  for (const count of seen.values()) assert.ok(Math.abs(count - 1000) < 150, `permutation count ${count}`);
});
