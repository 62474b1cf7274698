import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeAccount } from '../../src/datasets/common.js';
import { readDataset } from '../../src/datasets/index.js';
import { runCli } from '../helpers/cli.js';
import { localizerTrainedOn } from '../helpers/datasets.js';
import { tempFolder } from '../helpers/tmp.js';

const MINI = 'test/fixtures/datasets/spider-2d-mini';
const EXAMPLE = 'examples/spider-98-t2space/dicom';

/**
 * An own-data folder with one drop of each reason: patient 5 readable; patient 7's picture has no
 * spacing row; patient 9's folder holds a "DICOM" file that is text; patient 11 holds one study
 * copied into two folders; a file outside any patient folder; labels for patient 12, who has no images;
 * patient 13 has images but no labels.
 */
async function messyOwnData(root: string): Promise<string> {
  for (const patient of ['5', '7', '9', '11', '13']) await mkdir(join(root, 'studies', patient), { recursive: true });
  await copyFile(join(MINI, 'midsagittal', '5_t2.png'), join(root, 'studies', '5', 't2.png'));
  await copyFile(join(MINI, 'midsagittal', '7_t2.png'), join(root, 'studies', '7', 't2.png'));
  await copyFile(join(MINI, 'midsagittal', '1_t2.png'), join(root, 'studies', '13', 't2.png'));
  await writeFile(join(root, 'studies', '9', 'IM0001.dcm'), 'not a DICOM file\n');
  await cp(EXAMPLE, join(root, 'studies', '11', 'copy-a'), { recursive: true });
  await cp(EXAMPLE, join(root, 'studies', '11', 'copy-b'), { recursive: true });
  await writeFile(join(root, 'studies', 'notes.txt'), 'loose\n');
  await writeFile(
    join(root, 'spacing.csv'),
    'file,col_spacing_mm,row_spacing_mm\n5/t2.png,2.34375,2.34375\n13/t2.png,1,1\n',
  );
  const labels = ['patient,level,pfirrmann', '5,L4/L5,3', '7,L4/L5,2', '9,L4/L5,2', '11,L4/L5,4', '12,L5/S1,3'];
  await writeFile(join(root, 'labels.csv'), `${labels.join('\n')}\n`);
  return root;
}

test('the own-data reader accounts for every file: what it read, and each thing it left out by reason', async (t) => {
  const root = await messyOwnData(join(await tempFolder(t), 'site'));
  const dataset = await readDataset(root);
  const account = dataset.account;
  assert.ok(account);
  assert.deepEqual(account.read, { series: 2, patients: 2, gradedDiscs: 5 });
  const reasons = Object.fromEntries(account.leftOut.map((l) => [l.reason, [l.count, l.unit, l.examples]]));
  assert.deepEqual(reasons['no pixel spacing (no row in spacing.csv)'], [1, 'files', ['7/t2.png']]);
  assert.deepEqual(reasons.unreadable, [1, 'patient folders', ['9']]);
  assert.deepEqual(reasons['duplicate slices (one study copied into several folders?)'], [
    1,
    'patient folders',
    ['11'],
  ]);
  assert.deepEqual(reasons['outside a patient folder'], [1, 'files', ['notes.txt']]);
  assert.deepEqual(reasons['labels without images'], [4, 'patients', ['11', '12', '7', '9']]);
  assert.deepEqual(reasons['no labels (not scored)'], [1, 'patients', ['13']]);
  const lines = describeAccount(account);
  assert.equal(lines[0], 'read: 2 series of 2 patients, 5 graded discs');
  assert.ok(lines.includes('left out: 1 files: no pixel spacing (no row in spacing.csv) (7/t2.png)'));
});

test('predict and evaluate end with the reader account, in their output and in evaluate --json', async (t) => {
  const folder = await tempFolder(t);
  const root = await messyOwnData(join(folder, 'site'));
  const predict = runCli([
    'predict',
    root,
    '--out',
    join(folder, 'p.jsonl'),
    '--cross-validate',
    '2',
    '--localizer',
    'none',
  ]);
  assert.equal(predict.status, 0, predict.stderr);
  assert.match(predict.stderr, /read: 2 series of 2 patients, 5 graded discs/);
  assert.match(predict.stderr, /left out: 1 files: no pixel spacing \(no row in spacing\.csv\) \(7\/t2\.png\)/);
  assert.match(predict.stderr, /left out: 1 patient folders: duplicate slices/);
  const json = join(folder, 'e.json');
  const evaluate = runCli([
    'evaluate',
    root,
    '--predictions',
    join(folder, 'p.jsonl'),
    '--json',
    json,
    '--resamples',
    '20',
  ]);
  assert.equal(evaluate.status, 0, evaluate.stderr);
  assert.match(evaluate.stdout, /left out: 1 patient folders: unreadable \(9\)/);
  const written = JSON.parse(await readFile(json, 'utf8'));
  assert.equal(written.reader.read.series, 2);
  assert.ok(written.reader.leftOut.some((l: { reason: string }) => l.reason === 'outside a patient folder'));
});

test('evaluate --held-out-only accounts for the patients it leaves out', async (t) => {
  const folder = await tempFolder(t);
  // A localiser that saw SPIDER patient 1 only (the bundled one, its training record cut down).
  const localizer = await localizerTrainedOn(join(folder, 'localizer'), ['1']);
  const predictions = join(folder, 'p.jsonl');
  assert.equal(
    runCli(['predict', MINI, '--out', predictions, '--cross-validate', '3', '--localizer', 'none']).status,
    0,
  );
  const json = join(folder, 'e.json');
  const run = runCli([
    'evaluate',
    MINI,
    '--predictions',
    predictions,
    '--held-out-only',
    '--localizer',
    localizer,
    '--json',
    json,
    '--resamples',
    '20',
  ]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /left out: 1 patients: in the localiser's training data \(--held-out-only\) \(1\)/);
  const written = JSON.parse(await readFile(json, 'utf8'));
  assert.equal(written.reader.read.patients, 2);
});
