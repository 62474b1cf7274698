#!/usr/bin/env node
// Regenerates the DICOM and picture cases of test/fixtures/bad-input (run `npm run build` first).
// NIfTI/MetaImage cases come from scripts/make-bad-format-fixtures.mjs.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { PNG } from 'pngjs';
import { encodeDicomSlice, writeDicomSeries } from '../dist/io/dicom/write.js';
import { SAGITTAL_DISPLAY_DIRECTION } from '../dist/io/png.js';

const root = 'test/fixtures/bad-input';
await mkdir(root, { recursive: true });

/** A small sagittal uint16 volume with a gradient. */
function volume(size = [32, 32, 3], direction = SAGITTAL_DISPLAY_DIRECTION, spacing = [0.8, 0.8, 3]) {
  const voxels = new Uint16Array(size[0] * size[1] * size[2]).map((_, n) => (n * 7) % 1000);
  return {
    voxels,
    size,
    spacing,
    origin: [10, -50, 80],
    direction,
    metadata: { sourceFormat: 'dicom', sourcePaths: [], seriesDescription: 't2_tse_sag', spacingSource: 'header' },
  };
}

function edit(bytes, change) {
  const dict = dcmjs.data.DicomMessage.readFile(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  change(dataset);
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}

async function series(name, vol, seed, alter) {
  const folder = join(root, name);
  await rm(folder, { recursive: true, force: true });
  const files = await writeDicomSeries(vol, folder, { uidSeed: seed });
  if (alter) await alter(files);
}

// A plain text file given as an image.
await writeFile(join(root, 'not-an-image.txt'), 'This is a note, not an MR image.\n');
// A folder with files but no image among them.
await rm(join(root, 'only-text'), { recursive: true, force: true });
await mkdir(join(root, 'only-text'));
await writeFile(join(root, 'only-text', 'readme.txt'), 'notes\n');
await writeFile(join(root, 'only-text', 'scan-export.bin'), new Uint8Array(600).fill(7));
// A DICOM file cut off inside its pixel data.
const slice = encodeDicomSlice(volume([32, 32, 1]), 0, { uidSeed: 'truncated' });
await writeFile(join(root, 'truncated.dcm'), slice.subarray(0, slice.length - 900));
// A DICOM image with its pixel data element removed.
await writeFile(
  join(root, 'no-pixel-data.dcm'),
  edit(encodeDicomSlice(volume([32, 32, 1]), 0, { uidSeed: 'no-pixels' }), (d) => delete d.PixelData),
);
// A file named .dcm without the DICOM marker.
await writeFile(join(root, 'no-dicm-marker.dcm'), new Uint8Array(400).fill(0x41));
// One series whose slices have different matrix sizes.
await series('mixed-matrix', volume([32, 32, 2]), 'mixed', async (files) => {
  const other = encodeDicomSlice(volume([24, 32, 2]), 1, { uidSeed: 'mixed' });
  await writeFile(files[1], other);
});
// Two slices of one series at the same position.
await series('duplicate-positions', volume([32, 32, 3]), 'duplicate', async (files) => {
  const first = await readFile(files[0]);
  await writeFile(
    files[1],
    edit(first, (d) => (d.SOPInstanceUID = `${d.SOPInstanceUID}.2`)),
  );
});
// A series with a slice missing in the middle.
await series('missing-slice', volume([32, 32, 5]), 'missing', async (files) => rm(files[2]));
// An axial-only study: nothing to grade.
await series('axial-only', volume([32, 32, 4], [1, 0, 0, 0, 1, 0, 0, 0, 1], [0.7, 0.7, 4]), 'axial');
// A text file named .png.
await writeFile(join(root, 'not-a-png.png'), 'GIF89a pretending to be a PNG\n');
// A colour PNG.
const colour = new PNG({ width: 8, height: 8 });
for (let n = 0; n < 64; n++) colour.data.set([255, n * 4, 0, 255], n * 4);
await writeFile(join(root, 'colour.png'), PNG.sync.write(colour));
console.log((await readdir(root)).sort().join('\n'));
