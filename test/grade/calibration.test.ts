import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BINARY_FINDINGS } from '../../src/disc/findings.js';
import type { Logits } from '../../src/disc/logits.js';
import {
  coverageAccuracyCurve,
  fitBinaryTemperature,
  fitTemperature,
  sigmoid,
  softmax,
} from '../../src/grade/calibration.js';
import { type GraderCalibration, gradesFromLogits, loadGrader } from '../../src/grade/grader.js';
import { mulberry32 } from '../../src/metrics/random.js';
import { GRADER_MODEL_DIR } from '../../src/store/store.js';

test('temperature scaling recovers the temperature that over-confident logits were made with', () => {
  const random = mulberry32(7);
  const logits: number[] = [];
  const truth: number[] = [];
  for (let n = 0; n < 3000; n++) {
    const base = Array.from({ length: 5 }, () => 2 * (random() - 0.5) * 2);
    const probs = softmax(base);
    let u = random();
    let k = 0;
    while (k < 4 && u > (probs[k] as number)) u -= probs[k++] as number;
    truth.push(k);
    logits.push(...base.map((z) => z * 3)); // three times over-confident
  }
  const t = fitTemperature(logits, 5, truth);
  assert.ok(Math.abs(t - 3) < 0.3, `temperature ${t}`);
});

test('binary temperature scaling recovers an over-confident scale too', () => {
  const random = mulberry32(11);
  const logits: number[] = [];
  const labels: number[] = [];
  for (let n = 0; n < 4000; n++) {
    const z = 4 * (random() - 0.5);
    labels.push(random() < sigmoid(z) ? 1 : 0);
    logits.push(z * 2);
  }
  const t = fitBinaryTemperature(logits, labels);
  assert.ok(Math.abs(t - 2) < 0.25, `temperature ${t}`);
});

test('the coverage curve keeps the confident discs and reports their accuracy', () => {
  const confidences = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35];
  const correct = [true, true, true, false, true, false, false, false];
  const curve = coverageAccuracyCurve(confidences, correct, [0, 0.55, 0.85]);
  assert.deepEqual(
    curve.map((p) => [p.threshold, p.coverage, p.accuracy]),
    [
      [0, 1, 4 / 8],
      [0.55, 5 / 8, 4 / 5],
      [0.85, 2 / 8, 1],
    ],
  );
});

// Hand-computed (by a separate calculation, not by this code) softmax(z / T) and sigmoid(z / T) of fixed logits.
const CALIBRATION: GraderCalibration = {
  pfirrmann: 2,
  modic: 0.5,
  findings: [2, 0.5, 1.5, 0.8, 1.25, 4],
  reviewThreshold: 0.5,
};
const DISCS = [
  { ivdLabel: 1, level: 'L5/S1' },
  { ivdLabel: 2, level: 'L4/L5' },
];
const LOGITS: Logits = {
  pfirrmann: Float32Array.from([2, 1, 0, -1, -2, 1.4, 0, 0, 0, 0]),
  modic: Float32Array.from([0.5, 3, -1, 0.2, 3, -1, 0, 0.25]),
  findings: Float32Array.from([1, -1, 2, -0.5, 0.3, -3, 1, -1, 2, -0.5, 0.3, -3]),
};
const EXPECTED = [
  {
    pfirrmann: [0.428655529, 0.259992721, 0.157693556, 0.095645977, 0.058012217],
    modic: [0.006666144, 0.989343511, 0.000331888, 0.003658457],
    findings: [0.622459331, 0.119202922, 0.791391473, 0.348645135, 0.559713649, 0.320821301],
    // Top Pfirrmann probability 0.429 < 0.5.
    needsReview: true,
  },
  {
    // Top probability 0.335 after calibration; it would be 0.503 (not flagged) at temperature 1.
    pfirrmann: [0.334857917, 0.166285521, 0.166285521, 0.166285521, 0.166285521],
    modic: [0.993146311, 0.000333163, 0.002461764, 0.004058762],
    findings: [0.622459331, 0.119202922, 0.791391473, 0.348645135, 0.559713649, 0.320821301],
    needsReview: true,
  },
];

