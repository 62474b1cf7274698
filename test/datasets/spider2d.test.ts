import assert from 'node:assert/strict';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSpider2dDataset } from '../../src/datasets/spider2d.js';
import type { SpineDataset } from '../../src/datasets/types.js';
import { SpinegradeError } from '../../src/errors.js';
import { readPicture } from '../../src/io/png.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const MINI = join(REPO_ROOT, 'test/fixtures/datasets/spider-2d-mini');
const PARTIAL = join(REPO_ROOT, 'test/fixtures/datasets/spider-2d-partial');

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

function series(dataset: SpineDataset, id: string) {
  const found = dataset.series.find((s) => s.id === id);
  assert.ok(found, `series ${id}`);
  return found;
}

test('the SPIDER 2D mini fixture reads with every series, disc, keypoint and mask slice', async () => {
  const dataset = await readSpider2dDataset(MINI);
  assert.equal(dataset.layout, 'spider-2d');
  assert.equal(dataset.root, MINI);
  assert.deepEqual(dataset.patients, ['1', '5', '7']);
  assert.deepEqual(
    dataset.series.map((s) => s.id),
    ['1_t1', '1_t2', '5_t1', '5_t2', '5_t2_SPACE', '7_t1', '7_t2', '7_t2_SPACE'],
  );
  assert.deepEqual(
    countBy(dataset.series, (s) => s.sequence),
    { T1: 3, T2: 3, T2SPACE: 2 },
  );
  assert.deepEqual(
    dataset.series.map((s) => s.patient),
    ['1', '1', '5', '5', '5', '7', '7', '7'],
  );
  assert.equal(dataset.discs.length, 21);
  assert.equal(
    dataset.series.reduce((n, s) => n + s.keypoints.length, 0),
    15,
  );
  assert.equal(dataset.maskSlices.length, 6);
  assert.deepEqual(dataset.notes, []);
});

test('disc labels carry SPIDER level names and every graded finding under its field name', async () => {
  const dataset = await readSpider2dDataset(MINI);
  const disc = dataset.discs.find((d) => d.patient === '7' && d.ivdLabel === 1);
  // Patient 7, IVD label 1 in radiological_gradings.csv: 7,1,0,0,1,1,0,1,1,5
  assert.deepEqual(disc, {
    patient: '7',
    ivdLabel: 1,
    level: 'L5/S1',
    pfirrmann: 5,
    modic: 0,
    endplateUpper: 0,
    endplateLower: 1,
    spondylolisthesis: 1,
    herniation: 0,
    bulging: 1,
    narrowing: 1,
  });
  const levels = dataset.discs.filter((d) => d.patient === '1').map((d) => d.level);
  assert.deepEqual(levels, ['L5/S1', 'L4/L5', 'L3/L4', 'L2/L3', 'L1/L2', 'T12/L1', 'T11/T12']);
});

test('mid-sagittal images come with the overview pixel spacing as [x = column, y = row]', async () => {
  const dataset = await readSpider2dDataset(MINI);
  const image = await series(dataset, '1_t2').loadMidSagittal();
  // overview.csv gives "[2.5, 2.5]" (the real 0.625 mm × 4 for the downsampled fixture).
  assert.deepEqual(image.pixelSpacing, [2.5, 2.5]);
  assert.equal(image.width, 112);
  assert.equal(image.height, 144);
  const png = await readPicture(join(MINI, 'midsagittal/1_t2.png'));
  assert.deepEqual(Array.from(image.pixels), Array.from(png.voxels));
  assert.deepEqual((await series(dataset, '5_t1').loadMidSagittal()).pixelSpacing, [2.34375, 2.34375]);
});

test('a non-square PixelSpacing is read row first, so x gets the second number', async (t) => {
  const root = await tempFolder(t);
  await cp(MINI, root, { recursive: true });
  const overview = await readFile(join(root, 'overview.csv'), 'utf8');
  await writeFile(join(root, 'overview.csv'), overview.replace('"[2.5, 2.5]"', '"[.75, .5]"'));
  const dataset = await readSpider2dDataset(root);
  assert.deepEqual((await series(dataset, '1_t1').loadMidSagittal()).pixelSpacing, [0.5, 0.75]);
});

test('keypoints are attached to their T2 series in that PNG’s pixels, L1/L2 at the top', async () => {
  const dataset = await readSpider2dDataset(MINI);
  const t2 = series(dataset, '1_t2');
  assert.deepEqual(t2.keypoints[0], { ivdLabel: 5, level: 'L1/L2', x: 58.63, y: 47.43 });
  assert.deepEqual(
    t2.keypoints.map((k) => k.level),
    ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'],
  );
  for (let n = 1; n < t2.keypoints.length; n++) {
    assert.ok((t2.keypoints[n]?.y as number) > (t2.keypoints[n - 1]?.y as number), 'y grows downward to L5/S1');
  }
  const image = await t2.loadMidSagittal();
  for (const k of t2.keypoints) assert.ok(k.x >= 0 && k.x < image.width && k.y >= 0 && k.y < image.height);
  assert.deepEqual(series(dataset, '1_t1').keypoints, []);
  assert.deepEqual(series(dataset, '5_t2_SPACE').keypoints, []);
});

test('mask slices use the manifest spacing and give semantic masks of the image size', async () => {
  const dataset = await readSpider2dDataset(MINI);
  const slice = dataset.maskSlices.find((m) => m.id === '5_t2_SPACE_slice58.png');
  assert.ok(slice);
  assert.equal(slice.patient, '5');
  assert.equal(slice.series, '5_t2_SPACE');
  const image = await slice.loadImage();
  const mask = await slice.loadMask();
  assert.deepEqual(image.pixelSpacing, [1.875, 1.875]);
  assert.equal(mask.length, image.width * image.height);
  assert.deepEqual(
    [...new Set(mask)].sort((a, b) => a - b),
    [0, 29, 76, 150],
  );
});

