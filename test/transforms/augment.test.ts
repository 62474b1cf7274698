import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../../src/metrics/random.js';
import {
  type AugmentableSample,
  type AugmentOptions,
  augmentSample,
  resolveAugmentSettings,
} from '../../src/transforms/augment.js';

const SIZE = 96;

/** A sample with a dim background, bright dots at each keypoint and a mask blob (class 1) around each. */
function dottedSample(points: readonly (readonly [number, number])[]): AugmentableSample {
  const image = new Float32Array(SIZE * SIZE).fill(0.1);
  const semantic = new Uint8Array(SIZE * SIZE);
  for (const [px, py] of points) {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const d2 = (x - px) ** 2 + (y - py) ** 2;
        const at = y * SIZE + x;
        image[at] = Math.max(image[at] as number, Math.exp(-d2 / (2 * 1.5 * 1.5)));
        if (d2 <= 9) semantic[at] = 1;
      }
    }
  }
  return {
    image,
    semantic,
    keypoints: points.map(([x, y], n) => ({ ivdLabel: n + 1, x, y })),
    canvas: { size: SIZE, region: { x0: 0, y0: 0, x1: SIZE, y1: SIZE } },
  };
}

/** The intensity-weighted centroid of bright pixels within `radius` of (x, y). */
function localCentroid(image: Float32Array, x: number, y: number, radius: number, floor = 0.3): [number, number] {
  let sx = 0;
  let sy = 0;
  let sw = 0;
  for (let yy = Math.max(0, Math.floor(y - radius)); yy <= Math.min(SIZE - 1, Math.ceil(y + radius)); yy++) {
    for (let xx = Math.max(0, Math.floor(x - radius)); xx <= Math.min(SIZE - 1, Math.ceil(x + radius)); xx++) {
      const w = Math.max(0, (image[yy * SIZE + xx] as number) - floor);
      sx += w * xx;
      sy += w * yy;
      sw += w;
    }
  }
  return sw > 0 ? [sx / sw, sy / sw] : [Number.NaN, Number.NaN];
}

const GEOMETRIC_ONLY: AugmentOptions = {
  photometric: false,
  cropOut: { probability: 0 },
  rotation: { probability: 1 },
  scale: { probability: 1 },
  stretch: { probability: 1 },
  translation: { probability: 1, maxFraction: 0.08 },
  elastic: { probability: 1 },
};

test('geometric augmentation keeps keypoints on their image dot and mask blob within 1 px', () => {
  const points = [
    [40, 20],
    [44, 35],
    [48, 50],
    [50, 65],
    [47, 78],
  ] as const;
  const sample = dottedSample(points);
  for (let seed = 1; seed <= 20; seed++) {
    const out = augmentSample(sample, mulberry32(seed), GEOMETRIC_ONLY);
    assert.ok(out.keypoints && out.semantic);
    for (const point of out.keypoints) {
      const [cx, cy] = localCentroid(out.image, point.x, point.y, 5);
      const off = Math.hypot(cx - point.x, cy - point.y);
      assert.ok(off <= 1, `seed ${seed}: keypoint ${point.ivdLabel} is ${off.toFixed(2)} px from its dot`);
      const nx = Math.round(point.x);
      const ny = Math.round(point.y);
      assert.equal(out.semantic[ny * SIZE + nx], 1, `seed ${seed}: keypoint ${point.ivdLabel} is off its mask blob`);
    }
  }
});

test('augmentation is deterministic for a seed and differs between seeds', () => {
  const sample = dottedSample([[48, 48]]);
  const a = augmentSample(sample, mulberry32(7));
  const b = augmentSample(sample, mulberry32(7));
  assert.deepEqual(a.image, b.image);
  assert.deepEqual(a.semantic, b.semantic);
  assert.deepEqual(a.keypoints, b.keypoints);
  const images = new Set([1, 2, 3, 4, 5].map((seed) => augmentSample(sample, mulberry32(seed)).image.join(',')));
  assert.ok(images.size > 1);
});

test('augmentation returns a new sample and leaves the input untouched', () => {
  const sample = dottedSample([[48, 48]]);
  const before = Float32Array.from(sample.image);
  const out = augmentSample(sample, mulberry32(3));
  assert.notEqual(out.image, sample.image);
  assert.deepEqual(sample.image, before);
  assert.equal(out.canvas, sample.canvas);
});

test('augmentation never flips anterior/posterior or superior/inferior', () => {
  const image = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) image[y * SIZE + x] = (x < SIZE / 2 ? 0.8 : 0.1) + (y < SIZE / 2 ? 0.1 : 0);
  }
  const sample: AugmentableSample = {
    image,
    semantic: null,
    keypoints: null,
    canvas: { size: SIZE, region: { x0: 0, y0: 0, x1: SIZE, y1: SIZE } },
  };
  const mean = (values: Float32Array, pick: (x: number, y: number) => boolean): number => {
    let sum = 0;
    let count = 0;
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        if (pick(x, y) && (values[y * SIZE + x] as number) > 0) {
          sum += values[y * SIZE + x] as number;
          count++;
        }
      }
    }
    return sum / Math.max(1, count);
  };
  for (let seed = 1; seed <= 40; seed++) {
    const out = augmentSample(sample, mulberry32(seed), {
      photometric: false,
      rotation: { probability: 1 },
      translation: { maxFraction: 0.05 },
    });
    const left = mean(out.image, (x) => x < SIZE / 2);
    const right = mean(out.image, (x) => x >= SIZE / 2);
    assert.ok(left > right + 0.3, `seed ${seed}: left ${left.toFixed(2)} vs right ${right.toFixed(2)}`);
    const top = mean(out.image, (_x, y) => y < SIZE / 2);
    const bottom = mean(out.image, (_x, y) => y >= SIZE / 2);
    assert.ok(top > bottom, `seed ${seed}: top ${top.toFixed(2)} vs bottom ${bottom.toFixed(2)}`);
  }
});

