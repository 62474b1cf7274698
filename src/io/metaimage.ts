/**
 * MetaImage (ITK/MetaIO) images: `.mha` (header and data in one file) and `.mhd` (header naming a
 * separate `.raw`/`.zraw` data file).
 *
 * Physical space is LPS, as in ITK; `Offset` (or `Position`/`Origin`) is the centre of voxel 0.
 *
 * `TransformMatrix` order, checked against ITK's `Modules/IO/Meta/src/itkMetaImageIO.cxx` and
 * MetaIO's `metaObject.cxx`: MetaIO copies the numbers in file order into `m_TransformMatrix`, ITK's
 * reader does `directionAxis[jj] = transformMatrix[ii * N + jj]; SetDirection(ii, directionAxis)` and
 * its writer `transformMatrix[ii * N + jj] = GetDirection(ii)[jj]`. So the file lists the direction
 * matrix column by column: the first N numbers are the LPS unit vector of index axis 0 (ITK's
 * `direction[·][0]`), the next N that of axis 1, and so on. MetaIO reads `Rotation` and
 * `Orientation` as synonyms, `TransformMatrix` winning; and `Position`, `Offset`, `Origin` as
 * synonyms, `Origin` winning, then `Offset`.
 *
 * `AnatomicalOrientation` only restates the direction and is ignored on reading.
 */
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import { SpinegradeError } from '../errors.js';
import { dominantPatientAxis } from '../volume/orientation.js';
import {
  assertValidGeometry,
  determinant3,
  directionFromAxes,
  type Mat3,
  norm,
  type Vec3,
  type Volume,
  type VolumeMetadata,
  type VoxelArray,
  voxelCount,
} from '../volume/volume.js';
import { assertWritableTarget, writeFileAtomic } from './atomic.js';
import { errorCode, fileSystemError, forEachInflatedChunk, openRegularFile, readExactly } from './binary.js';
import { littleEndianBytes, VOXEL_TYPES, type VoxelType, voxelsFromBytes, voxelTypeOf } from './voxelTypes.js';

/** Options for {@link writeMetaImage}. */
export interface MetaImageWriteOptions {
  /** Replace existing files (default false). */
  overwrite?: boolean;
  /** zlib-compress the data (default true for `.mha`, false for `.mhd`, whose data goes to `.zraw` if true). */
  compress?: boolean;
}

const MAX_HEADER_BYTES = 1 << 20;
const HEADER_CHUNK = 1 << 16;
const MODALITIES: Readonly<Record<string, string>> = {
  MET_MOD_CT: 'CT',
  MET_MOD_MR: 'MR',
  MET_MOD_NM: 'NM',
  MET_MOD_US: 'US',
};

/** The `Key = Value` lines of a header, keyed by lower-case key, and where its data starts. */
interface RawHeader {
  readonly fields: ReadonlyMap<string, string>;
  /** Byte offset just past the `ElementDataFile` line. */
  readonly endOffset: number;
}

/**
 * Reads a MetaImage (`.mha`, or `.mhd` with its data file) into an LPS {@link Volume}.
 * Throws a {@link SpinegradeError} for anything it cannot read.
 */
