import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDataset } from '../../../src/datasets/index.js';
import { loadLocalizer, localizeImages } from '../../../src/localize/localizer.js';
import { REPO_ROOT, runCli } from '../../helpers/cli.js';
import { tempFolder } from '../../helpers/tmp.js';

const MINI = 'test/fixtures/datasets/spider-2d-mini';

/** A localiser small enough to train in seconds: a 64×64 canvas at 5 mm, 4 base filters, depth 2. */
const TINY = [
  '--workers',
  '1',
  '--folds',
  '3',
  '--canvas',
  '64',
  '--spacing-mm',
  '5',
  '--base-filters',
  '4',
  '--depth',
  '2',
];

test('train localizer runs end to end on a tiny dataset: model, metadata, card, and a loadable localiser', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'localizer');
  const run = runCli([
    'train',
    'localizer',
    '--data',
    MINI,
    '--out',
    out,
    '--epochs',
    '2',
    '--fold',
    '1',
    ...TINY,
    '--resamples',
    '50',
  ]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /epoch 2: Dice disc/);
  assert.ok(existsSync(join(out, 'weights.bin')));
  const card = await readFile(join(out, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /lumbar T2 discs found with the right level/);
  assert.match(card, /--canvas 64 --spacing-mm 5 --base-filters 4 --depth 2/);
  const localizer = await loadLocalizer(out, { engine: 'auto' });
  assert.equal(localizer.config.size, 64);
  const dataset = await readDataset(join(REPO_ROOT, MINI));
  const [result] = localizeImages(localizer, [await dataset.series[0]!.loadMidSagittal()]);
  assert.ok(Array.isArray(result!.discs));
  assert.equal(result!.classes.length > 0, true);
});

test('predict with a localiser writes masks for the reference slices, in SPIDER values', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'localizer');
  assert.equal(
    runCli(['train', 'localizer', '--data', MINI, '--out', out, '--epochs', '1', ...TINY, '--resamples', '20']).status,
    0,
  );
  const masks = join(folder, 'masks');
  const run = runCli(['predict', MINI, '--out', join(folder, 'p.jsonl'), '--localizer', out, '--masks-out', masks]);
  assert.equal(run.status, 0, run.stderr);
  const { readdir } = await import('node:fs/promises');
  const { readPicture } = await import('../../../src/io/png.js');
  const files = await readdir(masks);
  assert.equal(files.length, 6);
  const mask = await readPicture(join(masks, files[0]!));
  assert.ok(Array.from(mask.voxels).every((v) => v === 0 || v === 29 || v === 76 || v === 150));
});

test('train localizer --cross-validate trains every fold once, reuses them on a rerun, and reports out-of-fold figures', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'localizer');
  const folds = join(folder, 'folds');
  const args = ['train', 'localizer', '--data', MINI, '--out', out, '--epochs', '1', '--fold', '1', ...TINY];
  const first = runCli([...args, '--cross-validate', folds, '--resamples', '50']);
  assert.equal(first.status, 0, first.stderr);
  assert.ok(existsSync(join(folds, 'fold-2', 'weights.bin')) && existsSync(join(folds, 'fold-3', 'weights.bin')));
  assert.ok(!existsSync(join(folds, 'fold-1')), 'fold 1 is the model in --out');
  const summary = JSON.parse(await readFile(join(out, 'cross-validation.json'), 'utf8')) as {
    folds: { fold: number; heldOutPatients: string[] }[];
  };
  assert.deepEqual(
    summary.folds.map((f) => f.fold),
    [1, 2, 3],
  );
  assert.equal(new Set(summary.folds.flatMap((f) => f.heldOutPatients)).size, 3, 'every patient held out once');
  const card = await readFile(join(out, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /out of fold \(all patients\)/);
  const again = runCli([...args, '--cross-validate', folds, '--resamples', '50']);
  assert.equal(again.status, 0, again.stderr);
  assert.equal((again.stderr.match(/reusing/g) ?? []).length, 3);
});
