import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { initTf, tf, type tfl } from '../../../src/models/tf/backend.js';
import { loadModel, readModelMetadata } from '../../../src/models/tf/io.js';
import { buildUNet, type UNetConfig } from '../../../src/models/tf/layers.js';
import { scheduledLearningRate, type TrainProgress, trainModel } from '../../../src/models/tf/train.js';
import { flattenWeights, forwardTraining } from '../../../src/models/tf/trainCore.js';
import { tempFolder } from '../../helpers/tmp.js';
import { type TinyTaskConfig, thresholdBatch } from './tinyTask.js';

const taskModule = new URL('./tinyTask.js', import.meta.url).href;
const unet: UNetConfig = {
  inputShape: [16, 16, 1],
  baseFilters: 4,
  depth: 2,
  heads: [{ name: 'mask', channels: 1, activation: 'sigmoid' }],
  batchNormMomentum: 0.8,
  seed: 42,
};
const validation = thresholdBatch(8, 999);

/** Pixel accuracy of the mask head on the validation batch. */
async function accuracy(model: tfl.LayersModel): Promise<number> {
  return tf.tidy(() => {
    const inputs = tf.tensor4d(validation.inputs, validation.inputShape);
    const predicted = model.predict(inputs) as tf.Tensor;
    const target = tf.tensor(validation.targets.mask?.data ?? new Float32Array(), [8, 16, 16, 1]);
    return tf.mean(tf.equal(tf.greater(predicted, 0.5), tf.greater(target, 0.5))).dataSync()[0] ?? 0;
  });
}

async function learnsThreshold(workers: 1 | 2, checkpointDir?: string) {
  const progress: TrainProgress[] = [];
  const result = await trainModel<TinyTaskConfig>({
    model: { module: taskModule, config: { unet } },
    nextEpoch: (epoch) => Array.from({ length: 5 }, (_, i) => thresholdBatch(4, 100 * epoch + i + 1)),
    epochs: 8,
    learningRate: 0.03,
    schedule: { kind: 'cosine', minLearningRate: 0.002 },
    validate: accuracy,
    validateEvery: 2,
    workers,
    onProgress: (p) => progress.push(p),
    ...(checkpointDir === undefined ? {} : { checkpointDir, checkpointMetadata: { task: 'threshold' } }),
  });
  const first = progress.slice(0, 3).reduce((s, p) => s + p.loss, 0) / 3;
  const last = progress.slice(-5).reduce((s, p) => s + p.loss, 0) / 5;
  assert.equal(progress.length, 40);
  assert.ok(last < 0.7 * first, `loss went from ${first.toFixed(3)} to ${last.toFixed(3)} with ${workers} worker(s)`);
  assert.ok((result.bestScore ?? 0) > 0.8, `validation accuracy ${result.bestScore}`);
  assert.equal(result.history.length, 8);
  assert.ok(progress.every((p) => p.samplesPerSecond > 0 && p.etaSeconds !== undefined));
  assert.equal(progress.at(-1)?.etaSeconds, 0);
  return result;
}

test('a tiny U-Net learns a threshold segmentation on this thread, with a loadable checkpoint', async (t) => {
  await initTf('wasm');
  const dir = await tempFolder(t);
  const result = await learnsThreshold(1, dir);
  assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'weights.bin']);
  const metadata = await readModelMetadata(dir);
  assert.equal(metadata.task, 'threshold');
  assert.equal(metadata.epoch, result.bestEpoch);
  assert.equal(metadata.score, result.bestScore);
  const loaded = await loadModel(dir);
  const [a, b] = tf.tidy(() => {
    const inputs = tf.tensor4d(validation.inputs, validation.inputShape);
    return [result.model.predict(inputs) as tf.Tensor, loaded.predict(inputs) as tf.Tensor];
  });
  assert.ok(a !== undefined && b !== undefined);
  assert.equal(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], 0);
  tf.dispose([a, b]);
  assert.equal(await accuracy(loaded), result.bestScore);
  loaded.dispose();
  result.model.dispose();
});

test('a tiny U-Net learns a threshold segmentation data-parallel over two workers', async () => {
  const result = await learnsThreshold(2);
  result.model.dispose();
});

