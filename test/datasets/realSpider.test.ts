import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDataset } from '../../src/datasets/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

const SPIDER = join(REPO_ROOT, '../shared/data/spider');

test('the real SPIDER 2D release reads with its documented counts', async (t) => {
  if (!existsSync(join(SPIDER, 'overview.csv'))) {
    t.skip(`no SPIDER data at ${SPIDER}`);
    return;
  }
  const dataset = await readDataset(SPIDER);
  assert.equal(dataset.layout, 'spider-2d');
  assert.equal(dataset.series.length, 360);
  const bySequence = (sequence: string): number => dataset.series.filter((s) => s.sequence === sequence).length;
  assert.deepEqual([bySequence('T1'), bySequence('T2'), bySequence('T2SPACE')], [158, 172, 30]);
  assert.equal(dataset.discs.length, 1240);
  assert.equal(
    dataset.series.reduce((n, s) => n + s.keypoints.length, 0),
    860,
  );
  assert.equal(dataset.maskSlices.length, 330);
  assert.equal(dataset.patients.length, 179);
  assert.deepEqual(dataset.notes, []);
  const image = await dataset.series.find((s) => s.id === '1_t2')?.loadMidSagittal();
  assert.deepEqual([image?.width, image?.height, image?.pixelSpacing], [448, 578, [0.625, 0.625]]);
});
