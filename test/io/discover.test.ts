import assert from 'node:assert/strict';
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeDicomSeries } from '../../src/io/dicom/write.js';
import { discoverFiles } from '../../src/io/discover.js';
import { loadSingleVolume } from '../../src/io/load.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';
import { codedVolume } from '../helpers/volumes.js';

test('files are recognised by their bytes, so DICOM files without an extension are found', async (t) => {
  const folder = await tempFolder(t);
  const files = await writeDicomSeries(codedVolume({ size: [4, 4, 3] }), join(folder, 'tmp'), { uidSeed: 'noext' });
  await mkdir(join(folder, 'study'));
  for (const [n, file] of files.entries()) await copyFile(file, join(folder, 'study', `0000${n}`));
  const { files: found } = await discoverFiles([join(folder, 'study')]);
  assert.deepEqual(
    found.map((f) => f.kind),
    ['dicom', 'dicom', 'dicom'],
  );
  const volume = await loadSingleVolume([join(folder, 'study')]);
  assert.deepEqual(volume.size, [4, 4, 3]);
});

test('companion and index files are skipped with a reason, not read as images', async (t) => {
  const folder = await tempFolder(t);
  await copyFile(join(REPO_ROOT, 'test/fixtures/spider-slices/98_t2.png'), join(folder, 'slice.png'));
  await writeFile(join(folder, 'notes.txt'), 'hello');
  await writeFile(join(folder, 'DICOMDIR'), new Uint8Array(10));
  await writeFile(join(folder, 'volume.raw'), new Uint8Array(10));
  await writeFile(join(folder, '.DS_Store'), new Uint8Array(10));
  const { files, skipped } = await discoverFiles([folder]);
  assert.deepEqual(
    files.map((f) => f.kind),
    ['png'],
  );
  assert.equal(skipped.length, 4);
  assert.ok(skipped.some((s) => s.path.endsWith('DICOMDIR') && /DICOMDIR index/.test(s.reason)));
});

test('a link back to a folder already walked is not walked twice', async (t) => {
  const folder = await tempFolder(t);
  await mkdir(join(folder, 'a'));
  await copyFile(join(REPO_ROOT, 'test/fixtures/spider-slices/98_t2.png'), join(folder, 'a', 'slice.png'));
  await symlink(folder, join(folder, 'a', 'up'));
  const { files } = await discoverFiles([folder]);
  assert.equal(files.length, 1);
});
