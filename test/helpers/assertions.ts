/** Assertions shared by the reader/writer tests. */
import assert from 'node:assert/strict';
import { type ProblemKind, SpinegradeError } from '../../src/errors.js';
import { indexToPhysical, physicalToIndex, type Volume, voxelAt } from '../../src/volume/volume.js';

/**
 * Every voxel of `original` is found in `read` at the same physical point (≤ 0.01 mm) with the
 * same value (within `tolerance`), whatever index order `read` uses.
 */
export function assertSameVoxels(original: Volume, read: Volume, tolerance = 0): void {
  assert.equal(read.voxels.length, original.voxels.length);
  const [nx, ny, nz] = original.size;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const point = indexToPhysical(original, [i, j, k]);
        const rounded = physicalToIndex(read, point).map(Math.round) as [number, number, number];
        const back = indexToPhysical(read, rounded);
        const distance = Math.hypot(back[0] - point[0], back[1] - point[1], back[2] - point[2]);
        assert.ok(distance <= 0.01, `voxel ${i},${j},${k} lands ${distance.toFixed(4)} mm away`);
        const a = voxelAt(original, i, j, k);
        const b = voxelAt(read, ...rounded);
        assert.ok(Math.abs(a - b) <= tolerance, `voxel ${i},${j},${k}: ${a} became ${b}`);
      }
    }
  }
}

/** Each number is within `tolerance` of the expected one. */
export function assertClose(
  actual: readonly number[],
  expected: readonly number[],
  tolerance = 1e-9,
  what = 'value',
): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, n) => {
    assert.ok(Math.abs(v - (expected[n] as number)) <= tolerance, `${what}[${n}]: ${v} vs ${expected[n]}`);
  });
}

/** Rejects with a one-line SpinegradeError of `kind` that names `path`. */
export async function assertRefused(
  promise: Promise<unknown>,
  kind: ProblemKind,
  path: string,
  pattern?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SpinegradeError, `expected a SpinegradeError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.equal(error.path, path);
    assert.ok(error.message.includes(path), error.message);
    assert.ok(!error.message.includes('\n'), 'the message is one line');
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}
