/**
 * Repeatability of the per-level measures: how much a measure moves when nothing about the patient
 * changed. Measured on SPIDER's 11-slice T2 SPACE stacks: the same disc measured on the middle slice,
 * on its two neighbours (1 mm apart) and on the middle slice shifted by a few pixels and rotated by a few
 * degrees; the within-level
 * standard deviation over those repeats, pooled over levels, gives the repeatability coefficient
 * RC = 1.96·√2·s_w (Bland & Altman, Lancet 1986): two measurements of an unchanged disc differ by
 * less than RC in 95% of cases. `compare` calls a change smaller than RC "within noise".
 */
import type { MaskSliceRecord } from '../datasets/types.js';
import { isLumbarIvdLabel } from '../disc/levels.js';
import type { DiscMeasures } from '../disc/measures.js';
import { measureDisc } from '../grade/measures.js';
import { type Localizer, localizeImages } from '../localize/localizer.js';
import { COMPARED_MEASURES } from '../report/compare.js';
import type { Image2D } from '../transforms/resample.js';
import { sampleBilinear } from '../transforms/sample.js';
import { sortedStacks } from './canal.js';

/** The measures whose repeatability is measured: the ones `compare` reports. */
export const REPEATABLE_MEASURES = COMPARED_MEASURES;

/** A measure `compare` reports a change in. */
export type RepeatableMeasure = (typeof REPEATABLE_MEASURES)[number];

/** The repeatability of one measure. */
export interface MeasureRepeatability {
  /** Pooled within-level standard deviation. */
  withinSd: number;
  /** Repeatability coefficient, 1.96·√2·withinSd. */
  coefficient: number;
  /** Levels (patient × disc) with at least two repeats. */
  levels: number;
}

/** What {@link measureRepeatability} writes (`repeatability.json`). */
export interface RepeatabilityTable {
  schema: 'spinegrade/repeatability';
  version: '1.0.0';
  /** How the repeats were made. */
  method: string;
  patients: number;
  measures: Record<RepeatableMeasure, MeasureRepeatability>;
}

/** The image moved by `dx`, `dy` whole pixels (edges filled with the nearest row/column). */
export function shiftImage(image: Image2D, dx: number, dy: number): Image2D {
  const pixels = new Float32Array(image.width * image.height);
  for (let y = 0; y < image.height; y++) {
    const sy = Math.min(image.height - 1, Math.max(0, y - dy));
    for (let x = 0; x < image.width; x++) {
      const sx = Math.min(image.width - 1, Math.max(0, x - dx));
      pixels[x + y * image.width] = image.pixels[sx + sy * image.width] as number;
    }
  }
  return { ...image, pixels };
}

/** The image rotated by `degrees` about its centre (bilinear; physical pixel spacing honoured). */
export function rotateImage(image: Image2D, degrees: number): Image2D {
  const [sx, sy] = image.pixelSpacing;
  const cos = Math.cos((degrees * Math.PI) / 180);
  const sin = Math.sin((degrees * Math.PI) / 180);
  const cx = ((image.width - 1) / 2) * sx;
  const cy = ((image.height - 1) / 2) * sy;
  const pixels = new Float32Array(image.width * image.height);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const dx = x * sx - cx;
      const dy = y * sy - cy;
      // Inverse mapping: where this output pixel comes from in the input.
      const fx = (cos * dx + sin * dy + cx) / sx;
      const fy = (-sin * dx + cos * dy + cy) / sy;
      pixels[x + y * image.width] = sampleBilinear(
        image.pixels,
        image.width,
        image.height,
        Math.min(image.width - 1, Math.max(0, fx)),
        Math.min(image.height - 1, Math.max(0, fy)),
      );
    }
  }
  return { ...image, pixels };
}

/** Pooled within-group SD and the repeatability coefficient of groups of repeats. */
export function repeatabilityOf(groups: readonly number[][]): MeasureRepeatability {
  let sum = 0;
  let degrees = 0;
  let levels = 0;
  for (const values of groups) {
    if (values.length < 2) continue;
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    sum += values.reduce((s, v) => s + (v - mean) ** 2, 0);
    degrees += values.length - 1;
    levels++;
  }
  const withinSd = degrees > 0 ? Math.sqrt(sum / degrees) : Number.NaN;
  return { withinSd, coefficient: 1.96 * Math.SQRT2 * withinSd, levels };
}

/** The measures of every lumbar disc the localiser finds on `image`, by level name. */
function measuresByLevel(localizer: Localizer, image: Image2D): Map<string, DiscMeasures> {
  const [found] = localizeImages(localizer, [image]);
  const out = new Map<string, DiscMeasures>();
  if (!found) return out;
  for (const disc of found.discs.filter((d) => isLumbarIvdLabel(d.ivdLabel))) {
    out.set(disc.level, measureDisc(image, found, disc));
  }
  return out;
}

/**
 * Measures the repeatability on the T2 SPACE stacks of `records` (one series per patient): the middle
 * slice, its neighbours, and the middle slice shifted by (`shiftPx`, `shiftPx`) pixels and rotated by `rotationDeg`.
 */
export async function measureRepeatability(
  records: readonly MaskSliceRecord[],
  localizer: Localizer,
  options: { shiftPx?: number; rotationDeg?: number } = {},
): Promise<RepeatabilityTable> {
  const shift = options.shiftPx ?? 6;
  const rotation = options.rotationDeg ?? 3;
  const groups = Object.fromEntries(REPEATABLE_MEASURES.map((m) => [m, [] as number[][]])) as Record<
    RepeatableMeasure,
    number[][]
  >;
  const patients = new Set<string>();
  for (const sorted of sortedStacks(records)) {
    const middle = Math.floor((sorted.length - 1) / 2);
    const chosen = [sorted[middle - 1], sorted[middle], sorted[middle + 1]].filter(
      (r): r is MaskSliceRecord => r !== undefined,
    );
    if (chosen.length < 2) continue;
    const images = await Promise.all(chosen.map((r) => r.loadImage()));
    const mid = images[chosen.indexOf(sorted[middle] as MaskSliceRecord)] as Image2D;
    const moved = [shiftImage(mid, shift, shift), rotateImage(mid, rotation)];
    const repeats = [...images, ...moved].map((image) => measuresByLevel(localizer, image));
    patients.add(chosen[0]?.patient as string);
    const levels = new Set(repeats.flatMap((r) => [...r.keys()]));
    for (const level of levels) {
      for (const measure of REPEATABLE_MEASURES) {
        const values = repeats.flatMap((r) => {
          const v = r.get(level)?.[measure];
          return typeof v === 'number' && Number.isFinite(v) ? [v] : [];
        });
        groups[measure].push(values);
      }
    }
  }
  return {
    schema: 'spinegrade/repeatability',
    version: '1.0.0',
    method: `SPIDER T2 SPACE stacks: the middle slice, its two neighbours (1 mm apart), and the middle slice shifted by ${shift} pixels and rotated by ${rotation}°, each localised and measured; pooled within-level SD over lumbar levels`,
    patients: patients.size,
    measures: Object.fromEntries(REPEATABLE_MEASURES.map((m) => [m, repeatabilityOf(groups[m])])) as Record<
      RepeatableMeasure,
      MeasureRepeatability
    >,
  };
}
