/**
 * Grad-CAM of the grader for the discs of one slice: per finding, a heat map aligned to each disc's
 * crop and the same map carried back onto the slice's pixels. It explains the per-disc CNN (the
 * across-levels context model, when shipped, adjusts its logits afterwards and is not explained here).
 */
import { BINARY_FINDINGS, type BinaryFinding } from '../datasets/types.js';
import { cropDisc, type DiscPlacement, intensityRange } from '../grade/crops.js';
import { type Grader, graderLayersModel } from '../grade/grader.js';
import type { Image2D } from '../transforms/resample.js';
import { type GradCamMap, gradCamBatch, heatToSlice } from './gradcam.js';

/** What to explain: a Pfirrmann grade (1-5), a Modic type (0-3), or a binary finding. */
export type ExplainTarget =
  | { finding: 'pfirrmann'; grade: number }
  | { finding: 'modic'; type: number }
  | { finding: BinaryFinding };

/** The heat of one disc: on its crop, and on the slice (same size as the slice, 0 outside the crop). */
export interface DiscHeat {
  crop: GradCamMap;
  slice: Float32Array;
}

function headOf(target: ExplainTarget): { output: string; index: number } {
  if (target.finding === 'pfirrmann') {
    if (!(target.grade >= 1 && target.grade <= 5)) throw new RangeError(`Pfirrmann grade ${target.grade} is not 1-5`);
    return { output: 'pfirrmann', index: target.grade - 1 };
  }
  if (target.finding === 'modic') {
    if (!(target.type >= 0 && target.type <= 3)) throw new RangeError(`Modic type ${target.type} is not 0-3`);
    return { output: 'modic', index: target.type };
  }
  return { output: 'findings', index: BINARY_FINDINGS.indexOf(target.finding) };
}

/** Grad-CAM of one finding for each disc of a slice. */
export async function explainDiscs(
  grader: Grader,
  image: Image2D,
  discs: readonly DiscPlacement[],
  target: ExplainTarget,
): Promise<DiscHeat[]> {
  const range = intensityRange(image);
  const crops = discs.map((disc) => cropDisc(image, disc, grader.crop, range));
  const maps = gradCamBatch(
    await graderLayersModel(grader),
    crops.map((c) => c.pixels),
    headOf(target),
  );
  return maps.map((map, n) => ({
    crop: map,
    slice: heatToSlice(map, (crops[n] as (typeof crops)[number]).placement, image.width, image.height),
  }));
}
