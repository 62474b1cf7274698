#!/usr/bin/env node
/**
 * Regenerates the corrupt-decoder cases of test/fixtures/bad-input/ (issue 19: every decoder's
 * failure is a message about the file). Each is derived byte for byte from a fixture already in the
 * repository, so the output is reproducible; plain Node plus pngjs, no build needed.
 *
 *   corrupt-rle.dcm            rle-16s.dcm, its RLE header claims 9 segments
 *   corrupt-jpeg-baseline.dcm  jpeg-baseline-8u.dcm, its Huffman tables overwritten
 *   corrupt-jpeg-lossless.dcm  jpeg-lossless-sv1-16s.dcm, its Huffman tables overwritten
 *   corrupt-jpegls.dcm         jpegls-16s.dcm, its frame header overwritten
 *   corrupt-j2k.dcm            j2k-16s.dcm, its main header overwritten
 *   corrupt-baseline.jpg       the JPEG stream of corrupt-jpeg-baseline.dcm as a picture file
 *   corrupt-deflate.png        a greyscale PNG whose IDAT holds no deflate stream (valid CRCs)
 *   corrupt-gzip.nii.gz        nifti-truncated.nii.gz with bytes no deflate stream holds appended
 *   corrupt-zlib.mha           mha-truncated.mha's header, CompressedData = True, data not zlib
 *
 * Special files (FIFO, socket) and the large DICOM structure cases are made at test time
 * (test/cli/hostile-input.test.ts, test/helpers/hostileDicom.ts).
 *
 * Usage: node scripts/make-hostile-fixtures.mjs
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { PNG } from 'pngjs';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures');
const codecs = join(fixtures, 'dicom-codecs');
const out = join(fixtures, 'bad-input');

/** Offset and length of the first pixel data fragment (after the basic offset table) of an encapsulated file. */
function firstFragment(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = bytes.length - 12; at >= 132; at--) {
    if (view.getUint32(at, true) !== 0x00107fe0 || view.getUint32(at + 8, true) !== 0xffffffff) continue;
    let item = at + 12;
    const tableLength = view.getUint32(item + 4, true);
    item += 8 + tableLength;
    if (view.getUint32(item, true) !== 0xe000fffe) throw new Error('no fragment after the offset table');
    return { start: item + 8, length: view.getUint32(item + 4, true) };
  }
  throw new Error('no encapsulated pixel data');
}

/** A copy of `bytes` with `count` bytes at `offset` into the first fragment set to `value`. */
function overwriteFragment(bytes, offset, count, value) {
  const copy = Uint8Array.from(bytes);
  const { start, length } = firstFragment(copy);
  if (offset + count > length - 2) throw new Error('overwrite would reach the end marker');
  copy.fill(value, start + offset, start + offset + count);
  return copy;
}

/** The offset of the first JPEG marker `code` (FF code) in the first fragment. */
function markerOffset(bytes, code) {
  const { start, length } = firstFragment(bytes);
  for (let n = 0; n + 1 < length; n++) if (bytes[start + n] === 0xff && bytes[start + n + 1] === code) return n;
  throw new Error(`no marker FF${code.toString(16)}`);
}

const dicom = async (name) => new Uint8Array(await readFile(join(codecs, name)));

const rle = await dicom('rle-16s.dcm');
const rleCorrupt = Uint8Array.from(rle);
new DataView(rleCorrupt.buffer).setUint32(firstFragment(rleCorrupt).start, 9, true);

const baseline = await dicom('jpeg-baseline-8u.dcm');
const lossless = await dicom('jpeg-lossless-sv1-16s.dcm');
const jpegls = await dicom('jpegls-16s.dcm');
const j2k = await dicom('j2k-16s.dcm');

/** A PNG chunk with a correct CRC. */
function chunk(type, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  const typeAndData = new Uint8Array(4 + data.length);
  typeAndData.set(new TextEncoder().encode(type));
  typeAndData.set(data, 4);
  out.set(typeAndData, 4);
  view.setUint32(8 + data.length, crc32(typeAndData));
  return out;
}

const grey = new PNG({ width: 8, height: 8, colorType: 0, inputColorType: 0, bitDepth: 8 });
grey.data.fill(128);
const validPng = new Uint8Array(PNG.sync.write(grey, { colorType: 0, inputColorType: 0 }));
// Signature (8) + IHDR chunk (25) are kept; the image data is not a zlib stream.
const corruptPng = new Uint8Array([
  ...validPng.subarray(0, 33),
  ...chunk('IDAT', new Uint8Array([0x78, 0x9c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
  ...chunk('IEND', new Uint8Array(0)),
]);

const gzipHalf = new Uint8Array(await readFile(join(out, 'nifti-truncated.nii.gz')));
const mhaHeader = new TextDecoder()
  .decode(await readFile(join(out, 'mha-truncated.mha')))
  .split('ElementDataFile = LOCAL\n')[0]
  .replace('CompressedData = False', 'CompressedData = True\nCompressedDataSize = 64');

const baselineCorrupt = overwriteFragment(baseline, markerOffset(baseline, 0xc4), 24, 0xff);
const baselineFragment = firstFragment(baselineCorrupt);

const files = {
  'corrupt-rle.dcm': rleCorrupt,
  'corrupt-jpeg-baseline.dcm': baselineCorrupt,
  'corrupt-baseline.jpg': baselineCorrupt.slice(
    baselineFragment.start,
    baselineFragment.start + baselineFragment.length,
  ),
  'corrupt-jpeg-lossless.dcm': overwriteFragment(lossless, markerOffset(lossless, 0xc4), 24, 0xff),
  'corrupt-jpegls.dcm': overwriteFragment(jpegls, markerOffset(jpegls, 0xf7) + 4, 8, 0x00),
  'corrupt-j2k.dcm': overwriteFragment(j2k, 4, 40, 0x00),
  'corrupt-deflate.png': corruptPng,
  'corrupt-gzip.nii.gz': new Uint8Array([...gzipHalf, ...new Uint8Array(64).fill(0xff)]),
  'corrupt-zlib.mha': new Uint8Array([
    ...new TextEncoder().encode(`${mhaHeader}ElementDataFile = LOCAL\n`),
    ...new Uint8Array(64).fill(0xee),
  ]),
};

for (const [name, bytes] of Object.entries(files)) {
  await writeFile(join(out, name), bytes);
  console.log(`${join(out, name)} (${bytes.length} bytes)`);
}
