/**
 * Class-activation heat maps, whatever computed them: their types, the step from raw feature-resolution
 * maps to normalised crop-resolution heat, and the mapping of that heat back onto the slice.
 */
import type { CropPlacement } from '../grade/crops.js';
import { sampleBilinear } from '../transforms/sample.js';

/** What to explain: one logit of one head, seen through one feature layer. */
export interface GradCamTarget {
  /** Name of the head layer whose output holds the logit, e.g. `pfirrmann`. */
  output: string;
  /** Index of the logit in that head's output. */
  index: number;
  /** Name of the feature layer (output `[n, h, w, channels]`), default `features`. */
  featureLayer?: string;
}

/** A Grad-CAM heat map at the model's input resolution. */
export interface GradCamMap {
  /** Row-major `height × width` heat in [0, 1], divided by its maximum (all zeros when there is none). */
  heat: Float32Array;
  /** Width of the map: the model input width. */
  width: number;
  /** Height of the map: the model input height. */
  height: number;
  /** Maximum of the ReLU'd map at feature resolution before normalising; 0 when no evidence is positive. */
  peak: number;
}

/** Where a crop lies in a slice: the crop pixel (u, v) of the slice pixel centred at (x, y) (see `grade/crops.ts`). */
export type SliceToCrop = Pick<CropPlacement, 'sliceToCrop'>;

/** Bilinear resize with aligned pixel areas (half-pixel centres), as image libraries resize. */
function resizeBilinear(
  source: Float32Array,
  sourceWidth: number,
  sourceHeight: number,
  width: number,
  height: number,
): Float32Array {
  const out = new Float32Array(width * height);
  const sx = sourceWidth / width;
  const sy = sourceHeight / height;
  for (let y = 0; y < height; y++) {
    const v = (y + 0.5) * sy - 0.5;
    for (let x = 0; x < width; x++) {
      out[x + y * width] = sampleBilinear(source, sourceWidth, sourceHeight, (x + 0.5) * sx - 0.5, v);
    }
  }
  return out;
}

/**
 * The crops of a Grad-CAM batch packed into one `[n, height, width, channels]` input, after checking
 * the target's index against the head's `units` and every crop's size; empty for no crops.
 */
export function packCamInput(
  crops: readonly Float32Array[],
  inputShape: readonly [number, number, number],
  target: GradCamTarget,
  units: number,
): Float32Array {
  if (!Number.isInteger(target.index) || target.index < 0 || target.index >= units) {
    throw new Error(`Grad-CAM: index ${target.index} is outside head "${target.output}" (${units} outputs)`);
  }
  const [height, width, channels] = inputShape;
  const size = height * width * channels;
  for (const [n, crop] of crops.entries()) {
    if (crop.length !== size) {
      throw new Error(`Grad-CAM: crop ${n} has ${crop.length} values, expected ${height}×${width}×${channels}`);
    }
  }
  const input = new Float32Array(crops.length * size);
  for (const [n, crop] of crops.entries()) input.set(crop, n * size);
  return input;
}

/**
 * Heat maps from raw class-activation maps (`count` maps of `featureHeight × featureWidth`, already
 * ReLU'd): each resized to the crop (`width × height`) and divided by its maximum.
 */
export function camMaps(
  raw: Float32Array,
  count: number,
  featureHeight: number,
  featureWidth: number,
  width: number,
  height: number,
): GradCamMap[] {
  const cells = featureHeight * featureWidth;
  return Array.from({ length: count }, (_, n) => {
    const cam = raw.subarray(n * cells, (n + 1) * cells);
    let peak = 0;
    for (const value of cam) if (value > peak) peak = value;
    const heat = resizeBilinear(cam, featureWidth, featureHeight, width, height);
    let max = 0;
    for (const value of heat) if (value > max) max = value;
    if (max > 0) for (let i = 0; i < heat.length; i++) heat[i] = (heat[i] as number) / max;
    else heat.fill(0);
    return { heat, width, height, peak };
  });
}

/**
 * The crop heat resampled (bilinearly) onto a `sliceWidth × sliceHeight` slice grid, row-major; slice
 * pixels whose crop coordinates fall outside the crop's pixel area get 0.
 */
export function heatToSlice(
  map: GradCamMap,
  cropToSlice: SliceToCrop,
  sliceWidth: number,
  sliceHeight: number,
): Float32Array {
  const { heat, width, height } = map;
  if (heat.length !== width * height) {
    throw new Error(`heat has ${heat.length} values, expected ${width}×${height}`);
  }
  const out = new Float32Array(sliceWidth * sliceHeight);
  for (let y = 0; y < sliceHeight; y++) {
    for (let x = 0; x < sliceWidth; x++) {
      const [u, v] = cropToSlice.sliceToCrop(x, y);
      if (u >= -0.5 && u <= width - 0.5 && v >= -0.5 && v <= height - 0.5) {
        out[x + y * sliceWidth] = sampleBilinear(heat, width, height, u, v);
      }
    }
  }
  return out;
}
