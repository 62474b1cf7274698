import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpinegradeError } from '../../src/errors.js';
import {
  canvasGeometry,
  canvasToImageClasses,
  canvasToImageProbabilities,
  resampleLabels,
  toCanvas,
} from '../../src/transforms/canvas.js';
import { gaussianBlur } from '../../src/transforms/filters.js';
import { type Image2D, resampleToSpacing } from '../../src/transforms/resample.js';

/** A `width × height` image of zeros with the given spacing. */
function blank(width: number, height: number, pixelSpacing: readonly [number, number]): Image2D {
  return { pixels: new Float32Array(width * height), width, height, pixelSpacing };
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let n = 1; n < values.length; n++) if ((values[n] as number) > (values[best] as number)) best = n;
  return best;
}

test('canvasToImage and imageToCanvas are exact inverses for non-square spacing, padded or cropped', () => {
  for (const [width, height, spacing, size] of [
    [120, 90, [0.6, 1.1], 64],
    [300, 400, [0.46875, 0.375], 96],
    [37, 200, [2.5, 0.9], 50],
  ] as const) {
    const geometry = canvasGeometry(width, height, spacing, { size, spacingMm: 1.5 });
    for (const [x, y] of [
      [0, 0],
      [12.3, 45.6],
      [width - 1, height - 1],
      [-3.2, 7],
    ] as const) {
      const [cx, cy] = geometry.imageToCanvas(x, y);
      const [bx, by] = geometry.canvasToImage(cx, cy);
      assert.ok(Math.abs(bx - x) < 1e-9 && Math.abs(by - y) < 1e-9, `${x},${y} came back as ${bx},${by}`);
      const [ix, iy] = geometry.canvasToImage(x, y);
      const [rx, ry] = geometry.imageToCanvas(ix, iy);
      assert.ok(Math.abs(rx - x) < 1e-9 && Math.abs(ry - y) < 1e-9);
    }
  }
});

test('a bright pixel of a non-square-spaced image lands on the canvas where imageToCanvas says', () => {
  const image = blank(200, 100, [0.5, 1.25]);
  const [px, py] = [61, 37];
  // A small blob, so the bilinear downsampling cannot miss it.
  for (let dy = -2; dy <= 2; dy++) {
    for (let dx = -5; dx <= 5; dx++) {
      image.pixels[(py + dy) * 200 + px + dx] = Math.exp(-(dx * dx) / 8 - (dy * dy) / 2);
    }
  }
  const canvas = toCanvas(image, { size: 96, spacingMm: 1.5 });
  assert.deepEqual(canvas.resampledSize, [67, 83]);
  const peak = argmax(canvas.pixels);
  const [cx, cy] = canvas.imageToCanvas(px, py);
  assert.ok(Math.abs((peak % 96) - cx) <= 0.5, `peak column ${peak % 96}, map says ${cx}`);
  assert.ok(Math.abs(Math.floor(peak / 96) - cy) <= 0.5, `peak row ${Math.floor(peak / 96)}, map says ${cy}`);
  // The canvas spacing is the target up to the rounding of the resampled size.
  assert.ok(Math.abs(canvas.pixelSpacing[0] - 1.5) < 0.02 && Math.abs(canvas.pixelSpacing[1] - 1.5) < 0.02);
});

test('toCanvas is resampleToSpacing centred on the canvas, with zero padding', () => {
  const image = blank(50, 80, [1.2, 0.9]);
  image.pixels.forEach((_, n) => {
    image.pixels[n] = 1 + ((n * 7919) % 101);
  });
  const canvas = toCanvas(image, { size: 64, spacingMm: 1.5 });
  const resampled = resampleToSpacing(image, [1.5, 1.5]);
  assert.deepEqual([resampled.width, resampled.height], [40, 48]);
  assert.deepEqual(canvas.offset, [12, 8]);
  assert.deepEqual(canvas.region, { x0: 12, y0: 8, x1: 52, y1: 56 });
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const inside = x >= 12 && x < 52 && y >= 8 && y < 56;
      const expected = inside ? (resampled.pixels[(y - 8) * 40 + (x - 12)] as number) : 0;
      assert.ok(Math.abs((canvas.pixels[y * 64 + x] as number) - expected) < 1e-4, `pixel ${x},${y}`);
    }
  }
});

test('an image larger than the canvas is cropped around its centre', () => {
  const image = blank(400, 400, [1, 1]);
  const canvas = toCanvas(image, { size: 100, spacingMm: 2 });
  assert.deepEqual(canvas.resampledSize, [200, 200]);
  assert.deepEqual(canvas.offset, [-50, -50]);
  assert.deepEqual(canvas.region, { x0: 0, y0: 0, x1: 100, y1: 100 });
  const [x, y] = canvas.canvasToImage(49.5, 49.5);
  assert.ok(Math.abs(x - 199.5) < 1e-9 && Math.abs(y - 199.5) < 1e-9, 'canvas centre is the image centre');
});

