/**
 * Training discs of grader v2: crops placed at the expert keypoints — SPIDER's T2 disc keypoints on
 * the T2 slices, and the same points carried to the patient's T1 slice where both share the field
 * of view (same matrix, or the same physical extent) — so no crop learns a neighbour's grade. Discs
 * that cannot be placed that way are left out and counted.
 */
import { carryKeypoints } from '../../datasets/keypoints.js';
import type { DiscKeypoint, DiscLabel, SeriesRecord, SpineDataset } from '../../datasets/types.js';
import {
  cropFrame,
  type DiscFrame,
  discFrames,
  TTA_JITTERS,
  type V2Contrast,
  type V2CropConfig,
} from '../../grade/v2Crops.js';
import { robustRange } from '../../transforms/intensity.js';
import type { Image2D } from '../../transforms/resample.js';

/** One training disc: its crops (the first unjittered, then the other TTA placements) and grades. */
export interface V2Sample {
  readonly patient: string;
  readonly series: string;
  readonly contrast: V2Contrast;
  readonly ivdLabel: number;
  readonly level: string;
  /** One crop per `TTA_JITTERS` placement; `crops[0]` is the crop itself. */
  readonly crops: Float32Array[];
  readonly label: DiscLabel;
  /** Where the point came from: the series' own keypoints or its T2's carried over. */
  readonly placedBy: 'keypoints' | 'carried';
}

/** What was left out, and why. */
export interface V2SampleNotes {
  t2Series: number;
  t1Series: number;
  /** T1 series whose patient has no keypointed T2. */
  t1WithoutT2Keypoints: number;
  /** T1 series whose field of view differs from their T2's (keypoints not carried). */
  t1FieldOfViewDiffers: number;
  /** T2 SPACE and other series (no keypoints in SPIDER). */
  otherSeriesSkipped: number;
  /** Keypointed discs without a grading row. */
  discsWithoutLabel: number;
}

/** Keypoints of `t2` moved onto a T1 slice: same matrix keeps the pixels, else by physical extent. */
export function keypointsOnT1(
  keypoints: readonly DiscKeypoint[],
  t2: Image2D,
  t1: Image2D,
): DiscKeypoint[] | undefined {
  if (t2.width === t1.width && t2.height === t1.height) return [...keypoints];
  return carryKeypoints(keypoints, t2, t1);
}

/** Crops of one slice at its lumbar keypoints. */
function cropsAt(
  image: Image2D,
  keypoints: readonly DiscKeypoint[],
  crop: V2CropConfig,
  where: string,
): [DiscFrame, Float32Array[]][] {
  const lumbar = keypoints.filter((k) => k.ivdLabel >= 1 && k.ivdLabel <= 5);
  const frames = discFrames(
    lumbar.map((k) => ({ level: k.level, x: k.x, y: k.y })),
    1,
    where,
  );
  const range = robustRange(image.pixels);
  return frames.map((frame) => [frame, TTA_JITTERS.map((jitter) => cropFrame(image, frame, crop, jitter, range))]);
}

/** Collects the v2 training discs of a dataset (T2 by keypoints, T1 by carried keypoints). */
export async function collectV2Samples(
  dataset: SpineDataset,
  crop: V2CropConfig,
  onProgress?: (done: number, total: number) => void,
): Promise<{ samples: V2Sample[]; notes: V2SampleNotes }> {
  const labels = new Map(dataset.discs.map((l) => [`${l.patient}\u0000${l.ivdLabel}`, l]));
  const notes: V2SampleNotes = {
    t2Series: 0,
    t1Series: 0,
    t1WithoutT2Keypoints: 0,
    t1FieldOfViewDiffers: 0,
    otherSeriesSkipped: 0,
    discsWithoutLabel: 0,
  };
  const samples: V2Sample[] = [];
  const t2ByPatient = new Map<string, SeriesRecord>();
  for (const s of dataset.series)
    if (s.sequence === 'T2' && s.keypoints.length >= 2 && !t2ByPatient.has(s.patient)) t2ByPatient.set(s.patient, s);
  const t2Images = new Map<string, Image2D>();
  let done = 0;
  for (const series of dataset.series) {
    onProgress?.(done++, dataset.series.length);
    let image: Image2D;
    let keypoints: readonly DiscKeypoint[] | undefined;
    let placedBy: V2Sample['placedBy'] = 'keypoints';
    if (series.sequence === 'T2' && series.keypoints.length >= 2) {
      image = await series.loadMidSagittal();
      keypoints = series.keypoints;
      t2Images.set(series.id, image);
      notes.t2Series++;
    } else if (series.sequence === 'T1') {
      const t2 = t2ByPatient.get(series.patient);
      if (!t2) {
        notes.t1WithoutT2Keypoints++;
        continue;
      }
      const t2Image = t2Images.get(t2.id) ?? (await t2.loadMidSagittal());
      t2Images.set(t2.id, t2Image);
      image = await series.loadMidSagittal();
      keypoints = keypointsOnT1(t2.keypoints, t2Image, image);
      if (!keypoints) {
        notes.t1FieldOfViewDiffers++;
        continue;
      }
      placedBy = 'carried';
      notes.t1Series++;
    } else {
      notes.otherSeriesSkipped++;
      continue;
    }
    const contrast: V2Contrast = series.sequence === 'T1' ? 'T1' : 'T2';
    for (const [frame, crops] of cropsAt(image, keypoints, crop, series.id)) {
      const label = labels.get(`${series.patient}\u0000${frame.ivdLabel}`);
      if (!label) {
        notes.discsWithoutLabel++;
        continue;
      }
      samples.push({
        patient: series.patient,
        series: series.id,
        contrast,
        ivdLabel: frame.ivdLabel,
        level: frame.level,
        crops,
        label,
        placedBy,
      });
    }
  }
  onProgress?.(done, dataset.series.length);
  return { samples, notes };
}
