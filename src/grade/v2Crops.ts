/**
 * Disc crops of grader v2, placed from one point per lumbar level on a sagittal slice (the posterior
 * disc margin, as SPIDER's expert keypoints and the localiser's points mark it). Everything comes
 * from the points themselves, the same way in training and at inference: the scale from the distance
 * between neighbouring points (a lumbar disc-to-disc gap is about 31.4 mm, so a crop holds the same
 * anatomy whatever the slice's stated pixel spacing), the rotation from the spine axis through the
 * neighbouring points, the place from the point.
 */

import { ivdLabelOfLevel, levelOfIvdLabel } from '../disc/levels.js';
import { SpinegradeError } from '../errors.js';
import { robustRange } from '../transforms/intensity.js';
import type { Image2D } from '../transforms/resample.js';
import { sampleCrop } from './crops.js';

/** The lumbar levels v2 grades, top to bottom. */
export const V2_LEVELS = ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'] as const;

/** The mean lumbar disc-to-disc distance between neighbouring posterior disc margins, mm (SPIDER's square T2 slices). */
export const LUMBAR_DISC_GAP_MM = 31.4;

/** One level's point on a slice, in that slice's pixels (display orientation: superior up, anterior left). */
export interface LevelPoint {
  /** Level name, `L1/L2` … `L5/S1`. */
  readonly level: string;
  readonly x: number;
  readonly y: number;
}

/** Size and placement of a v2 crop. */
export interface V2CropConfig {
  /** Crop size in pixels (square). */
  readonly size: number;
  /** Crop pixel size in anatomical mm (the spine's own scale, see {@link LUMBAR_DISC_GAP_MM}). */
  readonly mmPerPixel: number;
  /** The crop centre lies this far anterior of the point (the point is on the posterior disc margin), mm. */
  readonly anteriorShiftMm: number;
}

/**
 * 64 mm across in 48 pixels (about 1.33 mm each; 64 px at 1 mm costs 1.8× the training time on the
 * shared CPUs), centred 10 mm anterior of the posterior disc margin: disc, endplates and canal in view.
 */
export const DEFAULT_V2_CROP: V2CropConfig = { size: 48, mmPerPixel: 64 / 48, anteriorShiftMm: 10 };

/** Where a disc's crop sits on its slice: the point, the unit axes in slice pixels, and the slice's anatomical scale. */
export interface DiscFrame {
  readonly level: string;
  /** SPIDER numbering (1 = L5/S1 … 5 = L1/L2). */
  readonly ivdLabel: number;
  readonly point: readonly [number, number];
  /** Unit vector pointing posterior, in isotropic slice units (x, y·aspect). */
  readonly posterior: readonly [number, number];
  /** Unit vector pointing inferior along the spine, in isotropic slice units. */
  readonly inferior: readonly [number, number];
  /** Isotropic slice units per anatomical mm. */
  readonly unitsPerMm: number;
  /** Row spacing over column spacing (1 for square pixels). */
  readonly aspect: number;
}

/**
 * The crop frames of a slice's level points. `aspect` is the pixel height over width where it is
 * known (DICOM); SPIDER's PNGs are treated as square pixels since their stated spacing is unreliable.
 * Needs at least two points of neighbouring levels; points of unknown levels are a usage error.
 */
export function discFrames(points: readonly LevelPoint[], aspect = 1, where = 'level points'): DiscFrame[] {
  const byLabel = new Map<number, readonly [number, number]>();
  for (const point of points) {
    const ivdLabel = ivdLabelOfLevel(point.level);
    if (ivdLabel === undefined || ivdLabel < 1 || ivdLabel > 5)
      throw new SpinegradeError(
        'USAGE',
        `grader v2 grades lumbar levels only; got a point for "${point.level}"`,
        where,
      );
    if (!Number.isFinite(point.x) || !Number.isFinite(point.y))
      throw new SpinegradeError('USAGE', `the point of ${point.level} is not a number`, where);
    byLabel.set(ivdLabel, [point.x, point.y * aspect]);
  }
  const gaps: number[] = [];
  for (const [label, p] of byLabel) {
    const below = byLabel.get(label - 1);
    if (below) gaps.push(Math.hypot(below[0] - p[0], below[1] - p[1]));
  }
  if (gaps.length === 0)
    throw new SpinegradeError('USAGE', 'grader v2 needs the points of at least two neighbouring levels', where);
  const meanGap = gaps.reduce((s, g) => s + g, 0) / gaps.length;
  if (!(meanGap > 0)) throw new SpinegradeError('USAGE', 'the level points coincide', where);
  const unitsPerMm = meanGap / LUMBAR_DISC_GAP_MM;
  return [...byLabel.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([ivdLabel, p]) => {
      // The spine axis through the neighbouring points (one-sided at the ends of the run).
      const above = byLabel.get(ivdLabel + 1) ?? p;
      const below = byLabel.get(ivdLabel - 1) ?? p;
      let sx = below[0] - above[0];
      let sy = below[1] - above[1];
      const norm = Math.hypot(sx, sy);
      if (norm > 0) {
        sx /= norm;
        sy /= norm;
      } else {
        sx = 0;
        sy = 1;
      }
      return {
        level: levelOfIvdLabel(ivdLabel),
        ivdLabel,
        point: [p[0], p[1] / aspect] as const,
        // Superior→inferior axis turned a quarter towards +x: posterior on a display slice (anterior left).
        posterior: [sy, -sx] as const,
        inferior: [sx, sy] as const,
        unitsPerMm,
        aspect,
      };
    });
}

