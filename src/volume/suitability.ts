/**
 * Whether a series can be graded, and why not. Grading needs a sagittal T1- or T2-weighted MR series
 * with a known pixel spacing, fine enough in-plane resolution and a field of view that holds the
 * lumbar spine (L1 to S1 spans about 180 mm in adults; a third of that is the least a localiser
 * can label from the sacrum upward); a stack of at least three sagittal slices (to find the
 * mid-sagittal one) no thicker than 6 mm; and an image with contrast and structure (not a blank or
 * pure-noise picture). A single PNG/JPEG picture is taken as the mid-sagittal slice itself.
 * Whether the image shows a spine at all is decided later, by the localiser (see `analyze`).
 */
import { basename } from 'node:path';
import { assignAxes, extractSagittalSlice, imagePlane, midSagittalIndex } from './orientation.js';
import { classifySequence, type SequenceGuess } from './sequence.js';
import type { Plane, Volume } from './volume.js';

/** Coarsest in-plane pixel spacing spinegrade grades, mm. */
export const MAX_GRADING_PIXEL_SPACING_MM = 1.5;
/** Shortest superior-inferior field of view spinegrade grades, mm. */
export const MIN_GRADING_FIELD_OF_VIEW_MM = 60;
/** Sequences the graders are trained on. */
export const GRADABLE_SEQUENCES: readonly string[] = ['T1', 'T2'];
/** Fewest sagittal slices of a stack (DICOM, NIfTI, MetaImage) spinegrade grades; a PNG/JPEG picture is one slice by design. */
export const MIN_GRADING_SAGITTAL_SLICES = 3;
/** Thickest sagittal slices (slice spacing or stated slice thickness) spinegrade grades, mm. */
export const MAX_GRADING_SLICE_THICKNESS_MM = 6;
/**
 * Least contrast spinegrade grades: the 1st-99th percentile range of the mid-sagittal slice's values
 * divided by the larger of their magnitudes (an MR image with a dark background scores about 1).
 */
export const MIN_GRADING_CONTRAST = 0.1;
/**
 * Least image structure spinegrade grades: the correlation of horizontally neighbouring pixels of the
 * mid-sagittal slice (0.92 or more on every SPIDER slice; about 0 for noise).
 */
export const MIN_GRADING_STRUCTURE = 0.5;

/** A verdict on a series: can it be graded, and the reasons it cannot. */
export interface GradingSuitability {
  readonly plane: Plane;
  readonly sequence: SequenceGuess;
  /** Field of view in mm along the anterior-posterior and inferior-superior axes. */
  readonly fieldOfViewMm: readonly [number, number];
  /** Slices across left-right (the sagittal slice count). */
  readonly sagittalSlices: number;
  /** Contrast of the mid-sagittal slice (see {@link MIN_GRADING_CONTRAST}); absent when not sagittal. */
  readonly contrast?: number;
  /** Neighbouring-pixel correlation of the mid-sagittal slice (see {@link MIN_GRADING_STRUCTURE}); absent when not sagittal. */
  readonly structure?: number;
  readonly usable: boolean;
  /** Empty when usable; otherwise each reason in words. */
  readonly reasons: string[];
}

/** The sequence guess for a volume; for files without DICOM names the file name stands in. */
export function sequenceOf(volume: Volume): SequenceGuess {
  const meta = volume.metadata;
  const fileName = volume.metadata.sourceFormat === 'dicom' ? undefined : basename(meta.sourcePaths[0] ?? '');
  return classifySequence({
    ...meta,
    seriesDescription: meta.seriesDescription ?? fileName?.replace(/\.(nii\.gz|[a-z]+)$/i, ''),
  });
}

