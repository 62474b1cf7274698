import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { ProblemKind } from '../../src/errors.js';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import {
  axisDirection,
  directionFromAxes,
  indexToPhysical,
  normalize,
  type Vec3,
  type Volume,
  type VoxelArray,
  voxelAt,
} from '../../src/volume/volume.js';
import { assertClose as assertCloseExact, assertRefused, assertSameVoxels } from '../helpers/assertions.js';
import { multiply, rotation } from '../helpers/volumes.js';

const dir = await mkdtemp(join(tmpdir(), 'spinegrade-nifti-'));
after(() => rm(dir, { recursive: true, force: true }));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/bad-input/', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Helpers

/** A 6×5×4 int16 volume rotated 20° about z and 20° about x, spacing 0.47 × 0.61 × 3.3 mm. */
function obliqueVolume(voxels: VoxelArray = obliqueValues()): Volume {
  return {
    voxels,
    size: [6, 5, 4],
    spacing: [0.47, 0.61, 3.3],
    origin: [-31.7, 12.25, 104.5],
    direction: multiply(rotation('z', 20), rotation('x', 20)),
    metadata: { sourceFormat: 'dicom', sourcePaths: [], seriesDescription: 'T2 TSE sag oblique' },
  };
}

function obliqueValues(): Int16Array {
  const values = new Int16Array(6 * 5 * 4);
  for (let n = 0; n < values.length; n++) values[n] = ((n * 1031) % 4001) - 2000;
  return values;
}

function assertClose(actual: readonly number[], expected: readonly number[], tolerance = 1e-4, what = 'value'): void {
  assertCloseExact(actual, expected, tolerance, what);
}

interface HeaderSpec {
  littleEndian?: boolean;
  dim: readonly number[];
  datatype?: number;
  bitpix?: number;
  pixdim?: readonly number[];
  voxOffset?: number;
  scl?: readonly [number, number];
  xyztUnits?: number;
  descrip?: string;
  qformCode?: number;
  sformCode?: number;
  quatern?: readonly [number, number, number];
  qoffset?: readonly [number, number, number];
  srow?: readonly number[];
  magic?: string;
}

/** A hand-built 352-byte NIfTI-1 header (348 bytes and an empty extension flag). */
function niftiHeader(spec: HeaderSpec): Uint8Array {
  const le = spec.littleEndian ?? true;
  const bytes = new Uint8Array(352);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, 348, le);
  spec.dim.forEach((n, i) => view.setInt16(40 + 2 * i, n, le));
  view.setInt16(70, spec.datatype ?? 4, le);
  view.setInt16(72, spec.bitpix ?? 16, le);
  (spec.pixdim ?? [1, 1, 1, 1, 1, 1, 1, 1]).forEach((p, i) => view.setFloat32(76 + 4 * i, p, le));
  view.setFloat32(108, spec.voxOffset ?? 352, le);
  view.setFloat32(112, spec.scl?.[0] ?? 0, le);
  view.setFloat32(116, spec.scl?.[1] ?? 0, le);
  bytes[123] = spec.xyztUnits ?? 2;
  if (spec.descrip) bytes.set(Buffer.from(spec.descrip, 'latin1'), 148);
  view.setInt16(252, spec.qformCode ?? 0, le);
  view.setInt16(254, spec.sformCode ?? 0, le);
  (spec.quatern ?? [0, 0, 0]).forEach((v, n) => view.setFloat32(256 + 4 * n, v, le));
  (spec.qoffset ?? [0, 0, 0]).forEach((v, n) => view.setFloat32(268 + 4 * n, v, le));
  (spec.srow ?? new Array<number>(12).fill(0)).forEach((v, n) => view.setFloat32(280 + 4 * n, v, le));
  bytes.set(Buffer.from(spec.magic ?? 'n+1\0', 'latin1'), 344);
  return bytes;
}

