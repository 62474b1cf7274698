/**
 * The across-levels context model: a small pre-LayerNorm transformer encoder that grades every disc
 * of one spine (one series) in the context of its neighbours. Its input is, per level slot, the
 * per-disc CNN grader's embedding (and, optionally, the CNN's own logits, see
 * {@link ContextModelConfig.cnnLogitResidual}); attention runs across the level slots of one spine,
 * with a key padding mask so that empty slots are never looked at. The heads and the loss are the
 * CNN grader's ({@link GRADER_HEADS}, {@link graderLoss}).
 *
 * tfjs-layers has no attention layer, so the model is plain tf ops over its own variables.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, SpinegradeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { mulberry32, shuffleInPlace } from '../metrics/random.js';
import { tf } from '../models/tf/backend.js';
import type { ContextPredictor } from './contextFormat.js';
import {
  attentionMaskBias,
  CONTEXT_BIN,
  CONTEXT_FORMAT,
  CONTEXT_JSON,
  CONTEXT_VERSION,
  type ContextBatch,
  type ContextJson,
  type ContextLogitArrays,
  type ContextModelConfig,
  checkContextBatch,
  HEAD_NAMES,
  HEAD_SIZES,
  LAYER_NORM_EPSILON,
  type ParameterSpec,
  parameterSpecs,
  readContextWeights,
  usage,
  validateContextConfig,
} from './contextFormat.js';
import { GRADER_HEADS, type GraderLogits, type GraderLossWeights, graderLoss } from './loss.js';

export {
  CONTEXT_BIN,
  CONTEXT_FORMAT,
  CONTEXT_JSON,
  CONTEXT_VERSION,
  type ContextBatch,
  type ContextLogitArrays,
  type ContextModelConfig,
  DEFAULT_CONTEXT_CONFIG,
  validateContextConfig,
} from './contextFormat.js';

/** One named weight of a context model. */
export interface ContextParameter {
  /** Stable name, e.g. `layer0/attention/qkv/kernel`. */
  readonly name: string;
  readonly variable: tf.Variable;
  /** False for the input normalisation statistics, which are fitted, not trained. */
  readonly trainable: boolean;
}

/** A context model: its configuration and weights. Dispose with {@link disposeContextModel}. */
export interface ContextModel {
  readonly config: Readonly<ContextModelConfig>;
  /** Every weight, in a fixed order (the order of `context.bin`). */
  readonly parameters: readonly ContextParameter[];
  /** Dropout numbers for {@link contextForward} when the caller passes none. */
  readonly random: () => number;
}

/** Training targets, `[spines, levels, classes]`, in the layout of `GraderTargets`; all zeros in empty slots. */
export interface ContextTargets {
  /** One-hot Pfirrmann grade (index 0-4); all zeros where ungraded. */
  pfirrmann: Float32Array;
  /** One-hot Modic type 0-3; all zeros where unknown. */
  modic: Float32Array;
  /** 0/1 per binary finding. */
  findings: Float32Array;
  /** 1 where the binary finding is graded, 0 where unknown. */
  findingsWeight: Float32Array;
}

/** A training set: a batch of spines with its targets. */
export interface ContextTrainingData extends ContextBatch {
  targets: ContextTargets;
}

/** Options of {@link trainContextModel}. */
export interface ContextTrainOptions {
  epochs: number;
  /** Spines per mini-batch (default 16). */
  batchSize?: number;
  /** Adam learning rate (default 1e-3). */
  learningRate?: number;
  /** Seed of the shuffle and of dropout (default: the model's seed). */
  seed?: number;
  /** Loss weights, as for the CNN grader. */
  weights: GraderLossWeights;
  /**
   * Set the input normalisation (per-feature mean and standard deviation over the occupied slots) from
   * `data` before training (default true). Pass false to continue training a fitted model on other data.
   */
  fitInputNormalization?: boolean;
  /** Called after each epoch with its mean loss per spine. */
  onEpoch?: (epoch: number, meanLoss: number) => void;
}

