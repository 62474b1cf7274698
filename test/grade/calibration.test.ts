import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  coverageAccuracyCurve,
  fitBinaryTemperature,
  fitTemperature,
  sigmoid,
  softmax,
} from '../../src/grade/calibration.js';
import { mulberry32 } from '../../src/metrics/random.js';

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
