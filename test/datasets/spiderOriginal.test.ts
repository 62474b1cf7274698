import assert from 'node:assert/strict';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  discInstancesOfSlice,
  readSpiderOriginalDataset,
  semanticMaskOfInstances,
  semanticValueOfSpiderLabel,
} from '../../src/datasets/spiderOriginal.js';
import { SpinegradeError } from '../../src/errors.js';
import { readMetaImage } from '../../src/io/metaimage.js';
import { readPicture } from '../../src/io/png.js';
import { IDENTITY_DIRECTION } from '../../src/volume/volume.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const ORIGINAL = join(REPO_ROOT, 'test/fixtures/datasets/spider-original');
const MINI = join(REPO_ROOT, 'test/fixtures/datasets/spider-2d-mini');

/** The PNG each fixture volume's middle slice was made from, and its spacing. */
const SOURCES: Record<string, { png: string; spacing: [number, number] }> = {
  '5_t1': { png: 'midsagittal/5_t1.png', spacing: [2.34375, 2.34375] },
  '5_t2': { png: 'midsagittal/5_t2.png', spacing: [2.34375, 2.34375] },
  '5_t2_SPACE': { png: 't2space/images/5_t2_SPACE_slice58.png', spacing: [1.875, 1.875] },
  '7_t1': { png: 'midsagittal/7_t1.png', spacing: [2.34375, 2.34375] },
  '7_t2': { png: 'midsagittal/7_t2.png', spacing: [1.875, 1.875] },
  '7_t2_SPACE': { png: 't2space/images/7_t2_SPACE_slice60.png', spacing: [1.875, 1.875] },
};

test('the original-layout fixture reads its series, gradings and one mask slice per mask', async () => {
  const dataset = await readSpiderOriginalDataset(ORIGINAL);
  assert.equal(dataset.layout, 'spider-original');
  assert.deepEqual(dataset.patients, ['5', '7']);
  assert.deepEqual(
    dataset.series.map((s) => [s.id, s.patient, s.sequence]),
    [
      ['5_t1', '5', 'T1'],
      ['5_t2', '5', 'T2'],
      ['5_t2_SPACE', '5', 'T2SPACE'],
      ['7_t1', '7', 'T1'],
      ['7_t2', '7', 'T2'],
      ['7_t2_SPACE', '7', 'T2SPACE'],
    ],
  );
  assert.ok(dataset.series.every((s) => s.keypoints.length === 0));
  assert.equal(dataset.discs.length, 14);
  assert.deepEqual(
    dataset.maskSlices.map((m) => [m.id, m.series, m.patient]),
    [
      ['5_t2_SPACE_mid.png', '5_t2_SPACE', '5'],
      ['7_t2_SPACE_mid.png', '7_t2_SPACE', '7'],
    ],
  );
  assert.deepEqual(dataset.notes, ['4 series have no mask (5_t1, 5_t2, 7_t1, 7_t2)']);
});

test('the fixture volumes are stored in non-identity orientations, not in display order', async () => {
  const a = await readMetaImage(join(ORIGINAL, 'images/5_t2.mha'));
  const b = await readMetaImage(join(ORIGINAL, 'images/7_t2.mha'));
  assert.notDeepEqual(a.direction, IDENTITY_DIRECTION);
  assert.notDeepEqual(b.direction, IDENTITY_DIRECTION);
  assert.deepEqual(a.size, [128, 128, 3]); // sagittal slices along k
  assert.deepEqual(b.size, [3, 128, 128]); // sagittal slices along i
  const png = await readPicture(join(MINI, 'midsagittal/5_t2.png'));
  // Array order of the middle slice is the PNG upside down (rows stored inferior first).
  const middle = a.voxels.subarray(128 * 128, 2 * 128 * 128);
  assert.notDeepEqual(Array.from(middle.subarray(0, 128)), Array.from(png.voxels.subarray(0, 128)));
  assert.deepEqual(Array.from(middle.subarray(0, 128)), Array.from(png.voxels.subarray(127 * 128, 128 * 128)));
});

test('each mid-sagittal slice comes out superior up, anterior left: equal to the PNG it was made from', async () => {
  const dataset = await readSpiderOriginalDataset(ORIGINAL);
  for (const s of dataset.series) {
    const source = SOURCES[s.id];
    assert.ok(source, s.id);
    const image = await s.loadMidSagittal();
    const png = await readPicture(join(MINI, source.png));
    assert.equal(image.width, png.size[0], s.id);
    assert.equal(image.height, png.size[1], s.id);
    assert.deepEqual(Array.from(image.pixels), Array.from(png.voxels), `${s.id} pixels`);
    assert.deepEqual(image.pixelSpacing, source.spacing, `${s.id} spacing`);
  }
});

