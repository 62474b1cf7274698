#!/usr/bin/env node
// Builds examples/spider-98-t2space from SPIDER's T2 SPACE slices (patient 98): a DICOM MR series and
// the same volume as .mha. Usage: node scripts/build-example.mjs [spider-dir] (default ../shared/data/spider).
// Needs `npm run build` first and dcmtk's dcmcrle. Deterministic: the same input gives the same bytes.
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeDicomSeries } from '../dist/io/dicom/write.js';
import { writeMetaImage } from '../dist/io/metaimage.js';
import { readPicture, SAGITTAL_DISPLAY_DIRECTION } from '../dist/io/png.js';
import { indexToPhysical } from '../dist/volume/volume.js';

const spider = resolve(process.argv[2] ?? '../shared/data/spider');
const patient = '98';
const out = resolve('examples/spider-98-t2space');

const manifest = (await readFile(join(spider, 't2space/manifest.csv'), 'utf8')).trim().split(/\r?\n/);
const header = manifest[0].split(',');
const rows = manifest
  .slice(1)
  .map((line) => Object.fromEntries(line.split(',').map((v, n) => [header[n], v])))
  .filter((r) => r.patient === patient)
  .sort((a, b) => Number(a.slice_index) - Number(b.slice_index));
if (rows.length === 0) throw new Error(`no T2 SPACE slices of patient ${patient} in ${spider}`);

const slices = [];
for (const row of rows) slices.push(await readPicture(join(spider, 't2space', row.image)));
const [width, height] = slices[0].size;
const voxels = new Uint8Array(width * height * slices.length);
slices.forEach((s, k) => voxels.set(s.voxels, k * width * height));
const spacing = [Number(rows[0].col_spacing_mm), Number(rows[0].row_spacing_mm), Number(rows[0].slice_spacing_mm)];
const size = [width, height, slices.length];
// Centre the volume on the scanner's isocentre; the source PNGs carry no position.
const centre = indexToPhysical(
  { origin: [0, 0, 0], spacing, direction: SAGITTAL_DISPLAY_DIRECTION },
  size.map((n) => (n - 1) / 2),
);
const volume = {
  voxels,
  size,
  spacing,
  origin: centre.map((v) => -Number(v.toFixed(4))),
  direction: SAGITTAL_DISPLAY_DIRECTION,
  metadata: {
    sourceFormat: 'png',
    sourcePaths: [],
    spacingSource: 'header',
    modality: 'MR',
    seriesDescription: 'T2_space_sag_c4',
    studyDescription: 'SPIDER lumbar spine example (patient 98, T2 SPACE central stack)',
    sequenceName: '*spcR_60',
    scanningSequence: 'SE',
    acquisitionType: '3D',
    repetitionTime: 1000,
    echoTime: 124,
    fieldStrength: 1.5,
    manufacturer: 'SIEMENS',
    sliceThickness: Number(rows[0].slice_thickness_mm),
    seriesNumber: 3,
  },
};
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await writeDicomSeries(volume, join(out, 'dicom'), {
  uidSeed: 'spinegrade example spider-98-t2space',
  patientName: 'Example^SpiderT2Space',
  patientId: 'SPINEGRADE-EXAMPLE-01',
  studyDate: '20000101',
});
// RLE Lossless (dcmcrle, from dcmtk) halves the series' size; every DICOM reader of note decodes it.
for (const name of await readdir(join(out, 'dicom'))) {
  const file = join(out, 'dicom', name);
  execFileSync('dcmcrle', ['--uid-never', file, `${file}.rle`]);
  await rm(file);
  await rename(`${file}.rle`, file);
}
await writeMetaImage(volume, join(out, 'spider-98-t2space.mha'));
await writeFile(
  join(out, 'source.json'),
  `${JSON.stringify({ dataset: 'SPIDER (training split)', patient, series: `${patient}_t2_SPACE`, slices: rows.map((r) => r.image), spacingMm: spacing, sliceThicknessMm: Number(rows[0].slice_thickness_mm) }, null, 2)}\n`,
);
console.log(`wrote ${out}: ${size.join('×')} voxels, spacing ${spacing.join('×')} mm`);