export async function readMetaImage(path: string): Promise<Volume> {
  const handle = await openForReading(path, path);
  let raw: RawHeader;
  let fileSize: number;
  try {
    fileSize = (await handle.stat()).size;
    raw = await readHeaderLines(handle, fileSize, path);
  } catch (error) {
    await handle.close();
    throw error;
  }
  const fields = raw.fields;
  const get = (...keys: string[]): string | undefined => {
    for (const key of keys) {
      const value = fields.get(key.toLowerCase());
      if (value !== undefined) return value;
    }
    return undefined;
  };

  try {
    // --- what the header describes
    const objectType = get('ObjectType');
    if (objectType !== undefined && objectType.toLowerCase() !== 'image') {
      throw new SpinegradeError('NOT_AN_IMAGE', `a MetaIO "${objectType}" object, not an image`, path);
    }
    const ndimsText = get('NDims');
    if (ndimsText === undefined) throw new SpinegradeError('INVALID_HEADER', 'the MetaImage header has no NDims', path);
    const ndims = Number(ndimsText);
    if (!Number.isInteger(ndims) || ndims < 1) {
      throw new SpinegradeError('INVALID_HEADER', `NDims = ${ndimsText}: must be a positive whole number`, path);
    }
    if (ndims !== 2 && ndims !== 3) {
      throw new SpinegradeError(
        'UNSUPPORTED',
        `a ${ndims}D MetaImage (NDims = ${ndims}); only 2D and 3D images are read`,
        path,
      );
    }
    const channels = get('ElementNumberOfChannels');
    if (channels !== undefined && Number(channels) !== 1) {
      throw new SpinegradeError(
        'UNSUPPORTED',
        `ElementNumberOfChannels = ${channels}: only single-channel (grey-level) images are read`,
        path,
      );
    }
    const elementType = get('ElementType');
    if (elementType === undefined) {
      throw new SpinegradeError('INVALID_HEADER', 'the MetaImage header has no ElementType', path);
    }
    const kind = VOXEL_TYPES.find((k) => k.met === elementType.toUpperCase());
    if (!kind) {
      throw new SpinegradeError(
        'UNSUPPORTED',
        `ElementType = ${elementType} is not read; supported: ${VOXEL_TYPES.map((k) => k.met).join(', ')}`,
        path,
      );
    }

    // --- geometry
    const dimText = get('DimSize');
    if (dimText === undefined) throw new SpinegradeError('INVALID_HEADER', 'the MetaImage header has no DimSize', path);
    const dims = numbers('DimSize', dimText, ndims, path);
    dims.forEach((n, a) => {
      if (!Number.isInteger(n) || n <= 0) {
        throw new SpinegradeError(
          'INVALID_HEADER',
          `DimSize = ${dimText}: size ${a} (${n}) must be a positive whole number`,
          path,
        );
      }
    });
    const spacingKey = get('ElementSpacing') !== undefined ? 'ElementSpacing' : 'ElementSize';
    const spacingText = get(spacingKey);
    const spacings = spacingText === undefined ? dims.map(() => 1) : numbers(spacingKey, spacingText, ndims, path);
    spacings.forEach((s, a) => {
      if (!Number.isFinite(s) || s <= 0) {
        throw new SpinegradeError(
          'INVALID_HEADER',
          `${spacingKey} = ${spacingText}: spacing ${a} (${s}) must be positive`,
          path,
        );
      }
    });
    const originKey = ['Origin', 'Offset', 'Position'].find((k) => get(k) !== undefined);
    const origins =
      originKey === undefined ? dims.map(() => 0) : numbers(originKey, get(originKey) as string, ndims, path);
    const matrixKey = ['TransformMatrix', 'Rotation', 'Orientation'].find((k) => get(k) !== undefined);
    const matrix =
      matrixKey === undefined
        ? ndims === 3
          ? [1, 0, 0, 0, 1, 0, 0, 0, 1]
          : [1, 0, 0, 1]
        : numbers(matrixKey, get(matrixKey) as string, ndims * ndims, path);

    const size: Vec3 = [dims[0] as number, dims[1] as number, ndims === 3 ? (dims[2] as number) : 1];
    const spacing: Vec3 = [spacings[0] as number, spacings[1] as number, ndims === 3 ? (spacings[2] as number) : 1];
    const origin: Vec3 = [origins[0] as number, origins[1] as number, ndims === 3 ? (origins[2] as number) : 0];
    if (!origin.every(Number.isFinite)) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `${originKey} = ${get(originKey ?? '')}: must be finite numbers`,
        path,
      );
    }
    const direction = directionFromMatrix(matrix, ndims, matrixKey ?? 'TransformMatrix', path);
    assertValidGeometry(size, spacing, path);

    // --- where the data is
    const dataFile = get('ElementDataFile');
    if (dataFile === undefined || dataFile === '') {
      throw new SpinegradeError('INVALID_HEADER', 'the MetaImage header has no ElementDataFile', path);
    }
    const count = voxelCount(size);
    const expected = count * kind.bytes;
    const binary = parseBoolean(get('BinaryData'), true);
    const compressed = parseBoolean(get('CompressedData'), false);
    // MetaIO reads ElementByteOrderMSB, then lets BinaryDataByteOrderMSB override it.
    const bigEndian = parseBoolean(get('BinaryDataByteOrderMSB') ?? get('ElementByteOrderMSB'), false);
    const compressedSizeText = get('CompressedDataSize');
    const compressedSize = compressedSizeText === undefined ? undefined : Number(compressedSizeText);
    if (compressedSize !== undefined && !(Number.isInteger(compressedSize) && compressedSize >= 0)) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `CompressedDataSize = ${compressedSizeText}: must be a whole number`,
        path,
      );
    }
    const headerSizeText = get('HeaderSize');
    const headerSize = headerSizeText === undefined ? 0 : Number(headerSizeText);
    if (!Number.isInteger(headerSize) || headerSize < -1) {
      throw new SpinegradeError('INVALID_HEADER', `HeaderSize = ${headerSizeText}: must be -1 or a whole number`, path);
    }

    let dataHandle = handle;
    let dataPath = path;
    let dataSize = fileSize;
    let start = raw.endOffset;
    if (dataFile.toUpperCase() === 'LIST' || dataFile.includes('%')) {
      throw new SpinegradeError(
        'UNSUPPORTED',
        `ElementDataFile = ${dataFile}: data split over several files is not read; use one .raw file or LOCAL`,
        path,
      );
    }
    if (dataFile.toUpperCase() !== 'LOCAL') {
      dataPath = isAbsolute(dataFile) ? dataFile : resolve(dirname(path), dataFile);
      dataHandle = await openForReading(dataPath, path, dataFile);
      dataSize = (await dataHandle.stat()).size;
      start = headerSize;
      if (headerSize === -1) start = compressed ? 0 : Math.max(0, dataSize - expected);
    }

    try {
      let voxels: VoxelArray;
      const available = Math.max(0, dataSize - start);
      if (!binary) {
        voxels = await readAscii(dataHandle, start, available, kind, count, dataPath, path);
      } else if (compressed) {
        if (compressedSize !== undefined && compressedSize > available) {
          throw new SpinegradeError(
            'TRUNCATED',
            `the compressed data holds ${available} of the ${compressedSize} bytes CompressedDataSize promises`,
            path,
          );
        }
        const bytes = await inflateRange(dataHandle, start, compressedSize ?? available, expected, path);
        voxels = voxelsFromBytes(bytes, kind, !bigEndian);
      } else {
        if (available < expected) {
          throw new SpinegradeError(
            'TRUNCATED',
            `the data holds ${available} of the ${expected} bytes its header promises (${size.join('×')} ${kind.met})`,
            path,
          );
        }
        const bytes = await readExactly(dataHandle, start, expected, dataPath);
        voxels = voxelsFromBytes(bytes, kind, !bigEndian);
      }
      const metadata: VolumeMetadata = {
        sourceFormat: 'metaimage',
        sourcePaths: [path],
        spacingSource: spacingText === undefined ? 'assumed' : 'header',
      };
      const modality = MODALITIES[(get('Modality') ?? '').toUpperCase()];
      if (modality !== undefined) metadata.modality = modality;
      const name = get('Name');
      if (name !== undefined && name !== '') metadata.seriesDescription = name;
      return { voxels, size, spacing, origin, direction, metadata };
    } finally {
      if (dataHandle !== handle) await dataHandle.close();
    }
  } finally {
    await handle.close();
  }
}

