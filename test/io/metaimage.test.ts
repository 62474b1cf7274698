import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { readMetaImage, writeMetaImage } from '../../src/io/metaimage.js';
import { directionFromAxes, indexToPhysical, type Volume, type VoxelArray, voxelAt } from '../../src/volume/volume.js';
import { assertClose, assertRefused, assertSameVoxels } from '../helpers/assertions.js';
import { multiply, rotation } from '../helpers/volumes.js';

const dir = await mkdtemp(join(tmpdir(), 'spinegrade-metaimage-'));
after(() => rm(dir, { recursive: true, force: true }));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/bad-input/', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Helpers

/** A 6×5×4 int16 volume rotated 20° about y and 20° about z, spacing 0.47 × 0.61 × 3.3 mm. */
function obliqueVolume(voxels: VoxelArray = obliqueValues()): Volume {
  return {
    voxels,
    size: [6, 5, 4],
    spacing: [0.47, 0.61, 3.3],
    origin: [-31.7, 12.25, 104.5],
    direction: multiply(rotation('y', 20), rotation('z', 20)),
    metadata: { sourceFormat: 'dicom', sourcePaths: [] },
  };
}

function obliqueValues(): Int16Array {
  const values = new Int16Array(6 * 5 * 4);
  for (let n = 0; n < values.length; n++) values[n] = ((n * 1031) % 4001) - 2000;
  return values;
}

/** A header in the key order ITK/SimpleITK writes, with `overrides` replacing or adding keys (null removes). */
function itkHeader(overrides: Record<string, string | null> = {}, eol = '\n'): string {
  const fields: Record<string, string | null> = {
    ObjectType: 'Image',
    NDims: '3',
    BinaryData: 'True',
    BinaryDataByteOrderMSB: 'False',
    CompressedData: 'False',
    TransformMatrix: '1 0 0 0 1 0 0 0 1',
    Offset: '0 0 0',
    CenterOfRotation: '0 0 0',
    AnatomicalOrientation: 'RAI',
    ElementSpacing: '1 1 1',
    DimSize: '3 2 2',
    ElementType: 'MET_SHORT',
    ...overrides,
  };
  const dataFile = fields.ElementDataFile ?? 'LOCAL';
  delete fields.ElementDataFile;
  const lines = Object.entries(fields)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([key, value]) => `${key} = ${value}`);
  return `${[...lines, `ElementDataFile = ${dataFile}`].join(eol)}${eol}`;
}

function int16Bytes(values: readonly number[], littleEndian = true): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  values.forEach((v, n) => view.setInt16(2 * n, v, littleEndian));
  return bytes;
}

async function writeParts(name: string, ...parts: (string | Uint8Array)[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))));
  return path;
}

const TWELVE = [-300, -1, 0, 1, 255, 256, 1000, -1000, 32767, -32768, 12, 13];

// ---------------------------------------------------------------------------------------------
// Round trips

test('an oblique, anisotropic int16 volume survives a compressed .mha round trip (the default): same points, same values', async () => {
  const volume = obliqueVolume();
  const path = join(dir, 'oblique.mha');
  await writeMetaImage(volume, path);
  const text = (await readFile(path)).toString('latin1');
  assert.match(text, /^ObjectType = Image\nNDims = 3\n/);
  assert.match(text, /\nCompressedData = True\n/);
  assert.match(text, /\nElementType = MET_SHORT\nElementDataFile = LOCAL\n/);
  const back = await readMetaImage(path);
  assert.ok(back.voxels instanceof Int16Array);
  assertSameVoxels(volume, back);
  assertClose(back.direction, volume.direction, 1e-12, 'direction');
  assert.deepEqual(back.spacing, volume.spacing);
  assert.deepEqual(back.origin, volume.origin);
  assert.equal(back.metadata.sourceFormat, 'metaimage');
  assert.deepEqual(back.metadata.sourcePaths, [path]);
});

test('an oblique, anisotropic int16 volume survives an uncompressed .mha round trip', async () => {
  const volume = obliqueVolume();
  const path = join(dir, 'oblique-raw.mha');
  await writeMetaImage(volume, path, { compress: false });
  const bytes = await readFile(path);
  assert.match(bytes.toString('latin1'), /\nCompressedData = False\n/);
  assert.ok(bytes.length > 6 * 5 * 4 * 2);
  assertSameVoxels(volume, await readMetaImage(path));
});

