/**
 * Scores predictions against a dataset's labels. Every figure comes with a 95% bootstrap interval
 * over patients. A disc the predictions miss is scored as the most wrong answer given with full
 * confidence (never skipped): Pfirrmann → the grade farthest from the truth, Modic → 3 for 0 and 0
 * otherwise, a binary finding → probability 1 − truth.
 */

import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { carryKeypoints } from '../datasets/keypoints.js';
import { MASK_VALUES, type MaskSliceRecord, type SpineDataset } from '../datasets/types.js';
import { BINARY_FINDINGS, type BinaryFinding } from '../disc/findings.js';
import { isLumbarIvdLabel } from '../disc/levels.js';
import {
  argmax,
  type DiscPrediction,
  MODIC_TYPES,
  PFIRRMANN_GRADES,
  type PredictionLine,
} from '../disc/predictions.js';
import { readPicture } from '../io/png.js';
import {
  accuracy,
  balancedAccuracy,
  binaryCalibration,
  bootstrapCi,
  brierScore,
  cohenKappa,
  confusionMatrix,
  dice,
  distanceToPolygon,
  expectedCalibrationError,
  groupByPatient,
  linsCcc,
  meanAbsoluteError,
  multiclassBrierScore,
  rocAuc,
  rocAucOneVsRest,
  withinOneRate,
} from '../metrics/index.js';

/** A figure with its 95% bootstrap interval over patients. */
export interface Estimate {
  value: number;
  lower: number;
  upper: number;
}

/** One row of a results table. */
export interface MetricRow {
  measure: string;
  estimate: Estimate;
  /** True when larger is better (false for errors such as MAE, Brier, ECE). */
  higherIsBetter: boolean;
}

/** One scored item of a graded (multi-class) finding. */
export interface GradedItem {
  patient: string;
  truth: number;
  predicted: number;
  probs: number[];
  missed: boolean;
}

/** One scored item of a binary finding. */
export interface BinaryItem {
  patient: string;
  truth: number;
  probability: number;
  missed: boolean;
}

/** Scores of a graded finding. */
export interface GradedSection {
  discs: number;
  patients: number;
  missed: number;
  rows: MetricRow[];
  classes: number[];
  /** Rows = truth, columns = prediction. */
  confusion: number[][];
  reliability: ReturnType<typeof expectedCalibrationError>['bins'];
}

/** Scores of a binary finding. */
export interface BinarySection {
  finding: string;
  discs: number;
  patients: number;
  positives: number;
  missed: number;
  rows: MetricRow[];
  reliability: ReturnType<typeof binaryCalibration>['bins'];
}

/** Localisation: keypoints within 3 mm of the predicted outline of the disc with that level. */
export interface LocalisationSection {
  keypoints: number;
  patients: number;
  found: number;
  toleranceMm: number;
  /**
   * T1 series checked against the same patient's T2 keypoints, carried over by physical position where
   * the two fields of view match (the T1 row of `rows`); series with another field of view are counted.
   */
  t1: { keypoints: number; patients: number; found: number; seriesWithOtherFieldOfView: number };
  rows: MetricRow[];
}

/** Dice per mask class over the reference mask slices. */
export interface DiceSection {
  slices: number;
  patients: number;
  missingPredictions: number;
  rows: MetricRow[];
}

/** Mean quantitative measures of the series discs with each reference Pfirrmann grade (a plausibility check). */
export interface MeasuresByGrade {
  grade: number;
  /** Series discs with measures at this grade. */
  discs: number;
  discHeightMm: number | null;
  discHeightIndex: number | null;
  /** On T2 series only (the ratio is defined on T2). */
  signalIntensityRatioT2: number | null;
}

/** Everything `evaluate` reports. */
export interface Evaluation {
  pfirrmannFused: GradedSection;
  pfirrmannPerSeries: GradedSection;
  pfirrmannPerSequence: Record<string, GradedSection>;
  modicFused: GradedSection;
  modicAnyFused: BinarySection;
  binaryFused: BinarySection[];
  localisation: LocalisationSection | null;
  dice: DiceSection | null;
  /** Present when the predictions carry disc measures. */
  measuresByGrade: MeasuresByGrade[] | null;
  /** Notes on what was left out and why. */
  notes: string[];
}

