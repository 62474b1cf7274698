import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cardHeadlines, modelAccuracy } from '../../src/analyze/models.js';
import { findingsJson, outputTarget } from '../../src/analyze/outputs.js';
import { assertFindingsDocument, validateFindings } from '../../src/analyze/validate.js';
import { SpinegradeError } from '../../src/errors.js';
import { parseLevelOverride, shiftVolumeLocalization } from '../../src/localize/override.js';
import type { VolumeLocalization } from '../../src/localize/volume.js';
import { FINDINGS_SCHEMA, FINDINGS_VERSION, type FindingsDocument } from '../../src/report/findings.js';
import { tempFolder } from '../helpers/tmp.js';

test('parseLevelOverride reads shifts, pixel anchors and patient-point anchors', () => {
  assert.deepEqual(parseLevelOverride('shift=+1'), { shift: 1 });
  assert.deepEqual(parseLevelOverride(' shift = -2 '), { shift: -2 });
  assert.deepEqual(parseLevelOverride('L5/S1=250,410'), { anchor: { level: 'L5/S1', atPx: [250, 410] } });
  assert.deepEqual(parseLevelOverride('l4-l5=1.5,-2,30', '1.2.3'), {
    anchor: { level: 'L4/L5', atMm: [1.5, -2, 30] },
    seriesUid: '1.2.3',
  });
});

test('parseLevelOverride refuses anything else with a usage error that shows the syntax', () => {
  for (const [text, problem] of [
    ['shift', /no "="/],
    ['shift=1.5', /shift "1\.5" is not a whole number/],
    ['shift=+7', /shift 7 is more than 5 levels/],
    ['L9/S9=1,2', /"L9\/S9" is not a disc level/],
    ['L5/S1=1', /"1" is not two or three numbers/],
    ['L5/S1=a,b', /"a,b" is not two or three numbers/],
  ] as const) {
    assert.throws(
      () => parseLevelOverride(text),
      (error: unknown) => {
        assert.ok(error instanceof SpinegradeError);
        assert.equal(error.kind, 'USAGE');
        assert.match(error.message, problem);
        assert.match(error.message, /use shift=±N, LEVEL=X,Y .* or LEVEL=X,Y,Z/);
        return true;
      },
      text,
    );
  }
});

function localization(labels: number[]): VolumeLocalization {
  const disc = (label: number, n: number) => ({
    ivdLabel: label,
    level: ['S1/S2', 'L5/S1', 'L4/L5', 'L3/L4', 'L2/L3', 'L1/L2', 'T12/L1', 'T11/T12', 'T10/T11', 'T9/T10', 'T8/T9'][
      label
    ] as string,
    center: [10, 100 - n * 10] as [number, number],
    posterior: [12, 100 - n * 10] as [number, number],
    outline: [],
    axis: [1, 0] as [number, number],
    areaMm2: 100,
    lumbarScore: 0.6,
  });
  const discs = labels.map(disc);
  return {
    sliceIndex: 3,
    canalPixels: {},
    slice: {
      discs,
      vertebrae: [{ level: 'L5', center: [10, 95], outline: [], areaMm2: 900 }],
      possibleTransitional: false,
      warnings: [],
      classes: new Uint8Array(4),
    },
    discs: discs.map((d) => ({ level: d.level, ivdLabel: d.ivdLabel, centerMm: [0, 0, 0], posteriorMm: [0, 0, 0] })),
    levelVote: { slices: 1, agreeing: 1, offsetApplied: 0 },
  };
}

test('shiftVolumeLocalization moves discs, vertebrae and physical discs; drops discs pushed past the labels', () => {
  const shifted = shiftVolumeLocalization(localization([1, 2, 3]), 1);
  assert.deepEqual(
    shifted.slice.discs.map((d) => d.level),
    ['L4/L5', 'L3/L4', 'L2/L3'],
  );
  assert.deepEqual(
    shifted.discs.map((d) => d.ivdLabel),
    [2, 3, 4],
  );
  assert.equal(shifted.slice.vertebrae[0]?.level, 'L4');
  const down = shiftVolumeLocalization(localization([1, 2]), -2);
  assert.deepEqual(
    down.slice.discs.map((d) => d.level),
    ['S1/S2'],
  );
  assert.equal(down.slice.possibleTransitional, true);
  assert.ok(down.slice.warnings.some((w) => /no level for the disc\(s\) at L5\/S1/.test(w)));
  const same = localization([1]);
  assert.equal(shiftVolumeLocalization(same, 0), same);
});

test('cardHeadlines quotes the κ, AUC and level-rate rows of a model card, at most four', () => {
  const card = [
    '# card',
    '| measure | CNN | hybrid | target |',
    '|---|---|---|---|',
    '| kappa (linear) | 0.49 [0.44, 0.54] | 0.52 [0.46, 0.57] | ≥ 0.85 |',
    '| accuracy | 0.45 | 0.50 |  |',
    '| AUC one-vs-rest | 0.80 | 0.79 |  |',
    '',
    '| measure | held out | anchor |',
    '|---|---|---|',
    '| discs found with the right level | 0.81 | — |',
  ].join('\n');
  assert.deepEqual(cardHeadlines(card), [
    'kappa (linear): CNN 0.49 [0.44, 0.54]; hybrid 0.52 [0.46, 0.57]; target ≥ 0.85',
    'AUC one-vs-rest: CNN 0.80; hybrid 0.79',
    'discs found with the right level: held out 0.81',
  ]);
});

