import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LEVEL_NETWORK_CONFIG, LEVEL_NETWORK_OUTPUTS } from '../../../src/localize/levels.js';
import { loadNetwork } from '../../../src/models/network.js';
import { onnxRuntimeAvailable } from '../../../src/models/onnx/runtime.js';
import { initTf } from '../../../src/models/tf/backend.js';
import { saveModel } from '../../../src/models/tf/io.js';
import { lossAndGradients } from '../../../src/models/tf/trainCore.js';
import { LEVEL_ATTEMPTS, levelCardMarkdown } from '../../../src/training/localizer/levelCard.js';
import {
  classifySeriesError,
  keypointOutcomes,
  scoreLevelPredictions,
} from '../../../src/training/localizer/levelMetrics.js';
import { buildModel, lossOf } from '../../../src/training/localizer/levelModel.js';
import { meanNeighbourGapPx, scoringMmPerPixel } from '../../../src/training/localizer/levelSamples.js';
import type { LevelPrediction } from '../../../src/training/localizer/levelTrain.js';
import { levelBatch } from '../../../src/training/localizer/levelTrain.js';
import { tempFolder } from '../../helpers/tmp.js';

const KEYPOINTS = [5, 4, 3, 2, 1].map((ivdLabel, n) => ({ ivdLabel, x: 100, y: 100 + 30 * n }));

function prediction(patient: string, offsets: readonly number[], shiftMm = 0): LevelPrediction {
  return {
    patient,
    series: `${patient}_t2`,
    sequence: 'T2',
    keypointSource: 'own',
    fold: 1,
    width: 300,
    height: 300,
    mmPerPixel: 1,
    keypoints: KEYPOINTS,
    points: KEYPOINTS.map((k, n) => ({
      ivdLabel: k.ivdLabel + (offsets[n] ?? 0),
      level: '',
      x: k.x + shiftMm,
      y: k.y,
      confidence: 1,
    })).filter((p) => p.ivdLabel >= 1 && p.ivdLabel <= 5),
  };
}

test('level outcomes: right within 10 mm, one level off, and a point too far away', () => {
  assert.ok(keypointOutcomes(prediction('1', [0, 0, 0, 0, 0])).every((o) => o.correct));
  const shifted = keypointOutcomes(prediction('1', [1, 1, 1, 1, 1]));
  assert.ok(shifted.every((o) => !o.correct));
  assert.equal(shifted.filter((o) => o.offByOne).length, 4);
  assert.ok(keypointOutcomes(prediction('1', [0, 0, 0, 0, 0], 11)).every((o) => !o.correct && o.offset === null));
});

test('series errors are classified: whole-ladder shifts both ways, a partial shift, L5/S1 missed', () => {
  assert.equal(classifySeriesError(keypointOutcomes(prediction('1', [0, 0, 0, 0, 0]))), undefined);
  assert.match(classifySeriesError(keypointOutcomes(prediction('1', [1, 1, 1, 1, 1])))!, /too high/);
  assert.match(classifySeriesError(keypointOutcomes(prediction('1', [-1, -1, -1, -1, -1])))!, /too low/);
  assert.match(classifySeriesError(keypointOutcomes(prediction('1', [0, 0, 1, 1, 1])))!, /skipped/);
  const noL5: LevelPrediction = { ...prediction('1', [0, 0, 0, 0, 0]) };
  const withoutL5 = { ...noL5, points: noL5.points.filter((p) => p.ivdLabel !== 1) };
  assert.match(classifySeriesError(keypointOutcomes(withoutL5))!, /L5\/S1 missed/);
});

test('figures count keypoints and series over patients with CIs', () => {
  const figures = scoreLevelPredictions(
    [prediction('1', [0, 0, 0, 0, 0]), prediction('2', [0, 0, 0, 0, 0]), prediction('3', [1, 1, 1, 1, 1])],
    { resamples: 200 },
  );
  assert.equal(figures.t2.nearestRightWithin10Mm.n, 15);
  assert.ok(Math.abs(figures.t2.seriesFullyRight.estimate - 2 / 3) < 1e-9);
  assert.ok(figures.t2.seriesFullyRight.lower <= figures.t2.seriesFullyRight.estimate);
  assert.equal(figures.t2.taxonomy['ladder named one level too high (a sacral/transitional disc counted as L5/S1)'], 1);
});

