/**
 * Quantitative disc measures from the localiser's outlines, in physical units, in the disc's own
 * frame: `t` along the disc axis (anterior → posterior), `s` along its normal (superior → inferior).
 *
 * - Disc height at 20 %, 50 % and 80 % of the disc's anteroposterior extent (anterior, middle,
 *   posterior; Hurxthal's method, AJR 1968) and their mean.
 * - Disc height index: middle disc height / middle height of the vertebral body above (Farfan's index
 *   normalises disc height by vertebral size: Farfan et al., J Bone Joint Surg Am 1972).
 * - Signal-intensity ratio: mean signal of the central half of the disc / mean signal of the spinal
 *   canal (CSF) within 10 mm of the disc level (Niemeläinen et al., Clin Radiol 2008); meaningful on T2.
 * - Nucleus/annulus contrast: mean signal of the central 40 % / mean of the outer 15 % at both ends.
 * - Endplate signal ratio: mean signal of the 3 mm of vertebral body next to the disc (both sides) /
 *   mean signal of those vertebral bodies (Modic et al., Radiology 1988, for why endplate signal matters).
 * - Listhesis offset: how far the posterior wall of the body above lies anterior of the body below,
 *   along the disc axis, mm (positive: anterolisthesis; Meyerding, Surg Gynecol Obstet 1932).
 * - Spinal canal AP diameter at the disc level and at the adjacent mid-vertebral bodies, and their
 *   ratio (`canal.ts`).
 * - Wedge angle: the angle between the disc's upper and lower boundaries, degrees (positive when the
 *   disc is taller anteriorly, i.e. lordotic); disc angle: the disc axis against the image horizontal.
 */
import { vertebraAboveDisc } from '../disc/levels.js';
import type { DiscMeasures } from '../disc/measures.js';
import type { LocalizedDisc, LocalizedVertebra } from '../localize/postprocess.js';
import { distanceToOutline, insideByCrossings, rayCrossings } from '../metrics/detection.js';
import type { Image2D } from '../transforms/resample.js';
import { measureCanal, vertebraNamed } from './canal.js';

/** What measuring needs of a slice's localisation: the class of every pixel and the instances. */
export interface MeasurableSlice {
  /** 0 background, 1 disc, 2 vertebra, 3 canal, per image pixel. */
  readonly classes: Uint8Array;
  readonly discs: readonly LocalizedDisc[];
  readonly vertebrae: readonly LocalizedVertebra[];
}

/** Indices of the accepted pixels whose centres lie inside a polygon or on its edges. */
function pixelsInside(
  outline: readonly (readonly [number, number])[],
  width: number,
  height: number,
  accept: (index: number) => boolean,
): number[] {
  let minX = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const [x, y] of outline) {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const out: number[] = [];
  if (outline.length < 3) return out;
  // distanceToPolygon(pixel, outline) <= 0.5, with the ray crossings of each row computed once.
  for (let y = Math.max(0, Math.floor(minY)); y <= Math.min(height - 1, Math.ceil(maxY)); y++) {
    const crossings = rayCrossings(outline, y);
    for (let x = Math.max(0, Math.floor(minX)); x <= Math.min(width - 1, Math.ceil(maxX)); x++) {
      const index = x + y * width;
      if (accept(index) && (insideByCrossings(x, crossings) || distanceToOutline(x, y, outline) <= 0.5))
        out.push(index);
    }
  }
  return out;
}

/** The disc frame: physical coordinates (t along the axis, s along the normal) of pixel indices. */
function frameOf(disc: LocalizedDisc, image: Image2D) {
  const [sx, sy] = image.pixelSpacing;
  let ax = disc.axis[0] * sx;
  let ay = disc.axis[1] * sy;
  const norm = Math.hypot(ax, ay) || 1;
  ax /= norm;
  ay /= norm;
  if (ax < 0) {
    ax = -ax;
    ay = -ay;
  }
  const cx = disc.center[0] * sx;
  const cy = disc.center[1] * sy;
  return (index: number): [number, number] => {
    const x = (index % image.width) * sx - cx;
    const y = Math.floor(index / image.width) * sy - cy;
    return [x * ax + y * ay, -x * ay + y * ax];
  };
}