/**
 * Writes a volume as MetaImage: `.mha` with LOCAL data (zlib-compressed unless `compress: false`),
 * or `.mhd` with a companion `.raw` (or `.zraw` when compressed) beside it; each file atomically.
 */
export async function writeMetaImage(volume: Volume, path: string, options: MetaImageWriteOptions = {}): Promise<void> {
  const lower = path.toLowerCase();
  const detached = lower.endsWith('.mhd');
  if (!detached && !lower.endsWith('.mha')) {
    throw new SpinegradeError('OUTPUT_ERROR', 'a MetaImage file name must end in .mha or .mhd', path);
  }
  const { voxels, size } = volume;
  if (voxels.length !== voxelCount(size)) {
    throw new SpinegradeError(
      'INTERNAL',
      `volume holds ${voxels.length} voxels but its size ${size.join('×')} needs ${voxelCount(size)}`,
      path,
    );
  }
  const overwrite = options.overwrite ?? false;
  const compress = options.compress ?? !detached;
  let data: Uint8Array = littleEndianBytes(voxels);
  if (compress) data = deflateSync(data);
  const dataPath = detached ? `${path.slice(0, -4)}${compress ? '.zraw' : '.raw'}` : undefined;
  const header = headerText(
    volume,
    compress ? data.length : undefined,
    dataPath === undefined ? 'LOCAL' : basename(dataPath),
  );
  if (dataPath === undefined) {
    const text = Buffer.from(header, 'utf8');
    const out = new Uint8Array(text.length + data.length);
    out.set(text, 0);
    out.set(data, text.length);
    await writeFileAtomic(path, out, { overwrite });
    return;
  }
  // Check both targets first so that a refusal leaves neither half written.
  await assertWritableTarget(path, overwrite);
  await assertWritableTarget(dataPath, overwrite);
  await writeFileAtomic(dataPath, data, { overwrite });
  await writeFileAtomic(path, header, { overwrite });
}