function int16Bytes(values: readonly number[], littleEndian = true): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  values.forEach((v, n) => view.setInt16(2 * n, v, littleEndian));
  return bytes;
}

async function writeBytes(name: string, ...parts: Uint8Array[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, Buffer.concat(parts));
  return path;
}

const ramp = (count: number): number[] => Array.from({ length: count }, (_, n) => n * 10 - 50);

// ---------------------------------------------------------------------------------------------
// Round trips

test('an oblique, anisotropic int16 volume survives a .nii round trip: every voxel reads back at the same physical point with the same value', async () => {
  const volume = obliqueVolume();
  const path = join(dir, 'oblique.nii');
  await writeNifti(volume, path);
  const back = await readNifti(path);
  assert.ok(back.voxels instanceof Int16Array);
  assertSameVoxels(volume, back);
  assertClose(back.spacing, volume.spacing, 1e-5, 'spacing');
  assertClose(back.direction, volume.direction, 1e-5, 'direction');
  assert.equal(back.metadata.sourceFormat, 'nifti');
  assert.deepEqual(back.metadata.sourcePaths, [path]);
  assert.equal(back.metadata.seriesDescription, 'T2 TSE sag oblique');
});

test('an oblique, anisotropic int16 volume survives a .nii.gz round trip, and the file is gzip-compressed', async () => {
  const volume = obliqueVolume();
  const path = join(dir, 'oblique.nii.gz');
  await writeNifti(volume, path);
  const bytes = await readFile(path);
  assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b]);
  assertSameVoxels(volume, await readNifti(path));
});

test('every supported voxel type round-trips through NIfTI with its type and values', async () => {
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
    const path = join(dir, `type-${voxels.constructor.name}.nii.gz`);
    await writeNifti(obliqueVolume(voxels), path);
    const back = await readNifti(path);
    assert.equal(back.voxels.constructor, voxels.constructor);
    assert.deepEqual(Array.from(back.voxels), Array.from(voxels));
  }
});

test('the written header carries qform and sform (code 1), pixdim, mm units and the description cut to 79 characters', async () => {
  const volume = {
    ...obliqueVolume(),
    metadata: { sourceFormat: 'dicom' as const, sourcePaths: [], seriesDescription: 'x'.repeat(100) },
  };
  const path = join(dir, 'header.nii');
  await writeNifti(volume, path);
  const bytes = await readFile(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getInt32(0, true), 348);
  assert.equal(bytes.subarray(344, 348).toString('latin1'), 'n+1\0');
  assert.equal(view.getInt16(70, true), 4, 'datatype int16');
  assert.equal(view.getInt16(72, true), 16, 'bitpix');
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => view.getInt16(40 + 2 * i, true)),
    [3, 6, 5, 4],
  );
  assertClose(
    [1, 2, 3].map((i) => view.getFloat32(76 + 4 * i, true)),
    [0.47, 0.61, 3.3],
    1e-6,
    'pixdim',
  );
  assert.equal(view.getFloat32(108, true), 352, 'vox_offset');
  assert.equal(bytes[123], 2, 'xyzt_units = mm');
  assert.equal(view.getInt16(252, true), 1, 'qform_code');
  assert.equal(view.getInt16(254, true), 1, 'sform_code');
  const descrip = bytes.subarray(148, 228);
  assert.equal(descrip.indexOf(0), 79);
  assert.equal(bytes.length, 352 + 6 * 5 * 4 * 2);
  // sform = RAS affine: the LPS one with its x and y rows negated.
  const { direction: d, spacing: s, origin: o } = volume;
  const expected = [
    [-d[0] * s[0], -d[1] * s[1], -d[2] * s[2], -o[0]],
    [-d[3] * s[0], -d[4] * s[1], -d[5] * s[2], -o[1]],
    [d[6] * s[0], d[7] * s[1], d[8] * s[2], o[2]],
  ].flat();
  assertClose(
    Array.from({ length: 12 }, (_, n) => view.getFloat32(280 + 4 * n, true)),
    expected,
    1e-5,
    'srow',
  );
});

