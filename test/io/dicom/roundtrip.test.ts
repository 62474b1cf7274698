import assert from 'node:assert/strict';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import dcmjs from 'dcmjs';
import { writeDicomSeries } from '../../../src/io/dicom/write.js';
import { loadSingleVolume, loadStudies } from '../../../src/io/load.js';
import { type Volume, voxelAt } from '../../../src/volume/volume.js';
import { assertSameVoxels } from '../../helpers/assertions.js';
import { programMissing, skipWhenMissing } from '../../helpers/programs.js';
import { tempFolder } from '../../helpers/tmp.js';
import { codedVolume } from '../../helpers/volumes.js';

test('an oblique, anisotropic volume written as DICOM reads back with every voxel at the same physical point', async (t) => {
  const folder = await tempFolder(t);
  const original = codedVolume();
  await writeDicomSeries(original, join(folder, 'series'), { uidSeed: 'roundtrip' });
  const read = await loadSingleVolume([join(folder, 'series')]);
  assert.deepEqual(read.size, original.size);
  assertSameVoxels(original, read);
  assert.equal(read.metadata.sourceFormat, 'dicom');
  assert.equal(read.metadata.seriesDescription, 't2_tse_sag');
});

test('a DICOM series whose files are shuffled and renamed still stacks along the slice normal', async (t) => {
  const folder = await tempFolder(t);
  const original = codedVolume({ size: [9, 7, 6] });
  const series = join(folder, 'series');
  const files = await writeDicomSeries(original, series, { uidSeed: 'shuffle' });
  // Names that sort in the opposite order of the slices, and InstanceNumbers that lie.
  const order = [3, 0, 5, 1, 4, 2];
  for (const [n, file] of files.entries()) {
    const bytes = await readFile(file);
    const dict = dcmjs.data.DicomMessage.readFile(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    );
    const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
    dataset.InstanceNumber = String(order[n]);
    dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
    await writeFile(file, new Uint8Array(dict.write()));
    await rename(file, join(series, `z${String(9 - n)}_${order[n]}.dcm`));
  }
  assert.equal((await readdir(series)).length, 6);
  const read = await loadSingleVolume([series]);
  assertSameVoxels(original, read);
});

test('unequal in-plane spacing keeps PixelSpacing order: rows first, columns second', async (t) => {
  const folder = await tempFolder(t);
  const original = codedVolume({ spacing: [0.4, 0.9, 2] });
  const [first] = await writeDicomSeries(original, join(folder, 's'), { uidSeed: 'spacing' });
  const bytes = await readFile(first!);
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
    dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset)).dict,
  );
  assert.deepEqual((dataset.PixelSpacing as unknown[]).map(Number), [0.9, 0.4]);
  const read = await loadSingleVolume([join(folder, 's')]);
  assert.deepEqual(
    read.spacing.map((v) => Number(v.toFixed(6))),
    [0.4, 0.9, 2],
  );
});

test('float voxels survive DICOM through rescale slope and intercept to within half a step', async (t) => {
  const folder = await tempFolder(t);
  const coded = codedVolume();
  const voxels = Float32Array.from(coded.voxels, (v) => v * 0.37 + 0.125);
  const original: Volume = { ...coded, voxels };
  await writeDicomSeries(original, join(folder, 's'), { uidSeed: 'float' });
  const read = await loadSingleVolume([join(folder, 's')]);
  assert.ok(read.voxels instanceof Float32Array);
  assertSameVoxels(original, read, 0.01);
});

test('MONOCHROME1 images are inverted to MONOCHROME2 and say so', async (t) => {
  const folder = await tempFolder(t);
  const original = codedVolume({ size: [4, 3, 2] });
  const files = await writeDicomSeries(original, join(folder, 's'), { uidSeed: 'mono1' });
  for (const file of files) {
    const bytes = await readFile(file);
    const dict = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset));
    const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
    dataset.PhotometricInterpretation = 'MONOCHROME1';
    dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
    await writeFile(file, new Uint8Array(dict.write()));
  }
  const read = await loadSingleVolume([join(folder, 's')]);
  assert.equal(read.metadata.invertedFromMonochrome1, true);
  const lo = Math.min(...original.voxels);
  const hi = Math.max(...original.voxels);
  assert.equal(voxelAt(read, 0, 0, 0), lo + hi - voxelAt(original, 0, 0, 0));
});

test('two series in one study folder come back as two series of one study', async (t) => {
  const folder = await tempFolder(t);
  const studyInstanceUid = '2.25.1234';
  await writeDicomSeries(codedVolume(), join(folder, 'a'), { uidSeed: 'study-x', seriesNumber: 1, studyInstanceUid });
  const b = codedVolume({ size: [5, 5, 3] });
  await writeDicomSeries(b, join(folder, 'b'), { uidSeed: 'study-y', seriesNumber: 2, studyInstanceUid });
  const { studies } = await loadStudies([folder]);
  assert.equal(studies.length, 1);
  assert.equal(studies[0]?.key, studyInstanceUid);
  assert.deepEqual(studies[0]?.series.map((s) => s.size[2]).sort(), [3, 5]);
});

test('written DICOM passes the dicom3tools IOD validator without errors (skipped where dciodvfy is absent)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  if (skipWhenMissing(t, programMissing('dciodvfy', 'dicom3tools'))) return;
  const folder = await tempFolder(t);
  const [first] = await writeDicomSeries(codedVolume(), join(folder, 's'), { uidSeed: 'validate' });
  const result = spawnSync('dciodvfy', [first!], { encoding: 'utf8' });
  const errors = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.startsWith('Error'));
  assert.deepEqual(errors, []);
});