// ---------------------------------------------------------------------------------------------
// Header

/** Reads `Key = Value` lines up to and including `ElementDataFile` (always the last key). */
async function readHeaderLines(handle: FileHandle, fileSize: number, path: string): Promise<RawHeader> {
  const fields = new Map<string, string>();
  const decoder = new TextDecoder('utf-8');
  let buffer = new Uint8Array(0);
  let consumed = 0; // file offset of buffer[0]
  let lineNumber = 0;
  let sawIdentity = false; // an ObjectType or NDims line
  while (true) {
    const newline = buffer.indexOf(0x0a);
    const atEnd = consumed + buffer.length >= fileSize;
    if (newline < 0 && !atEnd) {
      if (consumed + buffer.length >= MAX_HEADER_BYTES) {
        throw sawIdentity
          ? new SpinegradeError('INVALID_HEADER', 'no ElementDataFile line in the first 1 MiB of the header', path)
          : notMetaImage(path);
      }
      const more = await readExactly(
        handle,
        consumed + buffer.length,
        Math.min(HEADER_CHUNK, fileSize - consumed - buffer.length),
        path,
      );
      const joined = new Uint8Array(buffer.length + more.length);
      joined.set(buffer, 0);
      joined.set(more, buffer.length);
      buffer = joined;
      continue;
    }
    if (newline < 0 && buffer.length === 0) {
      if (!sawIdentity) throw notMetaImage(path);
      throw new SpinegradeError('TRUNCATED', 'the file ends inside the MetaImage header, before ElementDataFile', path);
    }
    const lineEnd = newline < 0 ? buffer.length : newline;
    const next = newline < 0 ? buffer.length : newline + 1;
    const line = decoder.decode(buffer.subarray(0, lineEnd)).replace(/\r$/, '');
    lineNumber++;
    buffer = buffer.subarray(next);
    consumed += next;
    if (line.trim() === '') continue;
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) {
      if (!sawIdentity) throw notMetaImage(path);
      throw new SpinegradeError('INVALID_HEADER', `header line ${lineNumber} is not "Key = Value"`, path);
    }
    const key = (match[1] as string).toLowerCase();
    const value = match[2] as string;
    if (key === 'objecttype' || key === 'ndims') sawIdentity = true;
    fields.set(key, value);
    if (key === 'elementdatafile') {
      if (!sawIdentity) throw notMetaImage(path);
      return { fields, endOffset: consumed };
    }
  }
}

function notMetaImage(path: string): SpinegradeError {
  return new SpinegradeError('NOT_AN_IMAGE', 'not a MetaImage file: no "ObjectType = Image" or "NDims" header', path);
}

function numbers(key: string, text: string, count: number, path: string): number[] {
  const parts = text.trim().split(/\s+/);
  const values = parts.map(Number);
  if (parts.length < count || values.slice(0, count).some((v) => !Number.isFinite(v))) {
    throw new SpinegradeError('INVALID_HEADER', `${key} = ${text}: expected ${count} numbers`, path);
  }
  return values.slice(0, count);
}

/** MetaIO's rule: true when the value starts with T, t or 1. */
function parseBoolean(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  return /^[Tt1]/.test(value);
}

/** The 3×3 LPS direction of a MetaIO matrix, which lists the axis directions one after another. */
function directionFromMatrix(values: readonly number[], ndims: number, key: string, path: string): Mat3 {
  const axis = (a: number): Vec3 =>
    ndims === 3
      ? [values[3 * a] as number, values[3 * a + 1] as number, values[3 * a + 2] as number]
      : a === 2
        ? [0, 0, 1]
        : [values[2 * a] as number, values[2 * a + 1] as number, 0];
  const axes = [axis(0), axis(1), axis(2)].map((v, a): Vec3 => {
    const length = norm(v);
    if (!Number.isFinite(length) || length === 0) {
      throw new SpinegradeError('INVALID_HEADER', `${key} gives index axis ${a} no direction`, path);
    }
    return [v[0] / length, v[1] / length, v[2] / length];
  });
  const direction = directionFromAxes(axes[0] as Vec3, axes[1] as Vec3, axes[2] as Vec3);
  if (!(Math.abs(determinant3(direction)) > 1e-6)) {
    throw new SpinegradeError('INVALID_HEADER', `${key} axes are parallel (singular orientation)`, path);
  }
  return direction;
}

