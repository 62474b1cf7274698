/**
 * Localising a 3D sagittal series: the mid-sagittal slice is chosen by the spinal canal (the slice
 * among the central ones where the localiser sees the most canal), its levels are reconciled with the
 * neighbouring slices' (a majority vote on the level offset), and every disc is also reported in
 * physical (LPS, mm) coordinates.
 */
import { levelOfIvdLabel, vertebraAboveDisc } from '../disc/levels.js';
import { extractSagittalSlice, midSagittalIndex, sagittalAxis } from '../volume/orientation.js';
import type { Vec3, Volume } from '../volume/volume.js';
import { type ImageLocalization, type Localizer, localizeImages } from './localizer.js';

/** A disc in physical coordinates. */
export interface PhysicalDisc {
  level: string;
  ivdLabel: number;
  /** LPS mm of the disc centre and posterior point. */
  centerMm: Vec3;
  posteriorMm: Vec3;
}

/** The localisation of a volume on its chosen mid-sagittal slice. */
export interface VolumeLocalization {
  /** Index of the chosen slice along the sagittal axis. */
  sliceIndex: number;
  /** Canal pixels seen on each candidate slice, by slice index. */
  canalPixels: Record<number, number>;
  /** The slice localisation (pixel coordinates of the display slice), levels reconciled. */
  slice: ImageLocalization;
  discs: PhysicalDisc[];
  /** How the neighbouring slices voted on the chosen slice's levels. */
  levelVote: LevelVote;
}

/** The neighbouring slices' vote on the chosen slice's level labels. */
export interface LevelVote {
  /** Slices that voted (the chosen one and neighbours with at least three discs matched to it). */
  slices: number;
  /** Slices whose labels agree with the applied ones. */
  agreeing: number;
  /** Levels were shifted by this many discs (0: the chosen slice's own labels stood). */
  offsetApplied: number;
}

/** Slices either side of the chosen one that vote on its levels. */
const VOTE_RADIUS = 2;

/** Disc centres closer than this (mm, in-plane) on two slices are the same disc. */
const SAME_DISC_MM = 8;

/**
 * The level offset a neighbouring slice implies for the chosen one: the most common label difference
 * over discs matched by position; undefined with fewer than three matched discs.
 */
function offsetOf(
  chosen: ImageLocalization,
  other: ImageLocalization,
  spacing: readonly [number, number],
): number | undefined {
  const differences: number[] = [];
  for (const disc of chosen.discs) {
    let nearest: (typeof other.discs)[number] | undefined;
    let distance = Number.POSITIVE_INFINITY;
    for (const candidate of other.discs) {
      const d = Math.hypot(
        (candidate.center[0] - disc.center[0]) * spacing[0],
        (candidate.center[1] - disc.center[1]) * spacing[1],
      );
      if (d < distance) {
        distance = d;
        nearest = candidate;
      }
    }
    if (nearest && distance <= SAME_DISC_MM) differences.push(nearest.ivdLabel - disc.ivdLabel);
  }
  if (differences.length < 3) return undefined;
  return mostCommon(differences);
}

function mostCommon(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  // Ties go to 0 (keep the slice's own labels), then to the smaller shift.
  return [...counts.entries()].sort(
    (a, b) => b[1] - a[1] || Number(a[0] !== 0) - Number(b[0] !== 0) || Math.abs(a[0]) - Math.abs(b[0]),
  )[0]?.[0] as number;
}

/** The localisation with every disc and vertebra level moved by `offset` discs. */
function shiftLevels(localization: ImageLocalization, offset: number): ImageLocalization {
  if (offset === 0) return localization;
  const vertebraShift = new Map<string, string | undefined>();
  for (let label = 0; label < 20; label++) {
    const name = vertebraAboveDisc(label);
    if (name) vertebraShift.set(name, vertebraAboveDisc(label + offset));
  }
  const discs = localization.discs
    .filter((d) => d.ivdLabel + offset >= 0 && d.ivdLabel + offset <= 10)
    .map((d) => ({ ...d, ivdLabel: d.ivdLabel + offset, level: levelOfIvdLabel(d.ivdLabel + offset) }));
  return {
    ...localization,
    discs,
    vertebrae: localization.vertebrae.map((v) => ({ ...v, level: v.level ? vertebraShift.get(v.level) : undefined })),
    possibleTransitional: discs.some((d) => d.ivdLabel === 0),
    warnings: [...localization.warnings, `levels shifted by ${offset} disc(s) to agree with the neighbouring slices`],
  };
}

/**
 * Reconciles a slice's level labels with its neighbours': each neighbour with at least three discs
 * matched by position votes for the label offset it implies, the slice itself for its own labels, and
 * the most common offset (ties: none) is applied.
 */
export function reconcileLevels(
  own: ImageLocalization,
  neighbours: readonly ImageLocalization[],
  pixelSpacing: readonly [number, number],
): { localization: ImageLocalization; vote: LevelVote } {
  const votes = [0];
  for (const neighbour of neighbours) {
    const offset = offsetOf(own, neighbour, pixelSpacing);
    if (offset !== undefined) votes.push(offset);
  }
  const offsetApplied = mostCommon(votes);
  return {
    localization: shiftLevels(own, offsetApplied),
    vote: { slices: votes.length, agreeing: votes.filter((v) => v === offsetApplied).length, offsetApplied },
  };
}

/**
 * Localises a volume on the central slice with the most spinal canal (up to `radius` slices either side
 * of the middle), its levels reconciled with the slices up to two either side of it.
 */
export function localizeVolume(localizer: Localizer, volume: Volume, radius = 3): VolumeLocalization {
  const count = volume.size[sagittalAxis(volume)];
  const middle = midSagittalIndex(volume);
  const indices: number[] = [];
  for (let index = Math.max(0, middle - radius); index <= Math.min(count - 1, middle + radius); index++)
    indices.push(index);
  const slices = indices.map((index) => extractSagittalSlice(volume, index));
  const results = localizeImages(localizer, slices);
  const canalPixels: Record<number, number> = {};
  let best = 0;
  results.forEach((result, n) => {
    const canal = result.classes.reduce((sum, c) => sum + (c === 3 ? 1 : 0), 0);
    canalPixels[indices[n] as number] = canal;
    const current = canalPixels[indices[best] as number] as number;
    // Prefer more canal; on a tie, the slice nearer the geometric middle.
    if (
      canal > current ||
      (canal === current && Math.abs((indices[n] as number) - middle) < Math.abs((indices[best] as number) - middle))
    )
      best = n;
  });
  const slice = slices[best]!;
  const neighbours = results.filter(
    (_, n) => n !== best && Math.abs((indices[n] as number) - (indices[best] as number)) <= VOTE_RADIUS,
  );
  const { localization: chosen, vote } = reconcileLevels(results[best]!, neighbours, slice.pixelSpacing);
  return {
    sliceIndex: indices[best] as number,
    canalPixels,
    slice: chosen,
    discs: chosen.discs.map((d) => ({
      level: d.level,
      ivdLabel: d.ivdLabel,
      centerMm: slice.pointOf(d.center[0], d.center[1]),
      posteriorMm: slice.pointOf(d.posterior[0], d.posterior[1]),
    })),
    levelVote: vote,
  };
}
