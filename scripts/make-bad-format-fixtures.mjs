#!/usr/bin/env node
/**
 * Regenerates the four small broken NIfTI/MetaImage files in test/fixtures/bad-input/ that the CLI
 * tests feed to spinegrade. Plain Node, no build needed; the output is byte-for-byte reproducible.
 *
 *   nifti-impossible-header.nii  dim[1] = 0                                  → INVALID_HEADER (11)
 *   nifti-billion-voxels.nii     header claims 1000×1000×1000 int16, no data → TOO_LARGE (12)
 *   nifti-truncated.nii.gz       a valid 16×16×8 int16 image, gzip cut short → TRUNCATED (6)
 *   mha-truncated.mha            16×16×8 MET_SHORT header, 1000 of 4096 bytes → TRUNCATED (6)
 *
 * Usage: node scripts/make-bad-format-fixtures.mjs
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const folder = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'bad-input');

/** A little-endian NIfTI-1 `n+1` header (352 bytes, with the empty extension flag), int16, LPS identity. */
function niftiHeader(dims) {
  const bytes = new Uint8Array(352);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, 348, true);
  [3, dims[0], dims[1], dims[2], 1, 1, 1, 1].forEach((n, i) => view.setInt16(40 + 2 * i, n, true));
  view.setInt16(70, 4, true); // int16
  view.setInt16(72, 16, true);
  [1, 1, 1, 1, 1, 1, 1, 1].forEach((p, i) => view.setFloat32(76 + 4 * i, p, true));
  view.setFloat32(108, 352, true);
  bytes[123] = 2; // mm
  view.setInt16(254, 1, true); // sform_code
  [-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0].forEach((v, n) => view.setFloat32(280 + 4 * n, v, true));
  bytes.set([0x6e, 0x2b, 0x31, 0x00], 344); // "n+1\0"
  return bytes;
}

/** `count` int16 values of a ramp, little endian. */
function ramp(count) {
  const values = new Int16Array(count);
  for (let n = 0; n < count; n++) values[n] = (n * 37) % 2000;
  return new Uint8Array(values.buffer);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const files = {
  'nifti-impossible-header.nii': concat(niftiHeader([0, 4, 4]), ramp(16)),
  'nifti-billion-voxels.nii': niftiHeader([1000, 1000, 1000]),
  'nifti-truncated.nii.gz': (() => {
    const whole = gzipSync(concat(niftiHeader([16, 16, 8]), ramp(16 * 16 * 8)), { level: 9 });
    return whole.subarray(0, Math.floor(whole.length / 2));
  })(),
  'mha-truncated.mha': concat(
    new TextEncoder().encode(
      [
        'ObjectType = Image',
        'NDims = 3',
        'BinaryData = True',
        'BinaryDataByteOrderMSB = False',
        'CompressedData = False',
        'TransformMatrix = 1 0 0 0 1 0 0 0 1',
        'Offset = 0 0 0',
        'CenterOfRotation = 0 0 0',
        'AnatomicalOrientation = RAI',
        'ElementSpacing = 1 1 1',
        'DimSize = 16 16 8',
        'ElementType = MET_SHORT',
        'ElementDataFile = LOCAL',
        '',
      ].join('\n'),
    ),
    ramp(500),
  ),
};

await mkdir(folder, { recursive: true });
for (const [name, bytes] of Object.entries(files)) {
  await writeFile(join(folder, name), bytes);
  console.log(`${join(folder, name)} (${bytes.length} bytes)`);
}