/** Options for {@link evaluatePredictions}. */
export interface ScoreOptions {
  /** Bootstrap resamples (default 2000). */
  resamples?: number;
  seed?: number;
  /** Folder of predicted mask PNGs named like the dataset's mask slices. */
  masksDir?: string;
  /** Predicts the semantic mask (0/29/76/150) of a mask slice, when no folder of masks is given. */
  predictMask?: (slice: MaskSliceRecord) => Promise<Uint8Array>;
  /** Localisation tolerance in mm (default 3). */
  toleranceMm?: number;
}

const PFIRRMANN: readonly number[] = PFIRRMANN_GRADES;
const MODIC: readonly number[] = MODIC_TYPES;

function farthest(truth: number, classes: readonly number[]): number {
  const first = classes[0] as number;
  const last = classes[classes.length - 1] as number;
  return Math.abs(truth - first) >= Math.abs(truth - last) ? first : last;
}

function gradedItem(
  patient: string,
  truth: number,
  found: { probs: number[] } | undefined,
  classes: readonly number[],
): GradedItem {
  if (found)
    return { patient, truth, predicted: classes[argmax(found.probs)] as number, probs: found.probs, missed: false };
  const worst = farthest(truth, classes);
  return { patient, truth, predicted: worst, probs: classes.map((c) => (c === worst ? 1 : 0)), missed: true };
}

function binaryItem(patient: string, truth: number, probability: number | undefined): BinaryItem {
  return probability === undefined
    ? { patient, truth, probability: 1 - truth, missed: true }
    : { patient, truth, probability, missed: false };
}

function row<T extends { patient: string }>(
  measure: string,
  items: readonly T[],
  statistic: (items: T[]) => number,
  options: ScoreOptions,
  higherIsBetter = true,
): MetricRow {
  if (items.length === 0)
    return { measure, estimate: { value: Number.NaN, lower: Number.NaN, upper: Number.NaN }, higherIsBetter };
  const ci = bootstrapCi(groupByPatient(items), statistic, {
    resamples: options.resamples ?? 2000,
    seed: options.seed ?? 20261127,
  });
  return { measure, estimate: { value: ci.estimate, lower: ci.lower, upper: ci.upper }, higherIsBetter };
}

/** Scores a graded finding (Pfirrmann or Modic) over its items. */
export function scoreGraded(
  items: readonly GradedItem[],
  classes: readonly number[],
  options: ScoreOptions,
): GradedSection {
  const t = (xs: GradedItem[]): number[] => xs.map((x) => x.truth);
  const p = (xs: GradedItem[]): number[] => xs.map((x) => x.predicted);
  const rows: MetricRow[] = [
    row('kappa (linear)', items, (xs) => cohenKappa(t(xs), p(xs), classes, 'linear'), options),
    row('kappa (quadratic)', items, (xs) => cohenKappa(t(xs), p(xs), classes, 'quadratic'), options),
    row('kappa (unweighted)', items, (xs) => cohenKappa(t(xs), p(xs), classes, 'none'), options),
    row('balanced accuracy', items, (xs) => balancedAccuracy(t(xs), p(xs), classes), options),
    row('accuracy', items, (xs) => accuracy(t(xs), p(xs)), options),
    row('within one grade', items, (xs) => withinOneRate(t(xs), p(xs)), options),
    row('mean absolute error', items, (xs) => meanAbsoluteError(t(xs), p(xs)), options, false),
    row('Lin CCC', items, (xs) => linsCcc(t(xs), p(xs)), options),
    row(
      'AUC one-vs-rest (macro)',
      items,
      (xs) =>
        rocAucOneVsRest(
          t(xs),
          xs.map((x) => x.probs),
          classes,
        ).macro,
      options,
    ),
    row(
      'Brier score',
      items,
      (xs) =>
        multiclassBrierScore(
          t(xs),
          xs.map((x) => x.probs),
          classes,
        ),
      options,
      false,
    ),
    row(
      'ECE (10 bins)',
      items,
      (xs) =>
        expectedCalibrationError(
          t(xs),
          xs.map((x) => x.probs),
          classes,
        ).ece,
      options,
      false,
    ),
  ];
  const all = [...items];
  return {
    discs: items.length,
    patients: groupByPatient(items).length,
    missed: items.filter((x) => x.missed).length,
    rows,
    classes: [...classes],
    confusion: all.length ? confusionMatrix(t(all), p(all), classes) : classes.map(() => classes.map(() => 0)),
    reliability: all.length
      ? expectedCalibrationError(
          t(all),
          all.map((x) => x.probs),
          classes,
        ).bins
      : [],
  };
}

