/**
 * NIfTI-1 single-file images (`.nii`, `.nii.gz`).
 *
 * NIfTI's world space is RAS+ (+x towards the patient's right, +y anterior, +z superior) and
 * spinegrade's is LPS+, so every affine read from a header has its x and y rows negated, and every
 * affine written has them negated back. The grid geometry follows the NIfTI-1 standard:
 *
 * - method 3, `sform_code > 0`: the 3×4 affine `srow_x/y/z` maps the voxel index to the world point;
 * - method 2, `qform_code > 0`: quaternion `(b, c, d)`, `qfac = pixdim[0]`, spacing `pixdim[1..3]`,
 *   offset `qoffset_x/y/z`;
 * - method 1, neither: `diag(pixdim[1..3])` with a zero offset, which ITK (and so spinegrade) reads
 *   as the LPS direction `diag(-1, -1, 1)`.
 *
 * The sform is preferred when both are present. Spatial units in metres or micrometres
 * (`xyzt_units`) are converted to millimetres, as ITK does.
 */
import type { FileHandle } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { SpinegradeError } from '../errors.js';
import {
  assertValidGeometry,
  cross,
  determinant3,
  directionFromAxes,
  type Mat3,
  norm,
  type Vec3,
  type Volume,
  type VoxelArray,
  voxelCount,
} from '../volume/volume.js';
import { writeFileAtomic } from './atomic.js';
import { fileSystemError, forEachInflatedChunk, openRegularFile, readExactly } from './binary.js';
import { littleEndianBytes, VOXEL_TYPES, type VoxelType, voxelsFromBytes, voxelTypeOf } from './voxelTypes.js';

/** Options for {@link writeNifti}. */
export interface NiftiWriteOptions {
  /** Replace an existing file (default false). */
  overwrite?: boolean;
}

const HEADER_BYTES = 348;
const NIFTI2_HEADER_BYTES = 540;
const DEFAULT_VOX_OFFSET = 352;
const MAX_NIFTI_DIM = 32767;

/** The voxel types NIfTI reads, by datatype code. */
const NIFTI_TYPES: readonly VoxelType[] = [...VOXEL_TYPES].sort((p, q) => p.niftiCode - q.niftiCode);

/** NIfTI-1 datatypes that exist but that spinegrade does not read. */
const UNSUPPORTED_DATATYPES: ReadonlyMap<number, string> = new Map([
  [1, 'binary'],
  [32, 'complex64'],
  [128, 'RGB24'],
  [1024, 'int64'],
  [1280, 'uint64'],
  [1536, 'float128'],
  [1792, 'complex128'],
  [2048, 'complex256'],
  [2304, 'RGBA32'],
]);

/** What a parsed header says about the data that follows it. */
interface NiftiHeader {
  readonly littleEndian: boolean;
  readonly kind: VoxelType;
  readonly size: Vec3;
  readonly spacing: Vec3;
  readonly origin: Vec3;
  readonly direction: Mat3;
  readonly voxOffset: number;
  readonly dataBytes: number;
  /** `[slope, intercept]` when the values are scaled. */
  readonly scaling: readonly [number, number] | undefined;
  readonly description: string | undefined;
}

/**
 * Reads a NIfTI-1 single-file image (`.nii`, or gzip-compressed `.nii.gz`, told apart by content)
 * into an LPS {@link Volume}. Throws a {@link SpinegradeError} for anything it cannot read.
 */
export async function readNifti(path: string): Promise<Volume> {
  let handle: FileHandle;
  try {
    handle = await openRegularFile(path);
  } catch (error) {
    throw fileSystemError(error, path);
  }
  try {
    const fileSize = (await handle.stat()).size;
    const head = await readExactly(handle, 0, Math.min(fileSize, HEADER_BYTES), path);
    let header: NiftiHeader;
    let data: Uint8Array;
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
      ({ header, data } = await readGzipped(handle, path));
    } else {
      header = parseNiftiHeader(head, path);
      const available = Math.max(0, fileSize - header.voxOffset);
      if (available < header.dataBytes) {
        throw truncatedData(header, available, path);
      }
      data = await readExactly(handle, header.voxOffset, header.dataBytes, path);
    }
    return toVolume(header, data, path);
  } finally {
    await handle.close();
  }
}

/**
 * Writes a volume as NIfTI-1 (`n+1`, little endian); gzip-compressed when `path` ends in `.gz`.
 * Both the qform (when the direction is a rotation) and the exact sform are written.
 */