test('mask slice spacing comes from the manifest columns, not from overview.csv', async (t) => {
  const root = await tempFolder(t);
  await cp(MINI, root, { recursive: true });
  const manifestPath = join(root, 't2space/manifest.csv');
  const manifest = await readFile(manifestPath, 'utf8');
  // row_spacing_mm, col_spacing_mm of the first slice of patient 7 become 1.6, 1.875.
  await writeFile(
    manifestPath,
    manifest.replace('masks/7_t2_SPACE_slice59.png,1.875,1.875', 'masks/7_t2_SPACE_slice59.png,1.6,1.875'),
  );
  const dataset = await readSpider2dDataset(root);
  const slice = dataset.maskSlices.find((m) => m.id === '7_t2_SPACE_slice59.png');
  assert.deepEqual((await slice?.loadImage())?.pixelSpacing, [1.875, 1.6]);
});

test('a folder without t2space/ and with a PNG missing still reads, saying what it left out', async () => {
  const dataset = await readSpider2dDataset(PARTIAL);
  assert.equal(dataset.series.length, 7);
  assert.ok(!dataset.series.some((s) => s.id === '7_t2_SPACE'));
  assert.equal(dataset.maskSlices.length, 0);
  assert.equal(dataset.discs.length, 21);
  assert.equal(
    dataset.series.reduce((n, s) => n + s.keypoints.length, 0),
    15,
  );
  assert.deepEqual(dataset.patients, ['1', '5', '7']);
  assert.equal(dataset.notes.length, 2);
  assert.match(dataset.notes.join('\n'), /1 series of overview\.csv have no PNG in midsagittal\/ .*7_t2_SPACE/);
  assert.match(dataset.notes.join('\n'), /no t2space\/ folder: the dataset has no mask slices/);
});

test('missing keypoints, gradings or overview each leave a note instead of failing', async (t) => {
  const root = await tempFolder(t);
  await cp(MINI, root, { recursive: true });
  await rm(join(root, 'keypoints'), { recursive: true });
  await rm(join(root, 'radiological_gradings.csv'));
  let dataset = await readSpider2dDataset(root);
  assert.equal(dataset.series.length, 8);
  assert.equal(dataset.discs.length, 0);
  assert.ok(dataset.series.every((s) => s.keypoints.length === 0));
  assert.match(dataset.notes.join('\n'), /no keypoints\/spider_t2_disc_keypoints\.csv/);
  assert.match(dataset.notes.join('\n'), /no radiological_gradings\.csv/);

  // Without overview.csv the PNGs have no spacing: they are left out, with a note.
  await rm(join(root, 'overview.csv'));
  dataset = await readSpider2dDataset(root);
  assert.equal(dataset.series.length, 0);
  assert.equal(dataset.maskSlices.length, 6);
  assert.match(
    dataset.notes.join('\n'),
    /no overview\.csv: the pixel spacing of the 8 mid-sagittal PNG\(s\) is unknown/,
  );
  assert.deepEqual(dataset.patients, ['5', '7']);
});

test('a PNG with no overview row is left out with a note', async (t) => {
  const root = await tempFolder(t);
  await cp(MINI, root, { recursive: true });
  await cp(join(root, 'midsagittal/1_t1.png'), join(root, 'midsagittal/99_t1.png'));
  const dataset = await readSpider2dDataset(root);
  assert.equal(dataset.series.length, 8);
  assert.match(dataset.notes.join('\n'), /1 PNG\(s\) in midsagittal\/ have no overview\.csv row .*99_t1/);
});

test('a missing dataset folder is NOT_FOUND and a folder of other things is NO_IMAGES', async (t) => {
  const root = await tempFolder(t);
  await assert.rejects(
    readSpider2dDataset(join(root, 'nowhere')),
    (error: unknown) => error instanceof SpinegradeError && error.kind === 'NOT_FOUND',
  );
  await mkdir(join(root, 'other'));
  await writeFile(join(root, 'other/readme.txt'), 'hello');
  await assert.rejects(
    readSpider2dDataset(join(root, 'other')),
    (error: unknown) =>
      error instanceof SpinegradeError &&
      error.kind === 'NO_IMAGES' &&
      /not a SPIDER dataset folder/.test(error.message),
  );
});

test('a gradings file without its key columns is an INVALID_HEADER error naming the file', async (t) => {
  const root = await tempFolder(t);
  await cp(MINI, root, { recursive: true });
  await writeFile(join(root, 'radiological_gradings.csv'), 'Patient,Modic\r\n1,0\r\n');
  await assert.rejects(
    readSpider2dDataset(root),
    (error: unknown) =>
      error instanceof SpinegradeError &&
      error.kind === 'INVALID_HEADER' &&
      error.path === join(root, 'radiological_gradings.csv') &&
      /missing column "IVD label"/.test(error.message),
  );
});

test('a mask PNG with a value outside 0/29/76/150 is refused when loaded', async (t) => {
  const root = await tempFolder(t);
  await cp(MINI, root, { recursive: true });
  await cp(join(root, 'midsagittal/1_t1.png'), join(root, 't2space/masks/5_t2_SPACE_slice57.png'));
  const dataset = await readSpider2dDataset(root);
  const slice = dataset.maskSlices.find((m) => m.id === '5_t2_SPACE_slice57.png');
  await assert.rejects(
    slice?.loadMask() ?? Promise.resolve(),
    (error: unknown) =>
      error instanceof SpinegradeError && /semantic mask holds only 0, 29, 76, 150/.test(error.message),
  );
});
