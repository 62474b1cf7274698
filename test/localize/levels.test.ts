import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canvasToHeatmap,
  decodeLevelChain,
  LEVEL_CHANNELS,
  levelCanvas,
  levelPointsOnImage,
  levelsOfDiscs,
} from '../../src/localize/levels.js';

/** Logits of `size × size × 5`: 12 × Gaussian peaks `[ivdLabel, x, y, height]`. */
function heatmaps(size: number, peaks: readonly [number, number, number, number][]): Float32Array {
  const maps = new Float32Array(size * size * LEVEL_CHANNELS);
  for (const [ivdLabel, px, py, height] of peaks) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = 12 * height * Math.exp(-((x - px) ** 2 + (y - py) ** 2) / 2);
        const at = (y * size + x) * LEVEL_CHANNELS + ivdLabel - 1;
        maps[at] = Math.max(maps[at] as number, v);
      }
    }
  }
  return maps;
}

const LADDER: [number, number, number, number][] = [
  [5, 20, 8, 0.9],
  [4, 21, 14, 0.9],
  [3, 22, 20, 0.9],
  [2, 23, 26, 0.9],
  [1, 25, 32, 0.9],
];

test('the level chain follows the ladder of peaks from L1/L2 at the top to L5/S1 at the bottom', () => {
  const points = decodeLevelChain(heatmaps(48, LADDER), 48);
  assert.deepEqual(
    points.map((p) => p.level),
    ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'],
  );
  for (const [label, x, y] of LADDER) {
    const point = points.find((p) => p.ivdLabel === label);
    assert.ok(point && Math.hypot(point.x - x, point.y - y) < 0.3, `level ${label} at its peak`);
  }
});

test('a stronger L5/S1 peak off the chain (above L4/L5) loses to the weaker one that continues the ladder', () => {
  // The independent argmax of the L5/S1 channel sits beside L3/L4: out of order, so the chain rejects it.
  const decoy: [number, number, number, number] = [1, 40, 20, 0.99];
  const weaker: [number, number, number, number] = [1, 25, 32, 0.85];
  const peaks = [...LADDER.filter(([label]) => label !== 1), decoy, weaker];
  const l5 = decodeLevelChain(heatmaps(48, peaks), 48).find((p) => p.ivdLabel === 1);
  assert.ok(l5 && Math.abs(l5.y - 32) < 0.5 && Math.abs(l5.x - 25) < 0.5, `L5/S1 at ${l5?.x}, ${l5?.y}`);
});

test('a level without any peak is left out; empty heatmaps give no points', () => {
  const points = decodeLevelChain(heatmaps(48, LADDER.slice(0, 4)), 48);
  assert.deepEqual(
    points.map((p) => p.ivdLabel),
    [5, 4, 3, 2],
  );
  assert.deepEqual(decodeLevelChain(new Float32Array(48 * 48 * 5), 48), []);
  assert.throws(() => decodeLevelChain(new Float32Array(10), 48), /level heatmaps/);
});

test('the level canvas fills its height with the image and maps heatmap points back to the image', () => {
  const width = 300;
  const height = 600;
  const pixels = new Float32Array(width * height).map((_, n) => (n % width) / width);
  const stretched = levelCanvas({ pixels, width, height, pixelSpacing: [0.5, 0.5] }, 96, 'stretch');
  assert.deepEqual(stretched.geometry.region, { x0: 0, y0: 0, x1: 96, y1: 96 });
  const physical = levelCanvas({ pixels, width, height, pixelSpacing: [0.5, 0.5] }, 96, 'spacing');
  assert.deepEqual(physical.geometry.region, { x0: 24, y0: 0, x1: 72, y1: 96 });
  // A point at image (150, 300) goes to the canvas and the heatmap grid and back.
  const [cx, cy] = stretched.geometry.imageToCanvas(150, 300);
  const [point] = levelPointsOnImage(
    [{ ivdLabel: 1, level: 'L5/S1', x: canvasToHeatmap(cx, 2), y: canvasToHeatmap(cy, 2), confidence: 1 }],
    stretched.geometry,
    2,
  );
  assert.ok(point && Math.abs(point.x - 150) < 1e-6 && Math.abs(point.y - 300) < 1e-6);
});

test('outlined discs take the level of the nearest level point within 10 mm, one disc per level', () => {
  const square = (x: number, y: number): [number, number][] => [
    [x - 5, y - 2],
    [x + 5, y - 2],
    [x + 5, y + 2],
    [x - 5, y + 2],
  ];
  const discs = [{ outline: square(50, 20) }, { outline: square(50, 50) }, { outline: square(50, 80) }];
  const point = (ivdLabel: number, y: number, confidence = 0.9) => ({ ivdLabel, level: '', x: 56, y, confidence });
  assert.deepEqual(levelsOfDiscs(discs, [point(2, 21), point(1, 52)], [1, 1]), [2, 1, undefined]);
  // A point 20 mm from every outline names none; the more confident of two rivals wins the disc.
  assert.deepEqual(levelsOfDiscs(discs, [point(3, 110)], [1, 1]), [undefined, undefined, undefined]);
  assert.deepEqual(levelsOfDiscs(discs, [point(2, 50, 0.5), point(1, 51, 0.8)], [1, 1]), [undefined, 1, undefined]);
});

test('a large slice is block-averaged first; the geometry still maps the canvas and the slice exactly both ways', () => {
  const width = 1000;
  const height = 1000;
  const pixels = new Float32Array(width * height).fill(0.1);
  // A bright 120 × 120 square centred at (300.5, 700.5).
  for (let y = 641; y < 761; y++) pixels.fill(5, y * width + 241, y * width + 361);
  const { image, geometry } = levelCanvas({ pixels, width, height, pixelSpacing: [0.4, 0.4] }, 64);
  const [cx, cy] = geometry.imageToCanvas(300.5, 700.5);
  const [bx, by] = geometry.canvasToImage(cx, cy);
  assert.ok(Math.abs(bx - 300.5) < 1e-9 && Math.abs(by - 700.5) < 1e-9);
  // The centroid of the brightest canvas pixels is the square's centre.
  let sum = 0;
  let sx = 0;
  let sy = 0;
  image.forEach((v, n) => {
    if (v < 0.99) return;
    sum += 1;
    sx += n % 64;
    sy += Math.floor(n / 64);
  });
  assert.ok(Math.hypot(sx / sum - cx, sy / sum - cy) < 0.3, `bright centroid ${sx / sum}, ${sy / sum} vs ${cx}, ${cy}`);
});
