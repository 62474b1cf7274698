import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cropDisc, cropPlacement, DEFAULT_CROP_CONFIG } from '../../src/grade/crops.js';
import type { Image2D } from '../../src/transforms/resample.js';

/** A 200 × 160 slice at 0.5 mm with a bright horizontal band (a "disc") 6 px tall centred at y = 80. */
function bandImage(): Image2D {
  const width = 200;
  const height = 160;
  const pixels = new Float32Array(width * height).fill(20);
  for (let y = 77; y <= 83; y++) for (let x = 40; x < 160; x++) pixels[y * width + x] = 200;
  return { pixels, width, height, pixelSpacing: [0.5, 0.5] };
}

test('crop and slice coordinates map back and forth exactly', () => {
  const placement = cropPlacement(
    { ...bandImage(), pixelSpacing: [0.5, 0.7] },
    { center: [100, 80], axis: [0.96, 0.28] },
    DEFAULT_CROP_CONFIG,
  );
  for (const [u, v] of [
    [0, 0],
    [27.5, 27.5],
    [55, 10],
  ] as const) {
    const [x, y] = placement.cropToSlice(u, v);
    const [u2, v2] = placement.sliceToCrop(x, y);
    assert.ok(Math.abs(u2 - u) < 1e-9 && Math.abs(v2 - v) < 1e-9);
  }
});

test('a flat disc lies along the middle row of its crop, shifted anterior by the posterior offset', () => {
  const image = bandImage();
  const crop = cropDisc(image, { center: [100, 80], axis: [1, 0] });
  const size = crop.size;
  const half = (size - 1) / 2;
  // Row means: the band is the brightest row, at the crop's middle.
  const rowMean = (v: number): number => {
    let s = 0;
    for (let u = 0; u < size; u++) s += crop.pixels[v * size + u] as number;
    return s / size;
  };
  const rows = Array.from({ length: size }, (_, v) => rowMean(v));
  const top = Math.max(...rows);
  const bright = rows.flatMap((m, v) => (m > 0.5 * top ? [v] : []));
  const middle = bright.reduce((s, v) => s + v, 0) / bright.length;
  assert.ok(Math.abs(middle - half) <= 0.5, `band centred at row ${middle}`);
  // The disc centre (slice x = 100) sits 8 mm (8 crop pixels at 1 mm) left of the crop centre.
  const [u] = crop.placement.sliceToCrop(100, 80);
  assert.ok(Math.abs(u - (half - 8)) < 1e-9);
});

test('the crop follows the disc axis: a tilted disc comes out level, and an axis given anterior-pointing is turned posterior', () => {
  const width = 200;
  const height = 200;
  const pixels = new Float32Array(width * height).fill(20);
  const angle = (20 * Math.PI) / 180;
  const axis: [number, number] = [Math.cos(angle), Math.sin(angle)];
  for (let t = -60; t <= 60; t += 0.25) {
    for (let s = -3; s <= 3; s += 0.25) {
      const x = Math.round(100 + t * axis[0] - s * axis[1]);
      const y = Math.round(100 + t * axis[1] + s * axis[0]);
      pixels[y * width + x] = 200;
    }
  }
  const image: Image2D = { pixels, width, height, pixelSpacing: [0.5, 0.5] };
  const forward = cropDisc(image, { center: [100, 100], axis });
  const backward = cropDisc(image, { center: [100, 100], axis: [-axis[0], -axis[1]] });
  assert.deepEqual(backward.pixels, forward.pixels);
  const size = forward.size;
  const half = Math.round((size - 1) / 2);
  // Along the middle row the band is bright from left to right; two rows off by 6 mm it is not.
  const at = (u: number, v: number): number => forward.pixels[v * size + u] as number;
  assert.ok(at(5, half) > 0.5 && at(45, half) > 0.5);
  assert.ok(at(5, half - 6) < 0.3 && at(45, half + 6) < 0.3);
});