test('an oblique, anisotropic int16 volume survives a .mhd + .raw round trip, the data beside the header', async () => {
  const volume = obliqueVolume();
  const path = join(dir, 'oblique.mhd');
  await writeMetaImage(volume, path);
  const header = await readFile(path, 'utf8');
  assert.match(header, /\nElementDataFile = oblique\.raw\n$/);
  assert.match(header, /\nCompressedData = False\n/);
  assert.equal((await stat(join(dir, 'oblique.raw'))).size, 6 * 5 * 4 * 2);
  assertSameVoxels(volume, await readMetaImage(path));
});

test('a compressed .mhd writes its data to a .zraw file and reads back', async () => {
  const volume = obliqueVolume();
  const path = join(dir, 'oblique-z.mhd');
  await writeMetaImage(volume, path, { compress: true });
  assert.match(await readFile(path, 'utf8'), /\nElementDataFile = oblique-z\.zraw\n$/);
  const zraw = await readFile(join(dir, 'oblique-z.zraw'));
  assert.equal(zraw[0], 0x78, 'a zlib stream, as ITK writes');
  assertSameVoxels(volume, await readMetaImage(path));
});

test('every supported voxel type round-trips through MetaImage with its type and values', async () => {
  const n = 6 * 5 * 4;
  const arrays: VoxelArray[] = [
    Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256),
    Int8Array.from({ length: n }, (_, i) => ((i * 7) % 256) - 128),
    Uint16Array.from({ length: n }, (_, i) => i * 541),
    Int32Array.from({ length: n }, (_, i) => i * 100003 - 5000000),
    Uint32Array.from({ length: n }, (_, i) => i * 35000000),
    Float32Array.from({ length: n }, (_, i) => i * 0.37 - 11.5),
    Float64Array.from({ length: n }, (_, i) => i * Math.PI - 1e-9),
  ];
  for (const voxels of arrays) {
    const path = join(dir, `type-${voxels.constructor.name}.mha`);
    await writeMetaImage(obliqueVolume(voxels), path);
    const back = await readMetaImage(path);
    assert.equal(back.voxels.constructor, voxels.constructor);
    assert.deepEqual(Array.from(back.voxels), Array.from(voxels));
  }
});

