import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectedComponents, principalAxis, simplifyPolygon, traceOutline } from '../../src/localize/components.js';
import { localizeFromMaps, type SliceMaps } from '../../src/localize/postprocess.js';
import { distanceToPolygon } from '../../src/metrics/index.js';

const W = 120;
const H = 200;

/** A synthetic sagittal spine: vertebrae (2) and discs (1) stacked along y, canal (3) behind them. */
function spine(discCenters: number[], lumbarPeaks: number[]): SliceMaps {
  const classes = new Uint8Array(W * H);
  const heatmap = new Float32Array(W * H);
  const fill = (cx: number, cy: number, rx: number, ry: number, value: number): void => {
    for (let y = Math.floor(cy - ry); y <= cy + ry; y++) {
      for (let x = Math.floor(cx - rx); x <= cx + rx; x++) {
        if (x >= 0 && y >= 0 && x < W && y < H && ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1)
          classes[x + y * W] = value;
      }
    }
  };
  for (let y = 0; y < H; y++) for (let x = 80; x < 88; x++) classes[x + y * W] = 3;
  for (const cy of discCenters) {
    fill(50, cy - 12.5, 22, 8, 2); // the vertebra above each disc
    fill(50, cy, 20, 3.5, 1);
  }
  fill(50, Math.max(...discCenters) + 18, 22, 12, 2); // sacrum
  for (const cy of lumbarPeaks) {
    for (let y = cy - 4; y <= cy + 4; y++)
      for (let x = 66; x <= 74; x++) heatmap[x + y * W] = Math.exp(-((x - 70) ** 2 + (y - cy) ** 2) / 8);
  }
  return { width: W, height: H, pixelSpacing: [1, 1], classes, heatmap };
}

test('connected components are found, counted and measured', () => {
  const mask = new Uint8Array(10 * 6);
  for (const [x, y] of [
    [1, 1],
    [2, 1],
    [1, 2],
    [7, 4],
    [8, 4],
  ])
    mask[x! + y! * 10] = 1;
  const components = connectedComponents(10, 6, (i) => mask[i] === 1);
  assert.equal(components.length, 2);
  assert.equal(components[0]!.pixels.length, 3);
  assert.deepEqual(components[1]!.centroid, [7.5, 4]);
});

test('the traced outline of a filled rectangle is its border, clockwise, every pixel once', () => {
  const width = 12;
  const mask = new Uint8Array(width * 10);
  for (let y = 2; y <= 6; y++) for (let x = 3; x <= 9; x++) mask[x + y * width] = 1;
  const [component] = connectedComponents(width, 10, (i) => mask[i] === 1);
  const outline = traceOutline(component!, width);
  assert.equal(outline.length, 2 * 7 + 2 * 5 - 4);
  assert.deepEqual(outline[0], [3, 2]);
  assert.deepEqual(outline[1], [4, 2], 'clockwise: along the top edge first');
  assert.ok(outline.every(([x, y]) => x === 3 || x === 9 || y === 2 || y === 6));
  const simplified = simplifyPolygon(outline, 0.5);
  assert.equal(simplified.length, 4 + 1 - 1, 'the four corners remain');
});

test('the principal axis of a flat disc runs anterior-posterior, pointing posterior', () => {
  const width = 40;
  const mask = new Uint8Array(width * 20);
  for (let y = 8; y <= 11; y++) for (let x = 5; x <= 34; x++) mask[x + y * width] = 1;
  const [component] = connectedComponents(width, 20, (i) => mask[i] === 1);
  const { axis, major, minor } = principalAxis(component!, width);
  assert.ok(Math.abs(axis[0] - 1) < 1e-9 && Math.abs(axis[1]) < 1e-9);
  assert.ok(major > minor);
});

test('levels are counted from the sacrum upward: the lowest lumbar disc is L5/S1', () => {
  // Seven discs in view (T11/T12 at the top); the heatmap marks the lower five as lumbar.
  const centers = [20, 45, 70, 95, 120, 145, 170];
  const result = localizeFromMaps(spine(centers, [70, 95, 120, 145, 170]));
  assert.deepEqual(
    result.discs.map((d) => [d.level, Math.round(d.center[1])]),
    [
      ['T11/T12', 20],
      ['T12/L1', 45],
      ['L1/L2', 70],
      ['L2/L3', 95],
      ['L3/L4', 120],
      ['L4/L5', 145],
      ['L5/S1', 170],
    ],
  );
  assert.equal(result.possibleTransitional, false);
  assert.deepEqual(result.warnings, []);
  const l5 = result.discs.find((d) => d.level === 'L5/S1')!;
  assert.ok(distanceToPolygon([l5.posterior[0], l5.posterior[1]], l5.outline) === 0);
  assert.ok(l5.posterior[0] > l5.center[0], 'the posterior point lies behind the centre');
  assert.ok(result.vertebrae.some((v) => v.level === 'S1' && v.center[1] > 170));
  assert.ok(result.vertebrae.some((v) => v.level === 'L5' && v.center[1] < 170 && v.center[1] > 145));
});

