import { SpinegradeError } from '../../errors.js';
import { dropUndefined } from '../../util/objects.js';
import {
  assertValidGeometry,
  directionFromAxes,
  dot,
  norm,
  normalize,
  type Vec3,
  type Volume,
  type VolumeMetadata,
  type VoxelArray,
} from '../../volume/volume.js';
import { readRegularFile } from '../binary.js';
import { decodeFrame, type FrameFormat, isEncapsulatedSyntax } from './codecs.js';
import { type NaturalDataset, numberOf, numbersOf, stringOf, stringsOf } from './dataset.js';
import { planeAxesOf } from './orientation.js';
import { naturalize, parsePart10 } from './parse.js';

/** One parsed DICOM file with the facts needed to group and stack it. */
export interface DicomFile {
  readonly path: string;
  readonly dataset: NaturalDataset;
  readonly transferSyntaxUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** False for DICOM objects that are not images (structured reports, presentation states…). */
  readonly isImage: boolean;
}

/** True when the bytes carry the DICOM Part 10 preamble marker `DICM` at offset 128. */
export function isDicomSignature(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d
  );
}

/** Parses one DICOM Part 10 file (header and pixel data). */
export async function readDicomFile(path: string): Promise<DicomFile> {
  const bytes = await readRegularFile(path);
  if (!isDicomSignature(bytes)) {
    throw new SpinegradeError('NOT_AN_IMAGE', 'not a DICOM Part 10 file (no "DICM" marker at byte 128)', path);
  }
  const parsed = parsePart10(bytes, path);
  const meta = parsed.meta as Record<string, { Value?: unknown[] }>;
  const dataset = naturalize(parsed.dict, path);
  const transferSyntaxUid = String(meta['00020010']?.Value?.[0] ?? '1.2.840.10008.1.2')
    .replace(/\0/g, '')
    .trim();
  const rows = numberOf(dataset, 'Rows');
  const columns = numberOf(dataset, 'Columns');
  const isImage = rows !== undefined && columns !== undefined;
  if (isImage && dataset.PixelData !== undefined) {
    const frameBytes =
      (rows * columns * (numberOf(dataset, 'SamplesPerPixel') ?? 1) * (numberOf(dataset, 'BitsAllocated') ?? 16)) / 8;
    assertNativePixelDataComplete(
      bytes,
      transferSyntaxUid,
      Math.ceil(frameBytes * (numberOf(dataset, 'NumberOfFrames') ?? 1)),
      path,
    );
  }
  const studyInstanceUid = stringOf(dataset, 'StudyInstanceUID') ?? 'unknown-study';
  const seriesInstanceUid = stringOf(dataset, 'SeriesInstanceUID') ?? `unknown-series:${path}`;
  return { path, dataset, transferSyntaxUid, studyInstanceUid, seriesInstanceUid, isImage };
}

/**
 * dcmjs pads a pixel data element that the file cuts short, so a truncated file would read as
 * an image with a black tail. Checks the declared length of native (uncompressed) pixel data
 * against the bytes actually present.
 */
function assertNativePixelDataComplete(
  bytes: Uint8Array,
  transferSyntaxUid: string,
  expectedLength: number,
  path: string,
): void {
  if (transferSyntaxUid === '1.2.840.10008.1.2.1.99') return;
  if (isEncapsulatedSyntax(transferSyntaxUid)) {
    assertEncapsulatedPixelDataComplete(bytes, path);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const implicit = transferSyntaxUid === '1.2.840.10008.1.2';
  // The top-level Pixel Data element: the last (7FE0,0010) tag whose length is the one the image needs
  // (so a byte pattern inside the pixel values cannot pass for it).
  for (let at = bytes.length - 8; at >= 132; at--) {
    if (bytes[at] !== 0xe0 || bytes[at + 1] !== 0x7f || bytes[at + 2] !== 0x10 || bytes[at + 3] !== 0x00) continue;
    let length: number;
    let valueStart: number;
    if (implicit) {
      length = view.getUint32(at + 4, true);
      valueStart = at + 8;
    } else {
      const vr = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!);
      if (vr !== 'OW' && vr !== 'OB') continue;
      if (at + 12 > bytes.length) break;
      length = view.getUint32(at + 8, true);
      valueStart = at + 12;
    }
    if (length !== expectedLength && length !== expectedLength + 1) continue;
    if (valueStart + length > bytes.length) {
      throw new SpinegradeError(
        'TRUNCATED',
        `DICOM file is truncated: pixel data declares ${length} bytes but ${bytes.length - valueStart} remain`,
        path,
      );
    }
    return;
  }
}

