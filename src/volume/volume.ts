/**
 * The one image type of spinegrade. Conventions (also in docs/conventions.md):
 *
 * - Voxel `(i, j, k)` sits at `voxels[i + j * size[0] + k * size[0] * size[1]]` (i fastest).
 * - Physical space is DICOM/ITK patient space, **LPS**: +x towards the patient's left, +y towards
 *   posterior, +z towards superior (head). Units are millimetres.
 * - `direction` is a 3×3 matrix stored row-major; its column `a` is the unit vector (in LPS) along
 *   which index axis `a` increases. So `point = origin + direction · diag(spacing) · index`, as in
 *   ITK. For DICOM: column 0 is the row cosine (towards increasing column), column 1 the column
 *   cosine (towards increasing row), column 2 the direction in which slices follow each other.
 * - `origin` is the physical centre of voxel (0, 0, 0).
 */
import { SpinegradeError } from '../errors.js';

/** A typed array that can hold voxel values. */
export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** Three numbers: an index, a size, a spacing or a point. */
export type Vec3 = readonly [number, number, number];

/** A 3×3 matrix, row-major. */
export type Mat3 = readonly [number, number, number, number, number, number, number, number, number];

/** The image plane of a series, from its direction cosines. */
export type Plane = 'sagittal' | 'coronal' | 'axial' | 'oblique';

/** The sequence family guessed for a series (see `classifySequence`). */
export type SequenceKind = 'T1' | 'T2' | 'STIR' | 'other';

/** The file format a volume was read from. */
export type SourceFormat = 'dicom' | 'nifti' | 'metaimage' | 'png' | 'jpeg';

/** Acquisition facts a volume carries from its source; each is absent when the source lacks it. */
export interface VolumeMetadata {
  /** Format the voxels were read from. */
  sourceFormat: SourceFormat;
  /** Files the volume was read from, in slice order. */
  sourcePaths: readonly string[];
  /** DICOM only: the SOP Instance UID of each source file, in slice order (same order as `sourcePaths`). */
  sopInstanceUids?: readonly string[];
  modality?: string;
  patientId?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  studyDescription?: string;
  seriesDescription?: string;
  seriesNumber?: number;
  /** Repetition time, ms. */
  repetitionTime?: number;
  /** Echo time, ms. */
  echoTime?: number;
  /** Inversion time, ms. */
  inversionTime?: number;
  /** DICOM ScanningSequence, e.g. `SE`, `IR`, `GR`. */
  scanningSequence?: string;
  /** DICOM SequenceName, e.g. `*tse2d1_3`. */
  sequenceName?: string;
  /** DICOM ProtocolName. */
  protocolName?: string;
  /** DICOM MRAcquisitionType. */
  acquisitionType?: '2D' | '3D';
  /** Magnetic field strength, tesla. */
  fieldStrength?: number;
  manufacturer?: string;
  /** Slice thickness, mm (may differ from the slice spacing). */
  sliceThickness?: number;
  /** Where the spacing came from: the file's header, the user, or an assumption (1 mm) for a bare picture. */
  spacingSource?: 'header' | 'user' | 'assumed';
  /** True when the source stored MONOCHROME1 and the values were inverted to MONOCHROME2. */
  invertedFromMonochrome1?: boolean;
}

/** A 3D image with its full geometry; a 2D image is a volume with one slice. */
export interface Volume {
  /** Voxel values, `i` fastest (see the module comment). */
  readonly voxels: VoxelArray;
  /** Voxel count along index axes i, j, k. */
  readonly size: Vec3;
  /** Distance between voxel centres along i, j, k, in mm. */
  readonly spacing: Vec3;
  /** Physical (LPS, mm) centre of voxel (0, 0, 0). */
  readonly origin: Vec3;
  /** Row-major 3×3; column `a` is the LPS unit vector of index axis `a`. */
  readonly direction: Mat3;
  readonly metadata: VolumeMetadata;
}

/** The largest volume spinegrade allocates: 2^28 voxels (1 GiB as float32). */
export const MAX_VOXELS = 2 ** 28;

/** The identity direction matrix. */
export const IDENTITY_DIRECTION: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/** Number of voxels of a size. */
export function voxelCount(size: Vec3): number {
  return size[0] * size[1] * size[2];
}

/**
 * Throws a {@link SpinegradeError} unless a size and spacing describe an allocatable volume:
 * whole positive sizes, finite positive spacings, at most {@link MAX_VOXELS} voxels.
 */
