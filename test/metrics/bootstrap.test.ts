import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapCi, mulberry32, rocAuc } from '../../src/metrics/index.js';
import { usageError } from './helpers.js';

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** 30 patients with 2-5 values each, drawn reproducibly. */
function patients(): number[][] {
  const random = mulberry32(3);
  return Array.from({ length: 30 }, () => Array.from({ length: 2 + Math.floor(random() * 4) }, () => random() * 10));
}

test('the same seed gives the same interval and another seed another one', () => {
  const groups = patients();
  const a = bootstrapCi(groups, mean, { resamples: 500, seed: 9 });
  const b = bootstrapCi(groups, mean, { resamples: 500, seed: 9 });
  const c = bootstrapCi(groups, mean, { resamples: 500, seed: 10 });
  assert.deepEqual(a, b);
  assert.notDeepEqual([a.lower, a.upper], [c.lower, c.upper]);
  assert.equal(a.estimate, c.estimate);
});

test('the estimate is the statistic on all items and the bounds bracket it', () => {
  const groups = patients();
  const result = bootstrapCi(groups, mean);
  assert.equal(result.estimate, mean(groups.flat()));
  assert.equal(result.resamples, 2000);
  assert.ok(result.lower < result.estimate && result.estimate < result.upper, JSON.stringify(result));
  // The width a 95% interval over patients should have, from the delta-method (linearised) standard error of
  // a ratio of sums over whole groups: SE = √Σ(S_g − m·n_g)² / Σn_g, width ≈ 2 · 1.96 · SE.
  const total = groups.reduce((s, g) => s + g.length, 0);
  const m = mean(groups.flat());
  const se = Math.sqrt(groups.reduce((s, g) => s + (g.reduce((a, b) => a + b, 0) - m * g.length) ** 2, 0)) / total;
  const width = result.upper - result.lower;
  assert.ok(Math.abs(width / (2 * 1.959964 * se) - 1) < 0.1, `width ${width} vs ${2 * 1.959964 * se}`);
  // And it is centred: the estimate sits near the middle of the interval (the mean is nearly linear).
  assert.ok(Math.abs((result.upper + result.lower) / 2 - result.estimate) < 0.1 * width, JSON.stringify(result));
  const narrower = bootstrapCi(groups, mean, { level: 0.5 });
  assert.ok(narrower.lower > result.lower && narrower.upper < result.upper);
  const narrowWidth = narrower.upper - narrower.lower;
  assert.ok(Math.abs(narrowWidth / (2 * 0.67449 * se) - 1) < 0.15, `50% width ${narrowWidth} vs ${2 * 0.67449 * se}`);
});

test('resampling draws whole groups with replacement, never single items', () => {
  // Group g holds g + 1 copies of its id: a resample keeps groups whole when every id occurs a
  // multiple of g + 1 times. Distinct ids below the group count show the draw is with replacement.
  const groups = Array.from({ length: 8 }, (_, g) => new Array<number>(g + 1).fill(g));
  const distinct: number[] = [];
  const wholeGroups = (items: number[]): number => {
    const counts = new Map<number, number>();
    for (const id of items) counts.set(id, (counts.get(id) ?? 0) + 1);
    distinct.push(counts.size);
    return [...counts].every(([id, count]) => count % (id + 1) === 0) ? 1 : 0;
  };
  const result = bootstrapCi(groups, wholeGroups, { resamples: 300 });
  assert.deepEqual(result, { estimate: 1, lower: 1, upper: 1, resamples: 300 });
  assert.equal(distinct.length, 301);
  assert.equal(distinct[0], 8); // the estimate sees every group
  assert.ok(distinct.slice(1).some((n) => n < 8));
  assert.ok(distinct.slice(1).every((n) => n >= 1 && n <= 8));
});

test('a single group resamples to itself, so the interval collapses onto the estimate', () => {
  const result = bootstrapCi([[1, 2, 6]], mean, { resamples: 50 });
  assert.deepEqual(result, { estimate: 3, lower: 3, upper: 3, resamples: 50 });
});

test('resamples whose statistic is NaN are skipped and not counted', () => {
  // The statistic is NaN whenever group 0 is missing: (9/10)^10 ≈ 35% of resamples.
  const groups = Array.from({ length: 10 }, (_, g) => [g]);
  const result = bootstrapCi(groups, (items) => (items.includes(0) ? mean(items) : Number.NaN), { resamples: 1000 });
  assert.ok(result.resamples > 550 && result.resamples < 750, `${result.resamples} valid resamples`);
  assert.ok(Number.isFinite(result.lower) && Number.isFinite(result.upper));
});

test('when fewer than half the resamples give a number the bounds are NaN', () => {
  // NaN unless all 4 groups are drawn: valid in 4!/4⁴ ≈ 9% of resamples.
  const groups = [[0], [1], [2], [3]];
  const result = bootstrapCi(groups, (items) => (new Set(items).size === 4 ? 1 : Number.NaN), { resamples: 1000 });
  assert.equal(result.estimate, 1);
  assert.ok(Number.isNaN(result.lower) && Number.isNaN(result.upper));
  assert.ok(result.resamples > 50 && result.resamples < 150, `${result.resamples} valid resamples`);
  const never = bootstrapCi(groups, () => Number.NaN, { resamples: 10 });
  assert.ok(Number.isNaN(never.estimate) && Number.isNaN(never.lower));
  assert.equal(never.resamples, 0);
});

test('the bootstrap refuses no groups and invalid options', () => {
  assert.throws(() => bootstrapCi([], mean), usageError(/no groups/));
  assert.throws(() => bootstrapCi([[1]], mean, { resamples: 0 }), usageError(/resamples must be a positive integer/));
  assert.throws(() => bootstrapCi([[1]], mean, { level: 1 }), usageError(/level must be within/));
});

test('a 2000-resample AUC interval over 200 patients brackets a clearly separating score', () => {
  const random = mulberry32(17);
  const groups = Array.from({ length: 200 }, () =>
    Array.from({ length: 5 }, () => {
      const label = random() < 0.4 ? 1 : 0;
      return { label, score: random() + 0.5 * label };
    }),
  );
  const result = bootstrapCi(groups, (items) =>
    rocAuc(
      items.map((d) => d.label),
      items.map((d) => d.score),
    ),
  );
  assert.ok(result.lower < result.estimate && result.estimate < result.upper);
  assert.ok(result.lower > 0.5, 'the separation is far beyond chance');
});
