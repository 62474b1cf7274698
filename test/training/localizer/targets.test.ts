import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpinegradeError } from '../../../src/errors.js';
import { renderTargets, type TargetSample, toBatch } from '../../../src/training/localizer/targets.js';

const SIZE = 32;

function sample(semantic: Uint8Array | null, keypoints: TargetSample['keypoints']): TargetSample {
  return { image: new Float32Array(SIZE * SIZE).fill(0.5), semantic, keypoints, canvas: { size: SIZE } };
}

function classes(): Uint8Array {
  return new Uint8Array(SIZE * SIZE).map((_, n) => (n % SIZE) % 4);
}

test('the semantic target is one-hot: it sums to 1 per pixel and marks the mask class', () => {
  const mask = classes();
  const targets = renderTargets(sample(mask, null), { sigmaPx: 2 });
  assert.equal(targets.semantic.length, SIZE * SIZE * 4);
  assert.equal(targets.semanticWeight, 1);
  for (let p = 0; p < SIZE * SIZE; p++) {
    const channels = targets.semantic.subarray(p * 4, p * 4 + 4);
    assert.equal(
      channels.reduce((a, b) => a + b, 0),
      1,
    );
    assert.equal(channels[mask[p] as number], 1);
  }
});

test('a sample without a mask gets weight 0 (and an all-background target)', () => {
  const targets = renderTargets(sample(null, null), { sigmaPx: 2 });
  assert.equal(targets.semanticWeight, 0);
  assert.equal(targets.heatmapWeight, 0);
  assert.ok(targets.heatmap.every((v) => v === 0));
});

test('the heatmap peaks with height 1 at each lumbar keypoint and ignores other levels', () => {
  const targets = renderTargets(
    sample(null, [
      { ivdLabel: 1, x: 10, y: 20 },
      { ivdLabel: 2, x: 12.5, y: 8 },
      { ivdLabel: 6, x: 25, y: 4 },
    ]),
    { sigmaPx: 1.5 },
  );
  assert.equal(targets.heatmap.length, SIZE * SIZE);
  assert.equal(targets.heatmapWeight, 1);
  assert.equal(targets.heatmap[20 * SIZE + 10], 1);
  const at = (x: number, y: number): number => targets.heatmap[y * SIZE + x] as number;
  // A local maximum at each lumbar point (a half-pixel point peaks on both neighbours).
  assert.ok(at(12, 8) > at(11, 8) && at(13, 8) > at(14, 8) && at(12, 8) > at(12, 7) && at(12, 8) > at(12, 9));
  assert.ok(Math.abs(at(12, 8) - Math.exp(-0.25 / (2 * 1.5 * 1.5))) < 1e-6);
  assert.ok(Math.abs(at(11, 20) - Math.exp(-1 / (2 * 1.5 * 1.5))) < 1e-6);
  assert.equal(at(25, 4), 0, 'T12/L1 is not a lumbar disc');
  assert.ok(Math.max(...targets.heatmap) <= 1);
});

test('overlapping peaks are max-combined, not added', () => {
  const targets = renderTargets(
    sample(null, [
      { ivdLabel: 1, x: 16, y: 16 },
      { ivdLabel: 2, x: 17, y: 16 },
    ]),
    { sigmaPx: 3 },
  );
  assert.equal(Math.max(...targets.heatmap), 1);
});

test('an annotated sample whose keypoints all left the canvas still has heatmap weight 1', () => {
  const targets = renderTargets(sample(null, []), { sigmaPx: 2 });
  assert.equal(targets.heatmapWeight, 1);
  assert.ok(targets.heatmap.every((v) => v === 0));
});

test('a batch stacks inputs and targets with the shapes the training engine expects', () => {
  const samples = [sample(classes(), null), sample(null, [{ ivdLabel: 3, x: 5, y: 6 }]), sample(null, null)];
  const batch = toBatch(samples, { sigmaPx: 2 });
  assert.deepEqual(batch.inputShape, [3, SIZE, SIZE, 1]);
  assert.equal(batch.inputs.length, 3 * SIZE * SIZE);
  assert.deepEqual(batch.targets.semantic.shape, [3, SIZE, SIZE, 4]);
  assert.equal(batch.targets.semantic.data.length, 3 * SIZE * SIZE * 4);
  assert.deepEqual(batch.targets.heatmap.shape, [3, SIZE, SIZE, 1]);
  assert.equal(batch.targets.heatmap.data.length, 3 * SIZE * SIZE);
  assert.deepEqual(batch.targets.semanticWeight.shape, [3]);
  assert.deepEqual([...batch.targets.semanticWeight.data], [1, 0, 0]);
  assert.deepEqual([...batch.targets.heatmapWeight.data], [0, 1, 0]);
  assert.equal(batch.targets.heatmap.data[SIZE * SIZE + 6 * SIZE + 5], 1);
  // The per-sample targets equal renderTargets of that sample.
  const single = renderTargets(samples[0] as TargetSample, { sigmaPx: 2 });
  assert.deepEqual(batch.targets.semantic.data.subarray(0, SIZE * SIZE * 4), single.semantic);
  // Structurally what the engine consumes.
  const engine: {
    inputs: Float32Array;
    inputShape: number[];
    targets: Record<string, { data: Float32Array; shape: number[] }>;
  } = batch;
  assert.equal(Object.keys(engine.targets).length, 4);
});

test('an empty batch, mixed canvas sizes or a non-positive sigma are refused', () => {
  assert.throws(() => toBatch([], { sigmaPx: 2 }), SpinegradeError);
  const other: TargetSample = { image: new Float32Array(16), semantic: null, keypoints: null, canvas: { size: 4 } };
  assert.throws(() => toBatch([sample(null, null), other], { sigmaPx: 2 }), SpinegradeError);
  assert.throws(() => renderTargets(sample(null, null), { sigmaPx: 0 }), SpinegradeError);
});
