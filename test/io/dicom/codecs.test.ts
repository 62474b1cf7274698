import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import dcmjs from 'dcmjs';
import { SpinegradeError } from '../../../src/errors.js';
import {
  decodeFrame,
  type FrameFormat,
  isEncapsulatedSyntax,
  type StoredPixels,
  transferSyntaxName,
} from '../../../src/io/dicom/codecs.js';

// The compiled test runs from build/test/io/dicom/; the fixtures stay in the source tree.
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/dicom-codecs/', import.meta.url));
const ROWS = 32;
const COLUMNS = 40;

// The pixel formulas of scripts/make-codec-fixtures.mjs.
function pixel16(r: number, c: number): number {
  if (r < 2 && c < 4) return -100 * (1 + 4 * r + c);
  return Math.round((3000 * (r * COLUMNS + c)) / (ROWS * COLUMNS - 1));
}

function pixel8(r: number, c: number): number {
  return Math.round((255 * (r + c)) / (ROWS + COLUMNS - 2));
}

function expected(f: (r: number, c: number) => number): number[] {
  const values: number[] = [];
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < COLUMNS; c++) values.push(f(r, c));
  return values;
}

const EXPECTED_16 = expected(pixel16);
const EXPECTED_8 = expected(pixel8);

interface Fixture {
  path: string;
  transferSyntaxUid: string;
  fragments: number;
  frame: Uint8Array;
  format: FrameFormat;
}

function numberIn(dataset: Record<string, unknown>, keyword: string): number {
  const value = dataset[keyword];
  const first = Array.isArray(value) ? (value[0] as unknown) : value;
  assert.equal(typeof first, 'number', `${keyword} is a number`);
  return first as number;
}

