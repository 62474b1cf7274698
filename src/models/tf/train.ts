/**
 * A generic training loop for tfjs-layers models: Adam with an optional learning-rate schedule,
 * periodic validation, early stopping, best-weights checkpoints, progress reports, and optional
 * data parallelism over two worker threads (each computes the gradients of half of every batch).
 */
import { Worker } from 'node:worker_threads';
import { initTf, type TfBackendName, tf, type tfl } from './backend.js';
import { type ModelMetadata, saveModel } from './io.js';
import {
  assignFlatWeights,
  type Batch,
  batchSize,
  type FromWorker,
  flattenWeights,
  importModelModule,
  type LossFunction,
  lossAndGradients,
  type ModelFunctions,
  type ModelModuleSpec,
  sliceBatch,
  type ToWorker,
  weightCount,
  weightShapes,
} from './trainCore.js';

/** Batches, loss functions and model specs are defined in `trainCore.ts` (shared with the workers). */
export type { Batch, LossFunction, ModelFunctions, ModelModuleSpec, TensorData } from './trainCore.js';
/** The model's outputs in training mode, keyed by output name (see `trainCore.ts`). */
export { forwardTraining } from './trainCore.js';

/** How the learning rate changes from epoch to epoch (it is constant within an epoch). */
export type LearningRateSchedule =
  | { kind: 'constant' }
  /** Cosine decay from the base rate (after `warmupEpochs` of linear warm-up) to `minLearningRate`. */
  | { kind: 'cosine'; minLearningRate?: number; warmupEpochs?: number }
  /** The base rate times `factor` every `everyEpochs` epochs. */
  | { kind: 'step'; everyEpochs: number; factor: number };

/** Adam hyper-parameters (defaults 0.9, 0.999, 1e-7 as in tfjs). */
export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/** A progress report, sent after every step. */
export interface TrainProgress {
  /** Epoch, from 0. */
  epoch: number;
  /** Total epochs planned. */
  epochs: number;
  /** Steps done in this epoch (from 1). */
  step: number;
  /** Steps per epoch, when known (a batch array, or from an earlier epoch). */
  stepsPerEpoch: number | undefined;
  /** Loss of this step. */
  loss: number;
  /** Mean loss of the epoch so far. */
  meanLoss: number;
  /** Training samples per second in this epoch. */
  samplesPerSecond: number;
  /** Estimated seconds to the end of training (validation excluded), when steps per epoch are known. */
  etaSeconds: number | undefined;
  /** Learning rate of this epoch. */
  learningRate: number;
  /** Wall time of this step in ms. */
  stepMs: number;
  /** Of which computing the loss and gradients (on this thread, or the slowest worker), in ms. */
  computeMs: number;
}

/** What happened in one epoch. */
export interface EpochRecord {
  epoch: number;
  meanLoss: number;
  learningRate: number;
  steps: number;
  samples: number;
  seconds: number;
  samplesPerSecond: number;
  /** Validation score (higher is better), when validated after this epoch. */
  score?: number;
}

/** Options of {@link trainModel}. */
export interface TrainOptions<C = unknown> {
  /** The model: a module (required for `workers: 2`) or in-process build and loss functions. */
  model: ModelModuleSpec<C> | ModelFunctions;
  /** The batches of an epoch (called once per epoch, from 0). */
  nextEpoch: (epoch: number) => AsyncIterable<Batch> | Iterable<Batch>;
  /** Number of epochs. */
  epochs: number;
  /** Base learning rate of Adam. */
  learningRate: number;
  /** Learning-rate schedule, default constant. */
  schedule?: LearningRateSchedule;
  /** Adam hyper-parameters. */
  adam?: AdamOptions;
  /** Clip gradients to this global L2 norm (no clipping by default). */
  clipGradientNorm?: number;
  /** Scores the model (higher is better); run every `validateEvery` epochs and after the last one. */
  validate?: (model: tfl.LayersModel, epoch: number) => Promise<number>;
  /** Epochs between validations, default 1. */
  validateEvery?: number;
  /** Stop after this many validations without an improvement of more than `minDelta` (default: never). */
  patience?: number;
  /** The least score increase that counts as an improvement, default 0. */
  minDelta?: number;
  /** Folder for checkpoints: the best model (or, without `validate`, the latest) is saved there. */
  checkpointDir?: string;
  /** Metadata stored in every checkpoint (with `epoch`, `score` and `loss` added). */
  checkpointMetadata?: ModelMetadata;
  /** Put the best validated weights back into the model at the end, default true. */
  restoreBest?: boolean;
  /** Called after every step. */
  onProgress?: (progress: TrainProgress) => void;
  /** 1: train on this thread; 2: data-parallel over two worker threads. Default 1. */
  workers?: 1 | 2;
  /** TensorFlow.js backend, default 'wasm'. */
  backend?: TfBackendName;
  /** Start from these weights (all of the model's weights, flattened in order) instead of fresh ones: fine-tuning. */
  initialWeights?: Float32Array;
}