test('nearest-neighbour label resampling keeps only the original label values', () => {
  const width = 90;
  const height = 70;
  const labels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) labels[y * width + x] = [0, 29, 76, 150][(x * 3 + y * 5) % 4] as number;
  }
  const geometry = canvasGeometry(width, height, [0.7, 1.3], { size: 64, spacingMm: 1.5 });
  const out = resampleLabels(labels, geometry);
  assert.equal(out.length, 64 * 64);
  assert.deepEqual(new Set(out), new Set([0, 29, 76, 150]));
  // Each canvas pixel copies the label at the nearest image pixel.
  const [ix, iy] = geometry.canvasToImage(30, 31).map(Math.round) as [number, number];
  assert.equal(out[31 * 64 + 30], labels[iy * width + ix]);
  // Padding takes the fill value.
  const filled = resampleLabels(labels, geometry, 255);
  assert.equal(filled[0], 255);
});

test('canvas probabilities map back onto the original grid and a constant stays constant', () => {
  const geometry = canvasGeometry(150, 120, [0.5, 0.7], { size: 64, spacingMm: 1.5 });
  const channels = 2;
  const map = new Float32Array(64 * 64 * channels);
  for (let n = 0; n < 64 * 64; n++) {
    map[n * 2] = 0.25;
    map[n * 2 + 1] = (n % 64) / 64; // a ramp along x
  }
  const back = canvasToImageProbabilities(map, geometry, { channels });
  assert.equal(back.length, 150 * 120 * channels);
  for (let n = 0; n < 150 * 120; n++) assert.ok(Math.abs((back[n * 2] as number) - 0.25) < 1e-6);
  // The ramp read back at an image pixel equals the ramp at that pixel's canvas position.
  const [cx] = geometry.imageToCanvas(75, 60);
  assert.ok(Math.abs((back[(60 * 150 + 75) * 2 + 1] as number) - cx / 64) < 1e-5);
});

test('canvas probabilities give 0 for image pixels cropped off the canvas', () => {
  const geometry = canvasGeometry(400, 100, [1, 1], { size: 100, spacingMm: 2 });
  const back = canvasToImageProbabilities(new Float32Array(100 * 100).fill(1), geometry);
  assert.equal(back[50 * 400 + 200], 1);
  assert.equal(back[50 * 400 + 5], 0);
  assert.equal(back[50 * 400 + 395], 0);
});

test('the class map read back is the argmax of the probabilities read back (first on a tie, 0 off the canvas)', () => {
  // Cropped along x, padded along y, four channels of noise with exact ties in one corner.
  const geometry = canvasGeometry(300, 90, [0.8, 0.6], { size: 96, spacingMm: 1.3 });
  let state = 7;
  const map = new Float32Array(96 * 96 * 4).map(() => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  });
  for (let n = 0; n < 96 * 10; n++) map.fill(0.25, n * 4, n * 4 + 4);
  const probabilities = canvasToImageProbabilities(map, geometry, { channels: 4 });
  const classes = canvasToImageClasses(map, geometry, 4);
  assert.equal(classes.length, 300 * 90);
  let offCanvas = 0;
  for (let n = 0; n < 300 * 90; n++) {
    const p = probabilities.subarray(n * 4, n * 4 + 4);
    let best = 0;
    for (let c = 1; c < 4; c++) if ((p[c] as number) > (p[best] as number)) best = c;
    assert.equal(classes[n], best, `pixel ${n}`);
    if (p.every((v) => v === 0)) offCanvas++;
  }
  assert.ok(offCanvas > 0, 'some image pixels are cropped off the canvas');
});

test('a canvas of impossible size or spacing is refused', () => {
  assert.throws(() => canvasGeometry(10, 10, [1, 1], { size: 0, spacingMm: 1 }), SpinegradeError);
  assert.throws(() => canvasGeometry(10, 10, [1, 1], { size: 32, spacingMm: -1 }), SpinegradeError);
  assert.throws(() => canvasGeometry(10, 10, [0, 1], { size: 32, spacingMm: 1 }), SpinegradeError);
});

test('antialiasing blurs only when downsampling and keeps the mean brightness', () => {
  const image = blank(300, 300, [0.5, 0.5]);
  image.pixels.forEach((_, n) => {
    image.pixels[n] = (n + Math.floor(n / 300)) % 2;
  });
  const plain = toCanvas(image, { size: 100, spacingMm: 1.5 });
  const smooth = toCanvas(image, { size: 100, spacingMm: 1.5, antialias: true });
  const spread = (values: Float32Array): number => Math.max(...values) - Math.min(...values);
  assert.ok(spread(smooth.pixels) < 0.2, 'a fine checkerboard averages out');
  assert.ok(spread(plain.pixels) >= spread(smooth.pixels));
  const blurred = gaussianBlur(Float32Array.of(0, 0, 3, 0, 0), 5, 1, 1);
  assert.ok(Math.abs(blurred.reduce((a, b) => a + b, 0) - 3) < 0.05);
});
