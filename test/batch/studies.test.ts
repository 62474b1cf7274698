import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { discoverBatchStudies, studyFolderId } from '../../src/batch/studies.js';
import { SpinegradeError } from '../../src/errors.js';
import { writeDicomSeries } from '../../src/io/dicom/write.js';
import { tempFolder } from '../helpers/tmp.js';
import { codedVolume } from '../helpers/volumes.js';
import { EXAMPLE_MHA } from './helpers.js';

test('studyFolderId keeps safe keys and makes every other key a distinct safe name', () => {
  assert.equal(studyFolderId('1.2.840.113619.2.55'), '1.2.840.113619.2.55');
  assert.equal(studyFolderId('P-001_a'), 'P-001_a');
  const a = studyFolderId('site 1/p01.mha');
  const b = studyFolderId('site_1/p01.mha');
  assert.match(a, /^site_1_p01\.mha-[0-9a-f]{8}$/);
  assert.notEqual(a, b, 'keys that sanitise alike still get different folders');
  assert.match(studyFolderId('../../etc'), /^etc-[0-9a-f]{8}$/);
  assert.match(studyFolderId('.hidden'), /^hidden-[0-9a-f]{8}$/);
  assert.ok(studyFolderId('x'.repeat(300)).length <= 69);
});

test('a folder tree: DICOM grouped by Study Instance UID across folders, each MetaImage a study, corrupt files kept', async (t) => {
  const root = await tempFolder(t);
  const volume = codedVolume({ size: [8, 8, 3] });
  // One DICOM study, two series in two folders; another study in a third folder.
  await mkdir(join(root, 'patient1'));
  await writeDicomSeries(volume, join(root, 'patient1', 't2'), { uidSeed: 'p1-t2', studyInstanceUid: '1.2.3.1' });
  await writeDicomSeries(volume, join(root, 'patient1', 't1'), { uidSeed: 'p1-t1', studyInstanceUid: '1.2.3.1' });
  await writeDicomSeries(volume, join(root, 'patient2'), { uidSeed: 'p2', studyInstanceUid: '1.2.3.2' });
  await mkdir(join(root, 'mha', 'site'), { recursive: true });
  await copyFile(EXAMPLE_MHA, join(root, 'mha', 'site', 'p3.mha'));
  await writeFile(join(root, 'mha', 'broken.mha'), 'not a MetaImage at all');
  await writeFile(join(root, 'mha', 'bad.dcm'), Buffer.alloc(300));
  await writeFile(join(root, 'notes.txt'), 'hello');
  await writeFile(join(root, '.DS_Store'), 'x');
  await writeFile(join(root, 'slice.png'), Buffer.from('89504e470d0a1a0a', 'hex'));
  await mkdir(join(root, 'out'));
  await writeFile(join(root, 'out', 'x.mha'), 'an output folder inside the input is not walked');

  const { studies, skipped } = await discoverBatchStudies(root, { exclude: [join(root, 'out')] });
  assert.deepEqual(
    studies.map((s) => [s.key, s.format, s.inputs.length, s.source]),
    [
      ['1.2.3.1', 'dicom', 6, 'patient1/t1;patient1/t2'],
      ['1.2.3.2', 'dicom', 3, 'patient2'],
      ['mha/bad.dcm', 'dicom', 1, 'mha/bad.dcm'],
      ['mha/broken.mha', 'metaimage', 1, 'mha/broken.mha'],
      ['mha/site/p3.mha', 'metaimage', 1, 'mha/site/p3.mha'],
    ],
  );
  assert.equal(studies[4]?.id, studyFolderId('mha/site/p3.mha'));
  assert.ok(
    studies.every((s) => s.inputs.every((p) => p.startsWith(root))),
    'absolute inputs',
  );
  assert.equal(skipped.get('PNG/JPEG slice(s) (they need --pixel-spacing)'), 1);
  assert.ok(
    [...skipped.keys()].some((k) => /companion/.test(k)),
    'notes.txt',
  );
  assert.ok(
    [...skipped.keys()].some((k) => /hidden/.test(k)),
    '.DS_Store',
  );

  const withSpacing = await discoverBatchStudies(root, { pixelSpacing: [0.5, 0.5], exclude: [join(root, 'out')] });
  const png = withSpacing.studies.find((s) => s.format === 'png');
  assert.deepEqual(png?.pixelSpacing, [0.5, 0.5]);
});

test('a manifest: study_id,path[,pixel_spacing] with paths relative to it; mistakes are named by line', async (t) => {
  const root = await tempFolder(t);
  await writeFile(
    join(root, 'cohort.csv'),
    'study_id,path,pixel_spacing\nP2,images/p2.png,"0.5,0.6"\nP1,/data/p1,\nP3,p3.png,0.7\n',
  );
  const { studies } = await discoverBatchStudies(join(root, 'cohort.csv'));
  assert.deepEqual(
    studies.map((s) => [s.key, s.id, s.inputs, s.pixelSpacing, s.format]),
    [
      ['P1', 'P1', ['/data/p1'], undefined, 'manifest'],
      ['P2', 'P2', [join(root, 'images/p2.png')], [0.5, 0.6], 'manifest'],
      ['P3', 'P3', [join(root, 'p3.png')], [0.7, 0.7], 'manifest'],
    ],
  );
  const refused = async (text: string, pattern: RegExp): Promise<void> => {
    await writeFile(join(root, 'bad.csv'), text);
    await assert.rejects(
      discoverBatchStudies(join(root, 'bad.csv')),
      (e: unknown) => e instanceof SpinegradeError && pattern.test(e.message),
    );
  };
  const defaulted = await discoverBatchStudies(join(root, 'cohort.csv'), { pixelSpacing: [0.9, 0.9] });
  assert.deepEqual(
    defaulted.studies.map((s) => s.pixelSpacing),
    [
      [0.9, 0.9],
      [0.5, 0.6],
      [0.7, 0.7],
    ],
    '--pixel-spacing fills the rows without one',
  );
  await refused('study_id,file\nA,a.mha\n', /missing column "path"/);
  await refused('study_id,path\nA,a.mha\nA,b.mha\n', /line 3: study_id "A" was already given on line 2/);
  await refused('study_id,path,pixel_spacing\nA,a.png,-1\n', /line 2: pixel_spacing/);
  await refused('study_id,path\n', /no study found/);
  await refused('study_id,path\nCase,a.mha\ncase,b.mha\n', /differ only in case/);
  await assert.rejects(
    discoverBatchStudies(join(root, 'missing')),
    (e: unknown) => e instanceof SpinegradeError && e.kind === 'NOT_FOUND',
  );
});
