/**
 * A reader's correction of the level labels: shift every disc of a series by whole levels, or name the
 * disc at a point (a pixel of the mid-sagittal slice, or a patient position) and let the others follow
 * along the chain of discs. The corrected localisation is what the grader then reads, so every finding
 * that depends on the level (the across-levels context model) is graded again.
 */
import { ivdLabelOfLevel, levelOfIvdLabel, vertebraAboveDisc } from '../disc/levels.js';
import { SpinegradeError } from '../errors.js';
import type { LocalizedDisc } from './postprocess.js';
import type { VolumeLocalization } from './volume.js';

/** Where the anchored disc is: a pixel `[x, y]` of the mid-sagittal display slice, or a patient point (LPS, mm). */
export interface LevelAnchor {
  /** The level of the disc nearest the point, e.g. `L5/S1`. */
  readonly level: string;
  /** Pixel `[x, y]` of the mid-sagittal display slice of the reference series (superior up, anterior left). */
  readonly atPx?: readonly [number, number];
  /** Patient coordinates (DICOM LPS, mm). */
  readonly atMm?: readonly [number, number, number];
}

/**
 * A correction of the level labels. `shift: +1` moves every disc one level up (L5/S1 becomes L4/L5);
 * `anchor` names the disc nearest a point. With `seriesUid` only that series is corrected; otherwise
 * every graded series (an anchor pixel refers to the reference series: the first graded one, T2 first).
 */
export type LevelOverride =
  | { readonly shift: number; readonly seriesUid?: string }
  | { readonly anchor: LevelAnchor; readonly seriesUid?: string };

/** Largest shift accepted, in levels. */
export const MAX_LEVEL_SHIFT = 5;

/** A disc further than this (mm, in the sagittal plane) from the anchor point cannot be the one meant. */
export const ANCHOR_REACH_MM = 15;

/** The highest IVD label a disc may carry after a shift (as in the localiser: up to T7/T8). */
const MAX_IVD_LABEL = 10;

const SYNTAX =
  'use shift=±N, LEVEL=X,Y (a pixel of the mid-sagittal slice) or LEVEL=X,Y,Z (patient LPS mm), e.g. shift=+1 or L5/S1=250,410';

function usage(text: string, problem: string): SpinegradeError {
  return new SpinegradeError('USAGE', `--levels "${text}": ${problem}; ${SYNTAX}`);
}

/**
 * Parses the command-line form of a level override: `shift=+1`, `shift=-1`, `L5/S1=250,410` (pixel
 * `x,y` of the mid-sagittal slice) or `L5/S1=12.5,-40,88` (LPS mm). Throws a `USAGE` error naming the
 * problem.
 */
export function parseLevelOverride(text: string, seriesUid?: string): LevelOverride {
  const trimmed = text.trim();
  const equals = trimmed.indexOf('=');
  if (equals <= 0) throw usage(text, 'no "="');
  const key = trimmed.slice(0, equals).trim();
  const value = trimmed.slice(equals + 1).trim();
  const series = seriesUid !== undefined ? { seriesUid } : {};
  if (key.toLowerCase() === 'shift') {
    if (!/^[+-]?\d+$/.test(value)) throw usage(text, `shift "${value}" is not a whole number`);
    const shift = Number(value);
    if (Math.abs(shift) > MAX_LEVEL_SHIFT) throw usage(text, `shift ${shift} is more than ${MAX_LEVEL_SHIFT} levels`);
    return { shift, ...series };
  }
  const label = ivdLabelOfLevel(key);
  if (label === undefined) throw usage(text, `"${key}" is not a disc level`);
  const numbers = value.split(',').map((part) => part.trim());
  if (!(numbers.length === 2 || numbers.length === 3) || numbers.some((n) => n === '' || !Number.isFinite(Number(n)))) {
    throw usage(text, `"${value}" is not two or three numbers separated by commas`);
  }
  const level = levelOfIvdLabel(label);
  const point = numbers.map(Number);
  if (point.length === 2) {
    const [x, y] = point as [number, number];
    return { anchor: { level, atPx: [x, y] }, ...series };
  }
  const [x, y, z] = point as [number, number, number];
  return { anchor: { level, atMm: [x, y, z] }, ...series };
}

