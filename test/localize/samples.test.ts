import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDataset } from '../../src/datasets/index.js';
import type { MaskSliceRecord, SeriesRecord } from '../../src/datasets/types.js';
import { SpinegradeError } from '../../src/errors.js';
import {
  buildLocalizerSamples,
  type LocalizerSample,
  normalizeCanvasImage,
  semanticClassesOfMask,
  seriesSample,
} from '../../src/localize/samples.js';
import { toCanvas } from '../../src/transforms/canvas.js';
import { REPO_ROOT } from '../helpers/cli.js';

const MINI = join(REPO_ROOT, 'test/fixtures/datasets/spider-2d-mini');
const OPTIONS = { size: 96, spacingMm: 1.5 };

function count(samples: readonly LocalizerSample[], pick: (s: LocalizerSample) => boolean): number {
  return samples.filter(pick).length;
}

test('the mini SPIDER dataset gives 6 mask samples and 3 keypoint samples by default', async () => {
  const dataset = await readDataset(MINI);
  const progress: number[] = [];
  const samples = await buildLocalizerSamples(dataset, OPTIONS, (done, total) => progress.push(done / total));
  assert.equal(samples.length, 9);
  assert.equal(progress.at(-1), 1);
  const masks = samples.filter((s) => s.semantic !== null);
  const keyed = samples.filter((s) => s.keypoints !== null);
  assert.equal(masks.length, 6);
  assert.equal(keyed.length, 3);
  assert.ok(masks.every((s) => s.sequence === 'T2SPACE' && s.keypoints === null));
  assert.deepEqual(keyed.map((s) => s.series).sort(), ['1_t2', '5_t2', '7_t2']);
  assert.deepEqual(
    masks.map((s) => s.id),
    dataset.maskSlices.map((m) => m.id),
  );
});

test('mask samples hold all four semantic classes and only those', async () => {
  const samples = await buildLocalizerSamples(await readDataset(MINI), {
    ...OPTIONS,
    include: { keypointSeries: false },
  });
  assert.equal(samples.length, 6);
  for (const sample of samples) {
    assert.ok(sample.semantic);
    assert.equal(sample.semantic.length, 96 * 96);
    assert.deepEqual(
      [...new Set(sample.semantic)].sort((a, b) => a - b),
      [0, 1, 2, 3],
      `${sample.id} lacks a class`,
    );
  }
});

test('keypoints that fall off a small canvas are left out, and an annotated series keeps an array', async () => {
  const samples = await buildLocalizerSamples(await readDataset(MINI), { ...OPTIONS, include: { maskSlices: false } });
  // 5_t2 is 300 mm tall: its L5/S1 point (row 94.5 of 128) lies below the central 144 mm.
  const tall = samples.find((s) => s.id === '5_t2');
  assert.deepEqual(
    tall?.keypoints?.map((p) => p.ivdLabel),
    [5, 4, 3, 2],
  );
  for (const sample of samples) {
    for (const point of sample.keypoints ?? []) assert.ok(point.y >= -0.5 && point.y < 95.5);
  }
});

test('keypoint samples hold five lumbar keypoints inside the canvas, at the image point the map gives', async () => {
  const dataset = await readDataset(MINI);
  const samples = await buildLocalizerSamples(dataset, { size: 192, spacingMm: 1.5, include: { maskSlices: false } });
  assert.equal(samples.length, 3);
  for (const sample of samples) {
    assert.ok(sample.keypoints);
    assert.deepEqual(sample.keypoints.map((p) => p.ivdLabel).sort(), [1, 2, 3, 4, 5]);
    const series = dataset.series.find((s) => s.id === sample.series);
    assert.ok(series);
    for (const point of sample.keypoints) {
      assert.ok(point.x >= 0 && point.x < 192 && point.y >= 0 && point.y < 192, `${sample.id}: ${point.x},${point.y}`);
      const original = series.keypoints.find((k) => k.ivdLabel === point.ivdLabel);
      assert.ok(original);
      const [x, y] = sample.canvas.canvasToImage(point.x, point.y);
      assert.ok(Math.abs(x - original.x) < 1e-6 && Math.abs(y - original.y) < 1e-6);
    }
    // Keypoints are superior (smaller y) for higher discs.
    const byLabel = [...sample.keypoints].sort((a, b) => a.ivdLabel - b.ivdLabel);
    for (let n = 1; n < byLabel.length; n++)
      assert.ok((byLabel[n] as { y: number }).y < (byLabel[n - 1] as { y: number }).y);
  }
});