export async function writeNifti(volume: Volume, path: string, options: NiftiWriteOptions = {}): Promise<void> {
  const bytes = encodeNifti(volume, path);
  const data = /\.gz$/i.test(path) ? gzipSync(bytes) : bytes;
  await writeFileAtomic(path, data, { overwrite: options.overwrite ?? false });
}

// ---------------------------------------------------------------------------------------------
// Reading

async function readGzipped(handle: FileHandle, path: string): Promise<{ header: NiftiHeader; data: Uint8Array }> {
  // Streamed, so that the header is checked (size limit included) before the data is allocated.
  let header: NiftiHeader | undefined;
  let data: Uint8Array | undefined;
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  let position = 0;
  const take = (chunk: Uint8Array, start: number): void => {
    if (!header || !data) return;
    const from = Math.max(start, header.voxOffset);
    const to = Math.min(start + chunk.length, header.voxOffset + header.dataBytes);
    if (to > from) data.set(chunk.subarray(from - start, to - start), from - header.voxOffset);
  };
  await forEachInflatedChunk(
    handle,
    { start: 0 },
    (chunk) => {
      if (!header) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= HEADER_BYTES) {
          const head = Buffer.concat(pending);
          header = parseNiftiHeader(head.subarray(0, HEADER_BYTES), path);
          data = new Uint8Array(header.dataBytes);
          take(head, 0);
          position = head.length;
        }
        return;
      }
      take(chunk, position);
      position += chunk.length;
    },
    'the gzip stream',
    path,
  );
  if (!header || !data) {
    const head = Buffer.concat(pending);
    // Too short for a header: say what it is, as an uncompressed file would.
    parseNiftiHeader(head, path);
    throw new SpinegradeError('TRUNCATED', `the decompressed file ends after ${head.length} bytes`, path);
  }
  const available = Math.max(0, position - header.voxOffset);
  if (available < header.dataBytes) throw truncatedData(header, available, path);
  return { header, data };
}

function truncatedData(header: NiftiHeader, available: number, path: string): SpinegradeError {
  return new SpinegradeError(
    'TRUNCATED',
    `the file holds ${available} of the ${header.dataBytes} data bytes its header promises (${header.size.join('×')} ${header.kind.name})`,
    path,
  );
}