/** Scores a binary finding over its items. */
export function scoreBinary(finding: string, items: readonly BinaryItem[], options: ScoreOptions): BinarySection {
  const labels = (xs: BinaryItem[]): number[] => xs.map((x) => x.truth);
  const probs = (xs: BinaryItem[]): number[] => xs.map((x) => x.probability);
  const calls = (xs: BinaryItem[]): number[] => xs.map((x) => (x.probability >= 0.5 ? 1 : 0));
  const all = [...items];
  return {
    finding,
    discs: items.length,
    patients: groupByPatient(items).length,
    positives: items.filter((x) => x.truth === 1).length,
    missed: items.filter((x) => x.missed).length,
    rows: [
      row('AUC', items, (xs) => rocAuc(labels(xs), probs(xs)), options),
      row('balanced accuracy (p >= 0.5)', items, (xs) => balancedAccuracy(labels(xs), calls(xs), [0, 1]), options),
      row('Brier score', items, (xs) => brierScore(labels(xs), probs(xs)), options, false),
    ],
    reliability: all.length ? binaryCalibration(labels(all), probs(all)).bins : [],
  };
}

type DiscLookup = Map<string, DiscPrediction>;
const key = (owner: string, ivdLabel: number): string => `${owner}\u0000${ivdLabel}`;

/** Scores predictions against a dataset: fused and per-series Pfirrmann, other findings, localisation, Dice. */
export async function evaluatePredictions(
  dataset: SpineDataset,
  lines: readonly PredictionLine[],
  options: ScoreOptions = {},
): Promise<Evaluation> {
  const notes: string[] = [];
  const fused: DiscLookup = new Map();
  const perSeries: DiscLookup = new Map();
  for (const line of lines) {
    for (const disc of line.discs) {
      if (line.series === null) fused.set(key(line.patient, disc.ivdLabel), disc);
      else perSeries.set(key(line.series, disc.ivdLabel), disc);
    }
  }
  const labels = dataset.discs.filter((d) => isLumbarIvdLabel(d.ivdLabel));
  const skipped = dataset.discs.length - labels.length;
  if (skipped > 0)
    notes.push(`${skipped} graded discs outside L1/L2-L5/S1 (thoracic or below L5/S1) are not scored here`);

  const pfirrmannFusedItems = labels
    .filter((d) => d.pfirrmann !== undefined)
    .map((d) => gradedItem(d.patient, d.pfirrmann!, fused.get(key(d.patient, d.ivdLabel))?.pfirrmann, PFIRRMANN));
  const modicItems = labels
    .filter((d) => d.modic !== undefined)
    .map((d) => gradedItem(d.patient, d.modic!, fused.get(key(d.patient, d.ivdLabel))?.modic, MODIC));
  const modicAny = labels
    .filter((d) => d.modic !== undefined)
    .map((d) => {
      const probs = fused.get(key(d.patient, d.ivdLabel))?.modic.probs;
      return binaryItem(d.patient, d.modic! > 0 ? 1 : 0, probs ? 1 - (probs[0] as number) : undefined);
    });
  const binaryFused = BINARY_FINDINGS.map((finding: BinaryFinding) =>
    scoreBinary(
      finding,
      labels
        .filter((d) => d[finding] !== undefined)
        .map((d) => binaryItem(d.patient, d[finding]!, fused.get(key(d.patient, d.ivdLabel))?.[finding])),
      options,
    ),
  );

  const labelsByPatient = new Map<string, typeof labels>();
  for (const d of labels) labelsByPatient.set(d.patient, [...(labelsByPatient.get(d.patient) ?? []), d]);
  const perSeriesItems: (GradedItem & { sequence: string })[] = [];
  for (const series of dataset.series) {
    for (const d of labelsByPatient.get(series.patient) ?? []) {
      if (d.pfirrmann === undefined) continue;
      const item = gradedItem(
        series.patient,
        d.pfirrmann,
        perSeries.get(key(series.id, d.ivdLabel))?.pfirrmann,
        PFIRRMANN,
      );
      perSeriesItems.push({ ...item, sequence: series.sequence });
    }
  }
  const pfirrmannPerSequence: Record<string, GradedSection> = {};
  for (const sequence of [...new Set(perSeriesItems.map((x) => x.sequence))].sort()) {
    pfirrmannPerSequence[sequence] = scoreGraded(
      perSeriesItems.filter((x) => x.sequence === sequence),
      PFIRRMANN,
      options,
    );
  }

  return {
    pfirrmannFused: scoreGraded(pfirrmannFusedItems, PFIRRMANN, options),
    pfirrmannPerSeries: scoreGraded(perSeriesItems, PFIRRMANN, options),
    pfirrmannPerSequence,
    modicFused: scoreGraded(modicItems, MODIC, options),
    modicAnyFused: scoreBinary('Modic (any vs none)', modicAny, options),
    binaryFused,
    localisation: await scoreLocalisation(
      dataset,
      perSeries,
      new Set(lines.flatMap((l) => (l.series === null ? [] : [l.series]))),
      options,
    ),
    dice: await scoreDice(dataset, options, notes),
    measuresByGrade: measuresByGrade(dataset, lines),
    notes,
  };
}

