/**
 * Grad-CAM in closed form, from a forward pass alone. When a head is a linear Dense layer on the global
 * average of the feature layer (only Dropout between, an identity at inference), the gradient of its
 * logit c with respect to feature A[i, j, k] is W[k, c] / (h·w) at every position. Grad-CAM's channel
 * weights are then that constant, and its map is ReLU(Σ_k A[·, ·, k] · W[k, c] / (h·w)) — the class
 * activation map. So no gradients and no TensorFlow.js are needed: the feature layer runs on whichever
 * engine runs the grader. {@link loadLinearHeadCam} checks the topology and says undefined where this
 * does not hold (the caller then takes gradients with `gradCamBatch`).
 */

import type { EngineChoice, Network } from '../models/engine.js';
import { readSavedModel, savedWeights } from '../models/modelJson.js';
import { loadNetwork } from '../models/network.js';
import { camMaps, type GradCamMap, type GradCamTarget, packCamInput } from './heat.js';

interface TopologyLayer {
  readonly name: string;
  readonly class_name: string;
  readonly config: { readonly activation?: string; readonly batch_input_shape?: readonly (number | null)[] };
  readonly inbound_nodes: readonly (readonly (readonly [string, ...unknown[]])[])[];
}

/** A feature layer and the Dense kernels (`[channels, units]`) of the heads that read its average. */
export interface LinearHeadCam {
  /** The network up to the feature layer, on the grader's engine. */
  readonly features: Network;
  readonly featureLayer: string;
  /** The model input `[height, width, channels]`. */
  readonly inputShape: readonly [number, number, number];
  readonly kernels: ReadonlyMap<string, { readonly values: Float32Array; readonly units: number }>;
}

/** True when `head` is Dense (linear) ← Dropout* ← GlobalAveragePooling2D ← `featureLayer`, each with one input. */
export function isLinearHeadOver(layers: readonly TopologyLayer[], head: string, featureLayer: string): boolean {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const inputOf = (layer: TopologyLayer): TopologyLayer | undefined => {
    const node = layer.inbound_nodes;
    if (node.length !== 1 || node[0]?.length !== 1) return undefined;
    return byName.get(node[0][0]?.[0] as string);
  };
  const dense = byName.get(head);
  if (dense?.class_name !== 'Dense' || (dense.config.activation ?? 'linear') !== 'linear') return false;
  let layer = inputOf(dense);
  while (layer?.class_name === 'Dropout') layer = inputOf(layer);
  return layer?.class_name === 'GlobalAveragePooling2D' && inputOf(layer)?.name === featureLayer;
}

/**
 * The closed-form Grad-CAM of the `heads` of the model saved in `dir`, its feature layer run on
 * `engine`; undefined when a head is not linear over the average of the feature layer.
 */
export async function loadLinearHeadCam(
  dir: string,
  heads: readonly string[],
  options: { engine: EngineChoice; featureLayer?: string },
): Promise<LinearHeadCam | undefined> {
  const featureLayer = options.featureLayer ?? 'features';
  const saved = await readSavedModel(dir);
  const layers = (saved.json.modelTopology as { config?: { layers?: TopologyLayer[] } }).config?.layers ?? [];
  if (!heads.every((head) => isLinearHeadOver(layers, head, featureLayer))) return undefined;
  const inputShape = layers.find((l) => l.class_name === 'InputLayer')?.config.batch_input_shape;
  if (inputShape?.length !== 4 || inputShape.slice(1).some((d) => d === null)) return undefined;
  const weights = savedWeights(saved);
  const kernels = new Map<string, { values: Float32Array; units: number }>();
  for (const head of heads) {
    const kernel = weights.get(`${head}/kernel`);
    if (kernel?.shape.length !== 2) return undefined;
    kernels.set(head, { values: kernel.values, units: kernel.shape[1] as number });
  }
  return {
    features: await loadNetwork(dir, [featureLayer], options.engine, saved),
    featureLayer,
    inputShape: inputShape.slice(1) as unknown as [number, number, number],
    kernels,
  };
}

/** Grad-CAM maps of one logit for many crops (row-major `height × width × channels` each), in closed form. */
export function linearHeadCamBatch(
  cam: LinearHeadCam,
  crops: readonly Float32Array[],
  target: GradCamTarget,
): GradCamMap[] {
  if ((target.featureLayer ?? 'features') !== cam.featureLayer) {
    throw new Error(`Grad-CAM: this map reads feature layer "${cam.featureLayer}", not "${target.featureLayer}"`);
  }
  const kernel = cam.kernels.get(target.output);
  if (!kernel) throw new Error(`Grad-CAM: no linear head "${target.output}" over "${cam.featureLayer}"`);
  const input = packCamInput(crops, cam.inputShape, target, kernel.units);
  if (crops.length === 0) return [];
  const [height, width, channels] = cam.inputShape;
  const count = crops.length;
  const [features] = cam.features.run(input, [count, height, width, channels]);
  const [, featureHeight, featureWidth, featureChannels] = (features?.dims ?? []) as number[];
  if (!features || featureHeight === undefined || featureWidth === undefined || featureChannels === undefined) {
    throw new Error(`Grad-CAM: feature layer "${cam.featureLayer}" is not a [n, h, w, channels] map`);
  }
  if (featureChannels * kernel.units !== kernel.values.length) {
    throw new Error(
      `Grad-CAM: head "${target.output}" reads ${kernel.values.length / kernel.units} channels, not ${featureChannels}`,
    );
  }
  const cells = featureHeight * featureWidth;
  const raw = new Float32Array(count * cells);
  const scale = 1 / cells;
  for (let cell = 0; cell < count * cells; cell++) {
    let sum = 0;
    const at = cell * featureChannels;
    for (let k = 0; k < featureChannels; k++) {
      sum += (features.data[at + k] as number) * (kernel.values[k * kernel.units + target.index] as number);
    }
    raw[cell] = Math.max(0, sum * scale);
  }
  return camMaps(raw, count, featureHeight, featureWidth, width, height);
}