test('a disc below the lowest lumbar disc is flagged as transitional, not used to shift the levels', () => {
  const centers = [45, 70, 95, 120, 145, 170];
  const result = localizeFromMaps(spine(centers, [45, 70, 95, 120, 145]));
  assert.equal(result.possibleTransitional, true);
  assert.equal(result.discs.find((d) => Math.round(d.center[1]) === 145)!.level, 'L5/S1');
  assert.equal(result.discs.find((d) => Math.round(d.center[1]) === 170)!.ivdLabel, 0);
  assert.match(result.warnings.join(' '), /transitional/);
});

test('a short field of view with three discs warns that lumbar discs are missing', () => {
  const result = localizeFromMaps(spine([120, 145, 170], [120, 145, 170]));
  assert.deepEqual(
    result.discs.map((d) => d.level),
    ['L3/L4', 'L4/L5', 'L5/S1'],
  );
  assert.match(result.warnings.join(' '), /only 3 lumbar disc/);
});

/** Per-level heatmaps (channel 0 = L5/S1 … 4 = L1/L2) with peaks behind the given disc centres, bottom first. */
function perLevelMaps(discCenters: number[], levelCenters: number[]): SliceMaps {
  const base = spine(discCenters, []);
  const heatmap = new Float32Array(W * H * 5);
  levelCenters.forEach((cy, channel) => {
    for (let y = cy - 4; y <= cy + 4; y++) {
      for (let x = 66; x <= 74; x++)
        heatmap[(x + y * W) * 5 + channel] = Math.exp(-((x - 70) ** 2 + (y - cy) ** 2) / 8);
    }
  });
  return { ...base, heatmap, heatmapChannels: 5 };
}

test('per-level heatmaps place L5/S1 by the strongest template fit, above small sacral remnants', () => {
  // Seven disc-like segments; the per-level heatmaps put L5/S1 at y = 145 and L1/L2 at y = 45.
  const maps = perLevelMaps([20, 45, 70, 95, 120, 145, 170], [145, 120, 95, 70, 45]);
  // Shrink the lowest segment to a sacral remnant.
  for (let n = 0; n < maps.classes.length; n++) {
    const y = Math.floor(n / W);
    const x = n % W;
    if (y >= 166 && y <= 174 && maps.classes[n] === 1 && Math.abs(x - 50) > 6) maps.classes[n] = 2;
  }
  const result = localizeFromMaps(maps);
  const levelAt = (y: number): string | undefined => result.discs.find((d) => Math.abs(d.center[1] - y) < 3)?.level;
  assert.equal(levelAt(145), 'L5/S1');
  assert.equal(levelAt(45), 'L1/L2');
  assert.equal(levelAt(20), 'T12/L1');
  assert.equal(levelAt(170), undefined, 'a small remnant below L5/S1 is not a disc level');
  assert.equal(result.possibleTransitional, false);
});

test('per-level heatmaps flag a full-sized disc below L5/S1 as possible transitional anatomy', () => {
  const result = localizeFromMaps(perLevelMaps([45, 70, 95, 120, 145, 170], [145, 120, 95, 70, 45]));
  assert.equal(result.discs.find((d) => Math.abs(d.center[1] - 170) < 3)?.ivdLabel, 0);
  assert.equal(result.discs.find((d) => Math.abs(d.center[1] - 145) < 3)?.level, 'L5/S1');
  assert.equal(result.possibleTransitional, true);
});

test('disc-like blobs off the spinal column are not counted as levels, even where the heatmap responds', () => {
  const centers = [45, 70, 95, 120, 145, 170];
  const maps = spine(centers, [70, 95, 120, 145, 170]);
  // A disc-class blob 55 px in front of the column between L2/L3 and L3/L4 (bowel, vessel), with a heatmap response.
  for (let y = 103; y <= 111; y++) {
    for (let x = 100; x <= 116; x++) {
      if (((x - 108) / 8) ** 2 + ((y - 107) / 4) ** 2 <= 1) maps.classes[x + y * W] = 1;
      maps.heatmap[x + y * W] = Math.max(
        maps.heatmap[x + y * W] as number,
        Math.exp(-((x - 108) ** 2 + (y - 107) ** 2) / 8),
      );
    }
  }
  const result = localizeFromMaps(maps);
  assert.equal(result.discs.find((d) => Math.round(d.center[1]) === 170)?.level, 'L5/S1');
  assert.equal(result.discs.find((d) => Math.round(d.center[1]) === 70)?.level, 'L1/L2');
  assert.ok(!result.discs.some((d) => d.center[0] > 90), 'the blob is not a disc level');
});
