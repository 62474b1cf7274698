/**
 * The parts of training shared by the main thread and the data-parallel workers: batches as plain
 * typed arrays, model modules, weight (de)serialisation and one gradient computation.
 */
import { type TfBackendName, tf, type tfl } from './backend.js';

/** A tensor as plain data: values in row-major order and a shape. */
export interface TensorData {
  data: Float32Array;
  shape: number[];
}

/** One training batch: NHWC inputs and named targets whose first dimension is the batch. */
export interface Batch {
  inputs: Float32Array;
  inputShape: [number, number, number, number];
  targets: Record<string, TensorData>;
}

/**
 * The training loss of `model` on one batch; must return the mean over the batch (the data-parallel
 * trainer averages the gradients of batch halves weighted by their sizes).
 */
export type LossFunction = (
  model: tfl.LayersModel,
  inputs: tf.Tensor4D,
  targets: Record<string, tf.Tensor>,
) => tf.Scalar;

/**
 * A model defined by an ES module, so that worker threads can rebuild it: the module exports
 * `buildModel(config)` and a loss function (see {@link LossFunction}).
 */
export interface ModelModuleSpec<C = unknown> {
  /** The module's URL (e.g. `new URL('./task.js', import.meta.url).href`). */
  module: string;
  /** Passed to the build export; must survive structured cloning. */
  config: C;
  /** The export that builds the model, default `buildModel`. */
  buildExport?: string;
  /** The export that computes the loss, default `lossOf`. */
  lossExport?: string;
}

/** The build and loss functions of a model module. */
export interface ModelFunctions {
  build: () => tfl.LayersModel;
  lossOf: LossFunction;
}

/** Imports a {@link ModelModuleSpec} and returns its build (bound to the config) and loss functions. */
export async function importModelModule<C>(spec: ModelModuleSpec<C>): Promise<ModelFunctions> {
  const module = (await import(spec.module)) as Record<string, unknown>;
  const buildName = spec.buildExport ?? 'buildModel';
  const lossName = spec.lossExport ?? 'lossOf';
  const build = module[buildName];
  const lossOf = module[lossName];
  if (typeof build !== 'function') throw new Error(`${spec.module} does not export a function ${buildName}`);
  if (typeof lossOf !== 'function') throw new Error(`${spec.module} does not export a function ${lossName}`);
  return {
    build: () => (build as (config: C) => tfl.LayersModel)(spec.config),
    lossOf: lossOf as LossFunction,
  };
}

/** The model's outputs in training mode (batch-norm batch statistics, dropout on), keyed by output name. */
export function forwardTraining(model: tfl.LayersModel, inputs: tf.Tensor): Record<string, tf.Tensor> {
  const out = model.apply(inputs, { training: true });
  const list = Array.isArray(out) ? out : [out];
  const result: Record<string, tf.Tensor> = {};
  model.outputNames.forEach((name, i) => {
    const tensor = list[i];
    if (!(tensor instanceof tf.Tensor)) throw new Error(`output ${name} is not a concrete tensor`);
    result[name] = tensor;
  });
  return result;
}

/** The total number of values of some weights. */
export function weightCount(weights: readonly tfl.LayerVariable[]): number {
  return weights.reduce((sum, w) => sum + tf.util.sizeFromShape(w.shape as number[]), 0);
}

/** Copies the values of `weights` into one flat array, in order. */
export function flattenWeights(weights: readonly tfl.LayerVariable[]): Float32Array {
  const flat = new Float32Array(weightCount(weights));
  let offset = 0;
  for (const w of weights) {
    const values = w.read().dataSync();
    flat.set(values, offset);
    offset += values.length;
  }
  return flat;
}

/** Writes the values of a flat array (as produced by {@link flattenWeights}) into `weights`. */
export function assignFlatWeights(weights: readonly tfl.LayerVariable[], flat: Float32Array): void {
  if (flat.length !== weightCount(weights)) {
    throw new Error(`weight buffer holds ${flat.length} values, the model has ${weightCount(weights)}`);
  }
  let offset = 0;
  tf.tidy(() => {
    for (const w of weights) {
      const shape = w.shape as number[];
      const size = tf.util.sizeFromShape(shape);
      w.write(tf.tensor(flat.subarray(offset, offset + size), shape, 'float32'));
      offset += size;
    }
  });
}

/** The shapes of some weights, to check that two models share a layout. */
export function weightShapes(weights: readonly tfl.LayerVariable[]): number[][] {
  return weights.map((w) => w.shape as number[]);
}

/** The batch's inputs and targets as tensors (the caller disposes them). */
export function batchTensors(batch: Batch): { inputs: tf.Tensor4D; targets: Record<string, tf.Tensor> } {
  const inputs = tf.tensor4d(batch.inputs, batch.inputShape, 'float32');
  const targets: Record<string, tf.Tensor> = {};
  for (const [name, target] of Object.entries(batch.targets)) targets[name] = tf.tensor(target.data, target.shape);
  return { inputs, targets };
}

/** Runs the loss on one batch and returns it with the gradients of the trainable weights (in order). */
export function lossAndGradients(
  model: tfl.LayersModel,
  lossOf: LossFunction,
  batch: Batch,
): { loss: number; grads: tf.Tensor[] } {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { inputs, targets } = batchTensors(batch);
  try {
    const { value, grads } = tf.variableGrads(() => lossOf(model, inputs, targets), variables);
    const loss = value.dataSync()[0] ?? Number.NaN;
    value.dispose();
    const ordered = variables.map((v) => {
      const grad = grads[v.name];
      return grad ?? tf.zerosLike(v);
    });
    return { loss, grads: ordered };
  } finally {
    inputs.dispose();
    for (const t of Object.values(targets)) t.dispose();
  }
}

/** Concatenates tensors' values into one flat array and disposes the tensors. */
export function flattenAndDispose(tensors: tf.Tensor[]): Float32Array {
  const total = tensors.reduce((sum, t) => sum + t.size, 0);
  const flat = new Float32Array(total);
  let offset = 0;
  for (const t of tensors) {
    flat.set(t.dataSync() as Float32Array, offset);
    offset += t.size;
    t.dispose();
  }
  return flat;
}

/** The batch size of a batch (its first input dimension). */
export function batchSize(batch: Batch): number {
  return batch.inputShape[0];
}

/** Rows [start, start + count) of a batch, copied into fresh arrays. */
export function sliceBatch(batch: Batch, start: number, count: number): Batch {
  const n = batchSize(batch);
  const perInput = batch.inputs.length / n;
  const targets: Record<string, TensorData> = {};
  for (const [name, target] of Object.entries(batch.targets)) {
    if (target.shape[0] !== n) throw new Error(`target ${name} has first dimension ${target.shape[0]}, batch is ${n}`);
    const per = target.data.length / n;
    targets[name] = {
      data: target.data.slice(start * per, (start + count) * per),
      shape: [count, ...target.shape.slice(1)],
    };
  }
  const [, h, w, c] = batch.inputShape;
  return {
    inputs: batch.inputs.slice(start * perInput, (start + count) * perInput),
    inputShape: [count, h, w, c],
    targets,
  };
}

/** Messages from the trainer to a worker. */
export type ToWorker =
  | {
      type: 'init';
      spec: ModelModuleSpec;
      backend: TfBackendName;
      trainableShapes: number[][];
      stateShapes: number[][];
    }
  | { type: 'step'; weights: Float32Array; batch: Batch };

/** Messages from a worker to the trainer. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; loss: number; grads: Float32Array; state: Float32Array; computeMs: number }
  | { type: 'error'; message: string; stack?: string };