/** Checks an override given through the API (same rules as {@link parseLevelOverride}). */
export function checkLevelOverride(override: LevelOverride): void {
  const problem = (what: string): SpinegradeError => new SpinegradeError('USAGE', `level override: ${what}`);
  if ('shift' in override) {
    if (!Number.isInteger(override.shift) || Math.abs(override.shift) > MAX_LEVEL_SHIFT) {
      throw problem(`shift ${override.shift} must be a whole number of at most ${MAX_LEVEL_SHIFT} levels`);
    }
    return;
  }
  const { anchor } = override;
  if (ivdLabelOfLevel(anchor.level) === undefined) throw problem(`"${anchor.level}" is not a disc level`);
  const points = [anchor.atPx, anchor.atMm].filter((p) => p !== undefined);
  if (points.length !== 1) throw problem('an anchor needs exactly one of atPx and atMm');
  if (!(points[0] as readonly number[]).every(Number.isFinite))
    throw problem('the anchor point must be finite numbers');
}

/** The disc of a localisation nearest a patient point, measured in the sagittal plane. */
export function nearestDisc(
  localization: VolumeLocalization,
  pointMm: readonly [number, number, number],
  leftRight: readonly [number, number, number],
): { disc: LocalizedDisc; distanceMm: number } | undefined {
  let best: { disc: LocalizedDisc; distanceMm: number } | undefined;
  localization.slice.discs.forEach((disc) => {
    const physical = localization.discs.find((d) => d.ivdLabel === disc.ivdLabel);
    if (!physical) return;
    const d = [0, 1, 2].map((a) => (pointMm[a] as number) - (physical.centerMm[a] as number));
    const along = (d[0] as number) * leftRight[0] + (d[1] as number) * leftRight[1] + (d[2] as number) * leftRight[2];
    const inPlane = Math.sqrt(Math.max(0, d.reduce((s, v) => s + v * v, 0) - along * along));
    if (!best || inPlane < best.distanceMm) best = { disc, distanceMm: inPlane };
  });
  return best;
}

/**
 * The shift an anchor implies for one series: the target level's IVD label minus the label of the
 * disc nearest the point. Throws a `USAGE` error when no disc lies within {@link ANCHOR_REACH_MM}.
 */
export function anchorShift(
  localization: VolumeLocalization,
  anchor: { level: string; pointMm: readonly [number, number, number] },
  leftRight: readonly [number, number, number],
  where: string,
): number {
  const target = ivdLabelOfLevel(anchor.level);
  if (target === undefined) throw new SpinegradeError('USAGE', `level override: "${anchor.level}" is not a disc level`);
  const nearest = nearestDisc(localization, anchor.pointMm, leftRight);
  if (!nearest || nearest.distanceMm > ANCHOR_REACH_MM) {
    const found = nearest ? ` (the nearest, ${nearest.disc.level}, is ${nearest.distanceMm.toFixed(0)} mm away)` : '';
    throw new SpinegradeError(
      'USAGE',
      `level override: no disc within ${ANCHOR_REACH_MM} mm of the ${anchor.level} point on ${where}${found}`,
    );
  }
  return target - nearest.disc.ivdLabel;
}

/**
 * The localisation with every disc and vertebra moved `shift` levels (+1: one level up), the physical
 * discs too. Discs pushed outside S1/S2 … T7/T8 are dropped (with a warning); the vote is kept as it was.
 */
export function shiftVolumeLocalization(localization: VolumeLocalization, shift: number): VolumeLocalization {
  if (shift === 0) return localization;
  const fits = (label: number): boolean => label + shift >= 0 && label + shift <= MAX_IVD_LABEL;
  const vertebraName = new Map<string, string | undefined>();
  for (let label = 0; label <= MAX_IVD_LABEL + 8; label++) {
    const name = vertebraAboveDisc(label);
    if (name) vertebraName.set(name, vertebraAboveDisc(label + shift));
  }
  const dropped = localization.slice.discs.filter((d) => !fits(d.ivdLabel)).map((d) => d.level);
  const discs = localization.slice.discs
    .filter((d) => fits(d.ivdLabel))
    .map((d) => ({ ...d, ivdLabel: d.ivdLabel + shift, level: levelOfIvdLabel(d.ivdLabel + shift) }));
  const warnings = [
    ...localization.slice.warnings,
    `levels shifted ${shift > 0 ? `up by ${shift}` : `down by ${-shift}`} level(s) by the user's level override`,
  ];
  if (dropped.length > 0) warnings.push(`the override leaves no level for the disc(s) at ${dropped.join(', ')}`);
  return {
    ...localization,
    slice: {
      ...localization.slice,
      discs,
      vertebrae: localization.slice.vertebrae.map((v) => ({
        ...v,
        level: v.level === undefined ? undefined : vertebraName.get(v.level),
      })),
      possibleTransitional: discs.some((d) => d.ivdLabel === 0),
      warnings,
    },
    discs: localization.discs
      .filter((d) => fits(d.ivdLabel))
      .map((d) => ({ ...d, ivdLabel: d.ivdLabel + shift, level: levelOfIvdLabel(d.ivdLabel + shift) })),
  };
}
