import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDataset } from '../../../src/datasets/index.js';
import { gradeSeriesDiscs, loadGrader } from '../../../src/grade/grader.js';
import { GRADER_MODEL_DIR } from '../../../src/store/store.js';
import { patientsByVendor, vendorOf } from '../../../src/training/grader/fewShot.js';
import { runCli } from '../../helpers/cli.js';
import { ownDataFromMini } from '../../helpers/datasets.js';
import { tempFolder } from '../../helpers/tmp.js';

const MINI = 'test/fixtures/datasets/spider-2d-mini';

test('vendors group SPIDER manufacturers: the two Philips names are one vendor', async () => {
  assert.equal(vendorOf('Philips Healthcare'), vendorOf('Philips Medical Systems'));
  assert.equal(vendorOf('SIEMENS'), 'Siemens');
  const vendors = patientsByVendor(await readDataset(MINI));
  assert.deepEqual(vendors.get('Philips'), ['1']);
  assert.deepEqual([...(vendors.get('Siemens') ?? [])].sort(), ['5', '7']);
});

test('finetune adapts the bundled grader to own data, writes a whole model folder and refuses to overwrite it', async (t) => {
  const folder = await tempFolder(t);
  const data = await ownDataFromMini(join(folder, 'site'));
  const out = join(folder, 'tuned');
  const args = ['finetune', '--data', data, '--out', out, '--epochs', '1', '--context-epochs', '1', '--workers', '1'];
  const run = runCli(args);
  assert.equal(run.status, 0, run.stderr);
  for (const file of ['model.json', 'weights.bin', 'MODEL_CARD.md']) assert.ok(existsSync(join(out, file)), file);
  const original = await loadGrader(GRADER_MODEL_DIR, { engine: 'auto' });
  const tuned = await loadGrader(out, { engine: 'auto' });
  assert.equal(tuned.variant, original.variant, 'the same family grades');
  assert.ok((tuned.metadata.fineTuned as { patients: number }).patients === 2, 'the card metadata says what it saw');
  const before = await readFile(join(GRADER_MODEL_DIR, 'weights.bin'));
  const after = await readFile(join(out, 'weights.bin'));
  assert.equal(after.length, before.length);
  assert.ok(!after.equals(before), 'fine-tuning changed the weights');
  const disc = { crop: new Float32Array(56 * 56).fill(0.4), ivdLabel: 2, level: 'L4/L5' };
  const graded = gradeSeriesDiscs(tuned, [disc]);
  assert.ok(Math.abs((graded[0]?.pfirrmann.probs.reduce((a, b) => a + b, 0) ?? 0) - 1) < 1e-4);
  assert.match(await readFile(join(out, 'MODEL_CARD.md'), 'utf8'), /Not measured on this site/);

  const again = runCli(args);
  assert.equal(again.status, 16, 'an existing output folder is an output error');
  assert.match(again.stderr, /exists and is not empty/);
  assert.deepEqual(
    (await readdir(folder)).filter((f) => f.startsWith('.')),
    [],
    'no temporary folder is left behind',
  );
});

test('the few-shot experiment runs end to end on a tiny vendor split and writes its curve into the card', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'grader');
  await mkdir(out);
  await writeFile(join(out, 'MODEL_CARD.md'), '# Model card: disc grader\n\nearlier text\n');
  const args = [
    'train',
    'few-shot',
    '--data',
    MINI,
    '--out',
    out,
    '--source',
    'Philips',
    '--target',
    'Siemens',
    '--shots',
    '0,1',
    '--seeds',
    '1',
    '--epochs',
    '1',
    '--context-epochs',
    '1',
    '--tune-epochs',
    '1',
    '--tune-context-epochs',
    '1',
    '--workers',
    '1',
    '--resamples',
    '20',
  ];
  const run = runCli(args);
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(await readFile(join(out, 'few-shot.json'), 'utf8')) as {
    points: { shots: number; testPatients: number; tunedCrops: number }[];
  };
  assert.deepEqual(
    result.points.map((p) => p.shots),
    [0, 1],
  );
  assert.ok(result.points.every((p) => p.testPatients === 1));
  assert.equal(result.points[0]?.tunedCrops, 0);
  assert.ok((result.points[1]?.tunedCrops ?? 0) > 0, 'N = 1 fine-tunes on that patient’s crops');
  const card = await readFile(join(out, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /earlier text/);
  assert.match(card, /## Few-shot site adaptation \(vendor split\)/);
  assert.match(card, /\| 0 \| /);
  const refused = runCli(args);
  assert.equal(refused.status, 16, 'a rerun does not replace few-shot.json without --overwrite');
  const rerun = runCli([...args, '--overwrite']);
  assert.equal(rerun.status, 0, rerun.stderr);
  const twice = await readFile(join(out, 'MODEL_CARD.md'), 'utf8');
  assert.equal(twice.split('## Few-shot site adaptation').length, 2, 'a rerun replaces the section, not appends');
});
