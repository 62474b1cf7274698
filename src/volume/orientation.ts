/**
 * Where a volume's axes point in the patient, and sagittal slices in display orientation:
 * superior up, anterior left (the radiological sagittal view, and the layout of SPIDER's PNGs).
 */
import { SpinegradeError } from '../errors.js';
import { axisDirection, cross, indexToPhysical, type Plane, type Vec3, type Volume } from './volume.js';

/** The LPS axis (0 = left-right, 1 = anterior-posterior, 2 = inferior-superior) a vector runs along most. */
export function dominantPatientAxis(v: Vec3): 0 | 1 | 2 {
  const a = Math.abs(v[0]);
  const b = Math.abs(v[1]);
  const c = Math.abs(v[2]);
  if (a >= b && a >= c) return 0;
  return b >= c ? 1 : 2;
}

/** Angle, in degrees, between a vector and the nearest LPS axis. */
export function obliquityDegrees(v: Vec3): number {
  const n = Math.hypot(v[0], v[1], v[2]);
  const largest = Math.max(Math.abs(v[0]), Math.abs(v[1]), Math.abs(v[2]));
  return (Math.acos(Math.min(1, largest / n)) * 180) / Math.PI;
}

/** Slice normals more than this far from every patient axis make a plane `oblique`. */
export const OBLIQUE_LIMIT_DEGREES = 45 - 1e-9;

/**
 * The plane of a volume's slices, from the normal of index axes i and j (the in-plane axes): a normal
 * along left-right is sagittal, anterior-posterior coronal, inferior-superior axial.
 */
export function imagePlane(volume: Pick<Volume, 'direction'>): Plane {
  return planeOfNormal(cross(axisDirection(volume.direction, 0), axisDirection(volume.direction, 1)));
}

/**
 * The plane of slices with this (non-zero) normal: sagittal along left-right, coronal along
 * anterior-posterior, axial along inferior-superior, oblique when 45° or more from every patient axis.
 */
export function planeOfNormal(normal: Vec3): Plane {
  if (obliquityDegrees(normal) >= OBLIQUE_LIMIT_DEGREES) return 'oblique';
  return (['sagittal', 'coronal', 'axial'] as const)[dominantPatientAxis(normal)];
}

/** Which index axis runs left-right, which anterior-posterior, which inferior-superior. */
export interface AxisAssignment {
  /** Index axis closest to left-right: the axis sagittal slices are stacked along. */
  leftRight: 0 | 1 | 2;
  /** Index axis closest to anterior-posterior. */
  anteriorPosterior: 0 | 1 | 2;
  /** Index axis closest to inferior-superior. */
  inferiorSuperior: 0 | 1 | 2;
}

/**
 * Assigns each index axis to the patient axis it runs along most, one to one (greedy on the largest
 * direction cosine, so an oblique volume still gets a consistent assignment).
 */
export function assignAxes(volume: Pick<Volume, 'direction'>): AxisAssignment {
  const taken = new Set<number>();
  const patientToIndex: number[] = [-1, -1, -1];
  const pairs: { index: number; patient: number; weight: number }[] = [];
  for (let index = 0; index < 3; index++) {
    const d = axisDirection(volume.direction, index as 0 | 1 | 2);
    for (let patient = 0; patient < 3; patient++) {
      pairs.push({ index, patient, weight: Math.abs(d[patient] as number) });
    }
  }
  pairs.sort((p, q) => q.weight - p.weight);
  const usedPatient = new Set<number>();
  for (const p of pairs) {
    if (taken.has(p.index) || usedPatient.has(p.patient)) continue;
    taken.add(p.index);
    usedPatient.add(p.patient);
    patientToIndex[p.patient] = p.index;
  }
  return {
    leftRight: patientToIndex[0] as 0 | 1 | 2,
    anteriorPosterior: patientToIndex[1] as 0 | 1 | 2,
    inferiorSuperior: patientToIndex[2] as 0 | 1 | 2,
  };
}

/** The index axis sagittal slices are stacked along (the one closest to left-right). */
export function sagittalAxis(volume: Pick<Volume, 'direction'>): 0 | 1 | 2 {
  return assignAxes(volume).leftRight;
}

/** A 2D image in display orientation, with the map back to the volume it came from. */
export interface DisplaySlice {
  /** Row-major pixels, `pixels[x + y * width]`. */
  readonly pixels: Float32Array;
  readonly width: number;
  readonly height: number;
  /** Millimetres between pixel centres: `[along x (columns), along y (rows)]`. */
  readonly pixelSpacing: readonly [number, number];
  /** Volume index of display pixel (x, y). */
  readonly indexOf: (x: number, y: number) => Vec3;
  /** Physical (LPS, mm) point of display pixel (x, y). */
  readonly pointOf: (x: number, y: number) => Vec3;
}

/**
 * Extracts sagittal slice `sliceIndex` (along {@link sagittalAxis}) in display orientation: columns run
 * anterior → posterior, rows superior → inferior. Index axes pointing the other way are flipped; no
 * resampling happens, so an oblique volume is shown along its nearest patient axes.
 */
export function extractSagittalSlice(volume: Volume, sliceIndex: number): DisplaySlice {
  const axes = assignAxes(volume);
  const lr = axes.leftRight;
  const count = volume.size[lr];
  if (!Number.isInteger(sliceIndex) || sliceIndex < 0 || sliceIndex >= count) {
    throw new SpinegradeError('USAGE', `sagittal slice ${sliceIndex} is outside 0..${count - 1}`);
  }
  const colAxis = axes.anteriorPosterior;
  const rowAxis = axes.inferiorSuperior;
  // Display x grows towards posterior (+y in LPS); display y grows towards inferior (−z in LPS).
  const flipCols = axisDirection(volume.direction, colAxis)[1] < 0;
  const flipRows = axisDirection(volume.direction, rowAxis)[2] > 0;
  const width = volume.size[colAxis];
  const height = volume.size[rowAxis];
  const stride: Vec3 = [1, volume.size[0], volume.size[0] * volume.size[1]];
  const pixels = new Float32Array(width * height);
  const indexOf = (x: number, y: number): Vec3 => {
    const index = [0, 0, 0];
    index[lr] = sliceIndex;
    index[colAxis] = flipCols ? width - 1 - x : x;
    index[rowAxis] = flipRows ? height - 1 - y : y;
    return index as unknown as Vec3;
  };
  const voxels = volume.voxels;
  const colStride = stride[colAxis];
  for (let y = 0; y < height; y++) {
    const row = flipRows ? height - 1 - y : y;
    const rowStart = sliceIndex * stride[lr] + row * stride[rowAxis];
    if (colStride === 1 && !flipCols) {
      pixels.set(voxels.subarray(rowStart, rowStart + width), y * width);
      continue;
    }
    for (let x = 0; x < width; x++) {
      const col = flipCols ? width - 1 - x : x;
      pixels[x + y * width] = voxels[rowStart + col * colStride] as number;
    }
  }
  return {
    pixels,
    width,
    height,
    pixelSpacing: [volume.spacing[colAxis], volume.spacing[rowAxis]],
    indexOf,
    pointOf: (x, y) => indexToPhysical(volume, indexOf(x, y)),
  };
}

/**
 * The mid-sagittal slice index by geometry alone: the middle of the sagittal axis
 * (`floor(n / 2)`, as SPIDER chose its mid-sagittal PNGs). The localiser refines this by the canal.
 */
export function midSagittalIndex(volume: Pick<Volume, 'direction' | 'size'>): number {
  return Math.floor(volume.size[sagittalAxis(volume)] / 2);
}
