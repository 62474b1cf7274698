import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SpinegradeError } from '../../../src/errors.js';
import { GRADER_NETWORK_OUTPUTS } from '../../../src/grade/grader.js';
import { LOCALIZER_OUTPUTS } from '../../../src/localize/localizer.js';
import type { Network, NetworkOutput } from '../../../src/models/engine.js';
import { loadNetwork } from '../../../src/models/network.js';
import { onnxRuntimeAvailable } from '../../../src/models/onnx/runtime.js';
import { initTf, tf, tfl } from '../../../src/models/tf/backend.js';
import { saveModel } from '../../../src/models/tf/io.js';
import { DEFAULT_LOCALIZER_DIR, GRADER_MODEL_DIR } from '../../../src/store/store.js';
import { tempFolder } from '../../helpers/tmp.js';
import { seededValues } from '../tf/tfHelpers.js';

await initTf('wasm');

function maxDifference(a: readonly NetworkOutput[], b: readonly NetworkOutput[]): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  a.forEach(({ data: x, dims }, k) => {
    const { data: y, dims: expected } = b[k] as NetworkOutput;
    assert.deepEqual(dims, expected, `output ${k}: shape [${dims}] on onnxruntime, [${expected}] on tfjs`);
    assert.equal(x.length, y.length, `output ${k} has ${x.length} values on onnxruntime, ${y.length} on tfjs`);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)));
  });
  return worst;
}

/** Every layer kind the exporter supports, with odd sizes where TensorFlow's "same" padding is asymmetric. */
function everyLayerModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [15, 15, 2], name: 'image' });
  const strided = tfl.layers
    .conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'strided' })
    .apply(input) as tfl.SymbolicTensor;
  const normalized = tfl.layers.batchNormalization({ name: 'bn' }).apply(strided) as tfl.SymbolicTensor;
  const relu = tfl.layers.activation({ activation: 'relu', name: 'relu' }).apply(normalized) as tfl.SymbolicTensor;
  const valid = tfl.layers
    .conv2d({ filters: 4, kernelSize: 3, padding: 'valid', activation: 'tanh', name: 'valid' })
    .apply(relu) as tfl.SymbolicTensor;
  const same = tfl.layers
    .conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'sigmoid', name: 'same' })
    .apply(valid) as tfl.SymbolicTensor;
  const added = tfl.layers.add({ name: 'added' }).apply([valid, same]) as tfl.SymbolicTensor;
  const pooled = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pooled' }).apply(added) as tfl.SymbolicTensor;
  const up = tfl.layers
    .conv2dTranspose({ filters: 3, kernelSize: 2, strides: 2, padding: 'same', name: 'up' })
    .apply(pooled) as tfl.SymbolicTensor;
  const joined = tfl.layers.concatenate({ axis: -1, name: 'joined' }).apply([up, added]) as tfl.SymbolicTensor;
  const map = tfl.layers
    .conv2d({ filters: 3, kernelSize: 1, activation: 'softmax', name: 'map' })
    .apply(joined) as tfl.SymbolicTensor;
  const features = tfl.layers.globalAveragePooling2d({ name: 'features' }).apply(joined) as tfl.SymbolicTensor;
  const dropped = tfl.layers.dropout({ rate: 0.5, name: 'dropped' }).apply(features) as tfl.SymbolicTensor;
  const scores = tfl.layers.dense({ units: 5, name: 'scores' }).apply(dropped) as tfl.SymbolicTensor;
  const probabilities = tfl.layers
    .dense({ units: 3, activation: 'softmax', name: 'probabilities' })
    .apply(dropped) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: [map, scores, probabilities], name: 'every_layer' });
  // Non-trivial batch-norm statistics and weights, so that every parameter is checked.
  model.weights.forEach((w, n) => {
    tf.tidy(() => {
      const values = seededValues(w.shape.reduce((a, b) => (a as number) * (b as number), 1) as number, 11 + n);
      const positive = w.name.includes('variance') ? values.map((v) => 0.5 + Math.abs(v)) : values;
      w.write(tf.tensor(positive, w.shape as number[]));
    });
  });
  return model;
}

async function bothEngines(dir: string, outputs: readonly string[]): Promise<{ onnx: Network; tfjs: Network }> {
  return { onnx: await loadNetwork(dir, outputs, 'onnx'), tfjs: await loadNetwork(dir, outputs, 'tfjs') };
}

/** The onnxruntime tests skip, saying why, where the optional onnxruntime-node is not installed. */
const NO_ONNXRUNTIME = onnxRuntimeAvailable() ? false : 'onnxruntime-node is not installed (an optional dependency)';

test('onnxruntime loads here (required where SPINEGRADE_REQUIRE_ONNXRUNTIME=1, as in CI)', (t) => {
  if (NO_ONNXRUNTIME && process.env.SPINEGRADE_REQUIRE_ONNXRUNTIME !== '1') {
    t.skip(NO_ONNXRUNTIME);
    return;
  }
  assert.equal(onnxRuntimeAvailable(), true);
});

