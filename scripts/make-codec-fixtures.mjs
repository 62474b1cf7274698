#!/usr/bin/env node
/**
 * Makes the tiny DICOM files under test/fixtures/dicom-codecs/ that test the pixel data decoders
 * (src/io/dicom/codecs.ts): two uncompressed MR slices written with dcmjs (16-bit signed and 8-bit
 * unsigned), compressed copies made with DCMTK (dcmcrle, dcmcjpeg, dcmcjpls) and with OpenJPEG's
 * WebAssembly encoder (JPEG 2000), one JPEG Extended 12-bit file spinegrade must refuse, and one
 * JPEG-LS file whose compressed stream is cut short.
 *
 * The pixel values follow the formulas in pixel16/pixel8/pixel12 below; test/io/dicom/codecs.test.ts
 * recomputes them. Run from the repository root: `node scripts/make-codec-fixtures.mjs`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dcmjs from 'dcmjs';

const { DicomDict, DicomMessage, DicomMetaDictionary } = dcmjs.data;
const require = createRequire(import.meta.url);

const OUT = 'test/fixtures/dicom-codecs';
const ROWS = 32;
const COLUMNS = 40;
const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const JPEG2000_LOSSLESS = '1.2.840.10008.1.2.4.90';
const UID_ROOT = '2.25.31415926535897932384626433832795';

/** Signed 16-bit test pattern: a ramp from 0 to 3000 with a block of negative values top left. */
function pixel16(r, c) {
  if (r < 2 && c < 4) return -100 * (1 + 4 * r + c);
  return Math.round((3000 * (r * COLUMNS + c)) / (ROWS * COLUMNS - 1));
}

/** Unsigned 8-bit test pattern: a smooth diagonal ramp from 0 to 255. */
function pixel8(r, c) {
  return Math.round((255 * (r + c)) / (ROWS + COLUMNS - 2));
}

/** Unsigned 12-bit test pattern: the 16-bit one with its negative block set to 0. */
function pixel12(r, c) {
  return Math.max(0, pixel16(r, c));
}

function image(ArrayType, f) {
  const pixels = new ArrayType(ROWS * COLUMNS);
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < COLUMNS; c++) pixels[r * COLUMNS + c] = f(r, c);
  return pixels;
}

function writeDicom(file, { instance, bitsAllocated, bitsStored, signed, pixelData, transferSyntax = EXPLICIT_LE }) {
  const sopInstanceUid = `${UID_ROOT}.${instance}`;
  const dataset = {
    SOPClassUID: MR_IMAGE_STORAGE,
    SOPInstanceUID: sopInstanceUid,
    StudyInstanceUID: `${UID_ROOT}.1`,
    SeriesInstanceUID: `${UID_ROOT}.2`,
    Modality: 'MR',
    PatientName: 'CODEC^FIXTURE',
    PatientID: 'CODEC-FIXTURE',
    StudyDate: '20240101',
    SeriesNumber: 1,
    InstanceNumber: instance,
    SeriesDescription: 'T2 SAG codec fixture',
    ImagePositionPatient: [0, -100, 100],
    ImageOrientationPatient: [0, 1, 0, 0, 0, -1],
    PixelSpacing: [0.5, 0.5],
    SliceThickness: 4,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: ROWS,
    Columns: COLUMNS,
    BitsAllocated: bitsAllocated,
    BitsStored: bitsStored,
    HighBit: bitsStored - 1,
    PixelRepresentation: signed ? 1 : 0,
    PixelData: [pixelData],
    _vrMap: { PixelData: bitsAllocated > 8 && transferSyntax === EXPLICIT_LE ? 'OW' : 'OB' },
  };
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: MR_IMAGE_STORAGE,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: transferSyntax,
    ImplementationClassUID: `${UID_ROOT}.99`,
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  writeFileSync(file, Buffer.from(dict.write({ fragmentMultiframe: false })));
}

function arrayBufferOf(typed) {
  return typed.buffer.slice(typed.byteOffset, typed.byteOffset + typed.byteLength);
}

/** The first frame of a file's pixel data, its fragments joined. */
function frameOf(file) {
  const bytes = readFileSync(file);
  const dict = DicomMessage.readFile(arrayBufferOf(bytes));
  const dataset = DicomMetaDictionary.naturalizeDataset(dict.dict);
  return Buffer.concat(dataset.PixelData.map((part) => Buffer.from(part)));
}

function run(tool, ...args) {
  execFileSync(tool, args, { stdio: ['ignore', 'inherit', 'inherit'] });
}

