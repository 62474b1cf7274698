import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ContextBatch,
  type ContextModelConfig,
  createContextModel,
  disposeContextModel,
  saveContextModel,
} from '../../src/grade/context.js';
import { loadContextPredictor } from '../../src/grade/contextOnnx.js';
import { GRADER_HEADS } from '../../src/grade/loss.js';
import { mulberry32 } from '../../src/metrics/random.js';
import { onnxRuntimeAvailable } from '../../src/models/onnx/runtime.js';
import { initTf, tf } from '../../src/models/tf/backend.js';
import { tempFolder } from '../helpers/tmp.js';

await initTf('wasm');

const NO_ONNXRUNTIME = onnxRuntimeAvailable() ? false : 'onnxruntime-node is not installed (an optional dependency)';

function randomBatch(config: ContextModelConfig, spines: number, seed: number): ContextBatch {
  const random = mulberry32(seed);
  const values = (n: number): Float32Array => Float32Array.from({ length: n }, () => 2 * random() - 1);
  const slots = spines * config.levels;
  return {
    spines,
    embeddings: values(slots * config.embeddingSize),
    // Empty slots in every spine, and one spine with a single disc.
    mask: Uint8Array.from({ length: slots }, (_, i) => (i < config.levels ? Number(i === 2) : Number(i % 3 !== 0))),
    cnnLogits: {
      pfirrmann: values(slots * GRADER_HEADS.pfirrmann),
      modic: values(slots * GRADER_HEADS.modic),
      findings: values(slots * GRADER_HEADS.findings),
    },
  };
}

function smallConfig(overrides: Partial<ContextModelConfig>): ContextModelConfig {
  return {
    embeddingSize: 12,
    modelSize: 8,
    heads: 2,
    layers: 2,
    levels: 6,
    dropout: 0.1,
    seed: 3,
    cnnLogitResidual: true,
    ...overrides,
  };
}

for (const cnnLogitResidual of [true, false]) {
  test(`the context model gives the same logits on onnxruntime as on TensorFlow.js (CNN-logit residual ${cnnLogitResidual})`, {
    skip: NO_ONNXRUNTIME,
  }, async (t) => {
    const dir = await tempFolder(t);
    const config = smallConfig({ cnnLogitResidual });
    const model = createContextModel(config);
    // Every weight random (the residual model's heads start at zero; normalisation would be the identity).
    const random = mulberry32(17);
    for (const p of model.parameters) {
      const values = Float32Array.from({ length: p.variable.size }, () => 2 * random() - 1);
      if (p.name === 'input/std') values.forEach((v, i) => (values[i] = 0.5 + Math.abs(v)));
      tf.tidy(() => p.variable.assign(tf.tensor(values, p.variable.shape)));
    }
    await saveContextModel(model, dir);
    disposeContextModel(model);
    const onnx = await loadContextPredictor(dir, 'onnx');
    const tfjs = await loadContextPredictor(dir, 'tfjs');
    assert.equal(onnx.engine, 'onnx');
    assert.equal(tfjs.engine, 'tfjs');
    const batch = randomBatch(config, 3, 5);
    const a = onnx.predict(batch);
    const b = tfjs.predict(batch);
    for (const head of ['pfirrmann', 'modic', 'findings'] as const) {
      assert.equal(a[head].length, 3 * config.levels * GRADER_HEADS[head]);
      let worst = 0;
      for (let i = 0; i < a[head].length; i++)
        worst = Math.max(worst, Math.abs((a[head][i] as number) - (b[head][i] as number)));
      assert.ok(worst < 1e-4, `${head}: largest difference ${worst}`);
    }
    onnx.dispose();
    tfjs.dispose();
  });
}

test('the onnxruntime context model checks its batch as the TensorFlow.js one does', {
  skip: NO_ONNXRUNTIME,
}, async (t) => {
  const dir = await tempFolder(t);
  const config = smallConfig({ embeddingSize: 4, modelSize: 4, heads: 1, layers: 1, levels: 3 });
  const model = createContextModel(config);
  await saveContextModel(model, dir);
  disposeContextModel(model);
  const onnx = await loadContextPredictor(dir, 'onnx');
  const { cnnLogits: _, ...withoutLogits } = randomBatch(config, 1, 1);
  assert.throws(() => onnx.predict(withoutLogits), /must carry cnnLogits/);
  onnx.dispose();
});
