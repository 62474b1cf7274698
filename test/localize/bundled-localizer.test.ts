import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSingleVolume } from '../../src/io/load.js';
import { loadLocalizer, localizeImages } from '../../src/localize/localizer.js';
import { distanceToPolygon } from '../../src/metrics/index.js';
import { DEFAULT_LOCALIZER_DIR } from '../../src/store/store.js';
import { extractSagittalSlice, midSagittalIndex } from '../../src/volume/orientation.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { assertHeldOutFrom, heldOutSlices } from '../helpers/heldOutSlices.js';

/**
 * Floors for the bundled localiser on six real T2 slices of patients it never saw (its held-out fold),
 * near what it measures today (26 of 30 keypoints within 3 mm of the outline of the disc with their level;
 * every slice's levels right). No environment variable lowers them; a regression must be fixed, not waved
 * through. One slice labelled a level off costs about five keypoints and fails both.
 */
const KEYPOINTS_AT_THEIR_LEVEL_FLOOR = 24;
const SLICES_WITH_THE_RIGHT_LEVELS_FLOOR = 6;

test('the bundled localiser finds the lumbar discs of held-out real T2 slices at their level, counted from the sacrum upward', async (t) => {
  const localizer = await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: 'auto' });
  const slices = await heldOutSlices();
  await assertHeldOutFrom(localizer, slices);
  const results = localizeImages(
    localizer,
    slices.map((s) => s.image),
  );
  let hits = 0;
  let rightLevels = 0;
  slices.forEach(({ series, image, keypoints }, n) => {
    const discs = [...(results[n]?.discs ?? [])].filter((d) => d.ivdLabel >= 1).sort((a, b) => a.ivdLabel - b.ivdLabel);
    // Counted from the sacrum upward: labels are consecutive from L5/S1 and each sits above the one before.
    assert.deepEqual(
      discs.map((d) => d.ivdLabel),
      discs.map((_, k) => k + 1),
      series,
    );
    for (let k = 1; k < discs.length; k++) assert.ok(discs[k]!.center[1] < discs[k - 1]!.center[1], series);
    let sliceHits = 0;
    const offsets: number[] = [];
    for (const keypoint of keypoints) {
      const at = (d: (typeof discs)[number]): number =>
        distanceToPolygon([keypoint.x, keypoint.y], d.outline, image.pixelSpacing);
      const own = discs.find((d) => d.ivdLabel === keypoint.ivdLabel);
      if (own && at(own) <= 3) sliceHits++;
      // The level of the disc nearest the keypoint, whatever its label: a whole slice off by one shows here.
      const nearest = [...results[n]!.discs].sort((a, b) => at(a) - at(b))[0];
      if (nearest && at(nearest) <= 10) offsets.push(nearest.ivdLabel - keypoint.ivdLabel);
    }
    const right = offsets.filter((o) => o === 0).length;
    if (right >= 3) rightLevels++;
    hits += sliceHits;
    t.diagnostic(`${series}: ${sliceHits} of 5 keypoints at their level; level offsets ${offsets.join(' ')}`);
  });
  t.diagnostic(`${hits} of 30 keypoints at their level, ${rightLevels} of 6 slices with the right levels`);
  assert.ok(
    hits >= KEYPOINTS_AT_THEIR_LEVEL_FLOOR,
    `${hits} of 30 keypoints at their level (floor ${KEYPOINTS_AT_THEIR_LEVEL_FLOOR})`,
  );
  assert.ok(
    rightLevels >= SLICES_WITH_THE_RIGHT_LEVELS_FLOOR,
    `${rightLevels} of 6 slices with their levels right (floor ${SLICES_WITH_THE_RIGHT_LEVELS_FLOOR})`,
  );
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