test('the mask slice is the same mid-sagittal slice of the mask in semantic values', async () => {
  const dataset = await readSpiderOriginalDataset(ORIGINAL);
  for (const [slice, maskPng] of [
    [dataset.maskSlices[0], 't2space/masks/5_t2_SPACE_slice58.png'],
    [dataset.maskSlices[1], 't2space/masks/7_t2_SPACE_slice60.png'],
  ] as const) {
    assert.ok(slice);
    const mask = await slice.loadMask();
    const expected = await readPicture(join(MINI, maskPng));
    assert.deepEqual(Array.from(mask), Array.from(expected.voxels), slice.id);
    const image = await slice.loadImage();
    assert.equal(mask.length, image.width * image.height);
    assert.deepEqual(image.pixelSpacing, [1.875, 1.875]);
  }
});

test('disc instances of the mid slice are ordered from L5/S1 = IVD 1 upward', async () => {
  const dataset = await readSpiderOriginalDataset(ORIGINAL);
  const slice = dataset.maskSlices[0];
  assert.ok(slice);
  const instances = await slice.loadInstanceMask();
  const discs = discInstancesOfSlice(instances.labels, instances.width, instances.height);
  assert.deepEqual(
    discs.map((d) => d.ivdLabel),
    [1, 2, 3, 4, 5, 6, 7],
  );
  assert.deepEqual(
    discs.map((d) => d.level),
    ['L5/S1', 'L4/L5', 'L3/L4', 'L2/L3', 'L1/L2', 'T12/L1', 'T11/T12'],
  );
  for (let n = 1; n < discs.length; n++) {
    assert.ok((discs[n]?.centroid.y as number) < (discs[n - 1]?.centroid.y as number), 'each disc sits above the last');
  }
  // Every instance pixel is a disc pixel of the semantic mask.
  const semantic = await slice.loadMask();
  for (const d of discs) for (const p of d.pixels) assert.equal(semantic[p], 29);
});

test('SPIDER instance labels map to semantic values, and foreign values are refused', () => {
  assert.equal(semanticValueOfSpiderLabel(0), 0);
  assert.equal(semanticValueOfSpiderLabel(1), 76);
  assert.equal(semanticValueOfSpiderLabel(25), 76);
  assert.equal(semanticValueOfSpiderLabel(101), 76);
  assert.equal(semanticValueOfSpiderLabel(100), 150);
  assert.equal(semanticValueOfSpiderLabel(201), 29);
  assert.equal(semanticValueOfSpiderLabel(225), 29);
  assert.equal(semanticValueOfSpiderLabel(26), undefined);
  assert.equal(semanticValueOfSpiderLabel(226), undefined);
  assert.deepEqual(Array.from(semanticMaskOfInstances([0, 3, 100, 203, 112])), [0, 76, 150, 29, 76]);
  assert.throws(
    () => semanticMaskOfInstances([0, 150], 'm.mha'),
    (error: unknown) => error instanceof SpinegradeError && /mask value 150 is no SPIDER label/.test(error.message),
  );
});

test('discInstancesOfSlice gives pixels and centroids per disc label', () => {
  // 4 × 3 slice: disc 202 at the top row, disc 201 at the bottom row, a vertebra between.
  const labels = Uint16Array.from([202, 202, 0, 0, 1, 1, 1, 1, 0, 0, 201, 201]);
  const discs = discInstancesOfSlice(labels, 4, 3);
  assert.deepEqual(
    discs.map((d) => ({ ivd: d.ivdLabel, value: d.maskValue, pixels: Array.from(d.pixels), centroid: d.centroid })),
    [
      { ivd: 1, value: 201, pixels: [10, 11], centroid: { x: 2.5, y: 2 } },
      { ivd: 2, value: 202, pixels: [0, 1], centroid: { x: 0.5, y: 0 } },
    ],
  );
  assert.throws(() => discInstancesOfSlice(labels, 5, 3), SpinegradeError);
});

test('a folder without images/*.mha is not an original SPIDER dataset; a missing masks/ folder is a note', async (t) => {
  const root = await tempFolder(t);
  await mkdir(join(root, 'images'));
  await assert.rejects(
    readSpiderOriginalDataset(root),
    (error: unknown) => error instanceof SpinegradeError && error.kind === 'NO_IMAGES',
  );
  await assert.rejects(
    readSpiderOriginalDataset(join(root, 'nowhere')),
    (error: unknown) => error instanceof SpinegradeError && error.kind === 'NOT_FOUND',
  );
  const copy = join(root, 'copy');
  await cp(ORIGINAL, copy, { recursive: true });
  await rm(join(copy, 'masks'), { recursive: true });
  await rm(join(copy, 'images/7_t2.mha'));
  const dataset = await readSpiderOriginalDataset(copy);
  assert.equal(dataset.series.length, 5);
  assert.equal(dataset.maskSlices.length, 0);
  assert.match(dataset.notes.join('\n'), /no masks\/ folder/);
  assert.match(dataset.notes.join('\n'), /1 series of overview\.csv have no image in images\/ \(7_t2\)/);
});
