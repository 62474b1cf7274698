import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SpinegradeError } from '../../../src/errors.js';
import { initTf, tf, tfl } from '../../../src/models/tf/backend.js';
import { fileSystemHandler, float16Bits, loadModel, readModelMetadata, saveModel } from '../../../src/models/tf/io.js';
import { buildUNet } from '../../../src/models/tf/layers.js';
import { tempFolder } from '../../helpers/tmp.js';
import { seededValues } from './tfHelpers.js';

await initTf('wasm');

function smallModel(): tfl.LayersModel {
  return buildUNet({
    inputShape: [8, 8, 2],
    baseFilters: 3,
    depth: 1,
    heads: [
      { name: 'seg', channels: 3, activation: 'softmax' },
      { name: 'heat', channels: 1, activation: 'linear' },
    ],
  });
}

function predictAll(model: tfl.LayersModel): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(seededValues(2 * 8 * 8 * 2, 3), [2, 8, 8, 2]);
    const out = model.predict(x) as tf.Tensor[];
    return out.map((t) => t.dataSync() as Float32Array);
  });
}

test('save and load round trip: same predictions, names, metadata; overwrite allowed', async (t) => {
  const dir = join(await tempFolder(t), 'nested', 'model');
  const model = smallModel();
  // Non-trivial batch-norm statistics, so that non-trainable weights are checked too.
  for (const w of model.nonTrainableWeights) {
    tf.tidy(() => {
      w.write(tf.add(w.read(), tf.randomUniform(w.shape as number[], 0.1, 0.5)));
    });
  }
  await saveModel(model, dir, { kind: 'test', classes: ['a', 'b'] });
  await saveModel(model, dir, { kind: 'test', classes: ['a', 'b'] });
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  assert.equal(json.format, 'layers-model');
  assert.match(json.generatedBy, /TensorFlow\.js/);
  assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
  assert.deepEqual(json.userDefinedMetadata, { kind: 'test', classes: ['a', 'b'] });
  assert.deepEqual(await readModelMetadata(dir), { kind: 'test', classes: ['a', 'b'] });
  const loaded = await loadModel(dir);
  assert.deepEqual(loaded.outputNames, ['seg', 'heat']);
  assert.deepEqual(
    loaded.weights.map((w) => w.originalName),
    model.weights.map((w) => w.originalName),
  );
  const expected = predictAll(model);
  const actual = predictAll(loaded);
  expected.forEach((values, i) => assert.deepEqual(actual[i], values));
  assert.deepEqual(loaded.getUserDefinedMetadata(), { kind: 'test', classes: ['a', 'b'] });
  model.dispose();
  loaded.dispose();
});

test('float16 weights halve weights.bin and predict within float16 precision', async (t) => {
  const dir = await tempFolder(t);
  const model = smallModel();
  await saveModel(model, join(dir, 'f32'));
  await saveModel(model, join(dir, 'f16'), undefined, { float16: true });
  const full = (await readFile(join(dir, 'f32', 'weights.bin'))).byteLength;
  const half = (await readFile(join(dir, 'f16', 'weights.bin'))).byteLength;
  assert.equal(half * 2, full);
  const loaded = await loadModel(join(dir, 'f16'));
  const expected = predictAll(model);
  const actual = predictAll(loaded);
  expected.forEach((values, i) => {
    values.forEach((v, j) => assert.ok(Math.abs(v - (actual[i]?.[j] ?? 0)) < 2e-2 * Math.max(1, Math.abs(v))));
  });
  model.dispose();
  loaded.dispose();
});

test('float16 encoding rounds to nearest even and handles specials', () => {
  assert.equal(float16Bits(0), 0);
  assert.equal(float16Bits(-0), 0x8000);
  assert.equal(float16Bits(1), 0x3c00);
  assert.equal(float16Bits(-2), 0xc000);
  assert.equal(float16Bits(65504), 0x7bff);
  assert.equal(float16Bits(1e6), 0x7c00);
  assert.equal(float16Bits(Number.POSITIVE_INFINITY), 0x7c00);
  assert.equal(float16Bits(Number.NaN) & 0x7e00, 0x7e00);
  assert.equal(float16Bits(2 ** -24), 1);
  assert.equal(float16Bits(2 ** -26), 0);
  assert.equal(float16Bits(1 + 2 ** -11), 0x3c00);
  assert.equal(float16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(float16Bits(0.1), 0x2e66);
});

test('loading reports missing, truncated and malformed models as SpinegradeErrors', async (t) => {
  const dir = await tempFolder(t);
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof SpinegradeError && e.kind === 'NOT_FOUND');
  const model = smallModel();
  await saveModel(model, dir);
  model.dispose();
  const weights = await readFile(join(dir, 'weights.bin'));
  await writeFile(join(dir, 'weights.bin'), weights.subarray(0, weights.byteLength - 8));
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof SpinegradeError && e.kind === 'TRUNCATED');
  await writeFile(join(dir, 'model.json'), '{"modelTopology": ');
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof SpinegradeError && e.kind === 'INVALID_HEADER');
  await writeFile(
    join(dir, 'model.json'),
    JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['../x.bin'], weights: [] }] }),
  );
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof SpinegradeError && e.kind === 'INVALID_HEADER');
});

test('fileSystemHandler works with model.save / tfl.loadLayersModel directly', async (t) => {
  const dir = await tempFolder(t);
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], name: 'd' })] });
  const result = await model.save(fileSystemHandler(dir));
  assert.equal(result.modelArtifactsInfo.weightDataBytes, (3 * 2 + 2) * 4);
  const loaded = await tfl.loadLayersModel(fileSystemHandler(dir));
  const [a, b] = tf.tidy(() => {
    const x = tf.tensor2d([[1, 2, 3]]);
    return [(model.predict(x) as tf.Tensor).dataSync(), (loaded.predict(x) as tf.Tensor).dataSync()];
  });
  assert.deepEqual(a, b);
  model.dispose();
  loaded.dispose();
});