/** A small change of a crop's placement: shift in mm (posterior, inferior), rotation in degrees, scale factor. */
export interface CropJitter {
  readonly shiftMm: readonly [number, number];
  readonly degrees: number;
  readonly scale: number;
}

/** No jitter. */
export const NO_JITTER: CropJitter = { shiftMm: [0, 0], degrees: 0, scale: 1 };

/** The test-time placements averaged when TTA is on: the crop itself and four small shifts. */
export const TTA_JITTERS: readonly CropJitter[] = [
  NO_JITTER,
  { shiftMm: [2, 0], degrees: 0, scale: 1 },
  { shiftMm: [-2, 0], degrees: 0, scale: 1 },
  { shiftMm: [0, 1.5], degrees: 0, scale: 1 },
  { shiftMm: [0, -1.5], degrees: 0, scale: 1 },
];

/** Crop pixel `(u, v)` → slice pixel `(x, y)` of a frame. */
export function cropToSlice(
  frame: DiscFrame,
  config: V2CropConfig,
  jitter: CropJitter = NO_JITTER,
): (u: number, v: number) => [number, number] {
  const angle = (jitter.degrees * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const [px, py] = frame.posterior;
  const [ix, iy] = frame.inferior;
  const ax = cos * px - sin * ix;
  const ay = cos * py - sin * iy;
  const bx = sin * px + cos * ix;
  const by = sin * py + cos * iy;
  const k = frame.unitsPerMm;
  const cx = frame.point[0] + k * ((jitter.shiftMm[0] - config.anteriorShiftMm) * px + jitter.shiftMm[1] * ix);
  const cy =
    frame.point[1] * frame.aspect + k * ((jitter.shiftMm[0] - config.anteriorShiftMm) * py + jitter.shiftMm[1] * iy);
  const step = k * config.mmPerPixel * jitter.scale;
  const half = (config.size - 1) / 2;
  return (u, v) => {
    const du = (u - half) * step;
    const dv = (v - half) * step;
    return [cx + du * ax + dv * bx, (cy + du * ay + dv * by) / frame.aspect];
  };
}

/** A disc's crop: intensities scaled by the slice's 1st-99th percentiles to about [0, 1] (bilinear; 0 outside). */
export function cropFrame(
  image: Image2D,
  frame: DiscFrame,
  config: V2CropConfig = DEFAULT_V2_CROP,
  jitter: CropJitter = NO_JITTER,
  range: readonly [number, number] = robustRange(image.pixels),
): Float32Array {
  return sampleCrop(image, config.size, cropToSlice(frame, config, jitter), range);
}

/** Sequences as the v2 network sees them: T1-weighted or T2-weighted (T2 SPACE counts as T2). */
export type V2Contrast = 'T1' | 'T2';

/** Input channels of the v2 network: the crop, a T1 flag plane, and one plane per lumbar level. */
export const V2_CHANNELS = 2 + V2_LEVELS.length;

/** One disc as the network reads it. */
export interface V2Input {
  readonly crop: Float32Array;
  readonly ivdLabel: number;
  readonly contrast: V2Contrast;
}

/** Packs discs into an NHWC batch `[n, size, size, V2_CHANNELS]`. */
export function packV2Inputs(discs: readonly V2Input[], size: number): Float32Array {
  const plane = size * size;
  const out = new Float32Array(discs.length * plane * V2_CHANNELS);
  discs.forEach((disc, n) => {
    if (disc.crop.length !== plane) throw new RangeError(`crop ${n} has ${disc.crop.length} pixels, not ${plane}`);
    const levelChannel = 2 + (5 - disc.ivdLabel);
    const t1 = disc.contrast === 'T1' ? 1 : 0;
    const base = n * plane * V2_CHANNELS;
    for (let i = 0; i < plane; i++) {
      const at = base + i * V2_CHANNELS;
      out[at] = disc.crop[i] as number;
      out[at + 1] = t1;
      out[at + levelChannel] = 1;
    }
  });
  return out;
}