/**
 * dcmjs reads encapsulated pixel data that the file cuts short without complaint. Walks the items of
 * the top-level encapsulated Pixel Data element (undefined length) to its sequence delimiter; a file
 * that ends first is truncated.
 */
function assertEncapsulatedPixelDataComplete(bytes: Uint8Array, path: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tagAt = (at: number, group: number, element: number): boolean =>
    at + 4 <= bytes.length && view.getUint16(at, true) === group && view.getUint16(at + 2, true) === element;
  // The first (7FE0,0010) OB with undefined length followed by an item tag is the encapsulated pixel data.
  let at = -1;
  for (let i = 132; i + 16 <= bytes.length; i++) {
    if (
      tagAt(i, 0x7fe0, 0x0010) &&
      bytes[i + 4] === 0x4f &&
      bytes[i + 5] === 0x42 &&
      view.getUint32(i + 8, true) === 0xffffffff &&
      tagAt(i + 12, 0xfffe, 0xe000)
    ) {
      at = i + 12;
      break;
    }
  }
  if (at < 0) return;
  while (at + 8 <= bytes.length) {
    if (tagAt(at, 0xfffe, 0xe0dd)) return;
    if (!tagAt(at, 0xfffe, 0xe000)) {
      throw new SpinegradeError(
        'TRUNCATED',
        `DICOM file is corrupt: pixel data fragment expected at offset ${at}`,
        path,
      );
    }
    at += 8 + view.getUint32(at + 4, true);
  }
  throw new SpinegradeError(
    'TRUNCATED',
    'DICOM file is truncated: its compressed pixel data ends before the last fragment',
    path,
  );
}

interface PlacedSlice {
  file: DicomFile;
  position: Vec3;
  distance: number;
}

const ORIENTATION_TOLERANCE = 1e-3;
const DUPLICATE_TOLERANCE_MM = 1e-3;
const SPACING_TOLERANCE = 0.05;

/**
 * Stacks the image files of one series into a {@link Volume}. Throws a {@link SpinegradeError} on
 * missing geometry or pixel data, mixed matrix sizes or orientations, duplicate positions and
 * irregular slice spacing (a missing slice).
 */
