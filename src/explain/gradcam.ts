/**
 * Grad-CAM (Selvaraju et al., 2017) for the grader: which parts of a disc crop drove one logit of one
 * head, as a heat map at the crop's resolution, and its mapping back onto the slice the crop came from.
 */
import type { CropPlacement } from '../grade/crops.js';
import { tf, tfl } from '../models/tf/backend.js';
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

interface Plan {
  features: tfl.LayersModel;
  downstream: tfl.layers.Layer[];
  inputShape: [number, number, number];
  featureShape: [number, number, number];
  units: number;
}

const plans = new WeakMap<tfl.LayersModel, Map<string, Plan>>();

function fixedShape(shape: ReadonlyArray<number | null>, rank: number, what: string): number[] {
  const dims = shape.slice(1);
  if (shape.length !== rank || dims.some((d) => d === null || !Number.isInteger(d) || d < 1)) {
    throw new Error(`Grad-CAM: ${what} has shape [${shape.join(', ')}], expected rank ${rank} with fixed sizes`);
  }
  return dims as number[];
}

function findLayer(model: tfl.LayersModel, name: string, role: string): tfl.layers.Layer {
  const layer = model.layers.find((l) => l.name === name);
  if (layer === undefined) throw new Error(`Grad-CAM: the model has no layer named "${name}" (the ${role})`);
  if (layer.inboundNodes.length !== 1) {
    throw new Error(`Grad-CAM: layer "${name}" is applied ${layer.inboundNodes.length} times; it must be applied once`);
  }
  return layer;
}

function buildPlan(model: tfl.LayersModel, featureName: string, outputName: string): Plan {
  if (model.inputs.length !== 1) throw new Error(`Grad-CAM: the model has ${model.inputs.length} inputs, expected 1`);
  const inputShape = fixedShape(model.inputs[0]!.shape, 4, 'the model input') as [number, number, number];
  const featureLayer = findLayer(model, featureName, 'feature layer');
  const featureOutput = featureLayer.output;
  if (Array.isArray(featureOutput)) throw new Error(`Grad-CAM: feature layer "${featureName}" has several outputs`);
  const featureShape = fixedShape(featureOutput.shape, 4, `feature layer "${featureName}"`) as [number, number, number];
  const head = findLayer(model, outputName, 'head');
  const headShape = head.outputShape;
  if (!Array.isArray(headShape) || Array.isArray(headShape[0])) {
    throw new Error(`Grad-CAM: head "${outputName}" has several outputs`);
  }
  const [units] = fixedShape(headShape as ReadonlyArray<number | null>, 2, `head "${outputName}"`) as [number];
  if (head === featureLayer) throw new Error(`Grad-CAM: head "${outputName}" is the feature layer itself`);
  const downstream: tfl.layers.Layer[] = [];
  let layer = head;
  while (layer !== featureLayer) {
    const node = layer.inboundNodes[0]!;
    if (node.inboundLayers.length === 0) {
      throw new Error(`Grad-CAM: head "${outputName}" is not downstream of feature layer "${featureName}"`);
    }
    if (node.inboundLayers.length !== 1 || layer.inboundNodes.length !== 1) {
      throw new Error(
        `Grad-CAM: layer "${layer.name}" between "${featureName}" and "${outputName}" is not a single-input layer applied once`,
      );
    }
    downstream.unshift(layer);
    layer = node.inboundLayers[0]!;
  }
  const features = tfl.model({ inputs: model.inputs, outputs: featureOutput, name: `${model.name}_${featureName}` });
  return { features, downstream, inputShape, featureShape, units };
}

function planFor(model: tfl.LayersModel, featureName: string, outputName: string): Plan {
  let byTarget = plans.get(model);
  if (byTarget === undefined) {
    byTarget = new Map();
    plans.set(model, byTarget);
  }
  const key = `${featureName}\u0000${outputName}`;
  let plan = byTarget.get(key);
  if (plan === undefined) {
    plan = buildPlan(model, featureName, outputName);
    byTarget.set(key, plan);
  }
  return plan;
}

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

function applyLayer(layer: tfl.layers.Layer, x: tf.Tensor): tf.Tensor {
  const y = layer.apply(x, { training: false });
  if (!(y instanceof tf.Tensor)) throw new Error(`Grad-CAM: layer "${layer.name}" did not return one tensor`);
  return y;
}

/**
 * Grad-CAM maps of one logit for many crops, with one forward and one backward pass for the batch.
 *
 * Assumptions (checked, with an Error naming the layer otherwise): the model has one input of fixed
 * size `[height, width, channels]`; the feature layer outputs `[n, h, w, channels]`; the head outputs
 * `[n, units]`; and the path from the feature layer to the head is a chain of single-input layers,
 * each applied once (for the grader: pool → dropout → Dense). The chain is re-applied in inference
 * mode and must act on each sample separately (true of pooling, dropout, batch norm and Dense); the
 * head's output is differentiated as it is, so a head should output logits (linear activation).
 * Each crop is row-major `height × width × channels`, as the model input.
 */
export function gradCamBatch(
  model: tfl.LayersModel,
  crops: readonly Float32Array[],
  target: GradCamTarget,
): GradCamMap[] {
  const featureName = target.featureLayer ?? 'features';
  const plan = planFor(model, featureName, target.output);
  const [height, width, channels] = plan.inputShape;
  const [featureHeight, featureWidth] = plan.featureShape;
  const { units } = plan;
  if (!Number.isInteger(target.index) || target.index < 0 || target.index >= units) {
    throw new Error(`Grad-CAM: index ${target.index} is outside head "${target.output}" (${units} outputs)`);
  }
  const size = height * width * channels;
  for (const [n, crop] of crops.entries()) {
    if (crop.length !== size) {
      throw new Error(`Grad-CAM: crop ${n} has ${crop.length} values, expected ${height}×${width}×${channels}`);
    }
  }
  if (crops.length === 0) return [];
  const count = crops.length;
  const input = new Float32Array(count * size);
  for (const [n, crop] of crops.entries()) input.set(crop, n * size);
  const cams = tf.tidy(() => {
    const x = tf.tensor4d(input, [count, height, width, channels]);
    const features = plan.features.predict(x, { batchSize: count }) as tf.Tensor4D;
    const score = (a: tf.Tensor): tf.Tensor => {
      let y = a;
      for (const layer of plan.downstream) y = applyLayer(layer, y);
      return tf.sum(tf.slice(y, [0, target.index], [count, 1]));
    };
    const gradients = tf.grad(score)(features);
    const alpha = tf.mean(gradients, [1, 2], true);
    return tf.relu(tf.sum(tf.mul(features, alpha), -1));
  });
  let raw: Float32Array;
  try {
    raw = cams.dataSync() as Float32Array;
  } finally {
    cams.dispose();
  }
  const cells = featureHeight * featureWidth;
  return crops.map((_, n) => {
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

/** The Grad-CAM map of one logit for one crop; see {@link gradCamBatch} for the assumptions on the model. */
export function gradCam(model: tfl.LayersModel, crop: Float32Array, target: GradCamTarget): GradCamMap {
  return gradCamBatch(model, [crop], target)[0]!;
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
