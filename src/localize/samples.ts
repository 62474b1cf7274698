/**
 * Training samples of the disc localiser: each 2D sagittal slice placed on the model canvas
 * (`src/transforms/canvas.ts`), intensity-normalised, with its semantic mask and/or disc keypoints
 * when the dataset has them.
 */
import type { DatasetSequence, DiscKeypoint, MaskSliceRecord, SeriesRecord, SpineDataset } from '../datasets/types.js';
import { MASK_VALUES } from '../datasets/types.js';
import { SpinegradeError } from '../errors.js';
import {
  type CanvasGeometry,
  type CanvasImage,
  type CanvasKeypoint,
  type CanvasOptions,
  resampleLabels,
  toCanvas,
} from '../transforms/canvas.js';
import { percentiles } from '../transforms/intensity.js';

/** The localiser's semantic classes, by index. */
export const SEMANTIC_CLASSES = ['background', 'disc', 'vertebra', 'canal'] as const;

/** One slice on the model canvas. */
export interface LocalizerSample {
  /** The mask slice id, or the series id for a series' mid-sagittal slice. */
  readonly id: string;
  readonly patient: string;
  readonly series: string;
  readonly sequence: DatasetSequence;
  /** `size × size` intensities: 1st/99th percentile of the image region → 0/1 (clipped); padding 0. */
  readonly image: Float32Array;
  /** `size × size` class indices (0 background, 1 disc, 2 vertebra, 3 canal), or null when unlabelled. */
  readonly semantic: Uint8Array | null;
  /**
   * Disc keypoints in canvas pixels, or null when the slice has none annotated; an empty array means
   * annotated, but every point fell off the canvas.
   */
  readonly keypoints: readonly CanvasKeypoint[] | null;
  /** Where the original image sits on the canvas (exact map both ways). */
  readonly canvas: CanvasGeometry;
}

/** Which slices {@link buildLocalizerSamples} turns into samples. */
export interface SampleInclusion {
  /** Slices with a semantic mask (SPIDER: T2 SPACE); default true. */
  readonly maskSlices?: boolean;
  /** Series with disc keypoints (SPIDER: T2), their mid-sagittal slice; default true. */
  readonly keypointSeries?: boolean;
  /**
   * Mid-sagittal slices without labels: T1, T2 without keypoints, T2 SPACE series without any mask
   * slice; default false.
   */
  readonly unlabelledSeries?: boolean;
}

/** Options of {@link buildLocalizerSamples}. */
export interface LocalizerSampleOptions extends CanvasOptions {
  /** Only these patients (all when absent). */
  readonly patients?: ReadonlySet<string>;
  readonly include?: SampleInclusion;
}

/** Semantic class indices (0-3) of a mask holding 0/29/76/150; any other value is an INVALID_HEADER error. */
export function semanticClassesOfMask(mask: Uint8Array, what = 'mask'): Uint8Array {
  const lookup = new Int16Array(256).fill(-1);
  lookup[MASK_VALUES.background] = 0;
  lookup[MASK_VALUES.disc] = 1;
  lookup[MASK_VALUES.vertebra] = 2;
  lookup[MASK_VALUES.canal] = 3;
  const out = new Uint8Array(mask.length);
  for (let n = 0; n < mask.length; n++) {
    const c = lookup[mask[n] as number] as number;
    if (c < 0) throw new SpinegradeError('INVALID_HEADER', `${what} holds value ${mask[n]}, not 0/29/76/150`);
    out[n] = c;
  }
  return out;
}

/**
 * The canvas pixels normalised so the 1st/99th percentiles of the image region (padding excluded)
 * become 0/1, clipped; padding stays 0.
 */
export function normalizeCanvasImage(canvas: CanvasImage): Float32Array {
  const { size, region, pixels } = canvas;
  const width = region.x1 - region.x0;
  const inside = new Float32Array(width * (region.y1 - region.y0));
  for (let y = region.y0; y < region.y1; y++) {
    inside.set(pixels.subarray(y * size + region.x0, y * size + region.x1), (y - region.y0) * width);
  }
  const out = new Float32Array(size * size);
  if (inside.length === 0) return out;
  const [lo, hi] = percentiles(inside, [1, 99]) as [number, number];
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let y = region.y0; y < region.y1; y++) {
    for (let x = region.x0; x < region.x1; x++) {
      const v = ((pixels[y * size + x] as number) - lo) / range;
      out[y * size + x] = Math.min(1, Math.max(0, v));
    }
  }
  return out;
}

