/**
 * Scoring level predictions against disc keypoints (out of fold): per keypoint, whether the nearest
 * predicted level point lies within 10 mm and carries the keypoint's level; per series, whether every
 * level is right; with 95% bootstrap CIs over patients, and an error taxonomy of the series that are
 * not fully right, so the next change can be judged by what it fixes.
 */
import { levelOfIvdLabel } from '../../disc/levels.js';
import { bootstrapCi, groupByPatient } from '../../metrics/bootstrap.js';
import type { LevelPrediction } from './levelTrain.js';

/** The distance within which a level point counts as on the keypoint's disc, mm. */
export const LEVEL_TOLERANCE_MM = 10;

/** What became of one reference keypoint. */
export interface KeypointOutcome {
  readonly patient: string;
  readonly series: string;
  readonly ivdLabel: number;
  /** The nearest level point is within the tolerance and carries the keypoint's level. */
  readonly correct: boolean;
  /** Some level point with the keypoint's level lies within the tolerance (nearest or not). */
  readonly rightLevelNear: boolean;
  /** The nearest level point within the tolerance carries a level one above or below. */
  readonly offByOne: boolean;
  /** Predicted minus true IVD label of the nearest point within the tolerance; null when none is within it. */
  readonly offset: number | null;
  /** Distance to the level point of the keypoint's level, mm (NaN when that level was not predicted). */
  readonly errorMm: number;
}

/** The error classes of a series whose levels are not all right. */
export const LEVEL_ERROR_CLASSES = [
  'ladder named one level too high (a sacral/transitional disc counted as L5/S1)',
  'ladder named one level too low (L5/S1 not counted)',
  'skipped or doubled disc (ladder partly shifted)',
  'L5/S1 missed',
  'top levels missed',
  'point off its disc (> 10 mm), levels otherwise right',
  'other',
] as const;

/** One of {@link LEVEL_ERROR_CLASSES}. */
export type LevelErrorClass = (typeof LEVEL_ERROR_CLASSES)[number];

/** The outcome of every lumbar keypoint of one prediction. */
export function keypointOutcomes(prediction: LevelPrediction, toleranceMm = LEVEL_TOLERANCE_MM): KeypointOutcome[] {
  const mm = prediction.mmPerPixel;
  return prediction.keypoints.map((keypoint) => {
    let nearest: { ivdLabel: number; distance: number } | undefined;
    let errorMm = Number.NaN;
    for (const point of prediction.points) {
      const distance = Math.hypot(point.x - keypoint.x, point.y - keypoint.y) * mm;
      if (!nearest || distance < nearest.distance) nearest = { ivdLabel: point.ivdLabel, distance };
      if (point.ivdLabel === keypoint.ivdLabel) errorMm = distance;
    }
    const near = nearest !== undefined && nearest.distance <= toleranceMm;
    const offset = near ? (nearest as { ivdLabel: number }).ivdLabel - keypoint.ivdLabel : null;
    return {
      patient: prediction.patient,
      series: prediction.series,
      ivdLabel: keypoint.ivdLabel,
      correct: offset === 0,
      rightLevelNear: errorMm <= toleranceMm,
      offByOne: offset !== null && Math.abs(offset) === 1,
      offset,
      errorMm,
    };
  });
}

/**
 * The error class of a series from its keypoints' outcomes, or undefined when every level is right.
 * A ladder shift: every keypoint with a point near it is off by the same nonzero offset.
 */
export function classifySeriesError(outcomes: readonly KeypointOutcome[]): LevelErrorClass | undefined {
  if (outcomes.every((o) => o.correct)) return undefined;
  const matched = outcomes.filter((o) => o.offset !== null);
  const offsets = new Set(matched.map((o) => o.offset as number));
  const unmatched = outcomes.filter((o) => o.offset === null).map((o) => o.ivdLabel);
  if (matched.length > 0 && !offsets.has(0) && offsets.size === 1) {
    const [offset] = [...offsets] as [number];
    if (offset > 0) return LEVEL_ERROR_CLASSES[0];
    if (offset < 0) return LEVEL_ERROR_CLASSES[1];
  }
  if (offsets.has(0) && [...offsets].some((o) => o !== 0)) return LEVEL_ERROR_CLASSES[2];
  if (offsets.size <= 1 && (offsets.size === 0 || offsets.has(0))) {
    if (unmatched.length === 1 && unmatched[0] === 1) return LEVEL_ERROR_CLASSES[3];
    const top = Math.max(...outcomes.map((o) => o.ivdLabel));
    const fromTop = [...unmatched].sort((a, b) => b - a).every((label, n) => label === top - n);
    if (unmatched.length > 0 && fromTop && !unmatched.includes(1)) return LEVEL_ERROR_CLASSES[4];
    return LEVEL_ERROR_CLASSES[5];
  }
  return LEVEL_ERROR_CLASSES[6];
}

/** A rate with its 95% bootstrap CI over patients. */
export interface RateWithCi {
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  /** Items (keypoints or series) it is computed over. */
  readonly n: number;
  readonly patients: number;
}