test('two workers compute the same update as one thread (no batch norm, odd batch)', async () => {
  const noBn: UNetConfig = { ...unet, batchNorm: false };
  const batch = thresholdBatch(3, 5);
  const run = async (workers: 1 | 2) => {
    const losses: number[] = [];
    const result = await trainModel<TinyTaskConfig>({
      model: { module: taskModule, config: { unet: noBn, seed: 7 } },
      nextEpoch: () => [batch, batch],
      epochs: 1,
      // With a huge epsilon, Adam's step is ≈ learningRate / epsilon × gradient: smooth in the gradient.
      learningRate: 1e3,
      adam: { epsilon: 1e4 },
      workers,
      onProgress: (p) => losses.push(p.loss),
    });
    const weights = flattenWeights(result.model.trainableWeights);
    result.model.dispose();
    return { losses, weights };
  };
  const one = await run(1);
  const two = await run(2);
  assert.ok(Math.abs((one.losses[0] ?? 0) - (two.losses[0] ?? 1)) < 1e-5);
  assert.ok(Math.abs((one.losses[1] ?? 0) - (two.losses[1] ?? 1)) < 1e-4);
  let diff = 0;
  for (let i = 0; i < one.weights.length; i++) {
    diff = Math.max(diff, Math.abs((one.weights[i] ?? 0) - (two.weights[i] ?? 0)));
  }
  assert.ok(diff < 1e-5, `weights differ by ${diff}`);
});

test('early stopping stops after `patience` validations without improvement; no tensor leaks', async () => {
  await initTf('wasm');
  const tensorsBefore = tf.memory().numTensors;
  const scores = [0.5, 0.6, 0.55, 0.6, 0.59, 0.9];
  const validated: number[] = [];
  const result = await trainModel<TinyTaskConfig>({
    model: { module: taskModule, config: { unet } },
    nextEpoch: (epoch) => [thresholdBatch(2, epoch + 1)],
    epochs: 10,
    learningRate: 0.001,
    validate: async (_model, epoch) => {
      validated.push(epoch);
      return scores[epoch] ?? 0;
    },
    patience: 3,
  });
  assert.ok(result.stoppedEarly);
  assert.deepEqual(validated, [0, 1, 2, 3, 4]);
  assert.equal(result.bestEpoch, 1);
  assert.equal(result.bestScore, 0.6);
  assert.equal(result.history.length, 5);
  result.model.dispose();
  assert.equal(tf.memory().numTensors, tensorsBefore);
});

test('errors: non-finite loss, empty epochs, functions with two workers', async () => {
  const functions = {
    build: () => buildUNet(unet),
    lossOf: (model: tfl.LayersModel, inputs: tf.Tensor4D) =>
      tf.tidy(() => tf.mul(tf.mean(forwardTraining(model, inputs).mask ?? tf.scalar(0)), Number.NaN) as tf.Scalar),
  };
  await assert.rejects(
    trainModel({ model: functions, nextEpoch: () => [], epochs: 1, learningRate: 1, workers: 2 }),
    /needs the model as a module/,
  );
  await assert.rejects(
    trainModel<TinyTaskConfig>({
      model: { module: taskModule, config: { unet } },
      nextEpoch: () => [],
      epochs: 1,
      learningRate: 0.01,
    }),
    /produced no batches/,
  );
  await assert.rejects(
    trainModel({ model: functions, nextEpoch: () => [thresholdBatch(2, 1)], epochs: 1, learningRate: 0.01 }),
    /training loss is NaN/,
  );
});

test('learning-rate schedules', () => {
  assert.equal(scheduledLearningRate(0.1, 5, 10), 0.1);
  assert.ok(Math.abs(scheduledLearningRate(0.1, 4, 10, { kind: 'step', everyEpochs: 2, factor: 0.5 }) - 0.025) < 1e-12);
  assert.equal(scheduledLearningRate(0.1, 0, 10, { kind: 'cosine' }), 0.1);
  assert.ok(Math.abs(scheduledLearningRate(0.1, 5, 10, { kind: 'cosine', minLearningRate: 0.02 }) - 0.06) < 1e-12);
  assert.ok(scheduledLearningRate(0.1, 0, 10, { kind: 'cosine', warmupEpochs: 1 }) < 0.1);
});
