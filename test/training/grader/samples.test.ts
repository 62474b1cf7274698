import assert from 'node:assert/strict';
import { test } from 'node:test';
import { levelOfIvdLabel } from '../../../src/disc/levels.js';
import type { LocalizedDisc } from '../../../src/localize/postprocess.js';
import { keypointLevelOffset } from '../../../src/training/grader/samples.js';

function disc(ivdLabel: number, y: number): LocalizedDisc {
  return {
    ivdLabel,
    level: levelOfIvdLabel(ivdLabel),
    center: [50, y],
    posterior: [70, y],
    outline: [
      [30, y - 4],
      [70, y - 4],
      [70, y + 4],
      [30, y + 4],
    ],
    axis: [1, 0],
    areaMm2: 320,
    lumbarScore: 0.6,
  };
}

test('keypoints on the posterior margins say by how many levels the localiser miscounted', () => {
  // The localiser called the lowest disc L4/L5 (2); the keypoints say it is L5/S1 (1).
  const discs = [disc(2, 160), disc(3, 130), disc(4, 100), disc(5, 70)];
  const keypoints = [160, 130, 100].map((y, n) => ({ ivdLabel: n + 1, level: levelOfIvdLabel(n + 1), x: 72, y }));
  assert.equal(keypointLevelOffset(discs, keypoints, [1, 1]), -1);
  const right = [160, 130].map((y, n) => ({ ivdLabel: n + 2, level: levelOfIvdLabel(n + 2), x: 71, y }));
  assert.equal(keypointLevelOffset(discs, right, [1, 1]), 0);
});

test('keypoints far from every disc outline say nothing', () => {
  const discs = [disc(1, 160)];
  const far = [{ ivdLabel: 3, level: 'L3/L4', x: 72, y: 100 }];
  assert.equal(keypointLevelOffset(discs, far, [1, 1]), undefined);
});