/** Whether a keypoint lies within the tolerance of the predicted outline of the disc with its level. */
function keypointFound(
  outline: readonly (readonly [number, number])[] | undefined,
  point: readonly [number, number],
  spacing: readonly [number, number],
  toleranceMm: number,
): boolean {
  if (!outline || outline.length < 3) return false;
  return distanceToPolygon([point[0], point[1]], outline, [spacing[0], spacing[1]]) <= toleranceMm;
}

async function scoreLocalisation(
  dataset: SpineDataset,
  perSeries: DiscLookup,
  predictedSeries: ReadonlySet<string>,
  options: ScoreOptions,
): Promise<LocalisationSection | null> {
  const tolerance = options.toleranceMm ?? 3;
  const items: { patient: string; found: number }[] = [];
  const t1Items: { patient: string; found: number }[] = [];
  let t1Unmatched = 0;
  for (const series of dataset.series) {
    const keypoints = series.keypoints.filter((k) => isLumbarIvdLabel(k.ivdLabel));
    if (keypoints.length === 0) continue;
    const image = await series.loadMidSagittal();
    for (const keypoint of keypoints) {
      const outline = perSeries.get(key(series.id, keypoint.ivdLabel))?.outline;
      const found = keypointFound(outline, [keypoint.x, keypoint.y], image.pixelSpacing, tolerance);
      items.push({ patient: series.patient, found: found ? 1 : 0 });
    }
    // T1 of the same patient: the T2 keypoints carried over by physical position when the fields of view match.
    for (const t1 of dataset.series.filter((s) => s.patient === series.patient && s.sequence === 'T1')) {
      if (series.sequence !== 'T2' || t1.keypoints.length > 0) continue;
      if (!predictedSeries.has(t1.id)) continue;
      const t1Image = await t1.loadMidSagittal();
      const carried = carryKeypoints(keypoints, image, t1Image);
      if (!carried) {
        t1Unmatched++;
        continue;
      }
      for (const keypoint of carried) {
        const point: [number, number] = [keypoint.x, keypoint.y];
        const outline = perSeries.get(key(t1.id, keypoint.ivdLabel))?.outline;
        const found = keypointFound(outline, point, t1Image.pixelSpacing, tolerance);
        t1Items.push({ patient: series.patient, found: found ? 1 : 0 });
      }
    }
  }
  if (items.length === 0) return null;
  const rate = (xs: { found: number }[]): number => xs.reduce((s, x) => s + x.found, 0) / xs.length;
  const rows = [row(`T2 discs found at the right level (<= ${tolerance} mm)`, items, rate, options)];
  if (t1Items.length > 0) rows.push(row(`T1 discs at the T2 level (<= ${tolerance} mm)`, t1Items, rate, options));
  return {
    keypoints: items.length,
    patients: groupByPatient(items).length,
    found: items.reduce((s, x) => s + x.found, 0),
    toleranceMm: tolerance,
    t1: {
      keypoints: t1Items.length,
      patients: groupByPatient(t1Items).length,
      found: t1Items.reduce((s, x) => s + x.found, 0),
      seriesWithOtherFieldOfView: t1Unmatched,
    },
    rows,
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function scoreDice(dataset: SpineDataset, options: ScoreOptions, notes: string[]): Promise<DiceSection | null> {
  if (dataset.maskSlices.length === 0) return null;
  if (!options.masksDir && !options.predictMask) {
    notes.push(
      'Dice not scored: no predicted masks (pass --masks <dir>, e.g. from predict --masks-out, or use a localiser)',
    );
    return null;
  }
  const items: { patient: string; disc: number; vertebra: number; canal: number }[] = [];
  let missing = 0;
  for (const slice of dataset.maskSlices) {
    const truth = await slice.loadMask();
    const path = options.masksDir === undefined ? undefined : join(options.masksDir, slice.id);
    let predicted: ArrayLike<number>;
    if (path === undefined && options.predictMask) {
      predicted = await options.predictMask(slice);
    } else if (path !== undefined && (await exists(path))) {
      predicted = (await readPicture(path)).voxels;
    } else {
      missing++;
      predicted = new Uint8Array(truth.length);
    }
    items.push({
      patient: slice.patient,
      disc: dice(truth, predicted, MASK_VALUES.disc),
      vertebra: dice(truth, predicted, MASK_VALUES.vertebra),
      canal: dice(truth, predicted, MASK_VALUES.canal),
    });
  }
  if (missing > 0) notes.push(`${missing} mask slices had no predicted mask and score Dice 0`);
  const mean =
    (pick: (x: (typeof items)[number]) => number) =>
    (xs: typeof items): number =>
      xs.reduce((s, x) => s + pick(x), 0) / xs.length;
  return {
    slices: items.length,
    patients: groupByPatient(items).length,
    missingPredictions: missing,
    rows: [
      row(
        'Dice disc',
        items,
        mean((x) => x.disc),
        options,
      ),
      row(
        'Dice vertebra',
        items,
        mean((x) => x.vertebra),
        options,
      ),
      row(
        'Dice spinal canal',
        items,
        mean((x) => x.canal),
        options,
      ),
    ],
  };
}

/** Mean disc measures per reference Pfirrmann grade over the series discs (lumbar levels); null without measures. */
function measuresByGrade(dataset: SpineDataset, lines: readonly PredictionLine[]): MeasuresByGrade[] | null {
  const gradeOf = new Map(
    dataset.discs
      .filter((d) => d.pfirrmann !== undefined)
      .map((d) => [key(d.patient, d.ivdLabel), d.pfirrmann as number]),
  );
  const byGrade = new Map<number, { height: number[]; index: number[]; ratio: number[]; discs: number }>();
  for (const line of lines) {
    if (line.series === null) continue;
    for (const disc of line.discs) {
      const grade = gradeOf.get(key(line.patient, disc.ivdLabel));
      if (!disc.measures || grade === undefined || !isLumbarIvdLabel(disc.ivdLabel)) continue;
      const entry = byGrade.get(grade) ?? { height: [], index: [], ratio: [], discs: 0 };
      byGrade.set(grade, entry);
      entry.discs++;
      entry.height.push(disc.measures.discHeightMm);
      if (disc.measures.discHeightIndex !== null) entry.index.push(disc.measures.discHeightIndex);
      if (line.sequence === 'T2' && disc.measures.signalIntensityRatio !== null)
        entry.ratio.push(disc.measures.signalIntensityRatio);
    }
  }
  if (byGrade.size === 0) return null;
  const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);
  return [...byGrade.entries()]
    .sort(([a], [b]) => a - b)
    .map(([grade, e]) => ({
      grade,
      discs: e.discs,
      discHeightMm: mean(e.height),
      discHeightIndex: mean(e.index),
      signalIntensityRatioT2: mean(e.ratio),
    }));
}