/** The mean of `value` over items with its 95% bootstrap CI over patients. */
export function rateWithCi<T extends { patient: string }>(
  items: readonly T[],
  value: (item: T) => number,
  resamples: number,
): RateWithCi {
  const groups = groupByPatient(items);
  const mean = (xs: T[]): number => (xs.length ? xs.reduce((s, x) => s + value(x), 0) / xs.length : Number.NaN);
  if (items.length === 0) return { estimate: Number.NaN, lower: Number.NaN, upper: Number.NaN, n: 0, patients: 0 };
  const ci = bootstrapCi(groups, mean, { resamples });
  return { estimate: ci.estimate, lower: ci.lower, upper: ci.upper, n: items.length, patients: groups.length };
}

/** The figures of one group of predictions (T2 with own keypoints, or T1 with carried ones). */
export interface LevelFigures {
  /** Nearest level point within 10 mm carries the keypoint's level. */
  readonly nearestRightWithin10Mm: RateWithCi;
  /** The point of the keypoint's level lies within 10 mm. */
  readonly rightLevelWithin10Mm: RateWithCi;
  /** The nearest point within 10 mm is one level off. */
  readonly offByOne: RateWithCi;
  /** Series whose every lumbar keypoint is right. */
  readonly seriesFullyRight: RateWithCi;
  /** Median distance from a keypoint to the point of its level, mm (where predicted). */
  readonly medianErrorMm: number;
  /** Nearest-right rate per level, L1/L2 … L5/S1. */
  readonly perLevel: Record<string, number>;
  /** Series not fully right, by error class. */
  readonly taxonomy: Record<LevelErrorClass, number>;
  /** The series not fully right, with their class (to look at). */
  readonly failures: { series: string; errorClass: LevelErrorClass; offsets: (number | null)[] }[];
}

function figuresOf(predictions: readonly LevelPrediction[], resamples: number): LevelFigures {
  const outcomes = predictions.flatMap((p) => keypointOutcomes(p));
  const series = predictions.map((p) => {
    const own = keypointOutcomes(p);
    return { patient: p.patient, series: p.series, own, errorClass: classifySeriesError(own) };
  });
  const taxonomy = Object.fromEntries(LEVEL_ERROR_CLASSES.map((c) => [c, 0])) as Record<LevelErrorClass, number>;
  for (const s of series) if (s.errorClass) taxonomy[s.errorClass]++;
  const errors = outcomes
    .map((o) => o.errorMm)
    .filter((e) => Number.isFinite(e))
    .sort((a, b) => a - b);
  const perLevel: Record<string, number> = {};
  for (let label = 5; label >= 1; label--) {
    const at = outcomes.filter((o) => o.ivdLabel === label);
    perLevel[levelOfIvdLabel(label)] = at.length ? at.filter((o) => o.correct).length / at.length : Number.NaN;
  }
  return {
    nearestRightWithin10Mm: rateWithCi(outcomes, (o) => (o.correct ? 1 : 0), resamples),
    rightLevelWithin10Mm: rateWithCi(outcomes, (o) => (o.rightLevelNear ? 1 : 0), resamples),
    offByOne: rateWithCi(outcomes, (o) => (o.offByOne ? 1 : 0), resamples),
    seriesFullyRight: rateWithCi(series, (s) => (s.errorClass === undefined ? 1 : 0), resamples),
    medianErrorMm: errors.length ? (errors[Math.floor((errors.length - 1) / 2)] as number) : Number.NaN,
    perLevel,
    taxonomy,
    failures: series
      .filter((s) => s.errorClass !== undefined)
      .map((s) => ({
        series: s.series,
        errorClass: s.errorClass as LevelErrorClass,
        offsets: s.own.map((o) => o.offset),
      })),
  };
}

/** Figures of out-of-fold level predictions: T2 (own keypoints) and T1 (carried T2 keypoints), with a one-line summary. */
export function scoreLevelPredictions(
  predictions: readonly LevelPrediction[],
  options: { resamples?: number } = {},
): { t2: LevelFigures; t1: LevelFigures; summary: Record<string, number> } {
  const resamples = options.resamples ?? 2000;
  const t2 = figuresOf(
    predictions.filter((p) => p.keypointSource === 'own'),
    resamples,
  );
  const t1 = figuresOf(
    predictions.filter((p) => p.keypointSource === 'carried'),
    resamples,
  );
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    t2,
    t1,
    summary: {
      t2NearestRightWithin10Mm: round(t2.nearestRightWithin10Mm.estimate),
      t2SeriesFullyRight: round(t2.seriesFullyRight.estimate),
      t2OffByOne: round(t2.offByOne.estimate),
      t1NearestRightWithin10Mm: round(t1.nearestRightWithin10Mm.estimate),
      t1SeriesFullyRight: round(t1.seriesFullyRight.estimate),
      t2Keypoints: t2.nearestRightWithin10Mm.n,
      t1Keypoints: t1.nearestRightWithin10Mm.n,
    },
  };
}