function headerText(volume: Volume, compressedSize: number | undefined, dataFile: string): string {
  const { size, spacing, origin, direction: d } = volume;
  const kind = voxelTypeOf(volume.voxels);
  const num = (values: readonly number[]): string => values.map((v) => String(v === 0 ? 0 : v)).join(' ');
  const lines = ['ObjectType = Image', 'NDims = 3'];
  const name = volume.metadata.seriesDescription?.replace(/[\r\n]+/g, ' ').trim();
  if (name) lines.push(`Name = ${name}`);
  lines.push('BinaryData = True', 'BinaryDataByteOrderMSB = False');
  lines.push(`CompressedData = ${compressedSize === undefined ? 'False' : 'True'}`);
  if (compressedSize !== undefined) lines.push(`CompressedDataSize = ${compressedSize}`);
  // Column by column, as ITK writes it (see the module comment).
  lines.push(`TransformMatrix = ${num([d[0], d[3], d[6], d[1], d[4], d[7], d[2], d[5], d[8]])}`);
  lines.push(`Offset = ${num(origin)}`, 'CenterOfRotation = 0 0 0');
  const orientation = anatomicalOrientation(d);
  if (orientation) lines.push(`AnatomicalOrientation = ${orientation}`);
  lines.push(`ElementSpacing = ${num(spacing)}`, `DimSize = ${num(size)}`);
  if (volume.metadata.modality === 'MR' || volume.metadata.modality === 'CT') {
    lines.push(`Modality = MET_MOD_${volume.metadata.modality}`);
  }
  lines.push(`ElementType = ${kind.met}`, `ElementDataFile = ${dataFile}`);
  return `${lines.join('\n')}\n`;
}

/**
 * MetaIO's three-letter orientation: for each index axis, the side it starts from (an axis that
 * runs towards the patient's left, LPS +x, starts from the right: `R`). Identity gives `RAI`.
 * Undefined when two axes share their dominant patient axis.
 */
function anatomicalOrientation(d: Mat3): string | undefined {
  const letters = [
    ['R', 'L'],
    ['A', 'P'],
    ['I', 'S'],
  ] as const;
  const used = new Set<number>();
  let text = '';
  for (let a = 0; a < 3; a++) {
    const column: Vec3 = [d[a] as number, d[3 + a] as number, d[6 + a] as number];
    const best = dominantPatientAxis(column);
    if (used.has(best)) return undefined;
    used.add(best);
    text += letters[best][column[best] >= 0 ? 0 : 1];
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Data

async function readAscii(
  handle: FileHandle,
  start: number,
  available: number,
  kind: VoxelType,
  count: number,
  dataPath: string,
  path: string,
): Promise<VoxelArray> {
  const text = Buffer.from(await readExactly(handle, start, available, dataPath)).toString('latin1');
  const voxels = kind.create(count);
  const words = text.split(/\s+/).filter((w) => w !== '');
  if (words.length < count) {
    throw new SpinegradeError(
      'TRUNCATED',
      `the ASCII data holds ${words.length} of the ${count} values promised`,
      path,
    );
  }
  for (let n = 0; n < count; n++) {
    const v = Number(words[n]);
    if (!Number.isFinite(v))
      throw new SpinegradeError('INVALID_HEADER', `ASCII data value ${n} ("${words[n]}") is not a number`, path);
    voxels[n] = v;
  }
  return voxels;
}

/** Inflates zlib (or gzip) data at `[start, start + length)` into exactly `expected` bytes. */
async function inflateRange(
  handle: FileHandle,
  start: number,
  length: number,
  expected: number,
  path: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  if (length === 0) {
    throw new SpinegradeError('TRUNCATED', `the compressed data is empty; ${expected} bytes were promised`, path);
  }
  let produced = 0;
  await forEachInflatedChunk(
    handle,
    { start, end: start + length - 1 },
    (chunk) => {
      if (produced < expected) out.set(chunk.subarray(0, Math.min(chunk.length, expected - produced)), produced);
      produced += chunk.length;
    },
    'the compressed data',
    path,
  );
  if (produced < expected) {
    throw new SpinegradeError(
      'TRUNCATED',
      `the compressed data inflates to ${produced} of the ${expected} bytes promised`,
      path,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers

async function openForReading(target: string, headerPath: string, named?: string): Promise<FileHandle> {
  try {
    return await openRegularFile(target);
  } catch (error) {
    if (named !== undefined && error instanceof SpinegradeError && errorCode(error.cause) === 'ENOENT') {
      throw new SpinegradeError(
        'NOT_FOUND',
        `the data file "${named}" named by ElementDataFile does not exist`,
        headerPath,
        {
          cause: error,
        },
      );
    }
    throw fileSystemError(error, target);
  }
}
