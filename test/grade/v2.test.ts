import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpinegradeError } from '../../src/errors.js';
import { fuseV2, gradesOfLogits, ordinalProbabilities, topGrade, type V2Grades } from '../../src/grade/v2.js';
import {
  cropFrame,
  cropToSlice,
  DEFAULT_V2_CROP,
  discFrames,
  LUMBAR_DISC_GAP_MM,
  packV2Inputs,
  V2_CHANNELS,
} from '../../src/grade/v2Crops.js';
import type { Image2D } from '../../src/transforms/resample.js';

/** Five points down a straight, tilted spine, `gap` pixels apart. */
function tiltedPoints(gap: number, degrees: number): { level: string; x: number; y: number }[] {
  const a = (degrees * Math.PI) / 180;
  return ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'].map((level, n) => ({
    level,
    x: 100 + n * gap * Math.sin(a),
    y: 50 + n * gap * Math.cos(a),
  }));
}

test('the scale comes from the gap between neighbouring points, whatever the slice size', () => {
  for (const gap of [20, 60]) {
    const frames = discFrames(tiltedPoints(gap, 0));
    assert.equal(frames.length, 5);
    assert.ok(Math.abs((frames[0]?.unitsPerMm ?? 0) - gap / LUMBAR_DISC_GAP_MM) < 1e-9);
    // A crop always spans the same anatomy: (size − 1) × mmPerPixel mm = that / 31.4 disc gaps.
    const { size, mmPerPixel } = DEFAULT_V2_CROP;
    const map = cropToSlice(frames[2] as never, DEFAULT_V2_CROP);
    const [x0, y0] = map(0, 5);
    const [x1, y1] = map(size - 1, 5);
    assert.ok(Math.abs(Math.hypot(x1 - x0, y1 - y0) / gap - ((size - 1) * mmPerPixel) / LUMBAR_DISC_GAP_MM) < 1e-9);
  }
});

test('the crop is turned to the spine axis: posterior is perpendicular to it, towards +x', () => {
  const frames = discFrames(tiltedPoints(40, 20));
  for (const frame of frames) {
    const [px, py] = frame.posterior;
    const [ix, iy] = frame.inferior;
    assert.ok(Math.abs(px * ix + py * iy) < 1e-9);
    assert.ok(px > 0.9);
    assert.ok(Math.abs(Math.atan2(ix, iy) - (20 * Math.PI) / 180) < 1e-9);
  }
  // The crop centre lies anteriorShiftMm anterior of the point.
  const frame = frames[1] as (typeof frames)[number];
  const half = (DEFAULT_V2_CROP.size - 1) / 2;
  const [cx, cy] = cropToSlice(frame, DEFAULT_V2_CROP)(half, half);
  const k = frame.unitsPerMm * DEFAULT_V2_CROP.anteriorShiftMm;
  assert.ok(Math.abs(cx - (frame.point[0] - k * frame.posterior[0])) < 1e-9);
  assert.ok(Math.abs(cy - (frame.point[1] - k * frame.posterior[1])) < 1e-9);
});

test('a bright band through the point comes out horizontal in the middle rows of the crop', () => {
  const width = 300;
  const height = 300;
  const pixels = new Float32Array(width * height).fill(10);
  for (let y = 148; y <= 152; y++) for (let x = 0; x < width; x++) pixels[y * width + x] = 200;
  const image: Image2D = { pixels, width, height, pixelSpacing: [1, 1] };
  const points = [
    { level: 'L2/L3', x: 150, y: 110 },
    { level: 'L3/L4', x: 150, y: 150 },
    { level: 'L4/L5', x: 150, y: 190 },
  ];
  const frame = discFrames(points).find((f) => f.level === 'L3/L4');
  assert.ok(frame);
  const config = { size: 64, mmPerPixel: 1, anteriorShiftMm: 10 };
  const crop = cropFrame(image, frame, config, undefined, [10, 200]);
  const row = (v: number): number => {
    let s = 0;
    for (let u = 0; u < 64; u++) s += crop[v * 64 + u] as number;
    return s / 64;
  };
  assert.ok(row(32) > 0.9 && row(31) > 0.9);
  assert.ok(row(10) < 0.05 && row(54) < 0.05);
});

