import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_V2_CROP } from '../../../src/grade/v2Crops.js';
import { ranksOf, spearman } from '../../../src/metrics/regression.js';
import { discCentreSignal, signalGradeCorrelations } from '../../../src/training/grader/v2Checks.js';
import type { V2Sample } from '../../../src/training/grader/v2Samples.js';

const size = DEFAULT_V2_CROP.size;

/** A crop whose central disc band has brightness `disc` on a mid-grey background. */
function crop(disc: number): Float32Array {
  const pixels = new Float32Array(size * size).fill(0.5);
  const half = (size - 1) / 2;
  for (let v = Math.round(half - 3); v <= Math.round(half + 3); v++)
    for (let u = Math.round(half - 10); u <= Math.round(half + 10); u++) pixels[v * size + u] = disc;
  return pixels;
}

function sample(level: string, pfirrmann: number, disc: number): V2Sample {
  return {
    patient: '1',
    series: '1_t2',
    contrast: 'T2',
    ivdLabel: 1,
    level,
    crops: [crop(disc)],
    label: { patient: '1', ivdLabel: 1, level, pfirrmann },
    placedBy: 'keypoints',
  };
}

test('ranks share ties and spearman reads monotone relations', () => {
  assert.deepEqual(ranksOf([3, 1, 3, 2]), [3.5, 1, 3.5, 2]);
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [9, 4, 1, 0]), -1);
  assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
});

test('the disc-centre signal reads the crop centre, not its border', () => {
  assert.ok(Math.abs(discCentreSignal(crop(1), DEFAULT_V2_CROP) - 1) < 1e-6);
  assert.ok(Math.abs(discCentreSignal(crop(0), DEFAULT_V2_CROP)) < 1e-6);
});

test('aligned crops correlate negatively with the grade at every level; a wrong join does not', () => {
  const aligned: V2Sample[] = [];
  const misjoined: V2Sample[] = [];
  for (const level of ['L4/L5', 'L5/S1'])
    for (let grade = 1; grade <= 5; grade++)
      for (let k = 0; k < 4; k++) {
        const disc = 1 - grade / 6 + k * 0.01;
        aligned.push(sample(level, grade, disc));
        // The grade of another disc: brightness no longer follows the grade.
        misjoined.push(sample(level, ((grade + k) % 5) + 1, disc));
      }
  for (const row of signalGradeCorrelations(aligned, DEFAULT_V2_CROP))
    assert.ok(row.rho < -0.9, `${row.level}: ${row.rho}`);
  const wrong = signalGradeCorrelations(misjoined, DEFAULT_V2_CROP).find((r) => r.level === 'all');
  assert.ok(wrong && Math.abs(wrong.rho) < 0.5, `misjoined ρ ${wrong?.rho}`);
  assert.equal(wrong?.discs, 40);
});
