import assert from 'node:assert/strict';
import { test } from 'node:test';
import { levelOfIvdLabel } from '../../src/disc/levels.js';
import { measureDisc } from '../../src/grade/measures.js';
import type { LocalizedDisc, LocalizedVertebra } from '../../src/localize/postprocess.js';
import type { Image2D } from '../../src/transforms/resample.js';

const W = 200;
const H = 240;
const MM = 0.5;

/** Pixel rectangle [x0, x1) × [y0, y1) as an outline of its corner pixel centres. */
const box = (x0: number, x1: number, y0: number, y1: number): [number, number][] => [
  [x0, y0],
  [x1 - 1, y0],
  [x1 - 1, y1 - 1],
  [x0, y1 - 1],
];

interface Scene {
  image: Image2D;
  classes: Uint8Array;
  disc: LocalizedDisc;
  vertebrae: LocalizedVertebra[];
}

/**
 * A synthetic L4/L5 at 0.5 mm: disc 40 × 10 mm (80 × 20 px, signal 100) between L4 above and L5 below
 * (40 × 25 mm, signal 60; the 3 mm next to the disc 90), canal behind (signal 200). The upper body can be
 * shifted anterior (−x) by `slipPx`; the disc can be a trapezoid taller anteriorly by `wedgePx` on each side.
 */
function scene(slipPx = 0, wedgePx = 0): Scene {
  const classes = new Uint8Array(W * H);
  const pixels = new Float32Array(W * H).fill(10);
  const fill = (x0: number, x1: number, y0: number, y1: number, c: number, v: number): void => {
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) {
        classes[x + y * W] = c;
        pixels[x + y * W] = v;
      }
  };
  fill(40 - slipPx, 120 - slipPx, 60, 110, 2, 60); // L4 body: 25 mm tall
  fill(40 - slipPx, 120 - slipPx, 104, 110, 2, 90); // its endplate band, 3 mm
  fill(40, 120, 130, 180, 2, 60); // L5 body
  fill(40, 120, 130, 136, 2, 90);
  fill(130, 146, 0, H, 3, 200); // canal
  // Disc rows 110-129 (10 mm); a wedge takes rows off the top and bottom towards posterior.
  for (let x = 40; x < 120; x++) {
    const off = Math.round((wedgePx * (x - 40)) / 79);
    for (let y = 110 + off; y < 130 - off; y++) {
      classes[x + y * W] = 1;
      pixels[x + y * W] = 100;
    }
  }
  const disc: LocalizedDisc = {
    ivdLabel: 2,
    level: levelOfIvdLabel(2),
    center: [79.5, 119.5],
    posterior: [119, 119.5],
    outline: box(40, 120, 110, 130),
    axis: [1, 0],
    areaMm2: 400,
    lumbarScore: 0.7,
  };
  const vertebrae: LocalizedVertebra[] = [
    { level: 'L4', center: [79.5 - slipPx, 85], outline: box(40 - slipPx, 120 - slipPx, 60, 110), areaMm2: 1000 },
    { level: 'L5', center: [79.5, 155], outline: box(40, 120, 130, 180), areaMm2: 1000 },
  ];
  return { image: { pixels, width: W, height: H, pixelSpacing: [MM, MM] }, classes, disc, vertebrae };
}

const near = (actual: number | null, expected: number, tolerance: number, what: string): void => {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
};

test('disc heights, the disc height index and signal ratios come out as built on a synthetic disc', () => {
  const s = scene();
  const m = measureDisc(s.image, { classes: s.classes, discs: [s.disc], vertebrae: s.vertebrae }, s.disc);
  near(m.discHeightAnteriorMm, 10, 1e-9, 'anterior height');
  near(m.discHeightMiddleMm, 10, 1e-9, 'middle height');
  near(m.discHeightPosteriorMm, 10, 1e-9, 'posterior height');
  near(m.discHeightMm, 10, 1e-9, 'mean height');
  near(m.discHeightIndex, 10 / 25, 1e-9, 'disc height index (body above 25 mm)');
  near(m.signalIntensityRatio, 100 / 200, 1e-9, 'disc / CSF signal');
  near(m.nucleusAnnulusContrast, 1, 1e-9, 'uniform disc');
  near(m.endplateSignalRatio, 90 / ((90 * 6 + 60 * 44) / 50), 1e-3, 'endplate / body signal');
  near(m.listhesisMm, 0, 1e-9, 'aligned bodies');
  near(m.wedgeAngleDeg, 0, 1e-6, 'parallel endplates');
  near(m.discAngleDeg, 0, 1e-9, 'horizontal disc');
});

test('an upper body shifted 4 mm anterior reads as 4 mm of anterolisthesis', () => {
  const s = scene(8);
  const m = measureDisc(s.image, { classes: s.classes, discs: [s.disc], vertebrae: s.vertebrae }, s.disc);
  near(m.listhesisMm, 4, 1e-9, 'listhesis');
});

test('a disc taller anteriorly has a positive wedge angle and a lower posterior height', () => {
  const s = scene(0, 4); // 2 mm off the top and bottom over 39.5 mm → 2·atan(2/39.5)
  const m = measureDisc(s.image, { classes: s.classes, discs: [s.disc], vertebrae: s.vertebrae }, s.disc);
  near(m.wedgeAngleDeg, (2 * Math.atan(2 / 39.5) * 180) / Math.PI, 0.8, 'wedge angle');
  assert.ok(
    m.discHeightPosteriorMm < m.discHeightAnteriorMm - 1,
    `${m.discHeightPosteriorMm} vs ${m.discHeightAnteriorMm}`,
  );
});

test('measures that need a missing structure are null, not guessed', () => {
  const s = scene();
  const m = measureDisc(
    s.image,
    { classes: s.classes.map((c) => (c === 3 ? 0 : c)), discs: [s.disc], vertebrae: [] },
    s.disc,
  );
  assert.equal(m.discHeightIndex, null);
  assert.equal(m.listhesisMm, null);
  assert.equal(m.signalIntensityRatio, null);
  assert.equal(m.endplateSignalRatio, null);
  near(m.discHeightMm, 10, 1e-9, 'height still measured');
});
