import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SpinegradeError } from '../../../src/errors.js';
import { gradeSliceV2, loadGraderV2, type V2BundleInfo } from '../../../src/grade/v2.js';
import { DEFAULT_V2_CROP } from '../../../src/grade/v2Crops.js';
import { onnxRuntimeAvailable } from '../../../src/models/onnx/runtime.js';
import { initTf } from '../../../src/models/tf/backend.js';
import { saveModel } from '../../../src/models/tf/io.js';
import { buildModel } from '../../../src/training/grader/model.js';
import type { Image2D } from '../../../src/transforms/resample.js';
import { tempFolder } from '../../helpers/tmp.js';

await initTf('wasm');

function slice(): Image2D {
  const width = 240;
  const height = 320;
  const pixels = new Float32Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = ((i * 7919) % 251) + (Math.floor(i / width) % 40 < 6 ? 300 : 0);
  return { pixels, width, height, pixelSpacing: [1, 1] };
}

const POINTS = ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'].map((level, n) => ({
  level,
  x: 150 + 3 * n,
  y: 60 + 45 * n,
}));

test('a v2 bundle of two members grades every level point, the same on onnxruntime and TensorFlow.js', async (t) => {
  const dir = await tempFolder(t);
  for (const [n, seed] of [1, 2].entries()) {
    const model = buildModel({
      cropSize: DEFAULT_V2_CROP.size,
      filters: [4, 8],
      strides: [2, 2],
      dropout: 0,
      seed,
      loss: { modicClass: [1, 1, 1, 1], findingsPositive: [1, 1, 1, 1, 1, 1] },
      auxiliaryWeight: 1,
    });
    await saveModel(model, join(dir, `fold${n}`));
    model.dispose();
  }
  const ones = { pfirrmann: 1, modic: 1, findings: [1, 1, 1, 1, 1, 1] };
  const info: V2BundleInfo = {
    format: 'spinegrade-grader-v2',
    crop: DEFAULT_V2_CROP,
    ordinal: 'corn',
    members: ['fold0', 'fold1'],
    tta: true,
    temperatures: { T1: ones, T2: { ...ones, pfirrmann: 2 } },
    reviewThreshold: 0.99,
    recipe: 'test',
  };
  await writeFile(join(dir, 'grader-v2.json'), JSON.stringify(info));
  const tfjs = await loadGraderV2(dir, 'tfjs');
  const graded = gradeSliceV2(tfjs, slice(), POINTS, 'T2');
  assert.deepEqual(
    graded.map((g) => g.level),
    ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'],
  );
  for (const g of graded) {
    assert.ok(Math.abs(g.pfirrmann.reduce((s, p) => s + p, 0) - 1) < 1e-6);
    assert.equal(g.modic.length, 4);
    assert.equal(g.findings.length, 6);
    assert.equal(g.needsReview, true);
  }
  tfjs.dispose();
  if (onnxRuntimeAvailable()) {
    const onnx = await loadGraderV2(dir, 'onnx');
    assert.equal(onnx.members[0]?.engine, 'onnx');
    const again = gradeSliceV2(onnx, slice(), POINTS, 'T2');
    again.forEach((g, n) =>
      g.logits.pfirrmann.forEach((z, k) =>
        assert.ok(Math.abs(z - ((graded[n]?.logits.pfirrmann[k] as number) ?? 0)) < 1e-3),
      ),
    );
    onnx.dispose();
  }
});

test('a folder without a v2 description is a clear error naming the file', async (t) => {
  const dir = await tempFolder(t);
  await assert.rejects(
    loadGraderV2(dir, 'auto'),
    (e: unknown) => e instanceof SpinegradeError && /grader-v2\.json/.test(String(e.path)),
  );
});
