import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { heatOverlayRgb, turbo, writeHeatOverlayPng } from '../../src/explain/overlay.js';
import { writeRgbPng } from '../../src/io/png.js';
import { tempFolder } from '../helpers/tmp.js';

const W = 7;
const H = 5;

function ramp(): Float32Array {
  return new Float32Array(W * H).map((_, i) => i / (W * H - 1));
}

test('heat 0 leaves every grey pixel unchanged', () => {
  const grey = ramp();
  const rgb = heatOverlayRgb(grey, new Float32Array(W * H), W, H, { threshold: 0, alpha: 1 });
  for (let i = 0; i < W * H; i++) {
    const value = Math.round(grey[i]! * 255);
    assert.deepEqual([...rgb.subarray(i * 3, i * 3 + 3)], [value, value, value]);
  }
});

test('heat below the threshold shows only the grey; heat above it is blended with the colour map', () => {
  const grey = new Float32Array(W * H).fill(0.5);
  const heat = new Float32Array(W * H);
  heat[0] = 0.1;
  heat[1] = 1;
  heat[2] = 0.3;
  const rgb = heatOverlayRgb(grey, heat, W, H, { alpha: 0.5, threshold: 0.2 });
  assert.deepEqual([...rgb.subarray(0, 3)], [128, 128, 128]);
  const [r, g, b] = turbo(1);
  assert.deepEqual(
    [...rgb.subarray(3, 6)],
    [r, g, b].map((c) => Math.round((0.5 * 0.5 + 0.5 * c) * 255)),
  );
  assert.ok(rgb[3]! > rgb[5]!, 'high heat is red');
  assert.notDeepEqual([...rgb.subarray(6, 9)], [128, 128, 128]);
});

test('the colour map runs from blue through green to red', () => {
  const [r0, , b0] = turbo(0.1);
  const [r5, g5, b5] = turbo(0.5);
  const [r1, g1, b1] = turbo(1);
  assert.ok(b0 > r0);
  assert.ok(g5 > r5 && g5 > b5);
  assert.ok(r1 > g1 && r1 > b1);
  for (const t of [-1, 0, 0.25, 0.5, 0.75, 1, 2]) assert.ok(turbo(t).every((c) => c >= 0 && c <= 1));
});

test('mismatched sizes and out-of-range options are refused', () => {
  assert.throws(() => heatOverlayRgb(ramp(), new Float32Array(3), W, H), /heat 3/);
  assert.throws(() => heatOverlayRgb(ramp(), ramp(), W, H, { alpha: 2 }), /alpha/);
  assert.throws(() => heatOverlayRgb(ramp(), ramp(), W, H, { threshold: -0.1 }), /threshold/);
});

test('the overlay PNG reads back as the same RGB pixels at the right size', async (t) => {
  const path = join(await tempFolder(t), 'overlay.png');
  const grey = ramp();
  const heat = new Float32Array(W * H).map((_, i) => (i % W) / (W - 1));
  await writeHeatOverlayPng(path, grey, heat, W, H, { alpha: 0.6 });
  const png = PNG.sync.read(await readFile(path));
  assert.deepEqual([png.width, png.height], [W, H]);
  const expected = heatOverlayRgb(grey, heat, W, H, { alpha: 0.6 });
  const rgb = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = png.data[i * 4 + c]!;
  assert.deepEqual(rgb, expected);
  await assert.rejects(writeHeatOverlayPng(path, grey, heat, W, H), /already exists/);
  await writeHeatOverlayPng(path, grey, new Float32Array(W * H), W, H, { overwrite: true });
  const again = PNG.sync.read(await readFile(path));
  assert.equal(again.data[0], again.data[1]);
});

test('writeRgbPng refuses a buffer of the wrong length', async (t) => {
  const path = join(await tempFolder(t), 'bad.png');
  await assert.rejects(writeRgbPng(path, new Uint8Array(10), W, H), /expected 7×5×3/);
});
