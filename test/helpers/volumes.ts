/** Volumes with known, non-trivial geometry for tests. */
import type { Mat3, Vec3, Volume } from '../../src/volume/volume.js';
import { directionFromAxes } from '../../src/volume/volume.js';

/** Rotation matrix (row-major) of `degrees` about an LPS axis. */
export function rotation(axis: 'x' | 'y' | 'z', degrees: number): Mat3 {
  const r = (degrees * Math.PI) / 180;
  const c = Math.cos(r);
  const s = Math.sin(r);
  if (axis === 'x') return [1, 0, 0, 0, c, -s, 0, s, c];
  if (axis === 'y') return [c, 0, s, 0, 1, 0, -s, 0, c];
  return [c, -s, 0, s, c, 0, 0, 0, 1];
}

/** Product of two row-major 3×3 matrices. */
export function multiply(a: Mat3, b: Mat3): Mat3 {
  const out: number[] = [];
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      out.push(
        (a[r * 3] as number) * (b[c] as number) +
          (a[r * 3 + 1] as number) * (b[3 + c] as number) +
          (a[r * 3 + 2] as number) * (b[6 + c] as number),
      );
    }
  }
  return out as unknown as Mat3;
}

/** A sagittal direction (i → posterior, j → inferior, k → right) tilted obliquely by two rotations. */
export function obliqueSagittalDirection(): Mat3 {
  const sagittal = directionFromAxes([0, 1, 0], [0, 0, -1], [-1, 0, 0]);
  return multiply(multiply(rotation('z', 12), rotation('x', -9)), sagittal);
}

/** An int16 volume whose every voxel value encodes its own index: `v = i + 7j + 31k - 200`. */
export function codedVolume(options: { size?: Vec3; spacing?: Vec3; origin?: Vec3; direction?: Mat3 } = {}): Volume {
  const size = options.size ?? [13, 11, 5];
  const voxels = new Int16Array(size[0] * size[1] * size[2]);
  for (let k = 0; k < size[2]; k++) {
    for (let j = 0; j < size[1]; j++) {
      for (let i = 0; i < size[0]; i++) voxels[i + size[0] * (j + size[1] * k)] = i + 7 * j + 31 * k - 200;
    }
  }
  return {
    voxels,
    size,
    spacing: options.spacing ?? [0.47, 0.61, 3.3],
    origin: options.origin ?? [-12.5, 40.25, 87.125],
    direction: options.direction ?? obliqueSagittalDirection(),
    metadata: {
      sourceFormat: 'dicom',
      sourcePaths: [],
      seriesDescription: 't2_tse_sag',
      repetitionTime: 3500,
      echoTime: 100,
      spacingSource: 'header',
    },
  };
}
