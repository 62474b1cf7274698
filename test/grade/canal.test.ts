import assert from 'node:assert/strict';
import { test } from 'node:test';
import { axisMm, canalDiameterMm, measureCanal } from '../../src/grade/canal.js';
import type { LocalizedDisc, LocalizedVertebra } from '../../src/localize/postprocess.js';

const WIDTH = 200;
const HEIGHT = 200;

/** A class map with a vertical canal band whose x range depends on the row. */
function classMap(band: (y: number) => [number, number] | null, spacing: [number, number] = [0.5, 0.5]) {
  const classes = new Uint8Array(WIDTH * HEIGHT);
  for (let y = 0; y < HEIGHT; y++) {
    const range = band(y);
    if (!range) continue;
    for (let x = range[0]; x <= range[1]; x++) classes[x + y * WIDTH] = 3;
  }
  return { width: WIDTH, height: HEIGHT, pixelSpacing: spacing, classes } as const;
}

function disc(center: [number, number], axis: [number, number] = [1, 0]): LocalizedDisc {
  return {
    ivdLabel: 2,
    level: 'L4/L5',
    center,
    posterior: [center[0] + 20, center[1]],
    outline: [],
    axis,
    areaMm2: 100,
    lumbarScore: 1,
  };
}

function vertebra(level: string, center: [number, number]): LocalizedVertebra {
  return { level, center, outline: [], areaMm2: 500 };
}

test('the AP diameter at a disc is the canal run along its axis, in mm', () => {
  // 20 pixels of canal at 0.5 mm: 10 mm; the run is sampled every 0.1 mm, so within one step.
  const map = classMap(() => [120, 139]);
  const d = canalDiameterMm(map, [60, 100], [1, 0]);
  assert.ok(d !== null && Math.abs(d - 10) <= 0.15, `${d}`);
});

test('a tilted disc axis measures the canal obliquely, as a longer chord', () => {
  const map = classMap(() => [120, 139]);
  const direction = axisMm([Math.cos(Math.PI / 6), Math.sin(Math.PI / 6)], [0.5, 0.5]);
  const d = canalDiameterMm(map, [60, 100], direction);
  const expected = 10 / Math.cos(Math.PI / 6);
  assert.ok(d !== null && Math.abs(d - expected) <= 0.2, `${d} vs ${expected}`);
});

test('the axis points posterior whatever its sign, and non-square pixels are honoured', () => {
  assert.deepEqual(axisMm([-1, 0], [0.5, 0.5]), [1, -0]);
  const map = classMap(() => [120, 139], [0.25, 1]);
  const d = canalDiameterMm(map, [60, 100], axisMm([1, 0], map.pixelSpacing));
  assert.ok(d !== null && Math.abs(d - 5) <= 0.15, `${d}`);
});

test('disc level, mid-body diameters and their ratio: a canal narrowed at the disc', () => {
  // 10 mm at the disc level (rows 90-110), 15 mm elsewhere (at the bodies above and below).
  const map = classMap((y) => (y >= 90 && y <= 110 ? [120, 139] : [120, 149]));
  const slice = { vertebrae: [vertebra('L4', [60, 60]), vertebra('L5', [60, 140]), vertebra('L3', [60, 10])] };
  const m = measureCanal(map, slice, disc([60, 100]));
  assert.ok(m.canalApMm !== null && Math.abs(m.canalApMm - 10) <= 0.15, `${m.canalApMm}`);
  assert.ok(m.canalApBodyMm !== null && Math.abs(m.canalApBodyMm - 15) <= 0.15, `${m.canalApBodyMm}`);
  assert.ok(m.canalApRatio !== null && Math.abs(m.canalApRatio - 2 / 3) <= 0.02, `${m.canalApRatio}`);
});

test('short gaps in the mask are bridged, long ones end the run; no canal gives null', () => {
  const gap = (from: number, to: number) =>
    classMap(() => [120, 139]).classes.map((c, i) => (i % WIDTH >= from && i % WIDTH <= to ? 0 : c));
  const short = { ...classMap(() => [120, 139]), classes: gap(130, 130) };
  const long = { ...classMap(() => [120, 139]), classes: gap(128, 133) };
  const dShort = canalDiameterMm(short, [60, 100], [1, 0]);
  const dLong = canalDiameterMm(long, [60, 100], [1, 0]);
  assert.ok(dShort !== null && Math.abs(dShort - 10) <= 0.15, `bridged: ${dShort}`);
  assert.ok(dLong !== null && Math.abs(dLong - 4) <= 0.15, `first run only: ${dLong}`);
  assert.equal(
    canalDiameterMm(
      classMap(() => null),
      [60, 100],
      [1, 0],
    ),
    null,
  );
  const none = measureCanal(
    classMap(() => null),
    { vertebrae: [] },
    disc([60, 100]),
  );
  assert.deepEqual(none, { canalApMm: null, canalApBodyMm: null, canalApRatio: null });
});
