import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradCamBatch } from '../../src/explain/gradcam.js';
import type { GradCamMap } from '../../src/explain/heat.js';
import { linearHeadCamBatch, loadLinearHeadCam } from '../../src/explain/linearCam.js';
import { GRADER_HEADS } from '../../src/grade/loss.js';
import { initTf, tfl } from '../../src/models/tf/backend.js';
import { loadModel, saveModel } from '../../src/models/tf/io.js';
import { GRADER_MODEL_DIR } from '../../src/store/store.js';
import { tempFolder } from '../helpers/tmp.js';
import { seededValues } from '../models/tf/tfHelpers.js';

await initTf('wasm');

function assertSameMaps(actual: readonly GradCamMap[], expected: readonly GradCamMap[], what: string): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((map, n) => {
    const other = expected[n] as GradCamMap;
    assert.equal(map.width, other.width);
    assert.ok(
      Math.abs(map.peak - other.peak) <= 1e-5 * Math.max(1, other.peak),
      `${what} crop ${n}: peak ${map.peak} vs ${other.peak}`,
    );
    let worst = 0;
    for (let i = 0; i < map.heat.length; i++)
      worst = Math.max(worst, Math.abs((map.heat[i] as number) - (other.heat[i] as number)));
    assert.ok(worst < 1e-4, `${what} crop ${n}: heat differs by ${worst}`);
  });
}

test("the bundled grader's Grad-CAM in closed form equals the one from TensorFlow.js gradients, for every head", async () => {
  const cam = await loadLinearHeadCam(GRADER_MODEL_DIR, Object.keys(GRADER_HEADS), { engine: 'auto' });
  assert.ok(cam, 'the bundled heads are linear over the average of the features');
  const model = await loadModel(GRADER_MODEL_DIR);
  const crops = [0, 1, 2].map((seed) => seededValues(56 * 56, seed + 40).map((v) => (v + 1) / 2));
  for (const [output, index] of [
    ['pfirrmann', 0],
    ['pfirrmann', 4],
    ['modic', 2],
    ['findings', 5],
  ] as const) {
    assertSameMaps(
      linearHeadCamBatch(cam, crops, { output, index }),
      gradCamBatch(model, crops, { output, index }),
      `${output}[${index}]`,
    );
  }
  assert.throws(
    () => linearHeadCamBatch(cam, crops, { output: 'pfirrmann', index: 5 }),
    /index 5 is outside head "pfirrmann"/,
  );
  cam.features.dispose();
  model.dispose();
});

test('a head that is not linear over the averaged features has no closed form (Grad-CAM then takes gradients)', async (t) => {
  const dir = await tempFolder(t);
  const input = tfl.input({ shape: [8, 8, 1], name: 'crop' });
  const features = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'features' }).apply(input);
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(features);
  const hidden = tfl.layers.dense({ units: 4, activation: 'relu', name: 'hidden' }).apply(pooled);
  const head = tfl.layers.dense({ units: 2, name: 'head' }).apply(hidden) as tfl.SymbolicTensor;
  const softmax = tfl.layers
    .dense({ units: 2, activation: 'softmax', name: 'soft' })
    .apply(pooled) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: [head, softmax] });
  await saveModel(model, dir);
  assert.equal(await loadLinearHeadCam(dir, ['head'], { engine: 'auto' }), undefined, 'a hidden layer between');
  assert.equal(await loadLinearHeadCam(dir, ['soft'], { engine: 'auto' }), undefined, 'a softmax head');
  model.dispose();
});