/** What {@link trainContextModel} returns. */
export interface ContextTrainResult {
  history: { epoch: number; meanLoss: number }[];
}

function initialValues(spec: ParameterSpec, config: ContextModelConfig, random: () => number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  if (spec.init === 'ones') values.fill(1);
  else if (spec.init === 'glorot') {
    const [fanIn = 1, fanOutAll = 1] = spec.shape;
    // The fused q/k/v kernel is three D×D kernels side by side.
    const fanOut = spec.name.endsWith('qkv/kernel') ? config.modelSize : fanOutAll;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < size; i++) values[i] = (2 * random() - 1) * limit;
  } else if (spec.init === 'embedding') {
    // Uniform with standard deviation 0.5: strong enough that attention can tell the slots apart from the start.
    const limit = 0.5 * Math.sqrt(3);
    for (let i = 0; i < size; i++) values[i] = (2 * random() - 1) * limit;
  }
  return values;
}

/** A new context model with weights initialised deterministically from `config.seed` (TensorFlow.js must be initialised). */
export function createContextModel(config: ContextModelConfig): ContextModel {
  validateContextConfig(config);
  const frozen = Object.freeze({ ...config });
  const random = mulberry32(config.seed);
  const parameters = parameterSpecs(frozen).map((spec) => ({
    name: spec.name,
    trainable: spec.trainable,
    variable: tf.variable(tf.tensor(initialValues(spec, frozen, random), spec.shape), spec.trainable),
  }));
  return { config: frozen, parameters, random: mulberry32((config.seed ^ 0x5bd1e995) >>> 0) };
}

/** An independent copy of a context model (its own variables), e.g. to fine-tune without touching the original. */
export function cloneContextModel(model: ContextModel): ContextModel {
  const parameters = model.parameters.map((p) => ({
    name: p.name,
    trainable: p.trainable,
    variable: tf.variable(p.variable.clone(), p.trainable),
  }));
  return { config: model.config, parameters, random: mulberry32((model.config.seed ^ 0x5bd1e995) >>> 0) };
}

/** Disposes every weight of `model`. */
export function disposeContextModel(model: ContextModel): void {
  for (const p of model.parameters) p.variable.dispose();
}

function parameterMap(model: ContextModel): (name: string) => tf.Variable {
  const byName = new Map(model.parameters.map((p) => [p.name, p.variable]));
  return (name) => {
    const v = byName.get(name);
    if (v === undefined) throw new Error(`context model has no weight ${name}`);
    return v;
  };
}

/** Dropout with a mask drawn from `random` (so that it is reproducible and backend-independent). */
function dropout(x: tf.Tensor, rate: number, random: () => number): tf.Tensor {
  const keep = 1 - rate;
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = random() < keep ? 1 / keep : 0;
  return tf.mul(x, tf.tensor(mask, x.shape));
}

function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LAYER_NORM_EPSILON))), gamma), beta);
}

function dense(
  x: tf.Tensor2D,
  kernel: tf.Tensor,
  bias: tf.Tensor,
  activation: 'linear' | 'relu' = 'linear',
): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: kernel as tf.Tensor2D, bias, activation }) as tf.Tensor2D;
}

/**
 * The model's logits `[spines, levels, classes]` for a batch (the caller disposes them). With
 * `training`, dropout is on, its masks drawn from `random` (default: the model's own stream).
 */