async function encodeJpeg2000Lossless(pixels) {
  const factory = require('@cornerstonejs/codec-openjpeg/wasmjs');
  const quiet = () => {};
  const openjpeg = await factory({ print: quiet, printErr: quiet });
  const encoder = new openjpeg.J2KEncoder();
  try {
    const input = encoder.getDecodedBuffer({
      width: COLUMNS,
      height: ROWS,
      bitsPerSample: 16,
      componentCount: 1,
      isSigned: true,
      isUsingColorTransform: false,
    });
    input.set(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
    encoder.setQuality(true, 0);
    encoder.setDecompositions(3);
    encoder.encode();
    return encoder.getEncodedBuffer().slice();
  } finally {
    encoder.delete();
  }
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'spinegrade-codecs-'));
  try {
    const out = (name) => join(OUT, name);
    const tmp = (name) => join(work, name);

    const signed16 = image(Int16Array, pixel16);
    const unsigned8 = image(Uint8Array, pixel8);
    const unsigned12 = image(Uint16Array, pixel12);

    writeDicom(out('native-16s.dcm'), {
      instance: 1,
      bitsAllocated: 16,
      bitsStored: 16,
      signed: true,
      pixelData: arrayBufferOf(signed16),
    });
    writeDicom(out('native-8u.dcm'), {
      instance: 2,
      bitsAllocated: 8,
      bitsStored: 8,
      signed: false,
      pixelData: arrayBufferOf(unsigned8),
    });
    writeDicom(tmp('native-12u.dcm'), {
      instance: 3,
      bitsAllocated: 16,
      bitsStored: 12,
      signed: false,
      pixelData: arrayBufferOf(unsigned12),
    });

    // RLE Lossless (1.2.840.10008.1.2.5).
    run('dcmcrle', out('native-16s.dcm'), out('rle-16s.dcm'));
    run('dcmcrle', out('native-8u.dcm'), out('rle-8u.dcm'));
    // JPEG Lossless SV1 (1.2.840.10008.1.2.4.70), and process 14 with predictor 6
    // (1.2.840.10008.1.2.4.57) split into 1 KiB fragments with an empty basic offset table.
    run('dcmcjpeg', '+e1', out('native-16s.dcm'), out('jpeg-lossless-sv1-16s.dcm'));
    run('dcmcjpeg', '+el', '+sv', '6', '+fs', '1', '-ot', out('native-16s.dcm'), out('jpeg-lossless-sv6-16s.dcm'));
    // JPEG Baseline (1.2.840.10008.1.2.4.50), 8-bit only.
    run('dcmcjpeg', '+eb', '+q', '90', '+un', out('native-8u.dcm'), out('jpeg-baseline-8u.dcm'));
    // JPEG-LS Lossless (1.2.840.10008.1.2.4.80).
    run('dcmcjpls', '+el', out('native-16s.dcm'), out('jpegls-16s.dcm'));
    // JPEG-LS Near-Lossless (1.2.840.10008.1.2.4.81), at most 2 off.
    run('dcmcjpls', '+en', '+md', '2', '+un', out('native-8u.dcm'), out('jpegls-near-8u.dcm'));
    // JPEG Extended 12-bit (1.2.840.10008.1.2.4.51): spinegrade refuses it.
    run('dcmcjpeg', '+ee', '+un', tmp('native-12u.dcm'), out('jpeg-extended-12u.dcm'));

    // JPEG 2000 Lossless (1.2.840.10008.1.2.4.90), encoded with OpenJPEG (WebAssembly).
    const j2k = await encodeJpeg2000Lossless(signed16);
    writeDicom(out('j2k-16s.dcm'), {
      instance: 4,
      bitsAllocated: 16,
      bitsStored: 16,
      signed: true,
      pixelData: arrayBufferOf(j2k),
      transferSyntax: JPEG2000_LOSSLESS,
    });

    // JPEG-LS Lossless with the compressed stream cut to 60 % of its length.
    const jpegls = frameOf(out('jpegls-16s.dcm'));
    const cut = jpegls.subarray(0, Math.floor(jpegls.length * 0.6) & ~1);
    writeDicom(out('truncated-jpegls-16s.dcm'), {
      instance: 5,
      bitsAllocated: 16,
      bitsStored: 16,
      signed: true,
      pixelData: arrayBufferOf(cut),
      transferSyntax: '1.2.840.10008.1.2.4.80',
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  for (const name of [
    'native-16s.dcm',
    'native-8u.dcm',
    'rle-16s.dcm',
    'rle-8u.dcm',
    'jpeg-lossless-sv1-16s.dcm',
    'jpeg-lossless-sv6-16s.dcm',
    'jpeg-baseline-8u.dcm',
    'jpegls-16s.dcm',
    'jpegls-near-8u.dcm',
    'jpeg-extended-12u.dcm',
    'j2k-16s.dcm',
    'truncated-jpegls-16s.dcm',
  ]) {
    console.log(`${name.padEnd(28)} ${statSync(join(OUT, name)).size} bytes`);
  }
}

await main();