/** Decides whether a series can be graded (see the module comment for the rule). */
export function gradingSuitability(volume: Volume): GradingSuitability {
  const plane = imagePlane(volume);
  const sequence = sequenceOf(volume);
  const axes = assignAxes(volume);
  const fieldOfViewMm: [number, number] = [
    volume.size[axes.anteriorPosterior] * volume.spacing[axes.anteriorPosterior],
    volume.size[axes.inferiorSuperior] * volume.spacing[axes.inferiorSuperior],
  ];
  const reasons: string[] = [];
  if (plane !== 'sagittal') reasons.push(`${plane} plane: grading needs sagittal slices`);
  if (!GRADABLE_SEQUENCES.includes(sequence.sequence)) {
    reasons.push(`sequence ${sequence.sequence} (${sequence.reason}): grading needs T1 or T2`);
  }
  if (volume.metadata.spacingSource === 'assumed') {
    reasons.push('pixel spacing unknown (a picture carries none): pass --pixel-spacing');
  } else if (plane === 'sagittal') {
    const inPlane = Math.max(volume.spacing[axes.anteriorPosterior], volume.spacing[axes.inferiorSuperior]);
    if (inPlane > MAX_GRADING_PIXEL_SPACING_MM) {
      reasons.push(`in-plane spacing ${inPlane.toFixed(2)} mm is coarser than ${MAX_GRADING_PIXEL_SPACING_MM} mm`);
    }
    if (fieldOfViewMm[1] < MIN_GRADING_FIELD_OF_VIEW_MM) {
      reasons.push(
        `superior-inferior field of view ${fieldOfViewMm[1].toFixed(0)} mm is shorter than ${MIN_GRADING_FIELD_OF_VIEW_MM} mm`,
      );
    }
  }
  const sagittalSlices = volume.size[axes.leftRight];
  const modality = volume.metadata.modality?.trim().toUpperCase();
  if (modality && modality !== 'MR') reasons.push(`modality ${modality}: grading needs MR images`);
  let image: { contrast: number; structure: number } | undefined;
  if (plane === 'sagittal') {
    const picture = volume.metadata.sourceFormat === 'png' || volume.metadata.sourceFormat === 'jpeg';
    if (!picture && sagittalSlices < MIN_GRADING_SAGITTAL_SLICES) {
      reasons.push(
        `only ${sagittalSlices} sagittal slice(s): grading needs at least ${MIN_GRADING_SAGITTAL_SLICES} to find the mid-sagittal slice (a single mid-sagittal slice can be given as a PNG/JPEG with --pixel-spacing)`,
      );
    }
    const thickness = Math.max(
      picture || sagittalSlices < 2 ? 0 : volume.spacing[axes.leftRight],
      volume.metadata.sliceThickness ?? 0,
    );
    if (thickness > MAX_GRADING_SLICE_THICKNESS_MM) {
      reasons.push(
        `sagittal slices ${thickness.toFixed(1)} mm thick: grading needs ${MAX_GRADING_SLICE_THICKNESS_MM} mm or thinner`,
      );
    }
    image = imageContent(volume);
    if (image.contrast < MIN_GRADING_CONTRAST) {
      reasons.push(
        `contrast too low (${image.contrast.toFixed(3)} on the mid-sagittal slice, under ${MIN_GRADING_CONTRAST}): a blank or washed-out image`,
      );
    } else if (image.structure < MIN_GRADING_STRUCTURE) {
      reasons.push(
        `no image structure (neighbouring pixels correlate ${image.structure.toFixed(2)}, under ${MIN_GRADING_STRUCTURE}): the image looks like noise`,
      );
    }
  }
  return {
    plane,
    sequence,
    fieldOfViewMm,
    sagittalSlices,
    ...(image ?? {}),
    usable: reasons.length === 0,
    reasons,
  };
}

/** Most pixels sampled for the contrast percentiles. */
const CONTRAST_SAMPLES = 16384;

/**
 * Contrast and structure of the geometric mid-sagittal slice: the 1st-99th percentile range over the
 * larger magnitude of the two, and the correlation of horizontally neighbouring pixels.
 */
function imageContent(volume: Volume): { contrast: number; structure: number } {
  const { pixels, width, height } = extractSagittalSlice(volume, midSagittalIndex(volume));
  const step = Math.max(1, Math.ceil(pixels.length / CONTRAST_SAMPLES));
  const sample = new Float64Array(Math.ceil(pixels.length / step));
  for (let n = 0, k = 0; n < pixels.length; n += step, k++) sample[k] = pixels[n] as number;
  sample.sort();
  const at = (p: number): number => sample[Math.min(sample.length - 1, Math.round(p * (sample.length - 1)))] as number;
  const lo = at(0.01);
  const hi = at(0.99);
  const scale = Math.max(Math.abs(lo), Math.abs(hi));
  const contrast = scale > 0 ? (hi - lo) / scale : 0;
  let mean = 0;
  for (let n = 0; n < pixels.length; n++) mean += pixels[n] as number;
  mean /= pixels.length;
  let products = 0;
  let squares = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = (pixels[x + y * width] as number) - mean;
      squares += a * a;
      if (x + 1 < width) products += a * ((pixels[x + 1 + y * width] as number) - mean);
    }
  }
  const structure = squares > 0 && width > 1 ? (products / squares) * (width / (width - 1)) : 0;
  return { contrast, structure };
}