/** Height (extent along s) of a set of framed points at each of the given fractions of their t extent. */
function heightsAt(points: readonly [number, number][], fractions: readonly number[], pixelMm: number): number[] {
  const ts = points.map((p) => p[0]);
  const tMin = Math.min(...ts);
  const tMax = Math.max(...ts);
  return fractions.map((f) => {
    const t = tMin + f * (tMax - tMin);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const [pt, ps] of points) {
      if (Math.abs(pt - t) > pixelMm) continue;
      lo = Math.min(lo, ps);
      hi = Math.max(hi, ps);
    }
    return hi >= lo ? hi - lo + pixelMm : 0;
  });
}

function mean(values: readonly number[]): number | null {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
}

/** Least-squares slope of s over t; null with too few distinct t. */
function slope(points: readonly [number, number][]): number | null {
  if (points.length < 3) return null;
  const mt = points.reduce((s, p) => s + p[0], 0) / points.length;
  const ms = points.reduce((s, p) => s + p[1], 0) / points.length;
  let stt = 0;
  let sts = 0;
  for (const [t, s] of points) {
    stt += (t - mt) ** 2;
    sts += (t - mt) * (s - ms);
  }
  return stt > 0 ? sts / stt : null;
}

/** Measures one disc of a slice (see the module comment for every definition). */
export function measureDisc(image: Image2D, slice: MeasurableSlice, disc: LocalizedDisc): DiscMeasures {
  const { width, height, pixels } = image;
  const pixelMm = Math.min(image.pixelSpacing[0], image.pixelSpacing[1]);
  const frame = frameOf(disc, image);
  const inOutline = pixelsInside(disc.outline, width, height, (i) => slice.classes[i] === 1);
  // A sliver whose outline holds no disc pixel centre is measured on its outline's own pixels.
  const discPixels = inOutline.length ? inOutline : disc.outline.map(([x, y]) => Math.round(x) + Math.round(y) * width);
  const framed = discPixels.map(frame);
  const [anterior = 0, middle = 0, posterior = 0] = framed.length ? heightsAt(framed, [0.2, 0.5, 0.8], pixelMm) : [];
  const ts = framed.map((p) => p[0]);
  const tMin = ts.length ? Math.min(...ts) : 0;
  const tMax = ts.length ? Math.max(...ts) : 0;
  const along = (p: [number, number]): number => (tMax > tMin ? (p[0] - tMin) / (tMax - tMin) : 0.5);
  const signal = (indices: readonly number[]): number | null => mean(indices.map((i) => pixels[i] as number));
  const central = discPixels.filter((_, n) => Math.abs(along(framed[n] as [number, number]) - 0.5) <= 0.25);
  const nucleus = discPixels.filter((_, n) => Math.abs(along(framed[n] as [number, number]) - 0.5) <= 0.2);
  const annulus = discPixels.filter((_, n) => Math.abs(along(framed[n] as [number, number]) - 0.5) >= 0.35);

  // CSF: canal pixels within 10 mm of the disc level (along the normal), anywhere behind the disc.
  const canal: number[] = [];
  for (let i = 0; i < slice.classes.length; i++) {
    if (slice.classes[i] !== 3) continue;
    const [t, s] = frame(i);
    if (Math.abs(s) <= 10 && t > 0) canal.push(i);
  }
  const discSignal = signal(central);
  const csfSignal = signal(canal);
  const nucleusSignal = signal(nucleus);
  const annulusSignal = signal(annulus);

  const above = vertebraNamed(slice.vertebrae, vertebraAboveDisc(disc.ivdLabel), disc);
  const below = vertebraNamed(
    slice.vertebrae,
    disc.ivdLabel >= 1 ? vertebraAboveDisc(disc.ivdLabel - 1) : undefined,
    disc,
  );
  const bodyPixels = (v: LocalizedVertebra | undefined): number[] =>
    v ? pixelsInside(v.outline, width, height, (i) => slice.classes[i] === 2) : [];
  const abovePixels = bodyPixels(above);
  const belowPixels = bodyPixels(below);
  let discHeightIndex: number | null = null;
  if (abovePixels.length && middle > 0) {
    const [bodyHeight = 0] = heightsAt(abovePixels.map(frame), [0.5], pixelMm);
    if (bodyHeight > 0) discHeightIndex = middle / bodyHeight;
  }
  const near = (indices: number[], side: 1 | -1): number[] =>
    indices.filter((i) => {
      const [, s] = frame(i);
      return side * s > 0 && Math.abs(s) <= middle / 2 + 3;
    });
  const endplate = [...near(abovePixels, -1), ...near(belowPixels, 1)];
  const bodies = [...abovePixels, ...belowPixels];
  const endplateSignal = signal(endplate);
  const bodySignal = signal(bodies);

  let listhesisMm: number | null = null;
  if (above && below) {
    const posteriorWall = (v: LocalizedVertebra): number => {
      const walls = v.outline.map(([x, y]) => frame(Math.round(x) + Math.round(y) * width)[0]);
      return Math.max(...walls);
    };
    listhesisMm = posteriorWall(below) - posteriorWall(above);
  }

  // Wedge angle from the upper (min s) and lower (max s) boundary of the disc per 1 mm column of t.
  const columns = new Map<number, [number, number]>();
  for (const [t, s] of framed) {
    const key = Math.round(t / pixelMm);
    const [lo, hi] = columns.get(key) ?? [s, s];
    columns.set(key, [Math.min(lo, s), Math.max(hi, s)]);
  }
  const inner = [...columns.entries()].filter(([key]) => {
    const t = key * pixelMm;
    return tMax > tMin && (t - tMin) / (tMax - tMin) >= 0.1 && (t - tMin) / (tMax - tMin) <= 0.9;
  });
  const top = slope(inner.map(([key, [lo]]) => [key * pixelMm, lo]));
  const bottom = slope(inner.map(([key, [, hi]]) => [key * pixelMm, hi]));
  const wedgeAngleDeg = top === null || bottom === null ? null : ((Math.atan(top) - Math.atan(bottom)) * 180) / Math.PI;

  const [sx, sy] = image.pixelSpacing;
  return {
    discHeightAnteriorMm: round(anterior),
    discHeightMiddleMm: round(middle),
    discHeightPosteriorMm: round(posterior),
    discHeightMm: round((anterior + middle + posterior) / 3),
    discHeightIndex: roundOrNull(discHeightIndex),
    signalIntensityRatio: roundOrNull(discSignal !== null && csfSignal ? discSignal / csfSignal : null),
    nucleusAnnulusContrast: roundOrNull(nucleusSignal !== null && annulusSignal ? nucleusSignal / annulusSignal : null),
    endplateSignalRatio: roundOrNull(endplateSignal !== null && bodySignal ? endplateSignal / bodySignal : null),
    listhesisMm: roundOrNull(listhesisMm),
    wedgeAngleDeg: roundOrNull(wedgeAngleDeg),
    discAngleDeg: round((Math.atan2(disc.axis[1] * sy, disc.axis[0] * sx) * 180) / Math.PI),
    ...measureCanal({ width, height, pixelSpacing: image.pixelSpacing, classes: slice.classes }, slice, disc),
  };
}

/** Measures every disc of a slice, in the order of `slice.discs`. */
export function measureSlice(image: Image2D, slice: MeasurableSlice): DiscMeasures[] {
  return slice.discs.map((disc) => measureDisc(image, slice, disc));
}

const round = (v: number): number => Math.round(v * 1000) / 1000;
const roundOrNull = (v: number | null): number | null => (v === null || !Number.isFinite(v) ? null : round(v));