test('the written TransformMatrix lists the direction column by column, as ITK does, with the matching AnatomicalOrientation', async () => {
  // Sagittal: i runs towards posterior, j towards inferior, k towards the patient's left.
  const direction = directionFromAxes([0, 1, 0], [0, 0, -1], [1, 0, 0]);
  const volume: Volume = { ...obliqueVolume(), direction };
  const path = join(dir, 'sagittal.mha');
  await writeMetaImage(volume, path, { compress: false });
  const text = (await readFile(path)).toString('latin1');
  assert.match(text, /\nTransformMatrix = 0 1 0 0 0 -1 1 0 0\n/);
  assert.match(text, /\nAnatomicalOrientation = ASR\n/);
  const identity = join(dir, 'identity.mha');
  await writeMetaImage({ ...volume, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, identity);
  assert.match((await readFile(identity)).toString('latin1'), /\nAnatomicalOrientation = RAI\n/);
});

test('the series description travels as the MetaIO Name field', async () => {
  const volume: Volume = {
    ...obliqueVolume(),
    metadata: { sourceFormat: 'dicom', sourcePaths: [], seriesDescription: 'T2 sag' },
  };
  const path = join(dir, 'named.mha');
  await writeMetaImage(volume, path);
  assert.equal((await readMetaImage(path)).metadata.seriesDescription, 'T2 sag');
});

test('writing over an existing .mhd or its .raw is refused unless overwrite is set, leaving neither half written', async () => {
  const path = join(dir, 'exists.mhd');
  await writeFile(join(dir, 'exists.raw'), 'old');
  await assertRefused(writeMetaImage(obliqueVolume(), path), 'OUTPUT_ERROR', join(dir, 'exists.raw'));
  await assert.rejects(stat(path), 'the header was not written');
  await writeMetaImage(obliqueVolume(), path, { overwrite: true });
  assertSameVoxels(obliqueVolume(), await readMetaImage(path));
});

// ---------------------------------------------------------------------------------------------
// Hand-written headers

test('an ITK-style .mha header reads its TransformMatrix as axis directions: the first three numbers are index axis 0', async () => {
  const path = await writeParts(
    'itk-sagittal.mha',
    itkHeader({
      TransformMatrix: '0 1 0 0 0 -1 1 0 0',
      Offset: '-10.5 20.25 30',
      AnatomicalOrientation: 'ASR',
      ElementSpacing: '0.5 0.6 3.3',
      DimSize: '3 2 2',
    }),
    int16Bytes(TWELVE),
  );
  const volume = await readMetaImage(path);
  assert.deepEqual(volume.direction, directionFromAxes([0, 1, 0], [0, 0, -1], [1, 0, 0]));
  assert.deepEqual(volume.spacing, [0.5, 0.6, 3.3]);
  assert.deepEqual(volume.origin, [-10.5, 20.25, 30]);
  assertClose(indexToPhysical(volume, [1, 0, 0]), [-10.5, 20.75, 30], 1e-9, 'i + 1');
  assertClose(indexToPhysical(volume, [0, 1, 0]), [-10.5, 20.25, 29.4], 1e-9, 'j + 1');
  assertClose(indexToPhysical(volume, [0, 0, 1]), [-7.2, 20.25, 30], 1e-9, 'k + 1');
  assert.deepEqual(Array.from(volume.voxels), TWELVE);
  assert.equal(voxelAt(volume, 2, 1, 1), TWELVE[2 + 3 * 1 + 6 * 1]);
});

test('a SPIDER-style .mha (ITK, LOCAL, uncompressed, identity TransformMatrix, RAI) reads with CRLF line ends too', async () => {
  for (const eol of ['\n', '\r\n']) {
    const path = await writeParts(
      `spider${eol.length}.mha`,
      itkHeader({ Offset: '-120.5 -98.25 -7.5', ElementSpacing: '0.9375 0.9375 3.3', DimSize: '2 3 2' }, eol),
      int16Bytes(TWELVE),
    );
    const volume = await readMetaImage(path);
    assert.deepEqual(volume.size, [2, 3, 2]);
    assert.deepEqual(volume.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert.deepEqual(volume.origin, [-120.5, -98.25, -7.5]);
    assert.deepEqual(volume.spacing, [0.9375, 0.9375, 3.3]);
    assert.ok(volume.voxels instanceof Int16Array);
    assert.deepEqual(Array.from(volume.voxels), TWELVE);
  }
});

test('an ITK-compressed .mha (zlib stream, CompressedDataSize) reads', async () => {
  const data = deflateSync(int16Bytes(TWELVE), { level: 2 });
  const path = await writeParts(
    'itk-compressed.mha',
    itkHeader({ CompressedData: 'True', CompressedDataSize: String(data.length) }),
    data,
  );
  assert.deepEqual(Array.from((await readMetaImage(path)).voxels), TWELVE);
});

test('big-endian MetaImage data (ElementByteOrderMSB or BinaryDataByteOrderMSB = True) reads with the right values', async () => {
  for (const key of ['ElementByteOrderMSB', 'BinaryDataByteOrderMSB']) {
    const overrides: Record<string, string | null> = { BinaryDataByteOrderMSB: null, [key]: 'True' };
    const path = await writeParts(`msb-${key}.mha`, itkHeader(overrides), int16Bytes(TWELVE, false));
    assert.deepEqual(Array.from((await readMetaImage(path)).voxels), TWELVE);
  }
});

test('a 2D MetaImage (NDims = 2) reads as a one-slice volume with slice spacing 1', async () => {
  const path = await writeParts(
    'flat.mha',
    itkHeader({
      NDims: '2',
      TransformMatrix: '0 1 1 0',
      Offset: '4 5',
      CenterOfRotation: '0 0',
      AnatomicalOrientation: null,
      ElementSpacing: '0.4 0.7',
      DimSize: '4 3',
    }),
    int16Bytes(TWELVE),
  );
  const volume = await readMetaImage(path);
  assert.deepEqual(volume.size, [4, 3, 1]);
  assert.deepEqual(volume.spacing, [0.4, 0.7, 1]);
  assert.deepEqual(volume.origin, [4, 5, 0]);
  assert.deepEqual(volume.direction, directionFromAxes([0, 1, 0], [1, 0, 0], [0, 0, 1]));
});

test('MetaIO synonyms are read: Position for Offset, Rotation for TransformMatrix, ElementSize for ElementSpacing', async () => {
  const path = await writeParts(
    'synonyms.mha',
    itkHeader({
      TransformMatrix: null,
      Offset: null,
      ElementSpacing: null,
      Position: '1 2 3',
      Rotation: '0 1 0 1 0 0 0 0 1',
      ElementSize: '0.25 0.5 2',
    }),
    int16Bytes(TWELVE),
  );
  const volume = await readMetaImage(path);
  assert.deepEqual(volume.origin, [1, 2, 3]);
  assert.deepEqual(volume.spacing, [0.25, 0.5, 2]);
  assert.deepEqual(volume.direction, directionFromAxes([0, 1, 0], [1, 0, 0], [0, 0, 1]));
});

test('a .mhd finds its data file relative to the header folder and skips HeaderSize bytes', async () => {
  await mkdir(join(dir, 'mhd', 'data'), { recursive: true });
  await writeFile(join(dir, 'mhd', 'data', 'image.raw'), Buffer.concat([Buffer.alloc(16, 0xff), int16Bytes(TWELVE)]));
  const path = join(dir, 'mhd', 'image.mhd');
  await writeFile(path, itkHeader({ HeaderSize: '16', ElementDataFile: 'data/image.raw' }));
  assert.deepEqual(Array.from((await readMetaImage(path)).voxels), TWELVE);
  await writeFile(path, itkHeader({ HeaderSize: '-1', ElementDataFile: 'data/image.raw' }));
  assert.deepEqual(Array.from((await readMetaImage(path)).voxels), TWELVE, 'HeaderSize = -1: data at the end');
});

test('ASCII MetaImage data (BinaryData = False) reads', async () => {
  const path = await writeParts('ascii.mha', itkHeader({ BinaryData: 'False' }), `${TWELVE.join(' ')}\n`);
  assert.deepEqual(Array.from((await readMetaImage(path)).voxels), TWELVE);
});

// ---------------------------------------------------------------------------------------------
// Bad input

test('a MetaImage header with a zero DimSize is refused as an invalid header', async () => {
  const path = await writeParts('dim-zero.mha', itkHeader({ DimSize: '3 0 2' }), int16Bytes(TWELVE));
  await assertRefused(readMetaImage(path), 'INVALID_HEADER', path, /DimSize = 3 0 2/);
});

test('a MetaImage header with a negative ElementSpacing is refused as an invalid header', async () => {
  const path = await writeParts('negative-spacing.mha', itkHeader({ ElementSpacing: '1 -0.5 1' }), int16Bytes(TWELVE));
  await assertRefused(readMetaImage(path), 'INVALID_HEADER', path, /ElementSpacing = 1 -0\.5 1/);
});

test('a MetaImage TransformMatrix with parallel axes is refused as an invalid header', async () => {
  const path = await writeParts(
    'singular.mha',
    itkHeader({ TransformMatrix: '1 0 0 1 0 0 0 0 1' }),
    int16Bytes(TWELVE),
  );
  await assertRefused(readMetaImage(path), 'INVALID_HEADER', path, /parallel/);
});

test('a MetaImage header that claims 10^9 voxels is refused as too large before any allocation', async () => {
  const header = itkHeader({ DimSize: '1000 1000 1000', ElementType: 'MET_DOUBLE' });
  const path = await writeParts('billion.mha', header);
  await assertRefused(readMetaImage(path), 'TOO_LARGE', path, /1000×1000×1000/);
  const compressed = await writeParts(
    'billion-z.mha',
    itkHeader({ DimSize: '1000 1000 1000', CompressedData: 'True' }),
  );
  await assertRefused(readMetaImage(compressed), 'TOO_LARGE', compressed);
});

test('a MetaImage whose data stops short of what its header promises is refused as truncated', async () => {
  const path = await writeParts('short.mha', itkHeader(), int16Bytes(TWELVE.slice(0, 7)));
  await assertRefused(readMetaImage(path), 'TRUNCATED', path, /14 of the 24 bytes/);
  await writeFile(join(dir, 'short.raw'), int16Bytes(TWELVE.slice(0, 7)));
  const mhd = await writeParts('short.mhd', itkHeader({ ElementDataFile: 'short.raw' }));
  await assertRefused(readMetaImage(mhd), 'TRUNCATED', mhd, /14 of the 24 bytes/);
});

test('a cut-off or corrupt compressed MetaImage is refused as truncated', async () => {
  const data = deflateSync(int16Bytes(Array.from({ length: 600 }, (_, n) => (n * 97) % 3000)));
  const header = itkHeader({ DimSize: '10 10 6', CompressedData: 'True' });
  const cut = await writeParts('cut.mha', header, data.subarray(0, data.length - 10));
  await assertRefused(readMetaImage(cut), 'TRUNCATED', cut, /compressed data is truncated or corrupt/);
  const corrupt = Buffer.from(data);
  for (let n = 4; n < corrupt.length; n += 5) corrupt[n] = (corrupt[n] as number) ^ 0x3c;
  const bad = await writeParts('corrupt.mha', header, corrupt);
  await assertRefused(readMetaImage(bad), 'TRUNCATED', bad);
  const short = await writeParts(
    'short-z.mha',
    itkHeader({ CompressedData: 'True' }),
    deflateSync(int16Bytes([1, 2, 3])),
  );
  await assertRefused(readMetaImage(short), 'TRUNCATED', short, /inflates to 6 of the 24 bytes/);
});

test('a file without an ObjectType or NDims header is refused as not a MetaImage', async () => {
  const text = await writeParts('text.mha', 'just some text\nwith lines\n');
  await assertRefused(readMetaImage(text), 'NOT_AN_IMAGE', text, /not a MetaImage file/);
  const png = await writeParts(
    'png.mha',
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  );
  await assertRefused(readMetaImage(png), 'NOT_AN_IMAGE', png);
  const keysOnly = await writeParts(
    'keys-only.mha',
    'DimSize = 2 2\nElementType = MET_SHORT\nElementDataFile = LOCAL\n',
  );
  await assertRefused(readMetaImage(keysOnly), 'NOT_AN_IMAGE', keysOnly);
  const empty = await writeParts('empty.mha', '');
  await assertRefused(readMetaImage(empty), 'NOT_AN_IMAGE', empty);
});

test('a MetaIO object that is not an image is refused as not an image', async () => {
  const path = await writeParts('tube.mha', itkHeader({ ObjectType: 'Tube' }), int16Bytes(TWELVE));
  await assertRefused(readMetaImage(path), 'NOT_AN_IMAGE', path, /"Tube"/);
});

test('a MetaImage header that ends before ElementDataFile is refused as truncated', async () => {
  const header = itkHeader();
  const path = await writeParts('cut-header.mha', header.slice(0, header.indexOf('DimSize')));
  await assertRefused(readMetaImage(path), 'TRUNCATED', path, /before ElementDataFile/);
});

test('multi-channel, unsupported element types, 4D and file lists are refused as unsupported', async () => {
  const cases: [string, Record<string, string | null>, RegExp][] = [
    ['rgb', { ElementNumberOfChannels: '3' }, /ElementNumberOfChannels = 3/],
    ['int64', { ElementType: 'MET_LONG_LONG' }, /MET_LONG_LONG/],
    ['4d', { NDims: '4', DimSize: '3 2 2 1' }, /NDims = 4/],
    ['list', { ElementDataFile: 'LIST' }, /several files/],
    ['pattern', { ElementDataFile: 'slice%03d.raw 1 2 1' }, /several files/],
  ];
  for (const [name, overrides, pattern] of cases) {
    const path = await writeParts(`${name}.mha`, itkHeader(overrides), int16Bytes(TWELVE));
    await assertRefused(readMetaImage(path), 'UNSUPPORTED', path, pattern);
  }
});

test('a .mhd whose data file is missing is reported as not found, naming the header', async () => {
  const path = await writeParts('orphan.mhd', itkHeader({ ElementDataFile: 'orphan.raw' }));
  await assertRefused(readMetaImage(path), 'NOT_FOUND', path, /"orphan\.raw" named by ElementDataFile/);
});

test('the committed truncated .mha fixture fails as truncated', async () => {
  const path = join(fixtures, 'mha-truncated.mha');
  assert.ok((await readFile(path)).length < 10_000);
  await assertRefused(readMetaImage(path), 'TRUNCATED', path);
});
