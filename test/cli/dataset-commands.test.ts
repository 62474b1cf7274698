import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDataset } from '../../src/datasets/index.js';
import { EXIT_CODES } from '../../src/errors.js';
import { distanceToPolygon } from '../../src/metrics/index.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { SPIDER_DATA as SPIDER, skipWhenMissing, spiderDataMissing } from '../helpers/programs.js';
import { tempFolder } from '../helpers/tmp.js';

const MINI = 'test/fixtures/datasets/spider-2d-mini';

test('predict writes one line per series and one fused line per patient, following the contract', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'p.jsonl');
  const run = runCli(['predict', MINI, '--out', out, '--cross-validate', '3', '--localizer', 'none']);
  assert.equal(run.status, 0, run.stderr);
  const lines = (await readFile(out, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const seriesLines = lines.filter((l) => l.series !== null);
  const patientLines = lines.filter((l) => l.series === null);
  assert.deepEqual(patientLines.map((l) => l.patient).sort(), ['1', '5', '7']);
  assert.ok(seriesLines.every((l) => typeof l.sequence === 'string' && l.discs.length === 5));
  const disc = seriesLines[0].discs[0];
  assert.equal(disc.level, 'L1/L2');
  assert.equal(disc.ivdLabel, 5);
  assert.ok(Math.abs(disc.pfirrmann.probs.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-5);
  assert.equal(disc.center, undefined, 'the class prior localises nothing and claims no geometry');
});

test('predict with the bundled model warns that SPIDER training patients are in-sample', async (t) => {
  const folder = await tempFolder(t);
  const run = runCli(['predict', MINI, '--out', join(folder, 'p.jsonl')]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /warning: 3 of 3 patients were in the model's and the localiser's training data/);
  assert.match(run.stderr, /use the model's own out-of-fold predictions \(models\/grader\/out-of-fold\.jsonl\)/);
  assert.doesNotMatch(run.stderr, /--cross-validate/, 'cross-validating the class prior is no remedy for the grader');
});

test('predict refuses --masks-out without a localiser, writing nothing', async (t) => {
  const folder = await tempFolder(t);
  const run = runCli([
    'predict',
    MINI,
    '--out',
    join(folder, 'p.jsonl'),
    '--masks-out',
    join(folder, 'masks'),
    '--localizer',
    'none',
  ]);
  assert.equal(run.status, EXIT_CODES.USAGE);
  assert.match(run.stderr, /--masks-out needs a localiser/);
  assert.equal(existsSync(join(folder, 'p.jsonl')), false);
});

test('evaluate scores a predictions file of the bundled localiser and writes every figure as JSON', async (t) => {
  const folder = await tempFolder(t);
  const predictions = join(folder, 'p.jsonl');
  assert.equal(runCli(['predict', MINI, '--out', predictions, '--cross-validate', '3']).status, 0);
  const run = runCli([
    'evaluate',
    MINI,
    '--predictions',
    predictions,
    '--json',
    join(folder, 'e.json'),
    '--resamples',
    '100',
  ]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /Pfirrmann, per patient-disc \(fused over series\), L1\/L2-L5\/S1: 15 discs, 3 patients/);
  assert.match(run.stdout, /readers inter 0\.6 · readers intra 0\.8 · SpineNet external 0\.68/);
  const json = JSON.parse(await readFile(join(folder, 'e.json'), 'utf8'));
  assert.equal(json.evaluation.pfirrmannFused.discs, 15);
  // The count of T2 keypoints found at their level is the one recomputed here from the predictions file:
  // within 3 mm of the outline of the disc with the keypoint's level on that series.
  const outlines = new Map<string, [number, number][]>();
  for (const line of (await readFile(predictions, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l)))
    if (line.series !== null)
      for (const d of line.discs) if (d.outline) outlines.set(`${line.series}#${d.ivdLabel}`, d.outline);
  const dataset = await readDataset(join(REPO_ROOT, MINI));
  let found = 0;
  let keypoints = 0;
  for (const series of dataset.series) {
    const { pixelSpacing } = await series.loadMidSagittal();
    for (const k of series.keypoints) {
      keypoints++;
      const outline = outlines.get(`${series.id}#${k.ivdLabel}`);
      if (outline && distanceToPolygon([k.x, k.y], outline, pixelSpacing) <= 3) found++;
    }
  }
  assert.equal(keypoints, 15);
  assert.equal(json.evaluation.localisation.keypoints, 15);
  assert.equal(json.evaluation.localisation.found, found);
  // On these 4× downsampled slices (about 2.5 mm pixels) the bundled localiser finds 5 today.
  assert.ok(found >= 4, `${found} of 15 T2 keypoints at their level`);
});

test('evaluate names the line of a malformed predictions file', async (t) => {
  const folder = await tempFolder(t);
  await writeFile(join(folder, 'bad.jsonl'), '{"series":null,"patient":"1","discs":[]}\nnot json\n');
  const run = runCli(['evaluate', MINI, '--predictions', join(folder, 'bad.jsonl')]);
  assert.equal(run.status, EXIT_CODES.INVALID_HEADER);
  assert.match(run.stderr, /bad\.jsonl: line 2 is not JSON/);
});

test('predict and evaluate report a dataset folder that does not exist', () => {
  const run = runCli(['evaluate', 'no/such/dataset']);
  assert.equal(run.status, EXIT_CODES.NOT_FOUND);
  assert.match(run.stderr, /no\/such\/dataset/);
});

test('evaluate on the real SPIDER training data gives the prior kappa 0, matching a recomputation from the files', async (t) => {
  if (skipWhenMissing(t, spiderDataMissing())) return;
  const folder = await tempFolder(t);
  const predictions = join(folder, 'p.jsonl');
  assert.equal(
    runCli(['predict', SPIDER, '--out', predictions, '--cross-validate', '5', '--localizer', 'none']).status,
    0,
  );
  const run = runCli([
    'evaluate',
    SPIDER,
    '--predictions',
    predictions,
    '--json',
    join(folder, 'e.json'),
    '--resamples',
    '200',
  ]);
  assert.equal(run.status, 0, run.stderr);
  const fused = JSON.parse(await readFile(join(folder, 'e.json'), 'utf8')).evaluation.pfirrmannFused;
  // Recompute accuracy from the two files alone: gradings CSV and the patient lines.
  const gradings = (await readFile(join(SPIDER, 'radiological_gradings.csv'), 'utf8')).trim().split(/\r?\n/).slice(1);
  const predicted = new Map<string, number>();
  for (const line of (await readFile(predictions, 'utf8')).trim().split('\n')) {
    const row = JSON.parse(line);
    if (row.series === null)
      for (const d of row.discs) predicted.set(`${row.patient}/${d.ivdLabel}`, d.pfirrmann.grade);
  }
  let total = 0;
  let correct = 0;
  for (const g of gradings) {
    const cells = g.split(',');
    const ivd = Number(cells[1]);
    if (ivd < 1 || ivd > 5) continue;
    total++;
    if (predicted.get(`${cells[0]}/${ivd}`) === Number(cells[9])) correct++;
  }
  assert.equal(fused.discs, total);
  assert.equal(fused.rows.find((r: { measure: string }) => r.measure === 'accuracy').estimate.value, correct / total);
  assert.ok(
    Math.abs(fused.rows.find((r: { measure: string }) => r.measure === 'kappa (linear)').estimate.value) < 0.02,
  );
});

test('evaluate --held-out-only keeps to the patients the bundled localiser never saw in training', async (t) => {
  const folder = await tempFolder(t);
  const trained = JSON.parse(await readFile(join(REPO_ROOT, 'models/localizer/model.json'), 'utf8')).userDefinedMetadata
    .trainedOn.patients as string[];
  const real = runCli(['evaluate', MINI, '--held-out-only', '--resamples', '50', '--json', join(folder, 'e.json')]);
  const miniPatients = ['1', '5', '7'];
  const heldOut = miniPatients.filter((p) => !trained.includes(p));
  if (heldOut.length === 0) {
    assert.equal(real.status, EXIT_CODES.NO_IMAGES);
    assert.match(real.stderr, /every patient was in the localiser training data/);
  } else {
    assert.equal(real.status, 0, real.stderr);
    assert.match(real.stdout, new RegExp(`: ${heldOut.length} patients,`));
  }
});