export function assertValidGeometry(size: Vec3, spacing: Vec3, path?: string): void {
  for (const n of size) {
    if (!Number.isInteger(n) || n <= 0) {
      throw new SpinegradeError('INVALID_HEADER', `impossible image size ${size.join('×')}`, path);
    }
  }
  for (const s of spacing) {
    if (!Number.isFinite(s) || s <= 0) {
      throw new SpinegradeError('INVALID_HEADER', `impossible voxel spacing ${spacing.join('×')} mm`, path);
    }
  }
  const count = voxelCount(size);
  if (count > MAX_VOXELS) {
    throw new SpinegradeError(
      'TOO_LARGE',
      `header claims ${size.join('×')} = ${count.toExponential(2)} voxels, over the limit of ${MAX_VOXELS.toExponential(2)}`,
      path,
    );
  }
}

/** Column `axis` of a direction matrix: the LPS unit vector of that index axis. */
export function axisDirection(direction: Mat3, axis: 0 | 1 | 2): Vec3 {
  return [direction[axis], direction[3 + axis] as number, direction[6 + axis] as number];
}

/** Builds a row-major direction matrix from the three axis vectors (its columns). */
export function directionFromAxes(axis0: Vec3, axis1: Vec3, axis2: Vec3): Mat3 {
  return [axis0[0], axis1[0], axis2[0], axis0[1], axis1[1], axis2[1], axis0[2], axis1[2], axis2[2]];
}

/** Physical (LPS, mm) point of a continuous voxel index. */
export function indexToPhysical(volume: Pick<Volume, 'origin' | 'spacing' | 'direction'>, index: Vec3): Vec3 {
  const { origin, spacing, direction: d } = volume;
  const a = index[0] * spacing[0];
  const b = index[1] * spacing[1];
  const c = index[2] * spacing[2];
  return [
    origin[0] + d[0] * a + d[1] * b + d[2] * c,
    origin[1] + d[3] * a + d[4] * b + d[5] * c,
    origin[2] + d[6] * a + d[7] * b + d[8] * c,
  ];
}

/** Continuous voxel index of a physical (LPS, mm) point; the inverse of {@link indexToPhysical}. */
export function physicalToIndex(volume: Pick<Volume, 'origin' | 'spacing' | 'direction'>, point: Vec3): Vec3 {
  const inv = invert3(volume.direction);
  const p: Vec3 = [point[0] - volume.origin[0], point[1] - volume.origin[1], point[2] - volume.origin[2]];
  const v = multiply3(inv, p);
  return [v[0] / volume.spacing[0], v[1] / volume.spacing[1], v[2] / volume.spacing[2]];
}

/** Matrix × vector for a row-major 3×3. */
export function multiply3(m: Mat3, v: Vec3): Vec3 {
  return [
    m[0] * v[0] + m[1] * v[1] + m[2] * v[2],
    m[3] * v[0] + m[4] * v[1] + m[5] * v[2],
    m[6] * v[0] + m[7] * v[1] + m[8] * v[2],
  ];
}

/** Determinant of a row-major 3×3. */
export function determinant3(m: Mat3): number {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
}

/** Inverse of a row-major 3×3; throws on a singular matrix. */
export function invert3(m: Mat3): Mat3 {
  const det = determinant3(m);
  if (Math.abs(det) < 1e-12) {
    throw new SpinegradeError('INVALID_HEADER', 'the direction matrix is singular (axes are parallel)');
  }
  const r = 1 / det;
  return [
    (m[4] * m[8] - m[5] * m[7]) * r,
    (m[2] * m[7] - m[1] * m[8]) * r,
    (m[1] * m[5] - m[2] * m[4]) * r,
    (m[5] * m[6] - m[3] * m[8]) * r,
    (m[0] * m[8] - m[2] * m[6]) * r,
    (m[2] * m[3] - m[0] * m[5]) * r,
    (m[3] * m[7] - m[4] * m[6]) * r,
    (m[1] * m[6] - m[0] * m[7]) * r,
    (m[0] * m[4] - m[1] * m[3]) * r,
  ];
}

/** Cross product. */
export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** Dot product. */
export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** Euclidean length. */
export function norm(a: Vec3): number {
  return Math.hypot(a[0], a[1], a[2]);
}

/** The unit vector along `a`. */
export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  return [a[0] / n, a[1] / n, a[2] / n];
}

/** Value of the voxel at integer index (i, j, k). */
export function voxelAt(volume: Pick<Volume, 'voxels' | 'size'>, i: number, j: number, k: number): number {
  return volume.voxels[i + volume.size[0] * (j + volume.size[1] * k)] as number;
}

/** Smallest and largest voxel value. */
export function valueRange(voxels: ArrayLike<number>): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let n = 0; n < voxels.length; n++) {
    const v = voxels[n] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
