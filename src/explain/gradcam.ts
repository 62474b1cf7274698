/**
 * Grad-CAM (Selvaraju et al., 2017) for the grader: which parts of a disc crop drove one logit of one
 * head, as a heat map at the crop's resolution, and its mapping back onto the slice the crop came from.
 */
import { tf, tfl } from '../models/tf/backend.js';
import { camMaps, type GradCamMap, type GradCamTarget, packCamInput } from './heat.js';

export { type GradCamMap, type GradCamTarget, heatToSlice, type SliceToCrop } from './heat.js';

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
  const input = packCamInput(crops, plan.inputShape, target, plan.units);
  if (crops.length === 0) return [];
  const count = crops.length;
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
  return camMaps(raw, count, featureHeight, featureWidth, width, height);
}

/** The Grad-CAM map of one logit for one crop; see {@link gradCamBatch} for the assumptions on the model. */
export function gradCam(model: tfl.LayersModel, crop: Float32Array, target: GradCamTarget): GradCamMap {
  return gradCamBatch(model, [crop], target)[0]!;
}