test('unlabelled samples are the T1 series (T2 SPACE series with mask slices are not repeated)', async () => {
  const samples = await buildLocalizerSamples(await readDataset(MINI), {
    ...OPTIONS,
    include: { maskSlices: false, keypointSeries: false, unlabelledSeries: true },
  });
  assert.deepEqual(samples.map((s) => s.id).sort(), ['1_t1', '5_t1', '7_t1']);
  assert.ok(samples.every((s) => s.semantic === null && s.keypoints === null && s.sequence === 'T1'));
});

test('a patient filter keeps only those patients', async () => {
  const samples = await buildLocalizerSamples(await readDataset(MINI), {
    ...OPTIONS,
    patients: new Set(['5']),
    include: { unlabelledSeries: true },
  });
  assert.ok(samples.length > 0 && samples.every((s) => s.patient === '5'));
  assert.equal(
    count(samples, (s) => s.semantic !== null),
    3,
  );
  assert.equal(
    count(samples, (s) => s.keypoints !== null),
    1,
  );
  assert.equal(
    count(samples, (s) => s.semantic === null && s.keypoints === null),
    1,
  );
});

test('sample images are normalised to [0, 1] over the image region with zero padding', async () => {
  const samples = await buildLocalizerSamples(await readDataset(MINI), { size: 160, spacingMm: 1.5 });
  for (const sample of samples) {
    const { region, size } = sample.canvas;
    assert.equal(sample.image.length, size * size);
    let max = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = sample.image[y * size + x] as number;
        assert.ok(v >= 0 && v <= 1);
        const inside = x >= region.x0 && x < region.x1 && y >= region.y0 && y < region.y1;
        if (!inside) assert.equal(v, 0);
        max = Math.max(max, v);
      }
    }
    assert.equal(max, 1, `${sample.id} reaches 1 (its 99th percentile)`);
  }
});

test('series samples use the series pixel spacing, even when it is not square', async () => {
  const pixels = new Float32Array(40 * 100).map((_, n) => n % 40);
  const record: SeriesRecord = {
    id: 'X_t2',
    patient: 'X',
    sequence: 'T2',
    keypoints: [{ ivdLabel: 3, level: 'L3/L4', x: 20, y: 50 }],
    loadMidSagittal: async () => ({ pixels, width: 40, height: 100, pixelSpacing: [3, 1.5] }),
  };
  const sample = await seriesSample(record, { size: 96, spacingMm: 1.5 }, true);
  assert.deepEqual(sample.canvas.resampledSize, [80, 100]);
  assert.deepEqual(
    sample.keypoints?.map((p) => [p.x, p.y]),
    [[48.5, 48]],
  );
});

test('mask values other than 0/29/76/150 are refused, and the known ones map to classes 0-3', () => {
  assert.deepEqual([...semanticClassesOfMask(Uint8Array.of(0, 29, 76, 150))], [0, 1, 2, 3]);
  assert.throws(() => semanticClassesOfMask(Uint8Array.of(0, 30)), SpinegradeError);
});

test('a constant image normalises to zeros', () => {
  const canvas = toCanvas(
    { pixels: new Float32Array(100).fill(5), width: 10, height: 10, pixelSpacing: [1, 1] },
    {
      size: 16,
      spacingMm: 1,
    },
  );
  assert.ok(normalizeCanvasImage(canvas).every((v) => v === 0));
});

test('a mask slice whose mask does not match its image is refused', async () => {
  const record: MaskSliceRecord = {
    id: 'bad.png',
    patient: 'X',
    series: 'X_t2_SPACE',
    loadImage: async () => ({ pixels: new Float32Array(16), width: 4, height: 4, pixelSpacing: [1, 1] }),
    loadMask: async () => new Uint8Array(9),
  };
  const dataset = {
    root: '',
    layout: 'spider-2d' as const,
    patients: ['X'],
    series: [],
    discs: [],
    maskSlices: [record],
    notes: [],
  };
  await assert.rejects(buildLocalizerSamples(dataset, OPTIONS), SpinegradeError);
});
