import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadGrader } from '../../src/grade/grader.js';
import { gradeVolume } from '../../src/grade/volume.js';
import { loadSingleVolume } from '../../src/io/load.js';
import { loadLocalizer } from '../../src/localize/localizer.js';
import { DEFAULT_LOCALIZER_DIR, GRADER_MODEL_DIR } from '../../src/store/store.js';
import { REPO_ROOT } from '../helpers/cli.js';

const expectedGrade = (probs: readonly number[]): number => probs.reduce((s, p, k) => s + p * (k + 1), 0);

test('the bundled grader grades the example study: probabilities sum to 1 and its degenerated discs outrank its healthy ones', async () => {
  const grader = await loadGrader(GRADER_MODEL_DIR, { engine: 'auto' });
  const localizer = await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: 'auto' });
  const volume = await loadSingleVolume([join(REPO_ROOT, 'examples/spider-98-t2space/dicom')]);
  const { discs, slicesGraded } = await gradeVolume(grader, localizer, volume);
  assert.equal(slicesGraded, 5, 'the chosen slice and two either side (1 mm apart) are graded and averaged');
  const lumbar = discs.filter((d) => d.ivdLabel >= 1 && d.ivdLabel <= 5);
  assert.equal(lumbar.length, 5, discs.map((d) => d.level).join(', '));
  for (const d of discs) {
    for (const probs of [d.pfirrmann.probs, d.modic.probs]) {
      assert.ok(Math.abs(probs.reduce((s, p) => s + p, 0) - 1) < 1e-6);
      assert.ok(probs.every((p) => p >= 0 && p <= 1));
    }
    assert.equal(typeof d.needsReview, 'boolean');
    assert.ok(d.centerMm.every(Number.isFinite));
  }
  // SPIDER grades patient 98's L5/S1 and L4/L5 Pfirrmann 5 (with Modic 2), L3/L4 to L1/L2 Pfirrmann 3.
  const mean = (labels: number[]): number => {
    const chosen = lumbar.filter((d) => labels.includes(d.ivdLabel));
    return chosen.reduce((s, d) => s + expectedGrade(d.pfirrmann.probs), 0) / chosen.length;
  };
  const degenerated = mean([1, 2]);
  const healthy = mean([3, 4, 5]);
  assert.ok(degenerated > healthy, `expected Pfirrmann grade ${degenerated.toFixed(2)} vs ${healthy.toFixed(2)}`);
});

test('the bundled grader ships with its model card and out-of-fold predictions', () => {
  for (const file of ['model.json', 'weights.bin', 'MODEL_CARD.md', 'out-of-fold.jsonl'])
    assert.ok(existsSync(join(GRADER_MODEL_DIR, file)), file);
});

test('Grad-CAM explains a grade of a real disc: heat on its crop, carried back onto the slice around that disc only', async () => {
  const { explainDiscs } = await import('../../src/explain/disc.js');
  const { extractSagittalSlice } = await import('../../src/volume/orientation.js');
  const grader = await loadGrader(GRADER_MODEL_DIR, { engine: 'auto' });
  const localizer = await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: 'auto' });
  const volume = await loadSingleVolume([join(REPO_ROOT, 'examples/spider-98-t2space/dicom')]);
  const { localization } = await gradeVolume(grader, localizer, volume);
  const slice = extractSagittalSlice(volume, localization.sliceIndex);
  const l5 = localization.slice.discs.find((d) => d.ivdLabel === 1)!;
  const [heat] = await explainDiscs(grader, slice, [l5], { finding: 'pfirrmann', grade: 5 });
  assert.equal(heat!.crop.width, grader.config.cropSize);
  assert.equal(heat!.slice.length, slice.width * slice.height);
  assert.ok(heat!.crop.peak > 0, 'some evidence for grade 5');
  // Every hot slice pixel lies within the crop's reach (56 mm square around the disc).
  const [sx, sy] = slice.pixelSpacing;
  let hot = 0;
  for (let y = 0; y < slice.height; y++) {
    for (let x = 0; x < slice.width; x++) {
      if ((heat!.slice[y * slice.width + x] as number) <= 0) continue;
      hot++;
      const distance = Math.hypot((x - l5.center[0]) * sx, (y - l5.center[1]) * sy);
      assert.ok(distance < 56, `heat ${distance.toFixed(1)} mm from the disc`);
    }
  }
  assert.ok(hot > 0);
});
