import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_V2_CROP } from '../../../src/grade/v2Crops.js';
import { mulberry32 } from '../../../src/metrics/random.js';
import { augmentCropMonotone, REFERENCE_RECIPE, v2Batch } from '../../../src/training/grader/crossValidate.js';
import { chooseReviewThreshold, figuresOf, type ScoredDisc } from '../../../src/training/grader/figures.js';
import { renderV2Card } from '../../../src/training/grader/v2Card.js';
import type { V2Sample } from '../../../src/training/grader/v2Samples.js';

function sample(pfirrmann: number | undefined, modic?: number): V2Sample {
  return {
    patient: '1',
    series: '1_t2',
    contrast: 'T2',
    ivdLabel: 2,
    level: 'L4/L5',
    crops: [new Float32Array(16 * 16)],
    label: {
      patient: '1',
      ivdLabel: 2,
      level: 'L4/L5',
      ...(pfirrmann ? { pfirrmann } : {}),
      ...(modic !== undefined ? { modic } : {}),
      herniation: 1,
    },
    placedBy: 'keypoints',
  };
}

test('ordinal targets: cumulative trains every threshold, CORN only those above the one before', () => {
  const weights = [1, 2, 3, 4, 5];
  const chunk = [sample(3, 1), sample(undefined)];
  const cumulative = v2Batch(chunk, { ordinal: 'cumulative' }, weights, 16, mulberry32(1));
  assert.deepEqual([...(cumulative.targets.ordinal?.data ?? [])].slice(0, 4), [1, 1, 0, 0]);
  assert.deepEqual([...(cumulative.targets.ordinalMask?.data ?? [])].slice(0, 4), [1, 1, 1, 1]);
  assert.deepEqual([...(cumulative.targets.sampleWeight?.data ?? [])], [3, 0]);
  const corn = v2Batch(chunk, { ordinal: 'corn' }, weights, 16, mulberry32(1));
  assert.deepEqual([...(corn.targets.ordinalMask?.data ?? [])].slice(0, 4), [1, 1, 1, 0]);
  assert.deepEqual([...(corn.targets.modic?.data ?? [])].slice(0, 4), [0, 1, 0, 0]);
  assert.equal(corn.inputShape[3], 7);
  assert.equal(REFERENCE_RECIPE.epochs, 12);
});

test('figures: a perfect grader scores κ 1 and AUC 1; the review threshold meets its accuracy', () => {
  const discs: ScoredDisc[] = [];
  for (let p = 0; p < 12; p++)
    for (let g = 1; g <= 5; g++) {
      const probs = [0, 0, 0, 0, 0].map((_, k) => (k === g - 1 ? 0.9 : 0.025));
      discs.push({
        patient: String(p),
        ivdLabel: g,
        pfirrmann: probs,
        modic: g > 3 ? [0.1, 0.9, 0, 0] : [0.9, 0.1, 0, 0],
        findings: [0, 0, 0, g > 3 ? 0.9 : 0.1, 0, 0],
        truth: {
          pfirrmann: g,
          modic: g > 3 ? 1 : 0,
          findings: [undefined, undefined, undefined, g > 3 ? 1 : 0, undefined, undefined],
        },
      });
    }
  const f = figuresOf(discs, 50);
  assert.equal(f.pfirrmannKappa.estimate, 1);
  assert.equal(f.withinOne.estimate, 1);
  assert.equal(f.modicAnyAuc.estimate, 1);
  assert.equal(f.herniationAuc.estimate, 1);
  assert.ok(Math.abs(f.ece.estimate - 0.1) < 1e-9);
  const review = chooseReviewThreshold(discs, 0.95);
  assert.equal(review.accuracy, 1);
  assert.equal(review.coverage, 1);
  // The card states the bundle's own crop and lists what was tried.
  const evaluation = { perContrast: { T2: f }, fused: f, review, temperatures: { T1: unit, T2: unit } };
  const row = { recipe: 'reference', description: 'd', tta: false, trainSeconds: 60, evaluation };
  const notes = {
    t2Series: 1,
    t1Series: 0,
    t1WithoutT2Keypoints: 0,
    t1FieldOfViewDiffers: 0,
    otherSeriesSkipped: 0,
    discsWithoutLabel: 0,
  };
  const tried = [{ what: 'a | check', result: 'ρ -0.5' }];
  const card = renderV2Card([row], row, { total: 60, t2: 60, t1: 0, notes }, 'cmd', tried, DEFAULT_V2_CROP);
  assert.match(card, /48 × 48\npixels over 64 mm \(1\.33 mm each\)/);
  assert.match(card, /## What was tried[\s\S]*\| a \\\| check \| ρ -0\.5 \|/);
  assert.doesNotMatch(renderV2Card([row], row, { total: 60, t2: 60, t1: 0, notes }, 'cmd'), /What was tried/);
});

const unit = { pfirrmann: 1, modic: 1, findings: [1, 1, 1, 1, 1, 1] };

test('the monotone augmentation never turns a crop negative of itself', () => {
  const size = 48;
  const crop = new Float32Array(size * size);
  for (let v = 0; v < size; v++) for (let u = 0; u < size; u++) crop[v * size + u] = Math.abs(v - 24) < 4 ? 0.9 : 0.2;
  const random = mulberry32(5);
  for (let n = 0; n < 100; n++) {
    const out = augmentCropMonotone(crop, size, random);
    let inside = 0;
    let outside = 0;
    for (let v = 0; v < size; v++)
      for (let u = 16; u < 32; u++) {
        if (Math.abs(v - 24) < 2) inside += out[v * size + u] as number;
        if (Math.abs(v - 24) > 10) outside += out[v * size + u] as number;
      }
    assert.ok(
      inside / (3 * 16) > outside / (2 * 13 * 16),
      `trial ${n}: the bright band became darker than the background`,
    );
  }
});

test("augment 'none' feeds the crop itself; t2-plain is the issue's reference experiment", async () => {
  const { V2_RECIPES } = await import('../../../src/training/grader/run.js');
  const one = sample(2);
  (one.crops[0] as Float32Array).forEach((_, i, a) => {
    a[i] = (i % 17) / 17;
  });
  const batch = v2Batch(
    [one, sample(4)],
    { ordinal: 'cumulative', augment: 'none' },
    [1, 1, 1, 1, 1],
    16,
    mulberry32(1),
  );
  for (let i = 0; i < 16 * 16; i++) assert.equal(batch.inputs[i * 7], (one.crops[0] as Float32Array)[i]);
  const plain = V2_RECIPES['t2-plain'];
  assert.deepEqual(plain?.trainContrasts, ['T2']);
  assert.equal(plain?.augment, 'none');
  assert.equal(plain?.auxiliaryWeight, 0);
  assert.equal(plain?.ordinal, 'cumulative');
  assert.equal(plain?.classWeightPower, 1);
});
