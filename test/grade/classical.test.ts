import assert from 'node:assert/strict';
import { test } from 'node:test';
import { glcmFeatures, svmProbability, svmScore, svmShap, trainLinearSvm } from '../../src/grade/classical.js';
import { mulberry32 } from '../../src/metrics/random.js';

test('GLCM features: a flat region has no contrast, a checkerboard the most, with correlation −1', () => {
  const size = 8;
  const mask = new Uint8Array(size * size).fill(1);
  const flat = glcmFeatures(new Float32Array(size * size).fill(5), mask, size, size);
  assert.deepEqual(
    flat,
    { contrast: 0, homogeneity: 1, energy: 1, correlation: 1 },
    'a constant region correlates perfectly, as scikit-image has it',
  );
  const board = Float32Array.from({ length: size * size }, (_, i) => ((i % size) + Math.floor(i / size)) % 2);
  const checker = glcmFeatures(board, mask, size, size, 16);
  assert.equal(checker.contrast, 15 ** 2);
  assert.ok(Math.abs(checker.homogeneity - 1 / 16) < 1e-12);
  assert.ok(Math.abs(checker.correlation + 1) < 1e-12);
  assert.ok(Math.abs(checker.energy - 0.5) < 1e-12, 'two off-diagonal cells of 1/2 each');
});

test('GLCM features count only pixel pairs inside the mask', () => {
  const size = 4;
  const pixels = Float32Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 0 : 1));
  const left = Uint8Array.from({ length: 16 }, (_, i) => (i % 4 < 2 ? 1 : 0));
  assert.equal(glcmFeatures(pixels, left, size, size).contrast, 0, 'the left half is flat');
});

function toy(n: number, seed: number): { x: number[][]; y: number[] } {
  const random = mulberry32(seed);
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const signal = random() * 4 - 2;
    const noise = random() * 100;
    x.push([signal * 10 + 50, noise]);
    y.push(signal + (random() - 0.5) * 0.5 > 0 ? 1 : 0);
  }
  return { x, y };
}

test('the linear SVM learns a separable signal, and its Platt probabilities rise with the score', () => {
  const train = toy(400, 1);
  const model = trainLinearSvm(train.x, train.y, { seed: 2 });
  const test_ = toy(200, 3);
  const accuracy = test_.x.filter((row, i) => (svmProbability(model, row) >= 0.5 ? 1 : 0) === test_.y[i]).length / 200;
  assert.ok(accuracy > 0.85, `accuracy ${accuracy}`);
  assert.ok(Math.abs(model.weights[0]!) > 5 * Math.abs(model.weights[1]!), 'the noise feature weighs little');
  const low = svmProbability(model, [30, 50]);
  const high = svmProbability(model, [70, 50]);
  assert.ok(low < 0.2 && high > 0.8, `${low} ${high}`);
});

test('SHAP values of the SVM are exact: they add up to the score minus the mean training score', () => {
  const train = toy(300, 4);
  const model = trainLinearSvm(train.x, train.y, { seed: 5 });
  for (const row of [
    [55, 10],
    [42, 90],
    [50, 50],
  ]) {
    const shap = svmShap(model, row);
    const sum = shap.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - (svmScore(model, row) - model.baseScore)) < 1e-9);
  }
  const [signal, noise] = svmShap(model, [70, 90]);
  assert.ok(Math.abs(signal!) > Math.abs(noise!), 'the signal explains more than the noise');
});
