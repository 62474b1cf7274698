import assert from 'node:assert/strict';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readOwnDataset } from '../../src/datasets/ownData.js';
import { SpinegradeError } from '../../src/errors.js';
import { writeMetaImage } from '../../src/io/metaimage.js';
import { readPicture } from '../../src/io/png.js';
import type { Volume } from '../../src/volume/volume.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const ORIGINAL = join(REPO_ROOT, 'test/fixtures/datasets/spider-original');
const MINI = join(REPO_ROOT, 'test/fixtures/datasets/spider-2d-mini');

const LABELS = [
  'patient,level,pfirrmann,modic,endplate_upper,endplate_lower,spondylolisthesis,herniation,bulging,narrowing',
  'P01,L4/L5,3,0,0,1,0,0,1,',
  'P01,L5/S1,4,2,,,,,,',
  'P02,l3-l4,2,,,,,,,',
  'P03,L1/L2,,,,,,,,',
].join('\r\n');

/** An axial 8 × 8 × 4 volume (slices along inferior-superior). */
function axialVolume(): Volume {
  return {
    voxels: new Uint16Array(8 * 8 * 4).map((_, n) => n % 97),
    size: [8, 8, 4],
    spacing: [1, 1, 3],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    metadata: { sourceFormat: 'metaimage', sourcePaths: [], spacingSource: 'header' },
  };
}

/** An own-data folder: P01 with an .mha T2 (and an axial series), P02 with PNGs, P03 only labelled. */
async function makeOwnData(root: string, labels = LABELS): Promise<void> {
  await mkdir(join(root, 'studies/P01'), { recursive: true });
  await mkdir(join(root, 'studies/P02/sag'), { recursive: true });
  await cp(join(ORIGINAL, 'images/5_t2.mha'), join(root, 'studies/P01/sag_t2.mha'));
  await cp(join(ORIGINAL, 'images/5_t2_SPACE.mha'), join(root, 'studies/P01/t2_space.mha'));
  await writeMetaImage(axialVolume(), join(root, 'studies/P01/ax_t2.mha'));
  await cp(join(MINI, 'midsagittal/7_t1.png'), join(root, 'studies/P02/sag/t1.png'));
  await cp(join(MINI, 'midsagittal/7_t2.png'), join(root, 'studies/P02/sag/t2.png'));
  await writeFile(join(root, 'spacing.csv'), 'file,col_spacing_mm,row_spacing_mm\nP02/sag/t1.png,0.5,0.75\n');
  await writeFile(join(root, 'labels.csv'), labels);
}

test('own data reads every sagittal series of each patient folder, with ids and sequences', async (t) => {
  const root = await tempFolder(t);
  await makeOwnData(root);
  const dataset = await readOwnDataset(root);
  assert.equal(dataset.layout, 'own');
  assert.deepEqual(dataset.patients, ['P01', 'P02', 'P03']);
  assert.deepEqual(
    dataset.series.map((s) => [s.id, s.patient, s.sequence]),
    [
      ['P01/sag_t2.mha', 'P01', 'T2'],
      ['P01/t2_space.mha', 'P01', 'T2SPACE'],
      ['P02/t1.png', 'P02', 'T1'],
    ],
  );
  assert.equal(dataset.maskSlices.length, 0);
  assert.ok(dataset.series.every((s) => s.keypoints.length === 0));
  const notes = dataset.notes.join('\n');
  assert.match(notes, /1 picture\(s\) have no row in spacing\.csv .*P02\/sag\/t2\.png/);
  assert.match(notes, /1 series are not sagittal and were left out \(P01\/ax_t2\.mha \(axial\)\)/);
});

test('own-data labels map levels to IVD labels and leave blank findings out', async (t) => {
  const root = await tempFolder(t);
  await makeOwnData(root);
  const dataset = await readOwnDataset(root);
  assert.deepEqual(dataset.discs, [
    {
      patient: 'P01',
      ivdLabel: 2,
      level: 'L4/L5',
      pfirrmann: 3,
      modic: 0,
      endplateUpper: 0,
      endplateLower: 1,
      spondylolisthesis: 0,
      herniation: 0,
      bulging: 1,
    },
    { patient: 'P01', ivdLabel: 1, level: 'L5/S1', pfirrmann: 4, modic: 2 },
    { patient: 'P02', ivdLabel: 3, level: 'L3/L4', pfirrmann: 2 },
    { patient: 'P03', ivdLabel: 5, level: 'L1/L2' },
  ]);
});

test('own-data mid-sagittal slices are reoriented volumes and PNGs with the spacing.csv spacing', async (t) => {
  const root = await tempFolder(t);
  await makeOwnData(root);
  const dataset = await readOwnDataset(root);
  const t2 = await dataset.series[0]?.loadMidSagittal();
  const png = await readPicture(join(MINI, 'midsagittal/5_t2.png'));
  assert.deepEqual(Array.from(t2?.pixels ?? []), Array.from(png.voxels));
  assert.deepEqual(t2?.pixelSpacing, [2.34375, 2.34375]);
  const t1 = await dataset.series[2]?.loadMidSagittal();
  assert.deepEqual(t1?.pixelSpacing, [0.5, 0.75]);
  assert.equal(t1?.width, 128);
});

test('a bad level or grade in labels.csv is an INVALID_HEADER error naming the line', async (t) => {
  for (const [row, pattern] of [
    ['P01,L9/L7,3,,,,,,,', /line 2: "L9\/L7" is no disc level/],
    ['P01,L4/L5,6,,,,,,,', /line 2: pfirrmann "6" must be a whole number 1-5/],
    ['P01,L4/L5,,,,2,,,,', /line 2: endplate_lower "2" must be a whole number 0-1/],
    [',L4/L5,3,,,,,,,', /line 2: the patient is blank/],
  ] as const) {
    const root = await tempFolder(t);
    await makeOwnData(root, `${LABELS.split('\r\n')[0]}\n${row}\n`);
    await assert.rejects(
      readOwnDataset(root),
      (error: unknown) =>
        error instanceof SpinegradeError &&
        error.kind === 'INVALID_HEADER' &&
        error.path === join(root, 'labels.csv') &&
        pattern.test(error.message),
      row,
    );
  }
  const root = await tempFolder(t);
  await makeOwnData(root, `${LABELS}\r\nP01,L4-L5,2,,,,,,,`);
  await assert.rejects(readOwnDataset(root), /line 6: patient P01 level L4\/L5 was already graded on line 2/);
});

test('an own-data folder without labels.csv reads its series with a note; an empty one is NO_IMAGES', async (t) => {
  const root = await tempFolder(t);
  await mkdir(join(root, 'studies/P9'), { recursive: true });
  await cp(join(ORIGINAL, 'images/7_t1.mha'), join(root, 'studies/P9/T1_SAG.mha'));
  const dataset = await readOwnDataset(root);
  assert.deepEqual(
    dataset.series.map((s) => [s.id, s.sequence]),
    [['P9/T1_SAG.mha', 'T1']],
  );
  assert.match(dataset.notes.join('\n'), /no labels\.csv/);
  const empty = await tempFolder(t);
  await assert.rejects(
    readOwnDataset(empty),
    (error: unknown) => error instanceof SpinegradeError && error.kind === 'NO_IMAGES',
  );
});