/** The outcome of {@link trainModel}. */
export interface TrainResult {
  /** The trained model (with the best validated weights when `restoreBest`). */
  model: tfl.LayersModel;
  /** One record per epoch run. */
  history: EpochRecord[];
  /** Best validation score, if validated. */
  bestScore: number | undefined;
  /** Epoch of the best validation score. */
  bestEpoch: number | undefined;
  /** True when early stopping ended training before `epochs`. */
  stoppedEarly: boolean;
}

/** The learning rate of `epoch` under a schedule. */
export function scheduledLearningRate(
  base: number,
  epoch: number,
  epochs: number,
  schedule: LearningRateSchedule = { kind: 'constant' },
): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * schedule.factor ** Math.floor(epoch / Math.max(1, schedule.everyEpochs));
    case 'cosine': {
      const warmup = schedule.warmupEpochs ?? 0;
      if (epoch < warmup) return (base * (epoch + 1)) / (warmup + 1);
      const min = schedule.minLearningRate ?? 0;
      const span = Math.max(1, epochs - warmup);
      const t = Math.min(1, (epoch - warmup) / span);
      return min + ((base - min) * (1 + Math.cos(Math.PI * t))) / 2;
    }
  }
}

/** Adam over the trainable weights of a model, with the learning rate given per step. */
class Adam {
  private readonly moments: { m: tf.Variable; v: tf.Variable }[];
  private step = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(
    private readonly weights: tfl.LayerVariable[],
    options: AdamOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    // tf.variable keeps the zeros' data; tidy disposes the zeros tensors themselves.
    this.moments = weights.map((w) =>
      tf.tidy(() => ({
        m: tf.variable(tf.zeros(w.shape as number[]), false),
        v: tf.variable(tf.zeros(w.shape as number[]), false),
      })),
    );
  }

  apply(grads: tf.Tensor[], learningRate: number): void {
    this.step++;
    const { beta1, beta2, epsilon } = this;
    const rate = (learningRate * Math.sqrt(1 - beta2 ** this.step)) / (1 - beta1 ** this.step);
    tf.tidy(() => {
      this.weights.forEach((weight, i) => {
        const g = grads[i];
        const moment = this.moments[i];
        if (g === undefined || moment === undefined) throw new Error('gradient list does not match the weights');
        moment.m.assign(tf.add(tf.mul(moment.m, beta1), tf.mul(g, 1 - beta1)));
        moment.v.assign(tf.add(tf.mul(moment.v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const update = tf.div(moment.m, tf.add(tf.sqrt(moment.v), epsilon));
        weight.write(tf.sub(weight.read(), tf.mul(update, rate)));
      });
    });
  }

  dispose(): void {
    for (const { m, v } of this.moments) {
      m.dispose();
      v.dispose();
    }
  }
}

/** Scales gradients (in place in the list) so that their global L2 norm is at most `maxNorm`. */
function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): void {
  const norm = Math.sqrt(grads.reduce((sum, g) => sum + tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0] ?? 0), 0));
  if (!(norm > maxNorm)) return;
  const factor = maxNorm / norm;
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i];
    if (g === undefined) continue;
    grads[i] = tf.mul(g, factor);
    g.dispose();
  }
}

/** Computes losses and gradients of batches, on this thread or on workers. */
interface GradientSource {
  compute(batch: Batch): Promise<{ loss: number; grads: tf.Tensor[]; computeMs: number }>;
  close(): Promise<void>;
}

function localSource(model: tfl.LayersModel, lossOf: LossFunction): GradientSource {
  return {
    compute: async (batch) => {
      const started = performance.now();
      const result = lossAndGradients(model, lossOf, batch);
      return { ...result, computeMs: performance.now() - started };
    },
    close: async () => undefined,
  };
}

interface PendingReply {
  resolve: (message: FromWorker) => void;
  reject: (error: Error) => void;
}

/** One worker thread and the reply it owes. */
class TrainWorker {
  private readonly worker: Worker;
  private pending: PendingReply | undefined;
  private failure: Error | undefined;

  constructor() {
    this.worker = new Worker(new URL('./trainWorker.js', import.meta.url));
    this.worker.on('message', (message: FromWorker) => {
      const pending = this.pending;
      this.pending = undefined;
      if (message.type === 'error') {
        const error = new Error(`training worker: ${message.message}`);
        if (message.stack !== undefined) error.stack = message.stack;
        pending?.reject(error);
      } else pending?.resolve(message);
    });
    this.worker.on('error', (error: Error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`training worker exited with code ${code}`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  request(message: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.pending !== undefined) return Promise.reject(new Error('training worker is busy'));
    return new Promise<FromWorker>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(message, transfer);
    });
  }

