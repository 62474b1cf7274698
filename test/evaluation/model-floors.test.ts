/**
 * Floors on the bundled models' committed out-of-fold results, scored here against SPIDER's own labels
 * (shipped as fixtures, so no ../shared is needed): the figures must match what the model cards claim,
 * and neither the cards nor the predictions may fall below the floors stated once in this file.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SpineDataset } from '../../src/datasets/types.js';
import { isLumbarIvdLabel } from '../../src/disc/levels.js';
import { readPredictions } from '../../src/disc/predictions.js';
import { type Evaluation, evaluatePredictions, type MetricRow } from '../../src/evaluation/score.js';
import type { GraderVariant } from '../../src/grade/grader.js';
import { distanceToPolygon } from '../../src/metrics/index.js';
import { readModelMetadata } from '../../src/models/modelJson.js';
import { DEFAULT_LOCALIZER_DIR, GRADER_MODEL_DIR } from '../../src/store/store.js';
import { VARIANT_NAMES } from '../../src/training/grader/card.js';
import { discKey, spiderGradings, spiderKeypoints } from '../helpers/spiderLabels.js';

/**
 * How far a figure recomputed from the committed predictions may differ from the card's (the card prints
 * three decimals; anything more is a card that does not describe the shipped predictions).
 */
const CARD_MARGIN = 0.005;

/**
 * Floors under the shipped models, stated once: today's out-of-fold figures (grader card of the hybrid,
 * localiser card) less about 0.03. Raise them when better models ship; never lower them to let a worse one in.
 */
const FLOORS = {
  pfirrmannLinearKappa: 0.49, // today 0.516
  pfirrmannBalancedAccuracy: 0.47, // today 0.498
  pfirrmannWithinOne: 0.83, // today 0.856
  pfirrmannMeanAbsoluteError: 0.72, // today 0.691 (a ceiling: lower is better)
  pfirrmannAucMacro: 0.77, // today 0.793
  modicAnyAuc: 0.76, // today 0.787
  herniationAuc: 0.73, // today 0.763
  narrowingAuc: 0.85, // today 0.874
  t2DiscsAtTheirLevel: 0.72, // localiser, out of fold over all five folds: today 0.749
} as const;

/** The Pfirrmann measures the floors cover, with the card's row name. */
const PFIRRMANN_MEASURES = [
  ['kappa (linear)', 'pfirrmannLinearKappa'],
  ['balanced accuracy', 'pfirrmannBalancedAccuracy'],
  ['within one grade', 'pfirrmannWithinOne'],
  ['mean absolute error', 'pfirrmannMeanAbsoluteError'],
  ['AUC one-vs-rest (macro)', 'pfirrmannAucMacro'],
] as const;

/** The binary findings the floors cover: card row name, evaluation section name, floor. */
const FINDING_MEASURES = [
  ['Modic (any vs none)', 'Modic (any vs none)', 'modicAnyAuc'],
  ['herniation', 'herniation', 'herniationAuc'],
  ['narrowing', 'narrowing', 'narrowingAuc'],
] as const;

/** The cells of the card's table row that starts with `| name |`, keyed by the table's header. */
function cardRow(card: string, name: string): Map<string, string> {
  const lines = card.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`| ${name} |`));
  assert.ok(at >= 0, `the card has a row "${name}"`);
  let header = at;
  while (header > 0 && lines[header - 1]?.startsWith('|')) header--;
  const cells = (line: string): string[] =>
    line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  const names = cells(lines[header] as string);
  const values = cells(lines[at] as string);
  return new Map(names.map((n, k) => [n, values[k] ?? '']));
}

/** The leading number of a card cell such as `0.516 [0.456, 0.569]`. */
function figure(cell: string | undefined, what: string): number {
  const value = Number.parseFloat(cell ?? '');
  assert.ok(Number.isFinite(value), `${what}: "${cell}" is not a figure`);
  return value;
}