export function contextForward(
  model: ContextModel,
  batch: ContextBatch,
  training: boolean,
  random: () => number = model.random,
): GraderLogits {
  checkContextBatch(model.config, batch);
  const { levels: l, embeddingSize: e, modelSize: d, heads: h, dropout: rate } = model.config;
  const s = batch.spines;
  const dh = d / h;
  const w = parameterMap(model);
  const drop = (x: tf.Tensor): tf.Tensor => (training && rate > 0 ? dropout(x, rate, random) : x);
  const [pfirrmann, modic, findings] = tf.tidy(() => {
    const maskBias = tf.tensor4d(attentionMaskBias(batch), [s, 1, 1, l]);
    let x: tf.Tensor = tf.tensor2d(batch.embeddings, [s * l, e]);
    x = tf.div(tf.sub(x, w('input/mean')), w('input/std'));
    let hidden: tf.Tensor = tf.add(
      tf.reshape(dense(x as tf.Tensor2D, w('input/kernel'), w('input/bias')), [s, l, d]),
      w('level/embedding'),
    );
    hidden = drop(hidden);
    for (let layer = 0; layer < model.config.layers; layer++) {
      const p = `layer${layer}`;
      const a = tf.reshape(layerNorm(hidden, w(`${p}/norm1/gamma`), w(`${p}/norm1/beta`)), [s * l, d]) as tf.Tensor2D;
      const qkv = dense(a, w(`${p}/attention/qkv/kernel`), w(`${p}/attention/qkv/bias`));
      // [s·l, d] → [s·h, l, dh]: one attention problem per spine and head.
      const [q, k, v] = tf
        .split(qkv, 3, 1)
        .map((t) => tf.reshape(tf.transpose(tf.reshape(t, [s, l, h, dh]), [0, 2, 1, 3]), [s * h, l, dh]));
      const scores = tf.add(
        tf.reshape(tf.mul(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 1 / Math.sqrt(dh)), [s, h, l, l]),
        maskBias,
      );
      const attention = tf.reshape(tf.softmax(scores), [s * h, l, l]) as tf.Tensor3D;
      const context = tf.reshape(
        tf.transpose(tf.reshape(tf.matMul(attention, v as tf.Tensor3D), [s, h, l, dh]), [0, 2, 1, 3]),
        [s * l, d],
      ) as tf.Tensor2D;
      const attended = dense(context, w(`${p}/attention/out/kernel`), w(`${p}/attention/out/bias`));
      hidden = tf.add(hidden, drop(tf.reshape(attended, [s, l, d])));
      const b = tf.reshape(layerNorm(hidden, w(`${p}/norm2/gamma`), w(`${p}/norm2/beta`)), [s * l, d]) as tf.Tensor2D;
      const mlp = dense(
        dense(b, w(`${p}/mlp/hidden/kernel`), w(`${p}/mlp/hidden/bias`), 'relu'),
        w(`${p}/mlp/out/kernel`),
        w(`${p}/mlp/out/bias`),
      );
      hidden = tf.add(hidden, drop(tf.reshape(mlp, [s, l, d])));
    }
    const final = tf.reshape(layerNorm(hidden, w('final/norm/gamma'), w('final/norm/beta')), [s * l, d]) as tf.Tensor2D;
    const out = dense(final, w('heads/kernel'), w('heads/bias'));
    return tf.split(out, HEAD_SIZES, 1).map((t, i) => {
      const head = HEAD_NAMES[i] as (typeof HEAD_NAMES)[number];
      const logits = tf.reshape(t, [s, l, GRADER_HEADS[head]]);
      const cnn = batch.cnnLogits?.[head];
      return model.config.cnnLogitResidual && cnn
        ? tf.add(logits, tf.tensor3d(cnn, [s, l, GRADER_HEADS[head]]))
        : logits;
    });
  }) as [tf.Tensor, tf.Tensor, tf.Tensor];
  return { pfirrmann, modic, findings };
}

/** Inference: the logits `[spines, levels, classes]` as plain arrays (no dropout). */
export function predictContext(model: ContextModel, batch: ContextBatch): ContextLogitArrays {
  const logits = contextForward(model, batch, false);
  try {
    return {
      pfirrmann: new Float32Array(logits.pfirrmann.dataSync()),
      modic: new Float32Array(logits.modic.dataSync()),
      findings: new Float32Array(logits.findings.dataSync()),
    };
  } finally {
    tf.dispose([logits.pfirrmann, logits.modic, logits.findings]);
  }
}

/** A context model run by TensorFlow.js, with its weights at hand (for training). */
export interface TfjsContextPredictor extends ContextPredictor {
  readonly engine: 'tfjs';
  readonly model: ContextModel;
}

