import assert from 'node:assert/strict';
import { test } from 'node:test';
import { levelOfIvdLabel, vertebraAboveDisc } from '../../src/disc/levels.js';
import type { ImageLocalization } from '../../src/localize/localizer.js';
import { type Localizer, localizerForPatient, patientsSeenByAll } from '../../src/localize/localizer.js';
import { reconcileLevels } from '../../src/localize/volume.js';

/** A slice localisation with discs at the given heights (pixels, 1 mm), labelled from `lowestLabel` upward. */
function slice(heights: number[], lowestLabel: number): ImageLocalization {
  const sorted = [...heights].sort((a, b) => b - a);
  return {
    discs: sorted.map((y, n) => ({
      ivdLabel: lowestLabel + n,
      level: levelOfIvdLabel(lowestLabel + n),
      center: [50, y] as [number, number],
      posterior: [70, y] as [number, number],
      outline: [
        [30, y - 4],
        [70, y - 4],
        [70, y + 4],
        [30, y + 4],
      ] as [number, number][],
      axis: [1, 0] as [number, number],
      areaMm2: 320,
      lumbarScore: 0.6,
    })),
    // The body right above the lowest disc.
    vertebrae: [
      { level: vertebraAboveDisc(lowestLabel), center: [50, 145] as [number, number], outline: [], areaMm2: 700 },
    ],
    possibleTransitional: false,
    warnings: [],
    classes: new Uint8Array(0),
  };
}

const HEIGHTS = [40, 70, 100, 130, 160];

test('a slice whose neighbours agree on other levels takes their labels, and says so', () => {
  // The chosen slice calls the lowest disc L4/L5 (label 2); both neighbours call it L5/S1.
  const own = slice(HEIGHTS, 2);
  const { localization, vote } = reconcileLevels(own, [slice(HEIGHTS, 1), slice([41, 71, 99, 131, 158], 1)], [1, 1]);
  assert.deepEqual(vote, { slices: 3, agreeing: 2, offsetApplied: -1 });
  assert.equal(localization.discs.find((d) => d.center[1] === 160)?.level, 'L5/S1');
  assert.equal(localization.discs.find((d) => d.center[1] === 40)?.level, 'L1/L2');
  assert.equal(localization.vertebrae[0]?.level, 'L5', 'vertebra names move with the discs (it was L4)');
  assert.match(localization.warnings.join(' '), /shifted by -1/);
});

test('one disagreeing neighbour does not outvote the slice itself; unmatched neighbours do not vote', () => {
  const own = slice(HEIGHTS, 1);
  const elsewhere = slice([10, 20], 1); // too few discs near the chosen slice's discs
  const { localization, vote } = reconcileLevels(own, [slice(HEIGHTS, 2), elsewhere], [1, 1]);
  assert.deepEqual(vote, { slices: 2, agreeing: 1, offsetApplied: 0 });
  assert.equal(localization, own);
});

function localizerTrainedOn(dir: string, patients: string[]): Localizer {
  return {
    dir,
    config: {} as Localizer['config'],
    network: {} as Localizer['network'],
    metadata: { trainedOn: { patients } },
  };
}

test('in a cross-validation each patient is localised by a localiser that never saw them', () => {
  const folds = [
    localizerTrainedOn('a', ['1', '2']),
    localizerTrainedOn('b', ['2', '3']),
    localizerTrainedOn('c', ['1', '3']),
  ];
  assert.equal(localizerForPatient(folds, '1').dir, 'b');
  assert.equal(localizerForPatient(folds, '2').dir, 'c');
  assert.equal(localizerForPatient(folds, '3').dir, 'a');
  assert.equal(localizerForPatient(folds, '9').dir, 'a');
  assert.deepEqual([...patientsSeenByAll(folds)], []);
  assert.deepEqual([...patientsSeenByAll([folds[0]!])].sort(), ['1', '2']);
});
