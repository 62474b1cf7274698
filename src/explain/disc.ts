/**
 * Grad-CAM of the grader for the discs of one slice: per finding, a heat map aligned to each disc's
 * crop and the same map carried back onto the slice's pixels. It explains the per-disc CNN (the
 * across-levels context model, when shipped, adjusts its logits afterwards and is not explained here).
 */
import { BINARY_FINDINGS, type BinaryFinding } from '../disc/findings.js';
import { cropDisc, type DiscPlacement } from '../grade/crops.js';
import { type Grader, graderLayersModel } from '../grade/grader.js';
import { GRADER_HEADS } from '../grade/loss.js';
import { robustRange } from '../transforms/intensity.js';
import type { Image2D } from '../transforms/resample.js';
import { type GradCamMap, type GradCamTarget, heatToSlice } from './heat.js';
import { type LinearHeadCam, linearHeadCamBatch, loadLinearHeadCam } from './linearCam.js';

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

/** How a grader's Grad-CAM is computed: in closed form on its own engine, or with TensorFlow.js gradients. */
type Explainer = { kind: 'closed-form'; cam: LinearHeadCam } | { kind: 'gradients' };

const explainers = new WeakMap<Grader, Promise<Explainer>>();

/**
 * The grader's explainer, made once: the closed form (`linearCam.ts`) when every head is linear over
 * the average of the feature layer — the bundled grader's are — else gradients through TensorFlow.js.
 */
function explainerOf(grader: Grader): Promise<Explainer> {
  let explainer = explainers.get(grader);
  if (!explainer) {
    explainer = loadLinearHeadCam(grader.dir, Object.keys(GRADER_HEADS), { engine: grader.network.engine }).then(
      (cam): Explainer => (cam ? { kind: 'closed-form', cam } : { kind: 'gradients' }),
    );
    explainers.set(grader, explainer);
  }
  return explainer;
}

/** Frees what explaining the grader loaded (the feature network of the closed form). */
export async function releaseExplainer(grader: Grader): Promise<void> {
  const explainer = explainers.get(grader);
  explainers.delete(grader);
  const loaded = await explainer?.catch(() => undefined);
  if (loaded?.kind === 'closed-form') loaded.cam.features.dispose();
}

/** Grad-CAM maps of the crops for one target, by the grader's explainer. */
async function gradCamOf(grader: Grader, crops: readonly Float32Array[], target: GradCamTarget): Promise<GradCamMap[]> {
  const explainer = await explainerOf(grader);
  if (explainer.kind === 'closed-form') return linearHeadCamBatch(explainer.cam, crops, target);
  const { gradCamBatch } = await import('./gradcam.js');
  return gradCamBatch(await graderLayersModel(grader), crops, target);
}

/** Grad-CAM of one finding for each disc of a slice. */
export async function explainDiscs(
  grader: Grader,
  image: Image2D,
  discs: readonly DiscPlacement[],
  target: ExplainTarget,
): Promise<DiscHeat[]> {
  const range = robustRange(image.pixels);
  const crops = discs.map((disc) => cropDisc(image, disc, grader.crop, range));
  const maps = await gradCamOf(
    grader,
    crops.map((c) => c.pixels),
    headOf(target),
  );
  return maps.map((map, n) => ({
    crop: map,
    slice: heatToSlice(map, (crops[n] as (typeof crops)[number]).placement, image.width, image.height),
  }));
}