/** Reads a fixture with dcmjs and joins the fragments of its single frame. */
function readFixture(name: string): Fixture {
  const path = `${FIXTURES}${name}`;
  const bytes = readFileSync(path);
  const dict = dcmjs.data.DicomMessage.readFile(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
  const transferSyntaxUid = String(dict.meta['00020010']?.Value?.[0]);
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  const parts = dataset.PixelData;
  assert.ok(Array.isArray(parts), 'PixelData is an array of buffers');
  const buffers = parts.map((part: unknown) => {
    assert.ok(part instanceof ArrayBuffer, 'each PixelData entry is an ArrayBuffer');
    return new Uint8Array(part);
  });
  const frame = new Uint8Array(buffers.reduce((sum, b) => sum + b.byteLength, 0));
  let offset = 0;
  for (const b of buffers) {
    frame.set(b, offset);
    offset += b.byteLength;
  }
  const bitsAllocated = numberIn(dataset, 'BitsAllocated');
  return {
    path,
    transferSyntaxUid,
    fragments: buffers.length,
    frame,
    format: {
      rows: numberIn(dataset, 'Rows'),
      columns: numberIn(dataset, 'Columns'),
      bitsAllocated,
      bitsStored: numberIn(dataset, 'BitsStored'),
      pixelRepresentation: numberIn(dataset, 'PixelRepresentation') === 1 ? 1 : 0,
      samplesPerPixel: numberIn(dataset, 'SamplesPerPixel'),
    },
  };
}

async function decodeFixture(name: string): Promise<{ fixture: Fixture; pixels: StoredPixels }> {
  const fixture = readFixture(name);
  const pixels = await decodeFrame(fixture.transferSyntaxUid, fixture.frame, fixture.format, fixture.path);
  return { fixture, pixels };
}

/** Asserts that `promise` rejects with a SpinegradeError of `kind` whose message matches `pattern`. */
async function rejectsWith(promise: Promise<unknown>, kind: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SpinegradeError, `a SpinegradeError, not ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

const FORMAT_16U: FrameFormat = {
  rows: 2,
  columns: 3,
  bitsAllocated: 16,
  bitsStored: 16,
  pixelRepresentation: 0,
  samplesPerPixel: 1,
};

function littleEndian16(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setUint16(2 * i, v & 0xffff, true));
  return bytes;
}

test('transferSyntaxName gives the name and UID of known syntaxes and says when one is unknown', () => {
  assert.equal(transferSyntaxName('1.2.840.10008.1.2.4.80'), 'JPEG-LS Lossless (1.2.840.10008.1.2.4.80)');
  assert.equal(transferSyntaxName('1.2.840.10008.1.2.5\0'), 'RLE Lossless (1.2.840.10008.1.2.5)');
  assert.match(
    transferSyntaxName('1.2.840.10008.1.2.2'),
    /^Explicit VR Big Endian \(retired\) \(1\.2\.840\.10008\.1\.2\.2\)$/,
  );
  assert.equal(transferSyntaxName('1.2.3.4'), 'an unknown transfer syntax (1.2.3.4)');
});

test('isEncapsulatedSyntax is false for the native syntaxes and true for compressed and unknown ones', () => {
  for (const uid of ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2']) {
    assert.equal(isEncapsulatedSyntax(uid), false, uid);
  }
  for (const uid of ['1.2.840.10008.1.2.5', '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.90', '1.2.3.4']) {
    assert.equal(isEncapsulatedSyntax(uid), true, uid);
  }
});

test('Uncompressed signed 16-bit frames decode to exactly the stored values as an Int16Array', async () => {
  const { pixels } = await decodeFixture('native-16s.dcm');
  assert.ok(pixels instanceof Int16Array);
  assert.deepEqual(Array.from(pixels), EXPECTED_16);
});

test('Uncompressed 8-bit frames decode to exactly the stored values as a Uint8Array', async () => {
  const { pixels } = await decodeFixture('native-8u.dcm');
  assert.ok(pixels instanceof Uint8Array);
  assert.deepEqual(Array.from(pixels), EXPECTED_8);
});

test('Deflated Explicit VR Little Endian pixel data, already inflated by dcmjs, decode as native', async () => {
  const fixture = readFixture('native-16s.dcm');
  const pixels = await decodeFrame('1.2.840.10008.1.2.1.99', fixture.frame, fixture.format, fixture.path);
  assert.deepEqual(Array.from(pixels), EXPECTED_16);
});

test('RLE Lossless frames decode to exactly the original signed 16-bit values', async () => {
  const { fixture, pixels } = await decodeFixture('rle-16s.dcm');
  assert.equal(fixture.transferSyntaxUid, '1.2.840.10008.1.2.5');
  assert.ok(pixels instanceof Int16Array);
  assert.deepEqual(Array.from(pixels), EXPECTED_16);
});

test('RLE Lossless frames decode to exactly the original 8-bit values', async () => {
  const { pixels } = await decodeFixture('rle-8u.dcm');
  assert.ok(pixels instanceof Uint8Array);
  assert.deepEqual(Array.from(pixels), EXPECTED_8);
});

test('JPEG Lossless SV1 frames decode to exactly the original signed 16-bit values', async () => {
  const { fixture, pixels } = await decodeFixture('jpeg-lossless-sv1-16s.dcm');
  assert.equal(fixture.transferSyntaxUid, '1.2.840.10008.1.2.4.70');
  assert.ok(pixels instanceof Int16Array);
  assert.deepEqual(Array.from(pixels), EXPECTED_16);
});

test('JPEG Lossless process 14 frames split over several fragments decode exactly once the fragments are joined', async () => {
  const { fixture, pixels } = await decodeFixture('jpeg-lossless-sv6-16s.dcm');
  assert.equal(fixture.transferSyntaxUid, '1.2.840.10008.1.2.4.57');
  assert.ok(fixture.fragments > 1, `several fragments (${fixture.fragments})`);
  assert.deepEqual(Array.from(pixels), EXPECTED_16);
});

test('JPEG Baseline frames decode to within 3 grey levels on average of the original 8-bit values', async () => {
  const { fixture, pixels } = await decodeFixture('jpeg-baseline-8u.dcm');
  assert.equal(fixture.transferSyntaxUid, '1.2.840.10008.1.2.4.50');
  assert.ok(pixels instanceof Uint8Array);
  assert.equal(pixels.length, ROWS * COLUMNS);
  const error = EXPECTED_8.reduce((sum, v, i) => sum + Math.abs(v - (pixels[i] as number)), 0) / EXPECTED_8.length;
  assert.ok(error < 3, `mean absolute error ${error}`);
});

test('JPEG-LS Lossless frames decode to exactly the original signed 16-bit values', async () => {
  const { fixture, pixels } = await decodeFixture('jpegls-16s.dcm');
  assert.equal(fixture.transferSyntaxUid, '1.2.840.10008.1.2.4.80');
  assert.ok(pixels instanceof Int16Array);
  assert.deepEqual(Array.from(pixels), EXPECTED_16);
});

test('JPEG-LS Near-Lossless frames decode to within the encoder’s maximum deviation of 2', async () => {
  const { fixture, pixels } = await decodeFixture('jpegls-near-8u.dcm');
  assert.equal(fixture.transferSyntaxUid, '1.2.840.10008.1.2.4.81');
  const worst = EXPECTED_8.reduce((w, v, i) => Math.max(w, Math.abs(v - (pixels[i] as number))), 0);
  assert.ok(worst <= 2, `largest deviation ${worst}`);
});

test('JPEG 2000 Lossless frames decode to exactly the original signed 16-bit values', async () => {
  const { fixture, pixels } = await decodeFixture('j2k-16s.dcm');
  assert.equal(fixture.transferSyntaxUid, '1.2.840.10008.1.2.4.90');
  assert.ok(pixels instanceof Int16Array);
  assert.deepEqual(Array.from(pixels), EXPECTED_16);
});

test('Concurrent JPEG-LS and JPEG 2000 decodes, while their codecs are still loading, all give the right values', async () => {
  const names = ['jpegls-16s.dcm', 'j2k-16s.dcm', 'jpegls-16s.dcm', 'j2k-16s.dcm', 'jpegls-16s.dcm'];
  const results = await Promise.all(names.map((name) => decodeFixture(name)));
  for (const { pixels } of results) assert.deepEqual(Array.from(pixels), EXPECTED_16);
});

test('A JPEG Extended (12-bit) frame is refused as UNSUPPORTED with a message that names the syntax', async () => {
  const fixture = readFixture('jpeg-extended-12u.dcm');
  assert.equal(fixture.transferSyntaxUid, '1.2.840.10008.1.2.4.51');
  await rejectsWith(
    decodeFrame(fixture.transferSyntaxUid, fixture.frame, fixture.format, fixture.path),
    'UNSUPPORTED',
    /JPEG Extended \(Process 2 & 4\) \(1\.2\.840\.10008\.1\.2\.4\.51\) cannot be decoded by spinegrade; convert it first/,
  );
});

test('Big endian, HTJ2K, MPEG and unknown transfer syntaxes are refused as UNSUPPORTED by name', async () => {
  const frame = new Uint8Array(12);
  const cases: Array<[string, RegExp]> = [
    ['1.2.840.10008.1.2.2', /Explicit VR Big Endian \(retired\)/],
    ['1.2.840.10008.1.2.4.201', /High-Throughput JPEG 2000 \(Lossless Only\)/],
    ['1.2.840.10008.1.2.4.100', /MPEG2/],
    ['1.2.840.10008.1.2.4.94', /JPIP Referenced/],
    ['1.2.3.4', /unknown transfer syntax \(1\.2\.3\.4\)/],
  ];
  for (const [uid, pattern] of cases) {
    await rejectsWith(decodeFrame(uid, frame, FORMAT_16U, 'x.dcm'), 'UNSUPPORTED', pattern);
  }
});

test('A truncated JPEG-LS stream is reported as TRUNCATED, naming the codec and the file', async () => {
  const fixture = readFixture('truncated-jpegls-16s.dcm');
  await rejectsWith(
    decodeFrame(fixture.transferSyntaxUid, fixture.frame, fixture.format, fixture.path),
    'TRUNCATED',
    /truncated-jpegls-16s\.dcm: compressed pixel data is corrupt or truncated \(JPEG-LS\)$/,
  );
});

const COMPRESSED: Array<[string, string]> = [
  ['rle-16s.dcm', 'RLE Lossless'],
  ['jpeg-lossless-sv1-16s.dcm', 'JPEG Lossless'],
  ['jpeg-baseline-8u.dcm', 'JPEG Baseline'],
  ['jpegls-16s.dcm', 'JPEG-LS'],
  ['j2k-16s.dcm', 'JPEG 2000'],
];

test('Every codec reports a compressed stream cut short as TRUNCATED', async () => {
  for (const [name, codec] of COMPRESSED) {
    const fixture = readFixture(name);
    for (const fraction of [0.1, 0.6, 0.95]) {
      const cut = fixture.frame.slice(0, Math.floor(fixture.frame.byteLength * fraction));
      await rejectsWith(
        decodeFrame(fixture.transferSyntaxUid, cut, fixture.format, fixture.path),
        'TRUNCATED',
        new RegExp(`corrupt or truncated \\(${codec}\\)`),
      );
    }
  }
});

test('Every codec reports a stream with a damaged header as TRUNCATED (corrupt)', async () => {
  for (const [name, codec] of COMPRESSED) {
    const fixture = readFixture(name);
    const damaged = fixture.frame.slice();
    damaged.fill(0x00, 0, 8);
    await rejectsWith(
      decodeFrame(fixture.transferSyntaxUid, damaged, fixture.format, fixture.path),
      'TRUNCATED',
      new RegExp(`corrupt or truncated \\(${codec}\\)`),
    );
  }
});

test('A compressed stream whose image size disagrees with the header is reported as INVALID_HEADER', async () => {
  for (const name of ['jpeg-lossless-sv1-16s.dcm', 'jpeg-baseline-8u.dcm', 'jpegls-16s.dcm', 'j2k-16s.dcm']) {
    const fixture = readFixture(name);
    const format = { ...fixture.format, rows: fixture.format.rows + 1 };
    await rejectsWith(
      decodeFrame(fixture.transferSyntaxUid, fixture.frame, format, fixture.path),
      'INVALID_HEADER',
      /40×32/,
    );
  }
});

test('Native frames shorter than rows × columns samples are reported as TRUNCATED', async () => {
  const frame = littleEndian16([1, 2, 3, 4, 5]);
  await rejectsWith(
    decodeFrame('1.2.840.10008.1.2.1', frame, FORMAT_16U, 'short.dcm'),
    'TRUNCATED',
    /10 bytes .* needs 12/,
  );
});

test('Native frames longer than one frame decode only the first rows × columns samples', async () => {
  const frame = littleEndian16([1, 2, 3, 4, 5, 6, 7, 8]);
  const pixels = await decodeFrame('1.2.840.10008.1.2', frame, FORMAT_16U, 'long.dcm');
  assert.deepEqual(Array.from(pixels), [1, 2, 3, 4, 5, 6]);
});

test('Native unsigned 12-bit values stored in 16 bits are masked to their 12 bits', async () => {
  const frame = littleEndian16([0xf000 | 4095, 0x1000 | 7, 0, 0x8000 | 2048, 3000, 0xffff]);
  const pixels = await decodeFrame('1.2.840.10008.1.2.1', frame, { ...FORMAT_16U, bitsStored: 12 }, 'u12.dcm');
  assert.ok(pixels instanceof Uint16Array);
  assert.deepEqual(Array.from(pixels), [4095, 7, 0, 2048, 3000, 4095]);
});

test('Native signed 12-bit values stored in 16 bits are sign-extended from their 12th bit', async () => {
  // 0x0800 is -2048 in 12 bits, 0x07ff is 2047, 0xfff is -1; high bits are ignored.
  const frame = littleEndian16([0x0800, 0x07ff, 0x0fff, 0xf005, 0x0ffb, 100]);
  const format: FrameFormat = { ...FORMAT_16U, bitsStored: 12, pixelRepresentation: 1 };
  const pixels = await decodeFrame('1.2.840.10008.1.2.1', frame, format, 's12.dcm');
  assert.ok(pixels instanceof Int16Array);
  assert.deepEqual(Array.from(pixels), [-2048, 2047, -1, 5, -5, 100]);
});

test('Native signed 8-bit and 32-bit frames decode to Int8Array and Int32Array values', async () => {
  const format8: FrameFormat = { ...FORMAT_16U, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 1 };
  const pixels8 = await decodeFrame(
    '1.2.840.10008.1.2.1',
    new Uint8Array([0, 1, 127, 128, 255, 200]),
    format8,
    'a.dcm',
  );
  assert.ok(pixels8 instanceof Int8Array);
  assert.deepEqual(Array.from(pixels8), [0, 1, 127, -128, -1, -56]);
  const values32 = new Int32Array([0, -1, 2147483647, -2147483648, 70000, -70000]);
  const format32: FrameFormat = { ...FORMAT_16U, bitsAllocated: 32, bitsStored: 32, pixelRepresentation: 1 };
  const pixels32 = await decodeFrame('1.2.840.10008.1.2.1', new Uint8Array(values32.buffer), format32, 'b.dcm');
  assert.ok(pixels32 instanceof Int32Array);
  assert.deepEqual(Array.from(pixels32), Array.from(values32));
});

test('RLE frames of signed 12-bit values are sign-extended like native ones', async () => {
  // Two segments (high bytes, low bytes), each one literal run of 6 bytes.
  const samples = [0x0800, 0x07ff, 0x0fff, 0xf005, 0x0ffb, 100];
  const high = samples.map((v) => v >> 8);
  const low = samples.map((v) => v & 0xff);
  const frame = new Uint8Array(64 + 7 + 7 + 2);
  const header = new DataView(frame.buffer);
  header.setUint32(0, 2, true);
  header.setUint32(4, 64, true);
  header.setUint32(8, 71, true);
  frame.set([5, ...high], 64);
  frame.set([5, ...low], 71);
  const format: FrameFormat = { ...FORMAT_16U, bitsStored: 12, pixelRepresentation: 1 };
  const pixels = await decodeFrame('1.2.840.10008.1.2.5', frame, format, 'rle.dcm');
  assert.deepEqual(Array.from(pixels), [-2048, 2047, -1, 5, -5, 100]);
});

test('RLE frames whose segment count does not fit BitsAllocated are reported as TRUNCATED (corrupt)', async () => {
  const fixture = readFixture('rle-8u.dcm');
  const format = { ...fixture.format, bitsAllocated: 16, bitsStored: 16 };
  await rejectsWith(
    decodeFrame(fixture.transferSyntaxUid, fixture.frame, format, fixture.path),
    'TRUNCATED',
    /RLE Lossless/,
  );
});

test('Colour frames (SamplesPerPixel 3) are refused as UNSUPPORTED', async () => {
  const fixture = readFixture('jpeg-baseline-8u.dcm');
  const format = { ...fixture.format, samplesPerPixel: 3 };
  await rejectsWith(
    decodeFrame(fixture.transferSyntaxUid, fixture.frame, format, fixture.path),
    'UNSUPPORTED',
    /SamplesPerPixel 3/,
  );
  await rejectsWith(
    decodeFrame('1.2.840.10008.1.2.1', new Uint8Array(18), { ...FORMAT_16U, samplesPerPixel: 3 }, 'rgb.dcm'),
    'UNSUPPORTED',
    /colour/,
  );
});

test('Bit depths other than 8, 16 or 32 allocated bits are refused as UNSUPPORTED', async () => {
  await rejectsWith(
    decodeFrame(
      '1.2.840.10008.1.2.1',
      new Uint8Array(1),
      { ...FORMAT_16U, bitsAllocated: 1, bitsStored: 1 },
      'bits.dcm',
    ),
    'UNSUPPORTED',
    /BitsAllocated 1/,
  );
});