const estimate = (rows: readonly MetricRow[], measure: string): number => {
  const row = rows.find((r) => r.measure === measure);
  assert.ok(row, `no ${measure} row`);
  return row.estimate.value;
};

async function scoreOutOfFold(): Promise<{ evaluation: Evaluation; variant: GraderVariant; card: string }> {
  const discs = await spiderGradings();
  const patients = [...new Set(discs.map((d) => d.patient))];
  const dataset: SpineDataset = {
    root: 'fixtures',
    layout: 'spider-2d',
    patients,
    series: [],
    discs,
    maskSlices: [],
    notes: [],
  };
  const lines = await readPredictions(join(GRADER_MODEL_DIR, 'out-of-fold.jsonl'));
  const evaluation = await evaluatePredictions(dataset, lines, { resamples: 1 });
  const variant = (await readModelMetadata(GRADER_MODEL_DIR)).variant as GraderVariant;
  const card = await readFile(join(GRADER_MODEL_DIR, 'MODEL_CARD.md'), 'utf8');
  return { evaluation, variant, card };
}

test("the grader's committed out-of-fold predictions score what its card claims, above the floors", async (t) => {
  const { evaluation, variant, card } = await scoreOutOfFold();
  const column = VARIANT_NAMES[variant];
  assert.match(card, new RegExp(`\\*\\*Shipped variant: ${column}\\*\\*`));
  const fused = evaluation.pfirrmannFused;
  assert.equal(fused.patients, 179, 'every patient of the training split is predicted out of fold');
  assert.equal(fused.discs, 895);
  assert.match(
    card,
    new RegExp(
      `out of fold \\(${fused.discs} discs, ${fused.patients} patients; missed discs scored as wrong: ${fused.missed}\\)`,
    ),
  );
  for (const [measure, floorName] of PFIRRMANN_MEASURES) {
    const value = estimate(fused.rows, measure);
    const claimed = figure(cardRow(card, measure).get(column), `card ${measure}`);
    const floor = FLOORS[floorName];
    assert.ok(Math.abs(value - claimed) <= CARD_MARGIN, `${measure} ${value.toFixed(3)} vs the card's ${claimed}`);
    t.diagnostic(`${measure}: ${value.toFixed(4)} (card ${claimed}, floor ${floor})`);
    if (measure === 'mean absolute error') {
      assert.ok(claimed <= floor && value <= floor, `${measure} ${value.toFixed(3)} above the ceiling ${floor}`);
    } else {
      assert.ok(claimed >= floor && value >= floor, `${measure} ${value.toFixed(3)} below the floor ${floor}`);
    }
  }
  for (const [cardName, section, floorName] of FINDING_MEASURES) {
    const scored =
      section === 'Modic (any vs none)'
        ? evaluation.modicAnyFused
        : evaluation.binaryFused.find((b) => b.finding === section);
    assert.ok(scored, section);
    const value = estimate(scored.rows, 'AUC');
    const claimed = figure(cardRow(card, cardName).get(column), `card ${cardName}`);
    t.diagnostic(`${cardName} AUC: ${value.toFixed(4)} (card ${claimed}, floor ${FLOORS[floorName]})`);
    assert.ok(Math.abs(value - claimed) <= CARD_MARGIN, `${cardName} AUC ${value.toFixed(3)} vs the card's ${claimed}`);
    assert.ok(
      claimed >= FLOORS[floorName] && value >= FLOORS[floorName],
      `${cardName} AUC ${value.toFixed(3)} below ${FLOORS[floorName]}`,
    );
  }
});