test('points that cannot place crops are usage errors naming the input', () => {
  assert.throws(
    () => discFrames([{ level: 'L3/L4', x: 1, y: 2 }], 1, 'slice.png'),
    (e: unknown) => {
      return e instanceof SpinegradeError && /neighbouring/.test(e.message);
    },
  );
  assert.throws(
    () =>
      discFrames([
        { level: 'T12/L1', x: 1, y: 2 },
        { level: 'L1/L2', x: 1, y: 40 },
      ]),
    (e: unknown) => e instanceof SpinegradeError && /lumbar/.test(e.message),
  );
});

test('inputs carry the crop, a T1 plane and the level plane', () => {
  const crop = new Float32Array(4).fill(0.5);
  const packed = packV2Inputs(
    [
      { crop, ivdLabel: 1, contrast: 'T1' },
      { crop, ivdLabel: 5, contrast: 'T2' },
    ],
    2,
  );
  assert.equal(packed.length, 2 * 4 * V2_CHANNELS);
  assert.deepEqual([...packed.subarray(0, V2_CHANNELS)], [0.5, 1, 0, 0, 0, 0, 1]);
  assert.deepEqual([...packed.subarray(4 * V2_CHANNELS, 5 * V2_CHANNELS)], [0.5, 0, 1, 0, 0, 0, 0]);
});

test('ordinal logits give grade probabilities that sum to one, monotone by construction', () => {
  for (const kind of ['cumulative', 'corn'] as const) {
    const p = ordinalProbabilities([3, 1, -1, 2], kind);
    assert.ok(Math.abs(p.reduce((s, v) => s + v, 0) - 1) < 1e-9);
    assert.ok(p.every((v) => v >= 0));
  }
  assert.equal(topGrade(ordinalProbabilities([5, 5, -5, -5], 'cumulative')), 3);
  assert.equal(topGrade(ordinalProbabilities([-5, 0, 0, 0], 'corn')), 1);
  // A higher temperature flattens.
  const sharp = ordinalProbabilities([5, 5, -5, -5], 'cumulative', 1);
  const flat = ordinalProbabilities([5, 5, -5, -5], 'cumulative', 4);
  assert.ok(Math.max(...flat) < Math.max(...sharp));
});

test('fusion takes Pfirrmann from T2 and averages Modic over T1 and T2', () => {
  const info = {
    ordinal: 'cumulative' as const,
    reviewThreshold: 0.5,
    temperatures: {
      T1: { pfirrmann: 1, modic: 1, findings: [1, 1, 1, 1, 1, 1] },
      T2: { pfirrmann: 1, modic: 1, findings: [1, 1, 1, 1, 1, 1] },
    },
  };
  const disc = { level: 'L4/L5', ivdLabel: 2 };
  const t2: V2Grades = gradesOfLogits(
    { pfirrmann: [9, 9, -9, -9], modic: [5, 0, 0, 0], findings: [0, 0, 0, 0, 0, 0] },
    info,
    'T2',
    disc,
  );
  const t1: V2Grades = gradesOfLogits(
    { pfirrmann: [9, 9, 9, 9], modic: [0, 5, 0, 0], findings: [0, 0, 0, 0, 0, 0] },
    info,
    'T1',
    disc,
  );
  const fused = fuseV2([t1, t2], 0.5);
  assert.equal(fused.pfirrmannGrade, 3);
  assert.deepEqual(fused.pfirrmannFrom, ['T2']);
  assert.deepEqual(fused.modicFrom, ['T1', 'T2']);
  assert.ok(Math.abs((fused.modic[0] as number) - ((t1.modic[0] as number) + (t2.modic[0] as number)) / 2) < 1e-12);
  // Without a T2, Pfirrmann falls back to T1 and says so.
  assert.deepEqual(fuseV2([t1], 0.5).pfirrmannFrom, ['T1']);
  assert.equal(fuseV2([t1], 0.5).pfirrmannGrade, 5);
});
