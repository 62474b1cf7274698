/**
 * Samples of the level network: each series' mid-sagittal slice on the level canvas
 * (`src/localize/levels.ts`) with its lumbar disc keypoints — T2's own, and on T1 the same
 * patient's T2 keypoints carried over by position where the fields of view match
 * (`src/datasets/keypoints.ts`) — plus the scale that turns image pixels into mm for scoring.
 */
import { carryKeypoints } from '../../datasets/keypoints.js';
import type { DatasetSequence, DiscKeypoint, SeriesRecord, SpineDataset } from '../../datasets/types.js';
import { isLumbarIvdLabel } from '../../disc/levels.js';
import { levelCanvas } from '../../localize/levels.js';
import { keypointsOnCanvas } from '../../localize/samples.js';
import type { CanvasGeometry, CanvasKeypoint } from '../../transforms/canvas.js';
import type { Image2D } from '../../transforms/resample.js';

/**
 * Mean distance between neighbouring lumbar disc keypoints in mm (SPIDER's square T2 slices, whose
 * stated spacing is right: 31.2-31.4 mm); the anatomical scale of slices whose spacing is not trusted.
 */
export const MEAN_DISC_GAP_MM = 31.4;

/** One slice with its level keypoints on the level canvas. */
export interface LevelSample {
  readonly id: string;
  readonly patient: string;
  readonly series: string;
  readonly sequence: DatasetSequence;
  /** Whether the keypoints are the series' own (T2) or carried over from the patient's T2 (T1). */
  readonly keypointSource: 'own' | 'carried';
  readonly image: Float32Array;
  readonly semantic: null;
  readonly keypoints: readonly CanvasKeypoint[];
  readonly canvas: CanvasGeometry;
  /** The lumbar keypoints in the slice's own pixels. */
  readonly imageKeypoints: readonly DiscKeypoint[];
  /** mm per slice pixel used for scoring (isotropic; see {@link scoringMmPerPixel}). */
  readonly mmPerPixel: number;
  readonly imageWidth: number;
  readonly imageHeight: number;
}

/** Mean distance in pixels between keypoints of neighbouring levels; NaN without a neighbouring pair. */
export function meanNeighbourGapPx(keypoints: readonly DiscKeypoint[]): number {
  const byLabel = new Map(keypoints.map((k) => [k.ivdLabel, k]));
  let sum = 0;
  let count = 0;
  for (const k of keypoints) {
    const above = byLabel.get(k.ivdLabel + 1);
    if (!above) continue;
    sum += Math.hypot(above.x - k.x, above.y - k.y);
    count++;
  }
  return count > 0 ? sum / count : Number.NaN;
}

/**
 * mm per pixel for scoring a slice: the stated spacing of a square slice (SPIDER's square PNGs are
 * native), else the anatomical scale {@link MEAN_DISC_GAP_MM} / mean neighbouring keypoint gap
 * (the stated spacing of many non-square PNGs is wrong; see the dataset README's "Known quirks").
 */
export function scoringMmPerPixel(image: Image2D, keypoints: readonly DiscKeypoint[]): number {
  const [sx, sy] = image.pixelSpacing;
  if (image.width === image.height && Math.abs(sx - sy) <= 1e-3 * sx) return sx;
  const gap = meanNeighbourGapPx(keypoints);
  return Number.isFinite(gap) && gap > 0 ? MEAN_DISC_GAP_MM / gap : Math.sqrt(sx * sy);
}

function sampleOf(
  series: SeriesRecord,
  image: Image2D,
  keypoints: readonly DiscKeypoint[],
  source: LevelSample['keypointSource'],
  size: number,
): LevelSample {
  const lumbar = keypoints.filter((k) => isLumbarIvdLabel(k.ivdLabel));
  const { image: pixels, geometry } = levelCanvas(image, size, 'stretch');
  return {
    id: series.id,
    patient: series.patient,
    series: series.id,
    sequence: series.sequence,
    keypointSource: source,
    image: pixels,
    semantic: null,
    keypoints: keypointsOnCanvas(lumbar, geometry),
    canvas: geometry,
    imageKeypoints: lumbar,
    mmPerPixel: scoringMmPerPixel(image, lumbar),
    imageWidth: image.width,
    imageHeight: image.height,
  };
}

/**
 * The level samples of a dataset: every T2 series with keypoints, and every T1 series of the same
 * patient whose field of view matches (T2 keypoints carried over). `onProgress(done, total)` after each.
 */
export async function buildLevelSamples(
  dataset: SpineDataset,
  size: number,
  onProgress?: (done: number, total: number) => void,
): Promise<LevelSample[]> {
  const t2s = dataset.series.filter(
    (s) => s.sequence === 'T2' && s.keypoints.some((k) => isLumbarIvdLabel(k.ivdLabel)),
  );
  const samples: LevelSample[] = [];
  let done = 0;
  for (const t2 of t2s) {
    const t2Image = await t2.loadMidSagittal();
    samples.push(sampleOf(t2, t2Image, t2.keypoints, 'own', size));
    for (const t1 of dataset.series.filter((s) => s.patient === t2.patient && s.sequence === 'T1')) {
      const t1Image = await t1.loadMidSagittal();
      const carried = carryKeypoints(t2.keypoints, t2Image, t1Image);
      if (carried) samples.push(sampleOf(t1, t1Image, carried, 'carried', size));
    }
    onProgress?.(++done, t2s.length);
  }
  return samples;
}
