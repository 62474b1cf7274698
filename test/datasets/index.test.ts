import assert from 'node:assert/strict';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectDatasetLayout, readDataset } from '../../src/datasets/index.js';
import { SpinegradeError } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/datasets');

test('the layout of each fixture folder is detected from what it holds', async () => {
  assert.equal(await detectDatasetLayout(join(FIXTURES, 'spider-2d-mini')), 'spider-2d');
  assert.equal(await detectDatasetLayout(join(FIXTURES, 'spider-2d-partial')), 'spider-2d');
  assert.equal(await detectDatasetLayout(join(FIXTURES, 'spider-original')), 'spider-original');
  assert.equal(await detectDatasetLayout(FIXTURES), undefined);
});

test('readDataset reads the detected layout, or the one it is told', async () => {
  const detected = await readDataset(join(FIXTURES, 'spider-original'));
  assert.equal(detected.layout, 'spider-original');
  assert.equal(detected.series.length, 6);
  const told = await readDataset(join(FIXTURES, 'spider-2d-mini'), 'spider-2d');
  assert.equal(told.layout, 'spider-2d');
  assert.equal(told.series.length, 8);
});

test('labels.csv with studies/ is detected as own data', async (t) => {
  const root = await tempFolder(t);
  await mkdir(join(root, 'studies/A'), { recursive: true });
  await cp(join(FIXTURES, 'spider-original/images/5_t2.mha'), join(root, 'studies/A/t2.mha'));
  await writeFile(join(root, 'labels.csv'), 'patient,level,pfirrmann\nA,L4/L5,2\n');
  assert.equal(await detectDatasetLayout(root), 'own');
  const dataset = await readDataset(root);
  assert.equal(dataset.layout, 'own');
  assert.deepEqual(dataset.patients, ['A']);
});

test('a folder no layout fits is a NO_IMAGES error that names the layouts; a missing one is NOT_FOUND', async (t) => {
  const root = await tempFolder(t);
  await writeFile(join(root, 'notes.txt'), 'nothing here');
  await assert.rejects(
    readDataset(root),
    (error: unknown) =>
      error instanceof SpinegradeError &&
      error.kind === 'NO_IMAGES' &&
      /labels\.csv \+ studies\/.*images\/\*\.mha.*midsagittal\//.test(error.message),
  );
  await assert.rejects(
    readDataset(join(root, 'missing')),
    (error: unknown) => error instanceof SpinegradeError && error.kind === 'NOT_FOUND',
  );
});