test('the qform written beside the sform places every voxel where the sform does', async () => {
  const volume = obliqueVolume();
  const path = join(dir, 'qform-check.nii');
  await writeNifti(volume, path);
  const bytes = await readFile(path);
  bytes.writeInt16LE(0, 254); // sform_code = 0: the reader must fall back to the qform
  const qformOnly = join(dir, 'qform-only-written.nii');
  await writeFile(qformOnly, bytes);
  assertSameVoxels(volume, await readNifti(qformOnly));
});

test('a mirrored direction (left-handed axes) is written with qfac = -1 and reads back from the qform alone', async () => {
  const base = obliqueVolume();
  const d = base.direction;
  const mirrored: Volume = { ...base, direction: [d[0], d[1], -d[2], d[3], d[4], -d[5], d[6], d[7], -d[8]] };
  const path = join(dir, 'mirrored.nii');
  await writeNifti(mirrored, path);
  const bytes = await readFile(path);
  assert.equal(bytes.readFloatLE(76), -1, 'pixdim[0] = qfac');
  bytes.writeInt16LE(0, 254);
  await writeFile(path, bytes);
  assertSameVoxels(mirrored, await readNifti(path));
});

test('a direction that is not a rotation is written with qform_code 0 and reads back exactly from the sform', async () => {
  const sheared = directionFromAxes([1, 0, 0], normalize([0.3, 1, 0]), normalize([0, 0.2, 1]));
  const volume: Volume = { ...obliqueVolume(), direction: sheared };
  const path = join(dir, 'sheared.nii');
  await writeNifti(volume, path);
  const bytes = await readFile(path);
  assert.equal(bytes.readInt16LE(252), 0, 'qform_code');
  assert.equal(bytes.readInt16LE(254), 1, 'sform_code');
  const back = await readNifti(path);
  assertSameVoxels(volume, back);
  assertClose(back.direction, sheared, 1e-6, 'direction');
});

test('writing over an existing NIfTI file is refused unless overwrite is set', async () => {
  const path = join(dir, 'exists.nii');
  await writeNifti(obliqueVolume(), path);
  await assertRefused(writeNifti(obliqueVolume(), path), 'OUTPUT_ERROR', path);
  await writeNifti(obliqueVolume(), path, { overwrite: true });
});

// ---------------------------------------------------------------------------------------------
// Hand-built headers

test('a NIfTI with only a qform places voxels by its quaternion (30° about x), offset and pixdim', async () => {
  const half = (15 * Math.PI) / 180;
  const header = niftiHeader({
    dim: [3, 3, 4, 5, 1, 1, 1, 1],
    pixdim: [1, 0.5, 0.8, 4, 0, 0, 0, 0],
    qformCode: 1,
    quatern: [Math.sin(half), 0, 0],
    qoffset: [10, -20, 30],
  });
  const path = await writeBytes('qform-only.nii', header, int16Bytes(ramp(60)));
  const volume = await readNifti(path);
  assertClose(volume.spacing, [0.5, 0.8, 4], 1e-6, 'spacing');
  // RAS point = R(30° about x) · (i·0.5, j·0.8, k·4) + (10, -20, 30); LPS negates x and y.
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  const ras = (i: number, j: number, k: number): Vec3 => [
    10 + i * 0.5,
    -20 + c * j * 0.8 - s * k * 4,
    30 + s * j * 0.8 + c * k * 4,
  ];
  for (const [i, j, k] of [
    [0, 0, 0],
    [1, 2, 3],
    [2, 3, 4],
  ] as const) {
    const expected = ras(i, j, k);
    assertClose(
      indexToPhysical(volume, [i, j, k]),
      [-expected[0], -expected[1], expected[2]],
      1e-4,
      `point ${i},${j},${k}`,
    );
  }
  assertClose(axisDirection(volume.direction, 1), [0, -c, s], 1e-6, 'axis 1');
  assert.equal(voxelAt(volume, 1, 2, 3), ramp(60)[1 + 3 * 2 + 12 * 3]);
});