/** `model` as a {@link ContextPredictor} (disposing it disposes the model). */
export function tfjsContextPredictor(model: ContextModel): TfjsContextPredictor {
  return {
    engine: 'tfjs',
    config: model.config,
    model,
    predict: (batch) => predictContext(model, batch),
    dispose: () => disposeContextModel(model),
  };
}

/** Sets the input normalisation to the per-feature mean and standard deviation over the occupied slots. */
function fitInputNormalization(model: ContextModel, data: ContextBatch): void {
  const e = model.config.embeddingSize;
  const sum = new Float64Array(e);
  const squares = new Float64Array(e);
  let count = 0;
  for (let slot = 0; slot < data.mask.length; slot++) {
    if (!data.mask[slot]) continue;
    count++;
    for (let f = 0; f < e; f++) {
      const v = data.embeddings[slot * e + f] ?? 0;
      sum[f] = (sum[f] ?? 0) + v;
      squares[f] = (squares[f] ?? 0) + v * v;
    }
  }
  if (count === 0) return;
  const mean = new Float32Array(e);
  const std = new Float32Array(e);
  for (let f = 0; f < e; f++) {
    const m = (sum[f] ?? 0) / count;
    const sd = Math.sqrt(Math.max((squares[f] ?? 0) / count - m * m, 0));
    mean[f] = m;
    // A constant feature (e.g. a dead ReLU channel) is only centred.
    std[f] = sd > 1e-6 ? sd : 1;
  }
  const w = parameterMap(model);
  tf.tidy(() => {
    w('input/mean').assign(tf.tensor1d(mean));
    w('input/std').assign(tf.tensor1d(std));
  });
}

/** The rows of `indices` (spines) of an array laid out `[spines, perSpine]`. */
function gatherSpines<T extends Float32Array | Uint8Array>(
  array: T,
  perSpine: number,
  indices: readonly number[],
  make: (n: number) => T,
): T {
  const out = make(indices.length * perSpine);
  indices.forEach((spine, i) => {
    out.set(array.subarray(spine * perSpine, (spine + 1) * perSpine), i * perSpine);
  });
  return out;
}

function checkTargets(model: ContextModel, data: ContextTrainingData): void {
  const { levels } = model.config;
  const slots = data.spines * levels;
  const sizes: [keyof ContextTargets, number][] = [
    ['pfirrmann', GRADER_HEADS.pfirrmann],
    ['modic', GRADER_HEADS.modic],
    ['findings', GRADER_HEADS.findings],
    ['findingsWeight', GRADER_HEADS.findings],
  ];
  for (const [name, classes] of sizes) {
    const n = data.targets[name].length;
    if (n !== slots * classes) throw usage(`context targets.${name} holds ${n} values, expected ${slots * classes}`);
  }
}

/**
 * Trains `model` in place with Adam on shuffled mini-batches of spines, minimising {@link graderLoss}
 * (empty slots and ungraded targets are all zeros and contribute nothing). Deterministic for a seed.
 */
