import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDataset } from '../../../src/datasets/index.js';
import { canvasMaps, loadLocalizer, localizeImages, predictCanvases } from '../../../src/localize/localizer.js';
import { buildLocalizerSamples } from '../../../src/localize/samples.js';
import { dice } from '../../../src/metrics/index.js';
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
  // The saved localiser is the trained one: on the held-out patient's samples it reproduces the Dice the
  // trainer measured in memory before saving (heldOutScores), which random or misordered weights would not.
  const trainedOn = localizer.metadata.trainedOn as { heldOutPatients: string[] };
  const saved = localizer.metadata.heldOutScores as {
    dice: Record<'disc' | 'vertebra' | 'canal', number>;
    maskSamples: number;
  };
  const { size, spacingMm } = localizer.config;
  const samples = (
    await buildLocalizerSamples(dataset, { size, spacingMm, patients: new Set(trainedOn.heldOutPatients) })
  ).filter((s) => s.semantic);
  assert.equal(samples.length, saved.maskSamples);
  assert.ok(samples.length > 0, 'the held-out fold has mask slices');
  const predictions = predictCanvases(
    localizer.network,
    samples.map((s) => s.image),
    size,
  );
  (['disc', 'vertebra', 'canal'] as const).forEach((name, c) => {
    const mean =
      predictions.reduce(
        (sum, p, n) => sum + dice(samples[n]!.semantic!, canvasMaps(p, size, spacingMm).classes, c + 1),
        0,
      ) / samples.length;
    assert.ok(
      Math.abs(mean - saved.dice[name]) < 0.01,
      `Dice ${name}: ${mean} after loading, ${saved.dice[name]} when trained`,
    );
  });
  assert.ok(
    saved.dice.vertebra > 0.05,
    `a model trained for two epochs finds some vertebra (Dice ${saved.dice.vertebra})`,
  );
  // And it localises a real slice into a class map of that slice's size, with outlines inside it.
  const image = await dataset.series[0]!.loadMidSagittal();
  const [result] = localizeImages(localizer, [image]);
  assert.equal(result!.classes.length, image.width * image.height);
  assert.ok(result!.classes.every((c) => c <= 3));
  for (const disc of result!.discs)
    assert.ok(disc.outline.every(([x, y]) => x >= 0 && y >= 0 && x < image.width && y < image.height));
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
  const again = runCli([...args, '--cross-validate', folds, '--resamples', '50', '--overwrite']);
  assert.equal(again.status, 0, again.stderr);
  assert.equal((again.stderr.match(/reusing/g) ?? []).length, 3);
});
