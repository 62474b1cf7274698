import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpinegradeError } from '../../src/errors.js';
import {
  assertValidGeometry,
  indexToPhysical,
  invert3,
  type Mat3,
  multiply3,
  physicalToIndex,
} from '../../src/volume/volume.js';
import { codedVolume, obliqueSagittalDirection } from '../helpers/volumes.js';

test('index to physical follows origin + direction · diag(spacing) · index', () => {
  const volume = {
    origin: [10, 20, 30] as const,
    spacing: [2, 3, 4] as const,
    direction: [0, 0, -1, 1, 0, 0, 0, -1, 0] as Mat3,
  };
  // i runs posterior (+y), j inferior (−z), k right (−x).
  assert.deepEqual(indexToPhysical(volume, [1, 0, 0]), [10, 22, 30]);
  assert.deepEqual(indexToPhysical(volume, [0, 1, 0]), [10, 20, 27]);
  assert.deepEqual(indexToPhysical(volume, [0, 0, 1]), [6, 20, 30]);
});

test('physical to index inverts index to physical on an oblique, anisotropic volume', () => {
  const volume = codedVolume();
  for (const index of [
    [0, 0, 0],
    [12, 10, 4],
    [3.25, 7.5, 1.75],
  ] as const) {
    const back = physicalToIndex(volume, indexToPhysical(volume, index));
    back.forEach((v, n) => assert.ok(Math.abs(v - (index[n] as number)) < 1e-9));
  }
});

test('the inverse of a rotation times the rotation is the identity', () => {
  const d = obliqueSagittalDirection();
  const inv = invert3(d);
  for (const v of [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ] as const) {
    const round = multiply3(inv, multiply3(d, v));
    round.forEach((x, n) => assert.ok(Math.abs(x - (v[n] as number)) < 1e-12));
  }
});

test('a singular direction matrix is refused as an invalid header', () => {
  assert.throws(
    () => invert3([1, 1, 0, 0, 0, 0, 0, 0, 1]),
    (e: unknown) => e instanceof SpinegradeError && e.kind === 'INVALID_HEADER',
  );
});

test('geometry checks refuse non-positive sizes and spacings and volumes over the voxel limit', () => {
  const kindOf = (f: () => void): string | undefined => {
    try {
      f();
    } catch (e) {
      return e instanceof SpinegradeError ? e.kind : 'other';
    }
    return undefined;
  };
  assert.equal(
    kindOf(() => assertValidGeometry([0, 10, 10], [1, 1, 1])),
    'INVALID_HEADER',
  );
  assert.equal(
    kindOf(() => assertValidGeometry([10, 10, 10], [1, -1, 1])),
    'INVALID_HEADER',
  );
  assert.equal(
    kindOf(() => assertValidGeometry([10, 10, 10], [1, Number.NaN, 1])),
    'INVALID_HEADER',
  );
  assert.equal(
    kindOf(() => assertValidGeometry([1000, 1000, 1000], [1, 1, 1])),
    'TOO_LARGE',
  );
  assert.equal(
    kindOf(() => assertValidGeometry([512, 512, 200], [0.5, 0.5, 1])),
    undefined,
  );
});
