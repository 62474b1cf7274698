import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSingleVolume } from '../../src/io/load.js';
import { readPicture } from '../../src/io/png.js';
import { loadLocalizer, localizeImages } from '../../src/localize/localizer.js';
import { distanceToPolygon } from '../../src/metrics/index.js';
import { DEFAULT_LOCALIZER_DIR } from '../../src/store/store.js';
import { extractSagittalSlice, midSagittalIndex } from '../../src/volume/orientation.js';
import { REPO_ROOT } from '../helpers/cli.js';

const SLICES = join(REPO_ROOT, 'test/fixtures/localizer-slices');

/**
 * Keypoints (of 15 on three held-out slices) the bundled localiser must place within 3 mm of the outline
 * of the disc with their level: a regression floor, set below what the shipped model measured (see its card).
 */
const FLOOR = Number(process.env.LOCALIZER_FLOOR ?? 9);

test('the bundled localiser labels lumbar discs of held-out real T2 slices from the sacrum upward, at their keypoints', async () => {
  const localizer = await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: 'auto' });
  const rows = (await readFile(join(SLICES, 'keypoints.csv'), 'utf8')).trim().split(/\r?\n/).slice(1);
  const bySeries = new Map<string, { ivdLabel: number; x: number; y: number; spacing: number }[]>();
  for (const row of rows) {
    const [series, ivd, x, y, spacing] = row.split(',');
    bySeries.set(series!, [
      ...(bySeries.get(series!) ?? []),
      { ivdLabel: Number(ivd), x: Number(x), y: Number(y), spacing: Number(spacing) },
    ]);
  }
  assert.equal(bySeries.size, 3);
  let hits = 0;
  for (const [series, keypoints] of bySeries) {
    const spacing = keypoints[0]!.spacing;
    const image = await readPicture(join(SLICES, `${series}.png`), { pixelSpacing: [spacing, spacing] });
    const [result] = localizeImages(localizer, [extractSagittalSlice(image, 0)]);
    const discs = [...result!.discs].filter((d) => d.ivdLabel >= 1).sort((a, b) => a.ivdLabel - b.ivdLabel);
    // Counted from the sacrum upward: labels are consecutive from L5/S1 and each sits above the one before.
    assert.deepEqual(
      discs.map((d) => d.ivdLabel),
      discs.map((_, n) => n + 1),
      series,
    );
    for (let n = 1; n < discs.length; n++) assert.ok(discs[n]!.center[1] < discs[n - 1]!.center[1], series);
    for (const k of keypoints) {
      const disc = discs.find((d) => d.ivdLabel === k.ivdLabel);
      if (disc && distanceToPolygon([k.x, k.y], disc.outline, [spacing, spacing]) <= 3) hits++;
    }
  }
  assert.ok(hits >= FLOOR, `${hits} of 15 keypoints at the right level (floor ${FLOOR})`);
});

test('the bundled localiser finds the lumbar discs of the example DICOM study on its mid-sagittal slice', async () => {
  const localizer = await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: 'auto' });
  const volume = await loadSingleVolume([join(REPO_ROOT, 'examples/spider-98-t2space/dicom')]);
  const slice = extractSagittalSlice(volume, midSagittalIndex(volume));
  const [result] = localizeImages(localizer, [slice]);
  const levels = result!.discs.map((d) => d.level);
  for (const level of ['L5/S1', 'L4/L5', 'L3/L4', 'L2/L3', 'L1/L2'])
    assert.ok(levels.includes(level), `${level} in ${levels.join(', ')}`);
  const l5 = result!.discs.find((d) => d.level === 'L5/S1')!;
  const l1 = result!.discs.find((d) => d.level === 'L1/L2')!;
  assert.ok(l5.center[1] > l1.center[1], 'L5/S1 lies below L1/L2');
});

test('the bundled localiser ships with its model card', () => {
  assert.ok(existsSync(join(DEFAULT_LOCALIZER_DIR, 'MODEL_CARD.md')));
  assert.ok(existsSync(join(DEFAULT_LOCALIZER_DIR, 'weights.bin')));
});

test('a 3D series is localised on the central slice with the most spinal canal, with discs in patient millimetres', async () => {
  const { localizeVolume } = await import('../../src/localize/volume.js');
  const localizer = await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: 'auto' });
  const volume = await loadSingleVolume([join(REPO_ROOT, 'examples/spider-98-t2space/dicom')]);
  const result = localizeVolume(localizer, volume);
  const candidates = Object.keys(result.canalPixels).map(Number);
  assert.deepEqual(candidates, [2, 3, 4, 5, 6, 7, 8]);
  const most = Math.max(...Object.values(result.canalPixels));
  assert.equal(result.canalPixels[result.sliceIndex], most);
  const l5 = result.discs.find((d) => d.level === 'L5/S1')!;
  const l1 = result.discs.find((d) => d.level === 'L1/L2')!;
  // LPS: +z is superior, so L1/L2 lies higher than L5/S1; both sit in the chosen slice's plane.
  assert.ok(l1.centerMm[2] > l5.centerMm[2] + 60, `${l1.centerMm[2]} vs ${l5.centerMm[2]}`);
  assert.ok(Math.abs(l1.centerMm[0] - l5.centerMm[0]) < 1e-6);
  assert.ok(result.levelVote.slices >= 3, 'the neighbouring slices voted on the levels');
  assert.equal(result.levelVote.offsetApplied, 0, 'they agree with the chosen slice on this example');
});
