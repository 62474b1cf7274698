import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repeatabilityOf, rotateImage, shiftImage } from '../../src/evaluation/repeatability.js';
import type { Image2D } from '../../src/transforms/resample.js';

function image(width: number, height: number, at: (x: number, y: number) => number): Image2D {
  const pixels = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[x + y * width] = at(x, y);
  return { pixels, width, height, pixelSpacing: [1, 1] };
}

test('the repeatability coefficient is 1.96·√2 times the pooled within-level SD', () => {
  // Two levels, each measured twice: differences 1 and 3 → pooled variance (0.5 + 4.5) / 2 = 2.5.
  const r = repeatabilityOf([[10, 11], [5, 8], [7]]);
  assert.equal(r.levels, 2);
  assert.ok(Math.abs(r.withinSd - Math.sqrt(2.5)) < 1e-12);
  assert.ok(Math.abs(r.coefficient - 1.96 * Math.SQRT2 * Math.sqrt(2.5)) < 1e-12);
  assert.ok(Number.isNaN(repeatabilityOf([[1]]).withinSd));
});

test('a shifted image moves its content by whole pixels; a rotation by 90° turns a square image', () => {
  const source = image(5, 5, (x, y) => x + 10 * y);
  const moved = shiftImage(source, 2, 1);
  assert.equal(moved.pixels[3 + 5 * 2], source.pixels[1 + 5 * 1]);
  assert.equal(moved.pixels[0], source.pixels[0], 'edges repeat the nearest pixel');
  const turned = rotateImage(source, 90);
  // Output (x, y) samples input (cx + dy, cy − dx) about the centre (2, 2): (4, 2) ← (2, 0).
  assert.ok(Math.abs((turned.pixels[4 + 5 * 2] as number) - (source.pixels[2] as number)) < 1e-4);
  assert.ok(Math.abs((rotateImage(source, 0).pixels[7] as number) - (source.pixels[7] as number)) < 1e-6);
});
