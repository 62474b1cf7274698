import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readDataset } from '../../src/datasets/index.js';
import { SPIDER_DATA as SPIDER, skipWhenMissing, spiderDataMissing } from '../helpers/programs.js';

test('the real SPIDER 2D release reads with its documented counts', async (t) => {
  if (skipWhenMissing(t, spiderDataMissing())) return;
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