export async function dicomSeriesToVolume(files: readonly DicomFile[]): Promise<Volume> {
  const first = files[0];
  if (!first) throw new SpinegradeError('NO_IMAGES', 'a DICOM series with no files');
  const ref = first.dataset;
  const rows = requireNumber(first, 'Rows');
  const columns = requireNumber(first, 'Columns');
  const iop = numbersOf(ref, 'ImageOrientationPatient', 6);
  if (!iop) throw new SpinegradeError('INVALID_HEADER', 'no valid ImageOrientationPatient (6 numbers)', first.path);
  const { rowCosine, columnCosine, normal } = planeAxesOf(iop, first.path);
  const pixelSpacing = numbersOf(ref, 'PixelSpacing', 2) ?? numbersOf(ref, 'ImagerPixelSpacing', 2);
  if (!pixelSpacing) throw new SpinegradeError('INVALID_HEADER', 'no PixelSpacing', first.path);
  // PixelSpacing is [between rows, between columns]: column spacing is the i (x) spacing.
  const [rowSpacing, columnSpacing] = pixelSpacing as [number, number];

  const placed: PlacedSlice[] = files.map((file) => {
    const d = file.dataset;
    if ((numberOf(d, 'NumberOfFrames') ?? 1) > 1) {
      throw new SpinegradeError(
        'UNSUPPORTED',
        'multi-frame (enhanced) DICOM is not read yet; export single-frame images',
        file.path,
      );
    }
    if (numberOf(d, 'Rows') !== rows || numberOf(d, 'Columns') !== columns) {
      throw new SpinegradeError(
        'INCONSISTENT_SERIES',
        `mixed matrix sizes in one series: ${numberOf(d, 'Columns')}×${numberOf(d, 'Rows')} here, ${columns}×${rows} in ${first.path}`,
        file.path,
      );
    }
    const orientation = numbersOf(d, 'ImageOrientationPatient', 6);
    if (!orientation || orientation.some((v, n) => Math.abs(v - (iop[n] as number)) > ORIENTATION_TOLERANCE)) {
      throw new SpinegradeError(
        'INCONSISTENT_SERIES',
        `slice orientation differs from ${first.path} in the same series`,
        file.path,
      );
    }
    const spacing = numbersOf(d, 'PixelSpacing', 2) ?? numbersOf(d, 'ImagerPixelSpacing', 2);
    if (!spacing || Math.abs(spacing[0]! - rowSpacing) > 1e-4 || Math.abs(spacing[1]! - columnSpacing) > 1e-4) {
      throw new SpinegradeError(
        'INCONSISTENT_SERIES',
        `pixel spacing differs from ${first.path} in the same series`,
        file.path,
      );
    }
    const ipp = numbersOf(d, 'ImagePositionPatient', 3);
    if (!ipp) throw new SpinegradeError('INVALID_HEADER', 'no valid ImagePositionPatient (3 numbers)', file.path);
    const position = ipp as unknown as Vec3;
    return { file, position, distance: dot(position, normal) };
  });
  placed.sort((a, b) => a.distance - b.distance);

  const sliceCount = placed.length;
  let sliceSpacing = numberOf(ref, 'SpacingBetweenSlices') ?? numberOf(ref, 'SliceThickness') ?? 1;
  let sliceAxis = normal;
  if (sliceCount > 1) {
    const gaps: number[] = [];
    for (let n = 1; n < sliceCount; n++) {
      const gap = placed[n]!.distance - placed[n - 1]!.distance;
      if (gap < DUPLICATE_TOLERANCE_MM) {
        throw new SpinegradeError(
          'DUPLICATE_SLICES',
          `two slices at the same position (${placed[n - 1]!.file.path} and this one; multi-echo or repeated acquisition in one series?)`,
          placed[n]!.file.path,
        );
      }
      gaps.push(gap);
    }
    const mean = (placed[sliceCount - 1]!.distance - placed[0]!.distance) / (sliceCount - 1);
    const worst = gaps.reduce((w, g) => Math.max(w, Math.abs(g - mean) / mean), 0);
    if (worst > SPACING_TOLERANCE) {
      throw new SpinegradeError(
        'INCONSISTENT_SERIES',
        `irregular slice spacing (gaps ${Math.min(...gaps).toFixed(2)}–${Math.max(...gaps).toFixed(2)} mm): a slice may be missing`,
        first.path,
      );
    }
    // The true step between slice origins; it differs from the normal on a sheared (gantry-tilted) stack.
    const last = placed[sliceCount - 1]!.position;
    const firstPosition = placed[0]!.position;
    const step: Vec3 = [
      (last[0] - firstPosition[0]) / (sliceCount - 1),
      (last[1] - firstPosition[1]) / (sliceCount - 1),
      (last[2] - firstPosition[2]) / (sliceCount - 1),
    ];
    sliceSpacing = norm(step);
    sliceAxis = normalize(step);
  }
  const size: Vec3 = [columns, rows, sliceCount];
  const spacing: Vec3 = [columnSpacing, rowSpacing, sliceSpacing];
  assertValidGeometry(size, spacing, first.path);

  const voxels = await stackPixels(
    placed.map((p) => p.file),
    rows,
    columns,
  );
  return {
    voxels,
    size,
    spacing,
    origin: placed[0]!.position,
    direction: directionFromAxes(rowCosine, columnCosine, sliceAxis),
    metadata: {
      ...seriesMetadata(
        ref,
        placed.map((p) => p.file.path),
      ),
      ...sopInstanceUidsOf(placed.map((p) => p.file)),
      invertedFromMonochrome1: isMonochrome1(ref) || undefined,
    },
  };
}

/** The SOP Instance UIDs of the files in slice order; absent unless every file has one. */
function sopInstanceUidsOf(files: readonly DicomFile[]): { sopInstanceUids?: string[] } {
  const uids = files.map((file) => stringOf(file.dataset, 'SOPInstanceUID'));
  return uids.every((uid): uid is string => uid !== undefined) ? { sopInstanceUids: uids } : {};
}

function requireNumber(file: DicomFile, keyword: string): number {
  const value = numberOf(file.dataset, keyword);
  if (value === undefined) throw new SpinegradeError('INVALID_HEADER', `no ${keyword}`, file.path);
  return value;
}

function isMonochrome1(dataset: NaturalDataset): boolean {
  return stringOf(dataset, 'PhotometricInterpretation')?.toUpperCase() === 'MONOCHROME1';
}

function pixelFrames(file: DicomFile): Uint8Array {
  const data = file.dataset.PixelData;
  if (data === undefined || data === null || (Array.isArray(data) && data.length === 0)) {
    throw new SpinegradeError('NO_PIXEL_DATA', 'DICOM image has no pixel data', file.path);
  }
  const parts = (Array.isArray(data) ? data : [data]).map((part) =>
    part instanceof ArrayBuffer
      ? new Uint8Array(part)
      : ArrayBuffer.isView(part)
        ? new Uint8Array(part.buffer, part.byteOffset, part.byteLength)
        : undefined,
  );
  if (parts.some((p) => p === undefined)) {
    throw new SpinegradeError('NO_PIXEL_DATA', 'DICOM pixel data element holds no bytes', file.path);
  }
  const bytes = parts as Uint8Array[];
  if (bytes.length === 1) return bytes[0]!;
  // A single-frame image without a basic offset table arrives as several fragments: join them.
  const total = bytes.reduce((sum, b) => sum + b.byteLength, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const b of bytes) {
    joined.set(b, offset);
    offset += b.byteLength;
  }
  return joined;
}