/** Parses and checks a NIfTI-1 header (the first 348 bytes); allocates nothing for the data. */
function parseNiftiHeader(bytes: Uint8Array, path: string): NiftiHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) {
    throw new SpinegradeError('NOT_AN_IMAGE', `not a NIfTI file: only ${bytes.length} bytes long`, path);
  }
  const sizeLE = view.getInt32(0, true);
  const sizeBE = view.getInt32(0, false);
  if (sizeLE !== HEADER_BYTES && sizeBE !== HEADER_BYTES) {
    if (sizeLE === NIFTI2_HEADER_BYTES || sizeBE === NIFTI2_HEADER_BYTES) {
      throw new SpinegradeError('UNSUPPORTED', 'NIfTI-2 files are not read; convert the image to NIfTI-1', path);
    }
    throw new SpinegradeError(
      'NOT_AN_IMAGE',
      `not a NIfTI-1 file: the header size field is ${sizeLE}, expected ${HEADER_BYTES}`,
      path,
    );
  }
  if (bytes.length < HEADER_BYTES) {
    throw new SpinegradeError(
      'TRUNCATED',
      `the file ends after ${bytes.length} bytes, inside the ${HEADER_BYTES}-byte NIfTI header`,
      path,
    );
  }
  const le = sizeLE === HEADER_BYTES;
  const int16 = (offset: number): number => view.getInt16(offset, le);
  const float32 = (offset: number): number => view.getFloat32(offset, le);

  const magic = bytes.subarray(344, 348);
  const magicText = Array.from(magic, (c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${hex2(c)}`)).join(
    '',
  );
  if (magicText === 'ni1\\x00') {
    throw new SpinegradeError(
      'UNSUPPORTED',
      'a two-file NIfTI header (magic "ni1", data in a separate .img); only single-file .nii is read',
      path,
    );
  }
  if (magicText !== 'n+1\\x00') {
    throw new SpinegradeError('NOT_AN_IMAGE', `bad NIfTI-1 magic "${magicText}", expected "n+1\\x00"`, path);
  }

  const dim = Array.from({ length: 8 }, (_, i) => int16(40 + 2 * i));
  const pixdim = Array.from({ length: 8 }, (_, i) => float32(76 + 4 * i));
  const rank = dim[0] as number;
  if (rank < 1 || rank > 7) {
    throw new SpinegradeError('INVALID_HEADER', `dim[0] = ${rank}: the number of dimensions must be 1 to 7`, path);
  }
  for (let i = 1; i <= rank; i++) {
    const n = dim[i] as number;
    if (n <= 0) {
      throw new SpinegradeError('INVALID_HEADER', `dim[${i}] = ${n}: image sizes must be positive`, path);
    }
  }
  if (rank < 2) {
    throw new SpinegradeError('UNSUPPORTED', 'a 1D NIfTI image (dim[0] = 1); only 2D and 3D images are read', path);
  }
  for (let i = 4; i <= rank; i++) {
    const n = dim[i] as number;
    if (n > 1) {
      throw new SpinegradeError(
        'UNSUPPORTED',
        `a ${rank}D NIfTI image with dim[${i}] = ${n}${i === 4 ? ` (${n} volumes)` : ''}; only a single 3D volume is read`,
        path,
      );
    }
  }

  const datatype = int16(70);
  const kind = NIFTI_TYPES.find((k) => k.niftiCode === datatype);
  if (!kind) {
    const known = UNSUPPORTED_DATATYPES.get(datatype);
    if (known !== undefined) {
      throw new SpinegradeError(
        'UNSUPPORTED',
        `NIfTI datatype ${datatype} (${known}) is not read; supported: ${NIFTI_TYPES.map((k) => k.name).join(', ')}`,
        path,
      );
    }
    throw new SpinegradeError('INVALID_HEADER', `unknown NIfTI datatype code ${datatype}`, path);
  }

  const usedAxes = Math.min(rank, 3);
  for (let i = 1; i <= usedAxes; i++) {
    const p = pixdim[i] as number;
    if (!Number.isFinite(p) || p <= 0) {
      throw new SpinegradeError('INVALID_HEADER', `pixdim[${i}] = ${p}: voxel spacing must be positive`, path);
    }
  }
  const size: Vec3 = [dim[1] as number, usedAxes >= 2 ? (dim[2] as number) : 1, usedAxes >= 3 ? (dim[3] as number) : 1];
  const pixdimSpacing: Vec3 = [pixdim[1] as number, pixdim[2] as number, usedAxes >= 3 ? (pixdim[3] as number) : 1];

  const rawOffset = float32(108);
  if (!Number.isFinite(rawOffset) || rawOffset < 0) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      `vox_offset = ${rawOffset}: the data offset must be a positive number`,
      path,
    );
  }
  // As nifti1_io: a single file's data cannot start inside the header.
  const voxOffset = rawOffset < HEADER_BYTES ? DEFAULT_VOX_OFFSET : Math.floor(rawOffset);

  const slope = float32(112);
  const intercept = float32(116);
  const scaling: [number, number] | undefined =
    Number.isFinite(slope) && slope !== 0 && !(slope === 1 && (intercept === 0 || !Number.isFinite(intercept)))
      ? [slope, Number.isFinite(intercept) ? intercept : 0]
      : undefined;

  const spaceUnits = (bytes[123] as number) & 0x07;
  const unitScale = spaceUnits === 1 ? 1000 : spaceUnits === 3 ? 0.001 : 1;

  const descrip = cString(bytes.subarray(148, 228)).trim();

  const qformCode = int16(252);
  const sformCode = int16(254);
  let affine: number[]; // 3×4 row-major, RAS
  let source: string;
  if (sformCode > 0) {
    affine = Array.from({ length: 12 }, (_, n) => float32(280 + 4 * n));
    source = 'sform';
  } else if (qformCode > 0) {
    const quaternion = [float32(256), float32(260), float32(264)] as const;
    const offset = [float32(268), float32(272), float32(276)] as const;
    const qfac = (pixdim[0] as number) < 0 ? -1 : 1;
    affine = qformAffine(quaternion, offset, pixdimSpacing, qfac);
    source = 'qform';
  } else {
    const [dx, dy, dz] = pixdimSpacing;
    affine = [dx, 0, 0, 0, 0, dy, 0, 0, 0, 0, dz, 0];
    source = 'pixdim';
  }
  if (!affine.every(Number.isFinite)) {
    throw new SpinegradeError('INVALID_HEADER', `the ${source} holds a non-finite number`, path);
  }
  const geometry = geometryFromRasAffine(affine, unitScale, size, pixdimSpacing[2], source, path);

  assertValidGeometry(size, geometry.spacing, path);
  return {
    littleEndian: le,
    kind,
    size,
    spacing: geometry.spacing,
    origin: geometry.origin,
    direction: geometry.direction,
    voxOffset,
    dataBytes: voxelCount(size) * kind.bytes,
    scaling,
    description: descrip === '' ? undefined : descrip,
  };
}

/** The RAS 3×4 affine of a qform (NIfTI-1 method 2), as `nifti_quatern_to_mat44`. */
function qformAffine(
  quaternion: readonly [number, number, number],
  offset: readonly [number, number, number],
  spacing: Vec3,
  qfac: number,
): number[] {
  let [b, c, d] = quaternion;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // Not a unit quaternion: treat (b, c, d) as a 180° rotation axis, as nifti1_io does.
    const scale = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= scale;
    c *= scale;
    d *= scale;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const [dx, dy] = spacing;
  const dz = spacing[2] * qfac;
  return [
    (a * a + b * b - c * c - d * d) * dx,
    2 * (b * c - a * d) * dy,
    2 * (b * d + a * c) * dz,
    offset[0],
    2 * (b * c + a * d) * dx,
    (a * a + c * c - b * b - d * d) * dy,
    2 * (c * d - a * b) * dz,
    offset[1],
    2 * (b * d - a * c) * dx,
    2 * (c * d + a * b) * dy,
    (a * a + d * d - c * c - b * b) * dz,
    offset[2],
  ];
}

/**
 * Splits a RAS 3×4 affine into LPS origin, unit direction columns and spacing (column norms).
 * Non-orthogonal columns are kept, each normalised, so `indexToPhysical` reproduces the affine.
 */
function geometryFromRasAffine(
  affine: readonly number[],
  unitScale: number,
  size: Vec3,
  fallbackSliceSpacing: number,
  source: string,
  path: string,
): { origin: Vec3; spacing: Vec3; direction: Mat3 } {
  // `+ 0` turns the -0 of a negated zero into 0.
  const m = (row: number, col: number): number =>
    (affine[row * 4 + col] as number) * unitScale * (row < 2 ? -1 : 1) + 0;
  const columns = [0, 1, 2].map((a): Vec3 => [m(0, a), m(1, a), m(2, a)]);
  const spacing = columns.map((c) => norm(c));
  const unit = columns.map((c, a): Vec3 => {
    const s = spacing[a] as number;
    return [c[0] / s + 0, c[1] / s + 0, c[2] / s + 0];
  });
  for (let a = 0; a < 3; a++) {
    if (spacing[a] !== 0) continue;
    if (a === 2 && size[2] === 1 && spacing[0] !== 0 && spacing[1] !== 0) {
      // A 2D image whose affine leaves the slice axis empty: take the normal of its plane.
      const normal = cross(unit[0] as Vec3, unit[1] as Vec3);
      const length = norm(normal);
      unit[2] = [normal[0] / length, normal[1] / length, normal[2] / length];
      spacing[2] = Number.isFinite(fallbackSliceSpacing) && fallbackSliceSpacing > 0 ? fallbackSliceSpacing : 1;
      continue;
    }
    throw new SpinegradeError('INVALID_HEADER', `the ${source} gives index axis ${a} no direction (zero column)`, path);
  }
  const direction = directionFromAxes(unit[0] as Vec3, unit[1] as Vec3, unit[2] as Vec3);
  if (!(Math.abs(determinant3(direction)) > 1e-6)) {
    throw new SpinegradeError('INVALID_HEADER', `the ${source} axes are parallel (singular orientation)`, path);
  }
  return {
    origin: [m(0, 3), m(1, 3), m(2, 3)],
    spacing: [spacing[0] as number, spacing[1] as number, spacing[2] as number],
    direction,
  };
}

function toVolume(header: NiftiHeader, data: Uint8Array, path: string): Volume {
  const raw = voxelsFromBytes(data, header.kind, header.littleEndian);
  let voxels: VoxelArray = raw;
  if (header.scaling) {
    const [slope, intercept] = header.scaling;
    const scaled = new Float32Array(raw.length);
    for (let n = 0; n < raw.length; n++) scaled[n] = (raw[n] as number) * slope + intercept;
    voxels = scaled;
  }
  return {
    voxels,
    size: header.size,
    spacing: header.spacing,
    origin: header.origin,
    direction: header.direction,
    metadata: {
      sourceFormat: 'nifti',
      sourcePaths: [path],
      spacingSource: 'header',
      ...(header.description === undefined ? {} : { seriesDescription: header.description }),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Writing

function encodeNifti(volume: Volume, path: string): Uint8Array {
  const { voxels, size, spacing, origin, direction } = volume;
  if (voxels.length !== voxelCount(size)) {
    throw new SpinegradeError(
      'INTERNAL',
      `volume holds ${voxels.length} voxels but its size ${size.join('×')} needs ${voxelCount(size)}`,
      path,
    );
  }
  if (size.some((n) => n > MAX_NIFTI_DIM)) {
    throw new SpinegradeError(
      'OUTPUT_ERROR',
      `NIfTI-1 cannot hold an image of ${size.join('×')} voxels (max 32767 per axis)`,
      path,
    );
  }
  const kind = voxelTypeOf(voxels);
  const out = new Uint8Array(DEFAULT_VOX_OFFSET + voxels.byteLength);
  const view = new DataView(out.buffer);
  const i16 = (offset: number, value: number): void => view.setInt16(offset, value, true);
  const f32 = (offset: number, value: number): void => view.setFloat32(offset, value, true);

  view.setInt32(0, HEADER_BYTES, true);
  [3, size[0], size[1], size[2], 1, 1, 1, 1].forEach((n, i) => i16(40 + 2 * i, n));
  i16(70, kind.niftiCode);
  i16(72, kind.bytes * 8);

  // LPS → RAS: negate the x and y rows.
  const ras = [
    -direction[0],
    -direction[1],
    -direction[2],
    -direction[3],
    -direction[4],
    -direction[5],
    direction[6],
    direction[7],
    direction[8],
  ];
  const rasOrigin = [-origin[0], -origin[1], origin[2]];
  const quaternion = rotationToQuaternion(ras);

  [quaternion?.qfac ?? 1, spacing[0], spacing[1], spacing[2], 1, 1, 1, 1].forEach((p, i) => f32(76 + 4 * i, p));
  f32(108, DEFAULT_VOX_OFFSET);
  f32(112, 1); // scl_slope 1, scl_inter 0: values are stored unscaled
  f32(116, 0);
  out[123] = 2; // NIFTI_UNITS_MM
  const description = (volume.metadata.seriesDescription ?? '').replace(/[\r\n]+/g, ' ').slice(0, 79);
  out.set(Buffer.from(description, 'latin1').subarray(0, 79), 148);

  if (quaternion) {
    i16(252, 1); // NIFTI_XFORM_SCANNER_ANAT
    f32(256, quaternion.b);
    f32(260, quaternion.c);
    f32(264, quaternion.d);
  }
  f32(268, rasOrigin[0] as number);
  f32(272, rasOrigin[1] as number);
  f32(276, rasOrigin[2] as number);
  i16(254, 1); // sform: NIFTI_XFORM_SCANNER_ANAT, the exact affine
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 3; col++)
      f32(280 + 16 * row + 4 * col, (ras[row * 3 + col] as number) * (spacing[col] as number));
    f32(280 + 16 * row + 12, rasOrigin[row] as number);
  }
  out.set([0x6e, 0x2b, 0x31, 0x00], 344); // "n+1\0"

  out.set(littleEndianBytes(voxels), DEFAULT_VOX_OFFSET);
  return out;
}

/**
 * The NIfTI quaternion `(b, c, d)` and `qfac` of a RAS direction matrix (row-major), as
 * `nifti_mat44_to_quatern`; undefined when the matrix is not orthonormal (no qform can hold it).
 */
function rotationToQuaternion(r: readonly number[]): { b: number; c: number; d: number; qfac: number } | undefined {
  const at = (row: number, col: number): number => r[row * 3 + col] as number;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const product = at(0, i) * at(0, j) + at(1, i) * at(1, j) + at(2, i) * at(2, j);
      if (Math.abs(product - (i === j ? 1 : 0)) > 1e-4) return undefined;
    }
  }
  const det =
    at(0, 0) * (at(1, 1) * at(2, 2) - at(1, 2) * at(2, 1)) -
    at(0, 1) * (at(1, 0) * at(2, 2) - at(1, 2) * at(2, 0)) +
    at(0, 2) * (at(1, 0) * at(2, 1) - at(1, 1) * at(2, 0));
  const qfac = det < 0 ? -1 : 1;
  const r11 = at(0, 0);
  const r12 = at(0, 1);
  const r13 = at(0, 2) * qfac;
  const r21 = at(1, 0);
  const r22 = at(1, 1);
  const r23 = at(1, 2) * qfac;
  const r31 = at(2, 0);
  const r32 = at(2, 1);
  const r33 = at(2, 2) * qfac;
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}

// ---------------------------------------------------------------------------------------------
// Helpers

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString('latin1');
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