test('modelAccuracy prefers summary.json, then the card, and is empty without either', async (t) => {
  const folder = await tempFolder(t);
  assert.deepEqual(await modelAccuracy(folder), []);
  await writeFile(join(folder, 'MODEL_CARD.md'), '| m | v |\n|---|---|\n| κ | 0.5 |\n');
  assert.deepEqual(await modelAccuracy(folder), ['κ: v 0.5']);
  await writeFile(join(folder, 'summary.json'), JSON.stringify({ accuracy: ['a', 'b', 'c', 'd', 'e'] }));
  assert.deepEqual(await modelAccuracy(folder), ['a', 'b', 'c', 'd']);
});

function minimalDocument(): FindingsDocument {
  const measures = {
    discHeightAnteriorMm: 8,
    discHeightMiddleMm: 9,
    discHeightPosteriorMm: 7,
    discHeightMm: 8,
    discHeightIndex: null,
    signalIntensityRatio: 1.2,
    nucleusAnnulusContrast: null,
    endplateSignalRatio: null,
    listhesisMm: null,
    wedgeAngleDeg: null,
    discAngleDeg: 3,
  };
  const core = {
    level: 'L5/S1',
    ivdLabel: 1,
    pfirrmann: { grade: 3, probs: [0.1, 0.2, 0.4, 0.2, 0.1] },
    modic: { grade: 0, probs: [0.7, 0.1, 0.1, 0.1] },
    needsReview: true,
    measures,
    endplateUpper: 0.1,
    endplateLower: 0.2,
    spondylolisthesis: 0.05,
    herniation: 0.3,
    bulging: 0.4,
    narrowing: 0.5,
  };
  return {
    schema: FINDINGS_SCHEMA,
    version: FINDINGS_VERSION,
    createdAt: new Date(0).toISOString(),
    software: { name: 'spinegrade', version: '0.1.0' },
    disclaimer: 'Research use only.',
    credit: 'SPIDER',
    models: {
      grader: { dir: 'models/grader', variant: 'hybrid', accuracy: [] },
      localizer: { dir: 'models/localizer', variant: 'localizer', accuracy: [] },
    },
    reviewThreshold: 0.5,
    studies: [
      {
        key: 'x.mha',
        studyInstanceUid: null,
        sourceFormat: 'metaimage',
        series: [
          {
            seriesInstanceUid: null,
            seriesDescription: 't2',
            seriesNumber: null,
            sequence: 'T2',
            selection: 'usable',
            midSagittalSlice: 4,
            midSagittalSopInstanceUid: null,
            sliceSize: [100, 120],
            pixelSpacing: [0.5, 0.5],
            slicesGraded: 3,
            levelVote: { slices: 5, agreeing: 5, offsetApplied: 0 },
            levelOverride: 0,
            possibleTransitional: false,
            warnings: [],
            discs: [
              {
                ...core,
                shap: { pfirrmann: { height: 0.2 } },
                geometry: {
                  centerPx: [50, 60],
                  posteriorPx: [60, 60],
                  outlinePx: [
                    [40, 55],
                    [60, 65],
                  ],
                  centerMm: [0, 1, 2],
                  posteriorMm: [0, 6, 2],
                },
              },
            ],
            vertebrae: [{ name: 'L5', centerPx: [50, 40], outlinePx: [] }],
          },
        ],
        levels: [{ ...core, fromSeries: [0] }],
        skipped: [{ seriesInstanceUid: null, seriesDescription: 'ax', reasons: ['axial plane'] }],
      },
    ],
  };
}

test('validateFindings accepts a well-formed document and names every problem of a broken one', () => {
  const good = minimalDocument();
  assert.deepEqual(validateFindings(good), []);
  assert.equal(assertFindingsDocument(JSON.parse(findingsJson(good))).schema, FINDINGS_SCHEMA);
  const bad = JSON.parse(JSON.stringify(good));
  bad.schema = 'other';
  bad.studies[0].series[0].discs[0].pfirrmann.probs = [0.5, 0.5, 0.5, 0, 0];
  bad.studies[0].series[0].discs[0].level = 'L4/L5';
  bad.studies[0].series[0].discs[0].herniation = 2;
  delete bad.studies[0].series[0].discs[0].geometry.centerMm;
  bad.studies[0].levels[0].fromSeries = [3];
  bad.studies[0].sourceFormat = 'tiff';
  const problems = validateFindings(bad);
  for (const expected of [
    /^schema: must be "spinegrade\/findings"/,
    /^studies\[0\]\.series\[0\]\.discs\[0\]\.pfirrmann\.probs: must sum to 1/,
    /^studies\[0\]\.series\[0\]\.discs\[0\]\.level: "L4\/L5" is not the level of IVD label 1/,
    /^studies\[0\]\.series\[0\]\.discs\[0\]\.herniation: must be a probability/,
    /^studies\[0\]\.series\[0\]\.discs\[0\]\.geometry\.centerMm: must be \[x, y, z\]/,
    /^studies\[0\]\.levels\[0\]\.fromSeries: must list the indices/,
    /^studies\[0\]\.sourceFormat: must be dicom/,
  ]) {
    assert.ok(
      problems.some((p) => expected.test(p)),
      `${expected} in:\n${problems.join('\n')}`,
    );
  }
  assert.throws(() => assertFindingsDocument(bad, 'x.json'), {
    kind: 'INVALID_HEADER',
    message: /^x\.json: not a valid findings document: .* and \d+ more$/,
  });
  assert.deepEqual(validateFindings(null), ['findings: must be an object']);
});

test('--out ending in .json is a findings file; anything else a report folder', () => {
  assert.deepEqual(outputTarget('report.json'), { kind: 'file', path: 'report.json' });
  assert.deepEqual(outputTarget('out/REPORT.JSON'), { kind: 'file', path: 'out/REPORT.JSON' });
  assert.deepEqual(outputTarget('analysis'), { kind: 'folder', path: 'analysis' });
});
