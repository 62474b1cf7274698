import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MaskSliceRecord } from '../../src/datasets/types.js';
import { classesOfMask, middleSlices } from '../../src/evaluation/canal.js';

function record(patient: string, slice: number): MaskSliceRecord {
  return {
    id: `${patient}_t2_SPACE_slice${slice}.png`,
    patient,
    series: `${patient}_t2_SPACE`,
    loadImage: () => Promise.reject(new Error('not read')),
    loadMask: () => Promise.reject(new Error('not read')),
  };
}

test('the middle slice of each stack is the sixth of eleven, by slice number not by order', () => {
  const stack = [57, 52, 60, 53, 54, 55, 56, 58, 59, 61, 62].map((n) => record('5', n));
  const other = [10, 11, 12].map((n) => record('7', n));
  assert.deepEqual(
    middleSlices([...stack, ...other]).map((r) => r.id),
    ['5_t2_SPACE_slice57.png', '7_t2_SPACE_slice11.png'],
  );
});

test("SPIDER's mask values become the localiser's classes", () => {
  assert.deepEqual([...classesOfMask(Uint8Array.from([0, 29, 76, 150, 200]))], [0, 1, 2, 3, 0]);
});