const assertNear = (actual: readonly number[], expected: readonly number[], what: string): void => {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((v, k) =>
    assert.ok(Math.abs(v - (expected[k] as number)) < 1e-6, `${what}[${k}]: ${v} vs ${expected[k]}`),
  );
};

test('grades from logits are softmax(z / T) per head and sigmoid(z / T) per finding, with each temperature its own', () => {
  const graded = gradesFromLogits(LOGITS, DISCS, CALIBRATION);
  graded.forEach((disc, n) => {
    const expected = EXPECTED[n]!;
    assertNear(disc.pfirrmann.probs, expected.pfirrmann, `disc ${n} Pfirrmann`);
    assertNear(disc.modic.probs, expected.modic, `disc ${n} Modic`);
    assertNear(
      BINARY_FINDINGS.map((f) => disc[f] as number),
      expected.findings,
      `disc ${n} findings`,
    );
    assert.equal(disc.pfirrmann.grade, 1);
    assert.equal(disc.modic.grade, n === 0 ? 1 : 0);
    assert.equal(disc.needsReview, expected.needsReview, `disc ${n} needs review`);
    assert.equal(disc.level, DISCS[n]!.level);
  });
});

test('the review threshold flags a disc exactly when its calibrated top Pfirrmann probability is below it', () => {
  // Disc 1's calibrated top probability is 0.334857917 (hand-computed above).
  const at = (reviewThreshold: number): boolean =>
    gradesFromLogits(LOGITS, DISCS, { ...CALIBRATION, reviewThreshold })[1]!.needsReview;
  assert.equal(at(0.3348), false);
  assert.equal(at(0.3349), true);
  assert.equal(at(0), false);
  // At temperature 1 the same logits give 0.503426356: not flagged at 0.5, flagged at 0.504.
  const plain = { ...CALIBRATION, pfirrmann: 1 };
  assert.equal(gradesFromLogits(LOGITS, DISCS, plain)[1]!.needsReview, false);
  assert.equal(gradesFromLogits(LOGITS, DISCS, { ...plain, reviewThreshold: 0.504 })[1]!.needsReview, true);
});

test("the bundled grader applies the calibration its card states: each head's temperature, not 1", async () => {
  const grader = await loadGrader(GRADER_MODEL_DIR, { engine: 'auto' });
  const { calibration } = grader;
  const card = await readFile(join(GRADER_MODEL_DIR, 'MODEL_CARD.md'), 'utf8');
  const number = String.raw`(\d+(?:\.\d+)?)`;
  const stated = card.match(
    new RegExp(
      `Calibration shipped: temperature Pfirrmann ${number}, Modic ${number}, findings ([\\d., ]+); review threshold ${number}`,
    ),
  );
  assert.ok(stated, 'the card states the shipped calibration');
  assert.ok(Math.abs(calibration.pfirrmann - Number(stated[1])) < 5e-4);
  assert.ok(Math.abs(calibration.modic - Number(stated[2])) < 5e-4);
  assertNear(
    calibration.findings.map((t) => Math.round(t * 1000) / 1000),
    stated[3]!.split(',').map(Number),
    'finding temperatures',
  );
  assert.equal(calibration.reviewThreshold, Number(stated[4]));
  // Every temperature was fitted (none is exactly 1), and grading uses them: the same logits through the
  // bundled calibration give exp(z / T) / Σ exp(z / T), computed here without the code under test.
  for (const t of [calibration.pfirrmann, calibration.modic, ...calibration.findings]) assert.notEqual(t, 1);
  const [disc] = gradesFromLogits(LOGITS, DISCS, calibration);
  const z = [2, 1, 0, -1, -2];
  const sum = z.reduce((s, v) => s + Math.exp(v / calibration.pfirrmann), 0);
  assertNear(
    disc!.pfirrmann.probs,
    z.map((v) => Math.exp(v / calibration.pfirrmann) / sum),
    'bundled Pfirrmann',
  );
  const findings = [1, -1, 2, -0.5, 0.3, -3];
  assertNear(
    BINARY_FINDINGS.map((f) => disc![f] as number),
    findings.map((v, k) => 1 / (1 + Math.exp(-v / calibration.findings[k]!))),
    'bundled findings',
  );
});