test('the model card shows the measured figures and the taxonomy', () => {
  const figures = scoreLevelPredictions([prediction('1', [0, 0, 0, 0, 0]), prediction('2', [-1, -1, -1, -1, -1])], {
    resamples: 100,
  });
  const card = levelCardMarkdown({
    command: 'spinegrade train levels …',
    folds: 5,
    foldSeed: 1,
    config: DEFAULT_LEVEL_NETWORK_CONFIG,
    trainingMinutesPerFold: [1, 2],
    trainingMinutesTotal: 3,
    ...figures,
  });
  assert.match(card, /\| series with every lumbar level right \| 0\.500 \[/);
  assert.match(card, /\| ladder named one level too low \(L5\/S1 not counted\) \| 1 \| 0 \|/);
  for (const attempt of LEVEL_ATTEMPTS)
    assert.ok(card.includes(`| ${attempt.name} | ${attempt.change} | ${attempt.t2Nearest} |`));
  assert.match(card, /\| T2 ≥ 0\.94 \|/);
});

test('scoring scale: the stated spacing of square slices, the anatomical one otherwise', () => {
  const keypoints = KEYPOINTS.map((k) => ({ ...k, level: '' }));
  assert.equal(meanNeighbourGapPx(keypoints), 30);
  const image = (width: number, height: number) => ({
    pixels: new Float32Array(0),
    width,
    height,
    pixelSpacing: [0.5, 0.5] as const,
  });
  assert.equal(scoringMmPerPixel(image(300, 300), keypoints), 0.5);
  assert.ok(Math.abs(scoringMmPerPixel(image(300, 200), keypoints) - 31.4 / 30) < 1e-9);
});

test('the level network builds from its config, takes heatmap batches, and runs the same on onnxruntime as on tfjs', async (t) => {
  await initTf('wasm');
  const config = { ...DEFAULT_LEVEL_NETWORK_CONFIG, size: 32, filters: [4, 8] };
  const model = buildModel(config);
  const sample = {
    image: new Float32Array(32 * 32).map((_, n) => (n % 7) / 7),
    semantic: null,
    keypoints: [{ ivdLabel: 1, x: 10, y: 20 }],
    canvas: { size: 32 },
  };
  const batch = levelBatch([sample, sample], config);
  assert.deepEqual(batch.targets.heatmap?.shape, [2, 16, 16, 5]);
  const peak = batch.targets.heatmap?.data.reduce(
    (best, v, n) => (v > (batch.targets.heatmap?.data[best] ?? 0) ? n : best),
    0,
  );
  // Canvas (10, 20) is heatmap (4.75, 9.75): the peak is at heatmap pixel (5, 10), channel 0 (L5/S1).
  assert.equal(peak, (10 * 16 + 5) * 5);
  const { loss, grads } = lossAndGradients(model, lossOf, batch);
  assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
  assert.ok(
    grads.some((g) => (g.dataSync() as Float32Array).some((v) => v !== 0)),
    'some gradient is not zero',
  );
  for (const g of grads) g.dispose();
  const dir = await tempFolder(t);
  await saveModel(model, dir, { levelNetworkConfig: config });
  const onnx = await loadNetwork(dir, LEVEL_NETWORK_OUTPUTS, onnxRuntimeAvailable() ? 'onnx' : 'tfjs');
  const tfjs = await loadNetwork(dir, LEVEL_NETWORK_OUTPUTS, 'tfjs');
  const [a] = onnx.run(batch.inputs, batch.inputShape);
  const [b] = tfjs.run(batch.inputs, batch.inputShape);
  assert.deepEqual(a?.dims, [2, 16, 16, 5]);
  let worst = 0;
  a?.data.forEach((v, n) => {
    worst = Math.max(worst, Math.abs(v - (b?.data[n] ?? 0)));
  });
  assert.ok(worst < 1e-4, `onnxruntime and tfjs differ by ${worst}`);
  onnx.dispose();
  tfjs.dispose();
  model.dispose();
});
