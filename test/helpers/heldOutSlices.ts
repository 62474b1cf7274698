/**
 * Real T2 slices of SPIDER patients the bundled localiser never saw (test/fixtures/localizer-slices),
 * with their keypoints and gradings from the shipped SPIDER labels, for the live model floors.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiscLabel } from '../../src/datasets/types.js';
import { readPicture } from '../../src/io/png.js';
import { type Localizer, localizerTrainingPatients } from '../../src/localize/localizer.js';
import { DEFAULT_LOCALIZER_DIR } from '../../src/store/store.js';
import type { Image2D } from '../../src/transforms/resample.js';
import { extractSagittalSlice } from '../../src/volume/orientation.js';
import { REPO_ROOT } from './cli.js';
import { type SpiderKeypoint, spiderGradings, spiderKeypoints } from './spiderLabels.js';

/** The T2 series of the first six patients (in patient order) held out from the bundled localiser (fold 1 of 5, seed 1). */
export const HELD_OUT_SERIES = ['18_t2', '23_t2', '32_t2', '36_t2', '44_t2', '60_t2'] as const;

/** One held-out slice with its labels. */
export interface HeldOutSlice {
  series: string;
  patient: string;
  image: Image2D;
  /** Its lumbar T2 keypoints (L5/S1 … L1/L2). */
  keypoints: SpiderKeypoint[];
  /** The patient's lumbar gradings. */
  gradings: DiscLabel[];
}

/** The held-out slices, each read with its PNG's pixel spacing as `evaluate` reads it. */
export async function heldOutSlices(): Promise<HeldOutSlice[]> {
  const keypoints = await spiderKeypoints();
  const gradings = await spiderGradings();
  const slices: HeldOutSlice[] = [];
  for (const series of HELD_OUT_SERIES) {
    const own = keypoints.filter((k) => k.series === series);
    assert.equal(own.length, 5, `${series}: five lumbar keypoints`);
    const spacing = own[0]?.spacing as [number, number];
    const picture = await readPicture(join(REPO_ROOT, 'test/fixtures/localizer-slices', `${series}.png`), {
      pixelSpacing: spacing,
    });
    const patient = own[0]?.patient as string;
    slices.push({
      series,
      patient,
      image: extractSagittalSlice(picture, 0),
      keypoints: own,
      gradings: gradings.filter((d) => d.patient === patient && d.ivdLabel >= 1 && d.ivdLabel <= 5),
    });
  }
  return slices;
}

/**
 * Fails unless the localiser's metadata and its cross-validation record both say it never saw the
 * patients of the held-out slices (a new localiser trained on other folds needs other slices here).
 */
export async function assertHeldOutFrom(localizer: Localizer, slices: readonly HeldOutSlice[]): Promise<void> {
  const trained = new Set(localizerTrainingPatients(localizer));
  assert.ok(trained.size > 100, 'the localiser names the patients it was trained on');
  const record = JSON.parse(await readFile(join(DEFAULT_LOCALIZER_DIR, 'cross-validation.json'), 'utf8'));
  const heldOut = new Set<string>(record.folds[0].heldOutPatients);
  for (const { patient } of slices) {
    assert.ok(!trained.has(patient), `patient ${patient} is in the bundled localiser's training data`);
    assert.ok(heldOut.has(patient), `patient ${patient} is not held out in cross-validation.json's first fold`);
  }
}