async function stackPixels(files: readonly DicomFile[], rows: number, columns: number): Promise<VoxelArray> {
  const perSlice = rows * columns;
  const slopes: number[] = [];
  const intercepts: number[] = [];
  const decoded = [];
  const firstFormat = frameFormat(files[0]!, rows, columns);
  for (const file of files) {
    const format = frameFormat(file, rows, columns);
    if (
      format.bitsAllocated !== firstFormat.bitsAllocated ||
      format.pixelRepresentation !== firstFormat.pixelRepresentation
    ) {
      throw new SpinegradeError(
        'INCONSISTENT_SERIES',
        `pixel format differs from ${files[0]!.path} in the same series`,
        file.path,
      );
    }
    if (!isEncapsulatedSyntax(file.transferSyntaxUid) && file.dataset.PixelData === undefined) {
      throw new SpinegradeError('NO_PIXEL_DATA', 'DICOM image has no pixel data', file.path);
    }
    decoded.push(await decodeFrame(file.transferSyntaxUid, pixelFrames(file), format, file.path));
    slopes.push(numberOf(file.dataset, 'RescaleSlope') ?? 1);
    intercepts.push(numberOf(file.dataset, 'RescaleIntercept') ?? 0);
  }
  const identity = slopes.every((s) => s === 1) && intercepts.every((i) => i === 0);
  const monochrome1 = isMonochrome1(files[0]!.dataset);
  const sample = decoded[0]!;
  const ArrayType = identity ? (sample.constructor as new (n: number) => VoxelArray) : Float32Array;
  const voxels: VoxelArray = new ArrayType(perSlice * files.length);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < decoded.length; k++) {
    const slice = decoded[k]!;
    const slope = slopes[k]!;
    const intercept = intercepts[k]!;
    const base = k * perSlice;
    for (let n = 0; n < perSlice; n++) {
      const v = (slice[n] as number) * slope + intercept;
      voxels[base + n] = v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (monochrome1) {
    // MONOCHROME1 shows low values bright; flip within the series' own range to MONOCHROME2.
    for (let n = 0; n < voxels.length; n++) voxels[n] = lo + hi - (voxels[n] as number);
  }
  return voxels;
}

function frameFormat(file: DicomFile, rows: number, columns: number): FrameFormat {
  const d = file.dataset;
  const bitsAllocated = numberOf(d, 'BitsAllocated') ?? 16;
  const pixelRepresentation = numberOf(d, 'PixelRepresentation') === 1 ? 1 : 0;
  return {
    rows,
    columns,
    bitsAllocated,
    bitsStored: numberOf(d, 'BitsStored') ?? bitsAllocated,
    pixelRepresentation,
    samplesPerPixel: numberOf(d, 'SamplesPerPixel') ?? 1,
  };
}

function seriesMetadata(d: NaturalDataset, paths: readonly string[]): VolumeMetadata {
  const acquisition = stringOf(d, 'MRAcquisitionType');
  return dropUndefined({
    sourceFormat: 'dicom',
    sourcePaths: paths,
    spacingSource: 'header',
    modality: stringOf(d, 'Modality'),
    patientId: stringOf(d, 'PatientID'),
    studyInstanceUid: stringOf(d, 'StudyInstanceUID'),
    seriesInstanceUid: stringOf(d, 'SeriesInstanceUID'),
    studyDescription: stringOf(d, 'StudyDescription'),
    seriesDescription: stringOf(d, 'SeriesDescription'),
    seriesNumber: numberOf(d, 'SeriesNumber'),
    repetitionTime: numberOf(d, 'RepetitionTime'),
    echoTime: numberOf(d, 'EchoTime'),
    inversionTime: numberOf(d, 'InversionTime'),
    scanningSequence: stringsOf(d, 'ScanningSequence'),
    sequenceName: stringOf(d, 'SequenceName'),
    protocolName: stringOf(d, 'ProtocolName'),
    acquisitionType: acquisition === '2D' || acquisition === '3D' ? acquisition : undefined,
    fieldStrength: numberOf(d, 'MagneticFieldStrength'),
    manufacturer: stringOf(d, 'Manufacturer'),
    sliceThickness: numberOf(d, 'SliceThickness'),
  });
}