  async terminate(): Promise<void> {
    this.worker.removeAllListeners('exit');
    this.worker.removeAllListeners('error');
    await this.worker.terminate();
  }
}

async function workerSource<C>(
  spec: ModelModuleSpec<C>,
  backend: TfBackendName,
  model: tfl.LayersModel,
  count: number,
): Promise<GradientSource> {
  const workers = Array.from({ length: count }, () => new TrainWorker());
  const trainable = model.trainableWeights;
  const state = model.nonTrainableWeights;
  const trainableSize = weightCount(trainable);
  const init: ToWorker = {
    type: 'init',
    spec: spec as ModelModuleSpec,
    backend,
    trainableShapes: weightShapes(trainable),
    stateShapes: weightShapes(state),
  };
  try {
    await Promise.all(workers.map((worker) => worker.request(init)));
  } catch (error) {
    await Promise.all(workers.map((worker) => worker.terminate()));
    throw error;
  }

  const compute = async (batch: Batch): Promise<{ loss: number; grads: tf.Tensor[]; computeMs: number }> => {
    const n = batchSize(batch);
    const parts: { start: number; count: number }[] = [];
    const per = Math.ceil(n / workers.length);
    for (let start = 0; start < n; start += per) parts.push({ start, count: Math.min(per, n - start) });
    const weights = new Float32Array(trainableSize + weightCount(state));
    weights.set(flattenWeights(trainable), 0);
    if (state.length > 0) weights.set(flattenWeights(state), trainableSize);
    const replies = await Promise.all(
      parts.map((part, i) => {
        const worker = workers[i];
        if (worker === undefined) throw new Error('more batch parts than workers');
        const copy = i === parts.length - 1 ? weights : weights.slice();
        const slice = sliceBatch(batch, part.start, part.count);
        const transfer = [copy.buffer, slice.inputs.buffer, ...Object.values(slice.targets).map((t) => t.data.buffer)];
        return worker.request({ type: 'step', weights: copy, batch: slice }, transfer as ArrayBuffer[]);
      }),
    );
    const grads = new Float32Array(trainableSize);
    const newState = new Float32Array(weightCount(state));
    let loss = 0;
    let computeMs = 0;
    replies.forEach((reply, i) => {
      if (reply.type !== 'result') throw new Error(`unexpected reply ${reply.type} from a training worker`);
      computeMs = Math.max(computeMs, reply.computeMs);
      const weight = (parts[i]?.count ?? 0) / n;
      loss += reply.loss * weight;
      for (let j = 0; j < grads.length; j++) grads[j] = (grads[j] ?? 0) + (reply.grads[j] ?? 0) * weight;
      for (let j = 0; j < newState.length; j++) newState[j] = (newState[j] ?? 0) + (reply.state[j] ?? 0) * weight;
    });
    if (state.length > 0) assignFlatWeights(state, newState);
    let offset = 0;
    const tensors = trainable.map((w) => {
      const shape = w.shape as number[];
      const size = tf.util.sizeFromShape(shape);
      const t = tf.tensor(grads.subarray(offset, offset + size), shape, 'float32');
      offset += size;
      return t;
    });
    return { loss, grads: tensors, computeMs };
  };

  return {
    compute,
    close: async () => {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

function checkBatch(batch: Batch): void {
  const [n, h, w, c] = batch.inputShape;
  if (batch.inputs.length !== n * h * w * c) {
    throw new Error(`batch inputs hold ${batch.inputs.length} values, shape ${batch.inputShape.join('×')} needs more`);
  }
  for (const [name, target] of Object.entries(batch.targets)) {
    if (target.data.length !== tf.util.sizeFromShape(target.shape)) {
      throw new Error(`target ${name} holds ${target.data.length} values for shape ${target.shape.join('×')}`);
    }
    if (target.shape[0] !== n) throw new Error(`target ${name} has first dimension ${target.shape[0]}, batch is ${n}`);
  }
}

function isModuleSpec<C>(model: ModelModuleSpec<C> | ModelFunctions): model is ModelModuleSpec<C> {
  return 'module' in model;
}

/**
 * Trains a model: per epoch, Adam steps over the batches of `nextEpoch(epoch)`, then (every
 * `validateEvery` epochs) validation, checkpointing of improvements, and early stopping.
 */
export async function trainModel<C>(options: TrainOptions<C>): Promise<TrainResult> {
  const workers = options.workers ?? 1;
  const backend = options.backend ?? 'wasm';
  if (!Number.isInteger(options.epochs) || options.epochs < 1) throw new Error('epochs must be an integer ≥ 1');
  if (!(options.learningRate > 0)) throw new Error('learningRate must be > 0');
  if (workers !== 1 && workers !== 2) throw new Error('workers must be 1 or 2');
  if (workers > 1 && !isModuleSpec(options.model)) {
    throw new Error('data-parallel training needs the model as a module (module, config), not functions');
  }
  await initTf(backend);
  const functions = isModuleSpec(options.model) ? await importModelModule(options.model) : options.model;
  const model = functions.build();
  if (options.initialWeights) {
    const expected = model.weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
    if (options.initialWeights.length !== expected) {
      model.dispose();
      throw new Error(`initial weights hold ${options.initialWeights.length} values; the model has ${expected}`);
    }
    assignFlatWeights(model.weights, options.initialWeights);
  }
  const source =
    workers > 1 && isModuleSpec(options.model)
      ? await workerSource(options.model, backend, model, workers)
      : localSource(model, functions.lossOf);
  const adam = new Adam(model.trainableWeights, options.adam);
  const validateEvery = Math.max(1, options.validateEvery ?? 1);
  const minDelta = options.minDelta ?? 0;
  const history: EpochRecord[] = [];
  let bestScore: number | undefined;
  let bestEpoch: number | undefined;
  let bestWeights: Float32Array | undefined;
  let sinceImprovement = 0;
  let stoppedEarly = false;
  let knownSteps: number | undefined;

  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const learningRate = scheduledLearningRate(options.learningRate, epoch, options.epochs, options.schedule);
      const batches = options.nextEpoch(epoch);
      const stepsPerEpoch = Array.isArray(batches) ? batches.length : knownSteps;
      const started = performance.now();
      let steps = 0;
      let samples = 0;
      let lossSum = 0;
      for await (const batch of batches) {
        const stepStarted = performance.now();
        checkBatch(batch);
        const { loss, grads, computeMs } = await source.compute(batch);
        if (!Number.isFinite(loss)) {
          for (const g of grads) g.dispose();
          throw new Error(`training loss is ${loss} at epoch ${epoch}, step ${steps + 1}`);
        }
        if (options.clipGradientNorm !== undefined) clipByGlobalNorm(grads, options.clipGradientNorm);
        adam.apply(grads, learningRate);
        for (const g of grads) g.dispose();
        steps++;
        samples += batchSize(batch);
        lossSum += loss * batchSize(batch);
        const elapsed = (performance.now() - started) / 1000;
        const remaining =
          stepsPerEpoch === undefined
            ? undefined
            : Math.max(0, stepsPerEpoch - steps) + (options.epochs - epoch - 1) * stepsPerEpoch;
        options.onProgress?.({
          epoch,
          epochs: options.epochs,
          step: steps,
          stepsPerEpoch,
          loss,
          meanLoss: lossSum / samples,
          samplesPerSecond: samples / Math.max(elapsed, 1e-9),
          etaSeconds: remaining === undefined ? undefined : (remaining * elapsed) / steps,
          learningRate,
          stepMs: performance.now() - stepStarted,
          computeMs,
        });
      }
      if (steps === 0) throw new Error(`nextEpoch(${epoch}) produced no batches`);
      knownSteps = steps;
      const seconds = (performance.now() - started) / 1000;
      const record: EpochRecord = {
        epoch,
        meanLoss: lossSum / samples,
        learningRate,
        steps,
        samples,
        seconds,
        samplesPerSecond: samples / Math.max(seconds, 1e-9),
      };
      history.push(record);
      const last = epoch === options.epochs - 1;
      if (options.validate !== undefined && ((epoch + 1) % validateEvery === 0 || last)) {
        const score = await options.validate(model, epoch);
        record.score = score;
        if (bestScore === undefined || score > bestScore + minDelta) {
          bestScore = score;
          bestEpoch = epoch;
          sinceImprovement = 0;
          if (options.restoreBest ?? true) bestWeights = flattenWeights(model.weights);
          if (options.checkpointDir !== undefined) {
            await saveModel(model, options.checkpointDir, {
              ...options.checkpointMetadata,
              epoch,
              score,
              loss: record.meanLoss,
            });
          }
        } else {
          sinceImprovement++;
          if (options.patience !== undefined && sinceImprovement >= options.patience && !last) {
            stoppedEarly = true;
            break;
          }
        }
      } else if (options.validate === undefined && options.checkpointDir !== undefined) {
        await saveModel(model, options.checkpointDir, { ...options.checkpointMetadata, epoch, loss: record.meanLoss });
      }
    }
    if (bestWeights !== undefined && bestEpoch !== history[history.length - 1]?.epoch) {
      assignFlatWeights(model.weights, bestWeights);
    }
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    adam.dispose();
    await source.close();
  }
  return { model, history, bestScore, bestEpoch, stoppedEarly };
}
