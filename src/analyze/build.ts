/** Building the parts of `findings.json` from what the pipeline produced (see `report/findings.ts`). */
import { BINARY_FINDINGS } from '../disc/findings.js';
import { type DiscPrediction, fusePatients, type PredictionLine } from '../disc/predictions.js';
import type { GradedVolume } from '../grade/volume.js';
import type { VolumeLocalization } from '../localize/volume.js';
import type {
  DiscFindings,
  FusedLevelFindings,
  SeriesFindings,
  SkippedSeries,
  VertebraFindings,
} from '../report/findings.js';
import { assignAxes, type DisplaySlice } from '../volume/orientation.js';
import type { GradingSuitability } from '../volume/suitability.js';
import type { Volume } from '../volume/volume.js';

/** The findings of one graded disc. */
export function discFindings(disc: GradedVolume['discs'][number]): DiscFindings {
  const findings = {
    level: disc.level,
    ivdLabel: disc.ivdLabel,
    pfirrmann: disc.pfirrmann,
    modic: disc.modic,
    needsReview: disc.needsReview,
    measures: disc.measures,
    geometry: {
      centerPx: disc.center,
      posteriorPx: disc.posterior,
      outlinePx: disc.outline,
      centerMm: disc.centerMm,
      posteriorMm: disc.posteriorMm,
    },
  } as DiscFindings;
  for (const finding of BINARY_FINDINGS) findings[finding] = disc[finding];
  // The classical model's SHAP values and own grade, when the grader has one.
  if (disc.shap) findings.shap = disc.shap;
  if (disc.classicalPfirrmann) findings.classicalPfirrmann = disc.classicalPfirrmann;
  return findings;
}

/** Why a series was graded, in words. */
export function selectionReason(volume: Volume, verdict: GradingSuitability, position: 'first' | 'fused'): string {
  const axes = assignAxes(volume);
  const mm = (v: number): string => String(Number(v.toFixed(2)));
  const slices =
    verdict.sagittalSlices > 1
      ? `${verdict.sagittalSlices} sagittal slices ${mm(volume.spacing[axes.leftRight])} mm apart`
      : 'one sagittal slice (a picture, taken as the mid-sagittal slice)';
  const pixels = `${mm(volume.spacing[axes.anteriorPosterior])}×${mm(volume.spacing[axes.inferiorSuperior])} mm pixels`;
  const fieldOfView = `${verdict.fieldOfViewMm.map((v) => v.toFixed(0)).join('×')} mm field of view`;
  const role =
    position === 'first'
      ? `graded first (${verdict.sequence.sequence === 'T2' ? 'T2 is preferred' : 'no usable T2 series'})`
      : 'graded too, fused per level with the series before it';
  return `usable sagittal ${verdict.sequence.sequence} (${verdict.sequence.reason}); ${slices}, ${pixels}, ${fieldOfView}; ${role}`;
}

/** What a graded series adds to `findings.json`. */
export interface SeriesInput {
  volume: Volume;
  verdict: GradingSuitability;
  selection: string;
  localization: VolumeLocalization;
  slice: DisplaySlice;
  graded: GradedVolume;
  levelOverride: number;
  sopInstanceUid: string | null;
}

/** The findings of one graded series. */
export function seriesFindings(input: SeriesInput): SeriesFindings {
  const { volume, verdict, localization, slice, graded } = input;
  const meta = volume.metadata;
  const vertebrae: VertebraFindings[] = localization.slice.vertebrae.map((v) => ({
    name: v.level ?? null,
    centerPx: v.center,
    outlinePx: v.outline,
  }));
  return {
    seriesInstanceUid: meta.seriesInstanceUid ?? null,
    seriesDescription: meta.seriesDescription ?? null,
    seriesNumber: meta.seriesNumber ?? null,
    sequence: verdict.sequence.sequence,
    selection: input.selection,
    midSagittalSlice: localization.sliceIndex,
    midSagittalSopInstanceUid: input.sopInstanceUid,
    sliceSize: [slice.width, slice.height],
    pixelSpacing: [slice.pixelSpacing[0], slice.pixelSpacing[1]],
    slicesGraded: graded.slicesGraded,
    levelVote: { ...localization.levelVote },
    levelOverride: input.levelOverride,
    possibleTransitional: localization.slice.possibleTransitional,
    warnings: [...localization.slice.warnings],
    discs: graded.discs.map(discFindings),
    vertebrae,
  };
}

/** A series that was not graded. */
export function skippedSeries(volume: Volume, reasons: readonly string[]): SkippedSeries {
  return {
    seriesInstanceUid: volume.metadata.seriesInstanceUid ?? null,
    seriesDescription: volume.metadata.seriesDescription ?? null,
    reasons: [...reasons],
  };
}

/**
 * The levels of a study fused over its graded series with `fusePatients` (mean probabilities over
 * the series that found the level; review flag from the fused Pfirrmann probabilities). A fused
 * level's measures are those of the first series that found it (T2 first): signal ratios of T1 and
 * T2 measure different things and are not averaged.
 */
export function fuseLevels(series: readonly SeriesFindings[], reviewThreshold: number): FusedLevelFindings[] {
  if (series.length === 0) return [];
  const lines: PredictionLine[] = series.map((s, n) => ({
    series: String(n),
    patient: 'study',
    sequence: s.sequence,
    discs: s.discs.map((d) => {
      const prediction = {
        level: d.level,
        ivdLabel: d.ivdLabel,
        pfirrmann: d.pfirrmann,
        modic: d.modic,
        needsReview: d.needsReview,
        measures: d.measures,
      } as DiscPrediction;
      for (const finding of BINARY_FINDINGS) prediction[finding] = d[finding];
      return prediction;
    }),
  }));
  const [fused] = fusePatients(lines, reviewThreshold);
  return (fused?.discs ?? []).map((disc) => {
    const fromSeries = series.flatMap((s, n) => (s.discs.some((d) => d.ivdLabel === disc.ivdLabel) ? [n] : []));
    const first = series[fromSeries[0] as number]?.discs.find((d) => d.ivdLabel === disc.ivdLabel);
    const level = {
      level: disc.level,
      ivdLabel: disc.ivdLabel,
      pfirrmann: disc.pfirrmann,
      modic: disc.modic,
      needsReview: disc.needsReview ?? false,
      measures: first?.measures ?? (disc.measures as DiscFindings['measures']),
      fromSeries,
    } as FusedLevelFindings;
    for (const finding of BINARY_FINDINGS) level[finding] = disc[finding];
    return level;
  });
}