test('keypoints moved off the canvas are dropped', () => {
  const sample = dottedSample([
    [3, 48],
    [48, 48],
  ]);
  // A shift of 20 % of the canvas to the left (for some draws) pushes the first point out.
  let dropped = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const out = augmentSample(sample, mulberry32(seed), {
      geometric: true,
      photometric: false,
      translation: { probability: 1, maxFraction: 0.2 },
      rotation: { probability: 0 },
      scale: { probability: 0 },
      stretch: { probability: 0 },
      elastic: { probability: 0 },
      cropOut: { probability: 0 },
    });
    assert.ok(out.keypoints);
    for (const point of out.keypoints) {
      assert.ok(point.x >= -0.5 && point.x < SIZE - 0.5 && point.y >= -0.5 && point.y < SIZE - 0.5);
    }
    if (out.keypoints.length < 2) dropped++;
    assert.ok(
      out.keypoints.some((p) => p.ivdLabel === 2),
      'the central point stays',
    );
  }
  assert.ok(dropped > 0, 'some draws push the edge point out');
});

test('a crop-out blanks the top or bottom rows, their mask and their keypoints', () => {
  const points = [
    [48, 10],
    [48, 48],
    [48, 86],
  ] as const;
  const sample = dottedSample(points);
  let cuts = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const out = augmentSample(sample, mulberry32(seed), {
      geometric: false,
      photometric: false,
      cropOut: { probability: 1, minFraction: 0.3, maxFraction: 0.3 },
    });
    assert.ok(out.keypoints && out.semantic);
    const cutTop = out.image.subarray(0, 20 * SIZE).every((v) => v === 0);
    const cutBottom = out.image.subarray(76 * SIZE).every((v) => v === 0);
    assert.ok(cutTop !== cutBottom, 'exactly one end is cut');
    cuts++;
    const labels = out.keypoints.map((p) => p.ivdLabel);
    assert.deepEqual(labels, cutTop ? [2, 3] : [1, 2]);
    const blankRows = cutTop ? out.semantic.subarray(0, 29 * SIZE) : out.semantic.subarray(67 * SIZE);
    assert.ok(
      blankRows.every((v) => v === 0),
      'mask pixels in the cut are background',
    );
  }
  assert.equal(cuts, 10);
});

test('photometric augmentation keeps values finite, within [0, 1.2], and leaves padding at 0', () => {
  const image = new Float32Array(SIZE * SIZE);
  for (let y = 10; y < 86; y++) {
    for (let x = 0; x < SIZE; x++) image[y * SIZE + x] = ((x * 13 + y * 7) % 97) / 96;
  }
  const sample: AugmentableSample = {
    image,
    semantic: null,
    keypoints: null,
    canvas: { size: SIZE, region: { x0: 0, y0: 10, x1: SIZE, y1: 86 } },
  };
  const always = { probability: 1 };
  for (let seed = 1; seed <= 30; seed++) {
    const out = augmentSample(sample, mulberry32(seed), {
      geometric: false,
      contrastCurve: always,
      gamma: always,
      contrast: always,
      biasField: always,
      blur: always,
      noise: { probability: 1, sigmaMax: 0.2 },
    });
    for (const v of out.image) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1.2 + 1e-6, `seed ${seed}: value ${v}`);
    assert.ok(
      out.image.subarray(0, 10 * SIZE).every((v) => v === 0),
      'padding stays 0',
    );
    assert.ok(
      out.image.subarray(86 * SIZE).every((v) => v === 0),
      'padding stays 0',
    );
  }
});

test('the contrast curve can invert the mid-range, as between T2 and T1', () => {
  const image = new Float32Array(SIZE * SIZE);
  for (let n = 0; n < image.length; n++) image[n] = (n % SIZE) / (SIZE - 1);
  const sample: AugmentableSample = { image, semantic: null, keypoints: null, canvas: { size: SIZE } };
  let inverted = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const out = augmentSample(sample, mulberry32(seed), {
      geometric: false,
      photometric: false,
      contrastCurve: { probability: 1, invertProbability: 0.5 },
    });
    // Compare a darker and a brighter mid-range input along the ramp.
    if ((out.image[30] as number) > (out.image[65] as number)) inverted++;
  }
  assert.ok(inverted > 5 && inverted < 35, `${inverted} of 40 curves darken the brighter mid-range`);
});

test('augment settings merge overrides field by field and switch whole groups off', () => {
  const settings = resolveAugmentSettings({ rotation: { maxDegrees: 5 }, photometric: false });
  assert.equal(settings.rotation.maxDegrees, 5);
  assert.equal(settings.rotation.probability, 0.7);
  assert.equal(settings.noise.probability, 0);
  assert.equal(settings.gamma.probability, 0);
  assert.equal(settings.scale.probability, 0.7);
});