test('the out-of-fold grades beat a per-level prior fitted on the other folds by a clear margin', async (t) => {
  // SPIDER's mean grade falls by level (L5/S1 worst): a grader that ignored the image and graded by level
  // would still order the levels. Here each patient's per-level prior comes from the other patients.
  const discs = (await spiderGradings()).filter((d) => isLumbarIvdLabel(d.ivdLabel) && d.pfirrmann !== undefined);
  const lines = await readPredictions(join(GRADER_MODEL_DIR, 'out-of-fold.jsonl'));
  const predicted = new Map<string, number>();
  for (const line of lines)
    if (line.series === null)
      for (const d of line.discs) predicted.set(discKey(line.patient, d.ivdLabel), d.pfirrmann.grade);
  const { cohenKappa } = await import('../../src/metrics/index.js');
  const truth: number[] = [];
  const model: number[] = [];
  const prior: number[] = [];
  for (const disc of discs) {
    const others = discs.filter((d) => d.ivdLabel === disc.ivdLabel && d.patient !== disc.patient);
    const counts = [1, 2, 3, 4, 5].map((g) => others.filter((d) => d.pfirrmann === g).length);
    truth.push(disc.pfirrmann as number);
    prior.push(counts.indexOf(Math.max(...counts)) + 1);
    model.push(predicted.get(discKey(disc.patient, disc.ivdLabel)) ?? (disc.pfirrmann === 1 ? 5 : 1));
  }
  const grades = [1, 2, 3, 4, 5];
  const modelKappa = cohenKappa(truth, model, grades, 'linear');
  const priorKappa = cohenKappa(truth, prior, grades, 'linear');
  t.diagnostic(`linear κ: model ${modelKappa.toFixed(4)}, per-level prior ${priorKappa.toFixed(4)}`);
  assert.ok(
    modelKappa > priorKappa + 0.2,
    `model κ ${modelKappa.toFixed(3)} vs per-level prior κ ${priorKappa.toFixed(3)}`,
  );
});

test("the localisers' out-of-fold outlines find the T2 keypoints at their level as the localiser's card and cross-validation say", async (t) => {
  const keypoints = await spiderKeypoints();
  const lines = await readPredictions(join(GRADER_MODEL_DIR, 'out-of-fold.jsonl'));
  const outlines = new Map<string, readonly (readonly [number, number])[]>();
  for (const line of lines)
    if (line.series !== null)
      for (const d of line.discs) if (d.outline) outlines.set(discKey(line.series, d.ivdLabel), d.outline);
  let found = 0;
  for (const k of keypoints) {
    const outline = outlines.get(discKey(k.series, k.ivdLabel));
    if (outline && outline.length >= 3 && distanceToPolygon([k.x, k.y], outline, k.spacing) <= 3) found++;
  }
  const rate = found / keypoints.length;
  t.diagnostic(`${found} of ${keypoints.length} keypoints at their level (${rate.toFixed(4)})`);
  const crossValidation = JSON.parse(await readFile(join(DEFAULT_LOCALIZER_DIR, 'cross-validation.json'), 'utf8'));
  const claimed = crossValidation.evaluation.localisation;
  assert.equal(keypoints.length, claimed.keypoints);
  const card = await readFile(join(DEFAULT_LOCALIZER_DIR, 'MODEL_CARD.md'), 'utf8');
  const cardRate = figure(
    cardRow(card, 'lumbar T2 discs found with the right level (keypoint ≤ 3 mm from the outline)').get(
      'out of fold (all patients)',
    ),
    'localiser card',
  );
  const claimedRate = claimed.found / claimed.keypoints;
  assert.ok(
    Math.abs(rate - claimedRate) <= CARD_MARGIN,
    `${found} of ${keypoints.length} found in the grader's out-of-fold.jsonl, ${claimed.found} in the localiser's cross-validation.json: were they made with the same localisers?`,
  );
  assert.ok(Math.abs(claimedRate - cardRate) <= CARD_MARGIN, `${rate.toFixed(3)} vs the card's ${cardRate}`);
  assert.ok(
    rate >= FLOORS.t2DiscsAtTheirLevel && cardRate >= FLOORS.t2DiscsAtTheirLevel,
    `${rate.toFixed(3)} below the floor`,
  );
});