/** Image keypoints moved to canvas pixels; points off the canvas are left out. */
export function keypointsOnCanvas(keypoints: readonly DiscKeypoint[], canvas: CanvasGeometry): CanvasKeypoint[] {
  const out: CanvasKeypoint[] = [];
  for (const point of keypoints) {
    const [x, y] = canvas.imageToCanvas(point.x, point.y);
    if (x >= -0.5 && x < canvas.size - 0.5 && y >= -0.5 && y < canvas.size - 0.5) {
      out.push({ ivdLabel: point.ivdLabel, x, y });
    }
  }
  return out;
}

/** The sample of one mask slice (image and semantic mask, no keypoints). */
export async function maskSliceSample(record: MaskSliceRecord, options: CanvasOptions): Promise<LocalizerSample> {
  const [image, mask] = await Promise.all([record.loadImage(), record.loadMask()]);
  if (mask.length !== image.width * image.height) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      `mask slice ${record.id}: the mask has ${mask.length} pixels, the image ${image.width}×${image.height}`,
    );
  }
  const canvas = toCanvas(image, options);
  const { pixels: _pixels, ...geometry } = canvas;
  return {
    id: record.id,
    patient: record.patient,
    series: record.series,
    sequence: 'T2SPACE',
    image: normalizeCanvasImage(canvas),
    semantic: resampleLabels(semanticClassesOfMask(mask, `mask of ${record.id}`), canvas),
    keypoints: null,
    canvas: geometry,
  };
}

/** The sample of a series' mid-sagittal slice: with its keypoints when `withKeypoints`, else unlabelled. */
export async function seriesSample(
  record: SeriesRecord,
  options: CanvasOptions,
  withKeypoints: boolean,
): Promise<LocalizerSample> {
  const canvas = toCanvas(await record.loadMidSagittal(), options);
  const { pixels: _pixels, ...geometry } = canvas;
  return {
    id: record.id,
    patient: record.patient,
    series: record.id,
    sequence: record.sequence,
    image: normalizeCanvasImage(canvas),
    semantic: null,
    keypoints: withKeypoints ? keypointsOnCanvas(record.keypoints, geometry) : null,
    canvas: geometry,
  };
}

/**
 * The localiser's samples of a dataset, in order: mask slices, series with keypoints, then (when
 * asked) unlabelled mid-sagittal slices (T1; T2 without keypoints; T2 SPACE whose series has no mask
 * slice). Each series uses its own pixel spacing. `onProgress(done, total)` is called after each slice.
 */
export async function buildLocalizerSamples(
  dataset: SpineDataset,
  options: LocalizerSampleOptions,
  onProgress?: (done: number, total: number) => void,
): Promise<LocalizerSample[]> {
  const include = {
    maskSlices: options.include?.maskSlices ?? true,
    keypointSeries: options.include?.keypointSeries ?? true,
    unlabelledSeries: options.include?.unlabelledSeries ?? false,
  };
  const canvasOptions: CanvasOptions = {
    size: options.size,
    spacingMm: options.spacingMm,
    ...(options.antialias === undefined ? {} : { antialias: options.antialias }),
  };
  const wanted = (patient: string): boolean => options.patients === undefined || options.patients.has(patient);
  const seriesWithMasks = new Set(dataset.maskSlices.map((slice) => slice.series));
  const jobs: (() => Promise<LocalizerSample>)[] = [];
  if (include.maskSlices) {
    for (const slice of dataset.maskSlices) {
      if (wanted(slice.patient)) jobs.push(() => maskSliceSample(slice, canvasOptions));
    }
  }
  if (include.keypointSeries) {
    for (const series of dataset.series) {
      if (wanted(series.patient) && series.keypoints.length > 0) {
        jobs.push(() => seriesSample(series, canvasOptions, true));
      }
    }
  }
  if (include.unlabelledSeries) {
    for (const series of dataset.series) {
      if (!wanted(series.patient) || series.keypoints.length > 0) continue;
      const unlabelled =
        series.sequence === 'T1' ||
        series.sequence === 'T2' ||
        (series.sequence === 'T2SPACE' && !seriesWithMasks.has(series.id));
      if (unlabelled) jobs.push(() => seriesSample(series, canvasOptions, false));
    }
  }
  const samples: LocalizerSample[] = [];
  let done = 0;
  for (const job of jobs) {
    samples.push(await job());
    onProgress?.(++done, jobs.length);
  }
  return samples;
}