export async function trainContextModel(
  model: ContextModel,
  data: ContextTrainingData,
  options: ContextTrainOptions,
): Promise<ContextTrainResult> {
  checkContextBatch(model.config, data);
  checkTargets(model, data);
  const { levels: l, embeddingSize: e } = model.config;
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(options.epochs) || options.epochs < 0) throw usage(`epochs must be ≥ 0, got ${options.epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw usage(`batchSize must be ≥ 1, got ${batchSize}`);
  if (options.fitInputNormalization ?? true) fitInputNormalization(model, data);
  const seed = options.seed ?? model.config.seed;
  const shuffleRandom = mulberry32(seed);
  const dropoutRandom = mulberry32((seed ^ 0x5bd1e995) >>> 0);
  const trainable = model.parameters.filter((p) => p.trainable).map((p) => p.variable);
  const optimizer = tf.train.adam(options.learningRate ?? 1e-3);
  const order = Array.from({ length: data.spines }, (_, i) => i);
  const f32 = (n: number): Float32Array => new Float32Array(n);
  const history: ContextTrainResult['history'] = [];
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      shuffleInPlace(order, shuffleRandom);
      let total = 0;
      for (let start = 0; start < order.length; start += batchSize) {
        const indices = order.slice(start, start + batchSize);
        const n = indices.length;
        const batch: ContextBatch = {
          spines: n,
          embeddings: gatherSpines(data.embeddings, l * e, indices, f32),
          mask: gatherSpines(data.mask, l, indices, (k) => new Uint8Array(k)),
        };
        if (data.cnnLogits) {
          const cnn = data.cnnLogits;
          batch.cnnLogits = {
            pfirrmann: gatherSpines(cnn.pfirrmann, l * GRADER_HEADS.pfirrmann, indices, f32),
            modic: gatherSpines(cnn.modic, l * GRADER_HEADS.modic, indices, f32),
            findings: gatherSpines(cnn.findings, l * GRADER_HEADS.findings, indices, f32),
          };
        }
        const t = data.targets;
        const target = (array: Float32Array, classes: number): tf.Tensor =>
          tf.tensor3d(gatherSpines(array, l * classes, indices, f32), [n, l, classes]);
        const loss = tf.tidy(() => {
          const targets = {
            pfirrmann: target(t.pfirrmann, GRADER_HEADS.pfirrmann),
            modic: target(t.modic, GRADER_HEADS.modic),
            findings: target(t.findings, GRADER_HEADS.findings),
            findingsWeight: target(t.findingsWeight, GRADER_HEADS.findings),
          };
          const { value, grads } = tf.variableGrads(
            () => graderLoss(tf, contextForward(model, batch, true, dropoutRandom), targets, options.weights),
            trainable,
          );
          optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
          return value;
        });
        total += (await loss.data())[0]! * n;
        loss.dispose();
      }
      const meanLoss = total / Math.max(data.spines, 1);
      history.push({ epoch, meanLoss });
      options.onEpoch?.(epoch, meanLoss);
      // Let other work (timers, I/O) run between epochs.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    optimizer.dispose();
  }
  return { history };
}

/**
 * Saves `model` into folder `dir` (created if needed): `context.json` (format, version, config, weight
 * names and shapes, size and checksum of the weights) and `context.bin` (float32 little-endian), each
 * written atomically; existing files are replaced.
 */
export async function saveContextModel(model: ContextModel, dir: string): Promise<void> {
  const values = model.parameters.map((p) => p.variable.dataSync() as Float32Array);
  const count = values.reduce((s, v) => s + v.length, 0);
  const bin = new Uint8Array(count * 4);
  const view = new DataView(bin.buffer);
  let at = 0;
  for (const array of values) {
    for (const v of array) {
      view.setFloat32(at, v, true);
      at += 4;
    }
  }
  const json: ContextJson = {
    format: CONTEXT_FORMAT,
    version: CONTEXT_VERSION,
    config: { ...model.config },
    variables: model.parameters.map((p) => ({ name: p.name, shape: p.variable.shape.slice() })),
    bytes: bin.byteLength,
    sha256: createHash('sha256').update(bin).digest('hex'),
  };
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new SpinegradeError('OUTPUT_ERROR', `cannot create folder: ${describeError(error)}`, dir);
  }
  // Weights first: a crash between the writes leaves a checksum mismatch, never a silent mix.
  await writeFileAtomic(join(dir, CONTEXT_BIN), bin, { overwrite: true });
  await writeFileAtomic(join(dir, CONTEXT_JSON), `${JSON.stringify(json, null, 1)}\n`, { overwrite: true });
}

/** Loads a context model saved by {@link saveContextModel} from folder `dir`. */
export async function loadContextModel(dir: string): Promise<ContextModel> {
  const { config, values } = await readContextWeights(dir);
  const model = createContextModel(config);
  try {
    for (const p of model.parameters) {
      const array = values.get(p.name) as Float32Array;
      tf.tidy(() => p.variable.assign(tf.tensor(array, p.variable.shape)));
    }
  } catch (error) {
    disposeContextModel(model);
    throw error;
  }
  return model;
}