test('every supported layer gives the same outputs on onnxruntime as on TensorFlow.js, intermediate layers too', {
  skip: NO_ONNXRUNTIME,
}, async (t) => {
  const dir = await tempFolder(t);
  const model = everyLayerModel();
  await saveModel(model, dir);
  const outputs = ['map', 'scores', 'probabilities', 'features', 'strided'];
  const { onnx, tfjs } = await bothEngines(dir, outputs);
  assert.equal(onnx.engine, 'onnx');
  assert.equal(tfjs.engine, 'tfjs');
  const input = seededValues(3 * 15 * 15 * 2, 5);
  const shape = [3, 15, 15, 2] as const;
  const a = onnx.run(input, shape);
  const b = tfjs.run(input, shape);
  // 15 → 8 (strided, padded at the end) → 6 (valid) → 3 (pooled) → 6 (transposed): map is 6×6×3.
  assert.deepEqual(a[0]?.dims, [3, 6, 6, 3]);
  assert.ok(maxDifference(a, b) < 1e-4, `largest difference ${maxDifference(a, b)}`);
  onnx.dispose();
  tfjs.dispose();
  model.dispose();
});

test('float16-quantised weights are decoded as TensorFlow.js decodes them', { skip: NO_ONNXRUNTIME }, async (t) => {
  const dir = await tempFolder(t);
  const model = everyLayerModel();
  await saveModel(model, dir, undefined, { float16: true });
  const { onnx, tfjs } = await bothEngines(dir, ['map', 'scores']);
  const input = seededValues(2 * 15 * 15 * 2, 9);
  assert.ok(maxDifference(onnx.run(input, [2, 15, 15, 2]), tfjs.run(input, [2, 15, 15, 2])) < 1e-4);
  onnx.dispose();
  tfjs.dispose();
  model.dispose();
});

test('a layer the exporter does not know: --engine onnx refuses naming it, auto falls back to TensorFlow.js', {
  skip: NO_ONNXRUNTIME,
}, async (t) => {
  const dir = await tempFolder(t);
  const input = tfl.input({ shape: [8, 8, 1], name: 'image' });
  const up = tfl.layers.upSampling2d({ size: [2, 2], name: 'upsample' }).apply(input) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: up });
  await saveModel(model, dir);
  await assert.rejects(
    loadNetwork(dir, ['upsample'], 'onnx'),
    (error: unknown) =>
      error instanceof SpinegradeError &&
      error.kind === 'USAGE' &&
      /upsample: UpSampling2D layers cannot be exported/.test(error.message),
  );
  const fallback = await loadNetwork(dir, ['upsample'], 'auto');
  assert.equal(fallback.engine, 'tfjs');
  fallback.dispose();
  model.dispose();
});

test('the bundled localiser and grader agree on both engines to 1e-5', { skip: NO_ONNXRUNTIME }, async () => {
  for (const [dir, outputs, shape] of [
    [DEFAULT_LOCALIZER_DIR, LOCALIZER_OUTPUTS, [2, 192, 192, 1]],
    [GRADER_MODEL_DIR, GRADER_NETWORK_OUTPUTS, [5, 56, 56, 1]],
  ] as const) {
    const { onnx, tfjs } = await bothEngines(dir, outputs);
    const input = seededValues(
      shape.reduce((a: number, b: number) => a * b, 1),
      21,
    ).map((v) => (v + 1) / 2);
    const difference = maxDifference(onnx.run(input, shape), tfjs.run(input, shape));
    assert.ok(difference < 1e-5, `${join(dir)}: largest difference ${difference}`);
    onnx.dispose();
    tfjs.dispose();
  }
});

test('a batch larger than one onnxruntime run is split and reassembled in order', {
  skip: NO_ONNXRUNTIME,
}, async () => {
  const onnx = await loadNetwork(DEFAULT_LOCALIZER_DIR, LOCALIZER_OUTPUTS, 'onnx');
  const one = seededValues(192 * 192, 3).map((v) => (v + 1) / 2);
  const two = seededValues(192 * 192, 4).map((v) => (v + 1) / 2);
  const batch = new Float32Array(3 * 192 * 192);
  batch.set(one, 0);
  batch.set(two, 192 * 192);
  batch.set(one, 2 * 192 * 192);
  const outputs = onnx.run(batch, [3, 192, 192, 1]);
  assert.deepEqual(outputs[0]?.dims, [3, 192, 192, 4]);
  const [semantic] = outputs.map((o) => o.data) as [Float32Array];
  const [alone] = onnx.run(two, [1, 192, 192, 1]).map((o) => o.data) as [Float32Array];
  const size = 192 * 192 * 4;
  assert.deepEqual(semantic.subarray(size, 2 * size), alone);
  assert.deepEqual(semantic.subarray(0, size), semantic.subarray(2 * size, 3 * size));
  onnx.dispose();
});
