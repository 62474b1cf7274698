/**
 * Whether a series can be graded, and why not. Grading needs a sagittal T1- or T2-weighted series
 * with a known pixel spacing, fine enough in-plane resolution and a field of view that holds the
 * lumbar spine (L1 to S1 spans about 180 mm in adults; a third of that is the least a localiser
 * can label from the sacrum upward).
 */
import { basename } from 'node:path';
import { assignAxes, imagePlane } from './orientation.js';
import { classifySequence, type SequenceGuess } from './sequence.js';
import type { Plane, Volume } from './volume.js';

/** Coarsest in-plane pixel spacing spinegrade grades, mm. */
export const MAX_GRADING_PIXEL_SPACING_MM = 1.5;
/** Shortest superior-inferior field of view spinegrade grades, mm. */
export const MIN_GRADING_FIELD_OF_VIEW_MM = 60;
/** Sequences the graders are trained on. */
export const GRADABLE_SEQUENCES: readonly string[] = ['T1', 'T2'];

/** A verdict on a series: can it be graded, and the reasons it cannot. */
export interface GradingSuitability {
  readonly plane: Plane;
  readonly sequence: SequenceGuess;
  /** Field of view in mm along the anterior-posterior and inferior-superior axes. */
  readonly fieldOfViewMm: readonly [number, number];
  /** Slices across left-right (the sagittal slice count). */
  readonly sagittalSlices: number;
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
  return {
    plane,
    sequence,
    fieldOfViewMm,
    sagittalSlices: volume.size[axes.leftRight],
    usable: reasons.length === 0,
    reasons,
  };
}