test('qfac = -1 in pixdim[0] flips the third axis of a qform', async () => {
  const header = niftiHeader({ dim: [3, 2, 2, 2, 1, 1, 1, 1], pixdim: [-1, 1, 1, 2, 0, 0, 0, 0], qformCode: 1 });
  const volume = await readNifti(await writeBytes('qfac.nii', header, int16Bytes(ramp(8))));
  assertClose(volume.direction, [-1, 0, 0, 0, -1, 0, 0, 0, -1], 1e-9, 'direction');
  assertClose(indexToPhysical(volume, [0, 0, 1]), [0, 0, -2], 1e-9, 'point');
});

test('a NIfTI with neither qform nor sform gets its pixdim spacing and the LPS-flipped identity, as ITK reads it', async () => {
  const header = niftiHeader({
    dim: [3, 4, 3, 2, 1, 1, 1, 1],
    pixdim: [0, 0.9, 0.8, 5, 0, 0, 0, 0],
    qoffset: [99, 99, 99],
  });
  const volume = await readNifti(await writeBytes('pixdim-only.nii', header, int16Bytes(ramp(24))));
  assert.deepEqual(volume.direction, [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
  assertClose(volume.spacing, [0.9, 0.8, 5], 1e-6, 'spacing');
  assertClose(volume.origin, [0, 0, 0], 0, 'origin');
  assert.deepEqual(Array.from(volume.voxels), ramp(24));
});

test('the sform wins over the qform when both are set', async () => {
  const header = niftiHeader({
    dim: [3, 2, 2, 2, 1, 1, 1, 1],
    pixdim: [1, 1, 1, 1, 0, 0, 0, 0],
    qformCode: 1,
    qoffset: [5, 5, 5],
    sformCode: 2,
    srow: [0, 0, 3, -7, 2, 0, 0, 8, 0, 1, 0, 9],
  });
  const volume = await readNifti(await writeBytes('both.nii', header, int16Bytes(ramp(8))));
  assertClose(volume.origin, [7, -8, 9], 1e-6, 'origin');
  assertClose(volume.spacing, [2, 1, 3], 1e-6, 'spacing');
  // index axis 0 runs along RAS +y → LPS -y; axis 1 along +z; axis 2 along RAS +x → LPS -x.
  assertClose(volume.direction, directionFromAxes([0, -1, 0], [0, 0, 1], [-1, 0, 0]), 1e-9, 'direction');
});

test('a non-orthogonal sform keeps its columns: normalised as the directions, their lengths as the spacing', async () => {
  const srow = [0.5, 0.2, 0, 1, 0, 0.6, 0.9, 2, 0, 0, 3, 3];
  const header = niftiHeader({
    dim: [3, 2, 2, 2, 1, 1, 1, 1],
    pixdim: [1, 0.5, 0.63, 3.13, 0, 0, 0, 0],
    sformCode: 1,
    srow,
  });
  const volume = await readNifti(await writeBytes('sheared-sform.nii', header, int16Bytes(ramp(8))));
  assertClose(volume.spacing, [0.5, Math.hypot(0.2, 0.6), Math.hypot(0.9, 3)], 1e-6, 'spacing');
  for (const [i, j, k] of [
    [1, 0, 0],
    [0, 1, 0],
    [1, 1, 1],
  ] as const) {
    const x = srow[0]! * i + srow[1]! * j + srow[2]! * k + srow[3]!;
    const y = srow[4]! * i + srow[5]! * j + srow[6]! * k + srow[7]!;
    const z = srow[8]! * i + srow[9]! * j + srow[10]! * k + srow[11]!;
    assertClose(indexToPhysical(volume, [i, j, k]), [-x, -y, z], 1e-5, `point ${i},${j},${k}`);
  }
});

test('a big-endian NIfTI reads with the right values and geometry', async () => {
  const header = niftiHeader({
    littleEndian: false,
    dim: [3, 3, 2, 2, 1, 1, 1, 1],
    pixdim: [1, 0.7, 0.7, 4, 0, 0, 0, 0],
    sformCode: 1,
    srow: [0.7, 0, 0, -10, 0, 0.7, 0, 20, 0, 0, 4, 30],
  });
  const values = [-300, -1, 0, 1, 255, 256, 1000, -1000, 32767, -32768, 12, 13];
  const volume = await readNifti(await writeBytes('big-endian.nii', header, int16Bytes(values, false)));
  assert.ok(volume.voxels instanceof Int16Array);
  assert.deepEqual(Array.from(volume.voxels), values);
  assertClose(volume.origin, [10, -20, 30], 1e-6, 'origin');
  assertClose(volume.spacing, [0.7, 0.7, 4], 1e-6, 'spacing');
});

test('scl_slope and scl_inter turn the stored values into float32 values', async () => {
  const header = niftiHeader({ dim: [3, 2, 2, 1, 1, 1, 1, 1], scl: [0.5, -10] });
  const volume = await readNifti(await writeBytes('scaled.nii', header, int16Bytes([0, 1, 20, -4])));
  assert.ok(volume.voxels instanceof Float32Array);
  assert.deepEqual(Array.from(volume.voxels), [-10, -9.5, 0, -12]);
});

test('a slope of 1 and intercept of 0 (or a zero slope) keep the stored type unscaled', async () => {
  for (const scl of [
    [1, 0],
    [0, 5],
  ] as const) {
    const header = niftiHeader({ dim: [3, 2, 2, 1, 1, 1, 1, 1], scl });
    const volume = await readNifti(await writeBytes(`unscaled-${scl[0]}.nii`, header, int16Bytes([0, 1, 20, -4])));
    assert.ok(volume.voxels instanceof Int16Array);
    assert.deepEqual(Array.from(volume.voxels), [0, 1, 20, -4]);
  }
});

test('a 2D NIfTI (dim[0] = 2) reads as a one-slice volume; a 4D one with a single volume reads as 3D', async () => {
  const flat = niftiHeader({ dim: [2, 3, 2, 0, 0, 0, 0, 0], pixdim: [1, 0.5, 0.5, 0, 0, 0, 0, 0] });
  const image = await readNifti(await writeBytes('2d.nii', flat, int16Bytes(ramp(6))));
  assert.deepEqual(image.size, [3, 2, 1]);
  assert.equal(image.spacing[2], 1);
  const single = niftiHeader({ dim: [4, 2, 2, 2, 1, 1, 1, 1], pixdim: [1, 1, 1, 1, 0, 0, 0, 0] });
  const volume = await readNifti(await writeBytes('4d-one.nii', single, int16Bytes(ramp(8))));
  assert.deepEqual(volume.size, [2, 2, 2]);
});

test('spatial units in metres are converted to millimetres', async () => {
  const header = niftiHeader({
    dim: [3, 2, 2, 2, 1, 1, 1, 1],
    pixdim: [1, 0.001, 0.001, 0.004, 0, 0, 0, 0],
    xyztUnits: 1,
    sformCode: 1,
    srow: [0.001, 0, 0, 0.1, 0, 0.001, 0, 0, 0, 0, 0.004, 0],
  });
  const volume = await readNifti(await writeBytes('metres.nii', header, int16Bytes(ramp(8))));
  assertClose(volume.spacing, [1, 1, 4], 1e-5, 'spacing');
  assertClose(volume.origin, [-100, 0, 0], 1e-4, 'origin');
});

test('data after NIfTI extensions is found through vox_offset', async () => {
  const header = niftiHeader({ dim: [3, 2, 2, 1, 1, 1, 1, 1], voxOffset: 400 });
  header[348] = 1; // extension flag
  const path = await writeBytes('extended.nii', header, new Uint8Array(48).fill(0xee), int16Bytes([5, 6, 7, 8]));
  assert.deepEqual(Array.from((await readNifti(path)).voxels), [5, 6, 7, 8]);
});

// ---------------------------------------------------------------------------------------------
// Bad input

test('a NIfTI header with dim[1] = 0 is refused as an invalid header', async () => {
  const path = await writeBytes('dim-zero.nii', niftiHeader({ dim: [3, 0, 4, 4, 1, 1, 1, 1] }));
  await assertRefused(readNifti(path), 'INVALID_HEADER', path, /dim\[1\] = 0/);
});

test('a NIfTI header with a negative pixdim is refused as an invalid header', async () => {
  const header = niftiHeader({ dim: [3, 2, 2, 2, 1, 1, 1, 1], pixdim: [1, 1, -0.5, 1, 0, 0, 0, 0] });
  const path = await writeBytes('negative-pixdim.nii', header, int16Bytes(ramp(8)));
  await assertRefused(readNifti(path), 'INVALID_HEADER', path, /pixdim\[2\] = -0\.5/);
});

test('a NIfTI sform that gives an axis no direction is refused as an invalid header', async () => {
  const header = niftiHeader({
    dim: [3, 2, 2, 2, 1, 1, 1, 1],
    sformCode: 1,
    srow: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
  });
  const path = await writeBytes('zero-column.nii', header, int16Bytes(ramp(8)));
  await assertRefused(readNifti(path), 'INVALID_HEADER', path, /sform/);
});

test('a NIfTI header that claims 10^9 voxels is refused as too large before any allocation', async () => {
  // float64 × 10^9 = 8 GB: an attempt to allocate would fail with a RangeError, not TOO_LARGE;
  // and there is no data, so reading data before checking would say TRUNCATED.
  const header = niftiHeader({ dim: [3, 1000, 1000, 1000, 1, 1, 1, 1], datatype: 64, bitpix: 64 });
  const path = await writeBytes('billion.nii', header);
  await assertRefused(readNifti(path), 'TOO_LARGE', path, /1000×1000×1000/);
  const gzPath = await writeBytes('billion.nii.gz', gzipSync(header));
  await assertRefused(readNifti(gzPath), 'TOO_LARGE', gzPath);
});

test('a NIfTI whose data stops short of what its header promises is refused as truncated', async () => {
  const header = niftiHeader({ dim: [3, 4, 4, 4, 1, 1, 1, 1] });
  const path = await writeBytes('short.nii', header, int16Bytes(ramp(40)));
  await assertRefused(readNifti(path), 'TRUNCATED', path, /80 of the 128 data bytes/);
  const gzPath = await writeBytes('short.nii.gz', gzipSync(Buffer.concat([header, int16Bytes(ramp(40))])));
  await assertRefused(readNifti(gzPath), 'TRUNCATED', gzPath, /80 of the 128 data bytes/);
});

test('a NIfTI file that ends inside its header is refused as truncated', async () => {
  const path = await writeBytes('half-header.nii', niftiHeader({ dim: [3, 2, 2, 2, 1, 1, 1, 1] }).subarray(0, 200));
  await assertRefused(readNifti(path), 'TRUNCATED', path, /inside the 348-byte NIfTI header/);
});

test('a cut-off .nii.gz is refused as truncated with a message about the gzip stream', async () => {
  const volume = obliqueVolume();
  const whole = join(dir, 'whole.nii.gz');
  await writeNifti(volume, whole);
  const bytes = await readFile(whole);
  const path = await writeBytes('cut.nii.gz', bytes.subarray(0, bytes.length - 20));
  await assertRefused(readNifti(path), 'TRUNCATED', path, /gzip stream is truncated or corrupt/);
});

test('a .nii.gz with corrupted compressed bytes is refused as truncated or corrupt', async () => {
  const source = join(dir, 'to-corrupt.nii.gz');
  await writeNifti(obliqueVolume(), source);
  const bytes = await readFile(source);
  const corrupt = Buffer.from(bytes);
  for (let n = 30; n < corrupt.length - 8; n += 7) corrupt[n] = (corrupt[n] as number) ^ 0x5a;
  const path = await writeBytes('corrupt.nii.gz', corrupt);
  await assertRefused(readNifti(path), 'TRUNCATED', path, /gzip/);
});

test('a NIfTI-sized header without the n+1 magic is refused as not an image', async () => {
  const header = niftiHeader({ dim: [3, 2, 2, 2, 1, 1, 1, 1], magic: 'abc\0' });
  const path = await writeBytes('bad-magic.nii', header, int16Bytes(ramp(8)));
  await assertRefused(readNifti(path), 'NOT_AN_IMAGE', path, /magic "abc\\x00"/);
});

test('a two-file ni1 header is refused as unsupported', async () => {
  const path = await writeBytes('pair.nii', niftiHeader({ dim: [3, 2, 2, 2, 1, 1, 1, 1], magic: 'ni1\0' }));
  await assertRefused(readNifti(path), 'UNSUPPORTED', path, /two-file/);
});

test('RGB and complex NIfTI datatypes are refused as unsupported, unknown codes as invalid', async () => {
  for (const [datatype, bitpix, name] of [
    [128, 24, 'RGB24'],
    [32, 64, 'complex64'],
  ] as const) {
    const path = await writeBytes(
      `type-${datatype}.nii`,
      niftiHeader({ dim: [3, 2, 2, 2, 1, 1, 1, 1], datatype, bitpix }),
    );
    await assertRefused(readNifti(path), 'UNSUPPORTED', path, new RegExp(name));
  }
  const path = await writeBytes('type-3.nii', niftiHeader({ dim: [3, 2, 2, 2, 1, 1, 1, 1], datatype: 3 }));
  await assertRefused(readNifti(path), 'INVALID_HEADER', path, /unknown NIfTI datatype code 3/);
});

test('a 4D NIfTI with several volumes is refused as unsupported, not cut down to its first volume', async () => {
  const header = niftiHeader({ dim: [4, 2, 2, 2, 3, 1, 1, 1], pixdim: [1, 1, 1, 1, 2, 0, 0, 0] });
  const path = await writeBytes('4d.nii', header, int16Bytes(ramp(24)));
  await assertRefused(readNifti(path), 'UNSUPPORTED', path, /dim\[4\] = 3 \(3 volumes\)/);
});

test('a NIfTI-2 header is refused as unsupported', async () => {
  const bytes = new Uint8Array(544);
  new DataView(bytes.buffer).setInt32(0, 540, true);
  const path = await writeBytes('nifti2.nii', bytes);
  await assertRefused(readNifti(path), 'UNSUPPORTED', path, /NIfTI-2/);
});

test('a text file named .nii is refused as not an image', async () => {
  const path = await writeBytes('text.nii', Buffer.from('hello, this is not an image\n'.repeat(20)));
  await assertRefused(readNifti(path), 'NOT_AN_IMAGE', path);
});

test('a missing NIfTI file is reported as not found', async () => {
  const path = join(dir, 'missing.nii');
  await assertRefused(readNifti(path), 'NOT_FOUND', path);
});

test('the committed bad-input NIfTI fixtures fail with their documented kinds', async () => {
  const cases: [string, ProblemKind][] = [
    ['nifti-impossible-header.nii', 'INVALID_HEADER'],
    ['nifti-billion-voxels.nii', 'TOO_LARGE'],
    ['nifti-truncated.nii.gz', 'TRUNCATED'],
  ];
  for (const [name, kind] of cases) {
    const path = join(fixtures, name);
    assert.ok((await readFile(path)).length < 10_000, `${name} is small`);
    await assertRefused(readNifti(path), kind, path);
  }
});
