import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpinegradeError } from '../../src/errors.js';
import { normalizeByPercentiles, percentile, percentiles } from '../../src/transforms/intensity.js';
import { resampleToSpacing } from '../../src/transforms/resample.js';

test('percentiles interpolate linearly between order statistics', () => {
  const values = [5, 1, 4, 2, 3];
  assert.equal(percentile(values, 0), 1);
  assert.equal(percentile(values, 50), 3);
  assert.equal(percentile(values, 100), 5);
  assert.deepEqual(percentiles(values, [25, 75]), [2, 4]);
  assert.equal(percentile([0, 10], 35), 3.5);
});

test('percentile normalisation maps the 1st and 99th percentiles to 0 and 1 and clips outliers', () => {
  const values = new Float32Array(1001);
  for (let n = 0; n <= 1000; n++) values[n] = n;
  values[1000] = 1e6; // one bright outlier must not squash the rest
  const out = normalizeByPercentiles(values);
  assert.equal(out[0], 0);
  assert.equal(out[1000], 1);
  assert.ok(Math.abs((out[500] as number) - (500 - 10) / (990 - 10)) < 1e-3);
});

test('a constant image normalises to zeros rather than dividing by zero', () => {
  assert.deepEqual(Array.from(normalizeByPercentiles([7, 7, 7])), [0, 0, 0]);
});

test('percentiles of nothing are refused with a clear message', () => {
  assert.throws(() => percentile([], 50), SpinegradeError);
});

test('resampling halves the pixel count when the spacing doubles and keeps the physical extent', () => {
  const pixels = new Float32Array(8 * 6).map((_, n) => n % 8);
  const out = resampleToSpacing({ pixels, width: 8, height: 6, pixelSpacing: [0.5, 0.5] }, [1, 1]);
  assert.equal(out.width, 4);
  assert.equal(out.height, 3);
  assert.deepEqual(out.pixelSpacing, [1, 1]);
  // Output pixel centres fall between input pixels 0/1, 2/3, …: a linear ramp averages pairs.
  assert.deepEqual(Array.from(out.pixels.slice(0, 4)), [0.5, 2.5, 4.5, 6.5]);
});

test('resampling non-square pixels to square ones stretches the coarse axis', () => {
  const out = resampleToSpacing(
    { pixels: new Float32Array(10 * 10).fill(3), width: 10, height: 10, pixelSpacing: [0.5, 1] },
    [0.5, 0.5],
  );
  assert.equal(out.width, 10);
  assert.equal(out.height, 20);
  assert.ok(out.pixels.every((v) => v === 3));
});

test('a non-positive target spacing is refused', () => {
  assert.throws(
    () => resampleToSpacing({ pixels: new Float32Array(4), width: 2, height: 2, pixelSpacing: [1, 1] }, [0, 1]),
    SpinegradeError,
  );
});
