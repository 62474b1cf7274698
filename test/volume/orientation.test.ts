import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SAGITTAL_DISPLAY_DIRECTION } from '../../src/io/png.js';
import {
  assignAxes,
  extractSagittalSlice,
  imagePlane,
  midSagittalIndex,
  sagittalAxis,
} from '../../src/volume/orientation.js';
import { directionFromAxes, type Mat3, type Volume } from '../../src/volume/volume.js';
import { codedVolume, obliqueSagittalDirection } from '../helpers/volumes.js';

/** A 4 (AP) × 3 (SI) × 2 (LR) volume in any axis layout, valued by anatomy: 100·lr + 10·si + ap. */
function anatomicalVolume(direction: Mat3, size: readonly [number, number, number]): Volume {
  const voxels = new Float32Array(size[0] * size[1] * size[2]);
  const axes = assignAxes({ direction });
  for (let k = 0; k < size[2]; k++) {
    for (let j = 0; j < size[1]; j++) {
      for (let i = 0; i < size[0]; i++) {
        const index = [i, j, k];
        const along = (axis: 0 | 1 | 2, patient: 0 | 1 | 2, wantPositive: boolean): number => {
          const n = size[axis];
          const sign = (direction[patient * 3 + axis] as number) > 0;
          return sign === wantPositive ? (index[axis] as number) : n - 1 - (index[axis] as number);
        };
        const ap = along(axes.anteriorPosterior, 1, true); // 0 = most anterior
        const si = along(axes.inferiorSuperior, 2, false); // 0 = most superior
        const lr = along(axes.leftRight, 0, false); // 0 = most right
        voxels[i + size[0] * (j + size[1] * k)] = 100 * lr + 10 * si + ap;
      }
    }
  }
  return {
    voxels,
    size,
    spacing: [1, 2, 3],
    origin: [0, 0, 0],
    direction,
    metadata: { sourceFormat: 'nifti', sourcePaths: [] },
  };
}

const expectedDisplay = (lr: number): number[] => {
  const out: number[] = [];
  for (let si = 0; si < 3; si++) for (let ap = 0; ap < 4; ap++) out.push(100 * lr + 10 * si + ap);
  return out;
};

test('a sagittal slice comes out superior up and anterior left whatever the axis order and signs', () => {
  const layouts: { direction: Mat3; size: [number, number, number] }[] = [
    { direction: SAGITTAL_DISPLAY_DIRECTION, size: [4, 3, 2] },
    // axial-acquired (i → left, j → posterior, k → superior), as many NIfTI exports are.
    { direction: directionFromAxes([1, 0, 0], [0, 1, 0], [0, 0, 1]), size: [2, 4, 3] },
    // flipped: i → anterior, j → superior, k → left.
    { direction: directionFromAxes([0, -1, 0], [0, 0, 1], [1, 0, 0]), size: [4, 3, 2] },
    // permuted: i → superior, j → right, k → anterior.
    { direction: directionFromAxes([0, 0, 1], [-1, 0, 0], [0, -1, 0]), size: [3, 2, 4] },
  ];
  for (const { direction, size } of layouts) {
    const volume = anatomicalVolume(direction, size);
    const lrAxis = sagittalAxis(volume);
    for (let s = 0; s < 2; s++) {
      const slice = extractSagittalSlice(volume, s);
      assert.equal(slice.width, 4);
      assert.equal(slice.height, 3);
      const lr = Math.floor((slice.pixels[0] as number) / 100);
      assert.deepEqual(Array.from(slice.pixels), expectedDisplay(lr), `layout ${direction.join(',')} slice ${s}`);
      assert.equal(slice.indexOf(0, 0)[lrAxis], s);
    }
  }
});

test('display slice pixel spacing follows the anterior-posterior and superior-inferior axes', () => {
  const volume = anatomicalVolume(directionFromAxes([0, 0, 1], [-1, 0, 0], [0, -1, 0]), [3, 2, 4]);
  // i (spacing 1) is SI, k (spacing 3) is AP.
  assert.deepEqual(extractSagittalSlice(volume, 0).pixelSpacing, [3, 1]);
});

test('a display pixel maps to the physical point of its voxel', () => {
  const volume = codedVolume();
  const slice = extractSagittalSlice(volume, 2);
  const index = slice.indexOf(5, 7);
  const value = volume.voxels[index[0] + volume.size[0] * (index[1] + volume.size[1] * index[2])];
  assert.equal(slice.pixels[5 + 7 * slice.width], value);
  assert.ok(slice.pointOf(5, 7).every(Number.isFinite));
});

test('planes are named from the slice normal, including mildly oblique sagittal series', () => {
  assert.equal(imagePlane({ direction: SAGITTAL_DISPLAY_DIRECTION }), 'sagittal');
  assert.equal(imagePlane({ direction: obliqueSagittalDirection() }), 'sagittal');
  assert.equal(imagePlane({ direction: directionFromAxes([1, 0, 0], [0, 1, 0], [0, 0, 1]) }), 'axial');
  assert.equal(imagePlane({ direction: directionFromAxes([1, 0, 0], [0, 0, -1], [0, 1, 0]) }), 'coronal');
});

test('the geometric mid-sagittal slice is the middle index of the left-right axis', () => {
  assert.equal(midSagittalIndex({ direction: SAGITTAL_DISPLAY_DIRECTION, size: [512, 640, 11] }), 5);
  assert.equal(
    midSagittalIndex({ direction: directionFromAxes([1, 0, 0], [0, 1, 0], [0, 0, 1]), size: [20, 256, 256] }),
    10,
  );
});
