/**
 * The context model's sizes, inputs and saved form (`context.json` + `context.bin`), without
 * TensorFlow.js: what both engines that run it (TensorFlow.js in `context.ts`, onnxruntime in
 * `contextOnnx.ts`) share.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describeError, SpinegradeError } from '../errors.js';
import type { InferenceEngine } from '../models/engine.js';
import { readModelFile } from '../models/modelJson.js';
import { GRADER_HEADS } from './loss.js';

/** Sizes and options of a context model. */
export interface ContextModelConfig {
  /** Size E of the CNN embedding of one disc. */
  embeddingSize: number;
  /** Width D of the encoder (a multiple of `heads`). */
  modelSize: number;
  /** Attention heads per layer. */
  heads: number;
  /** Encoder layers (1-2 are plenty for 5-10 discs). */
  layers: number;
  /**
   * Level slots per spine: slot i holds the disc with SPIDER IVD label i (1 = L5/S1 … 5 = L1/L2,
   * 6 = T12/L1 …; 0 = a transitional S1/S2 disc). Discs with higher labels must be left out.
   */
  levels: number;
  /** Dropout rate after the input projection and on both residual branches of each layer (training only). */
  dropout: number;
  /** Seed of the initial weights and of the default dropout stream. */
  seed: number;
  /**
   * When true, the batch carries the CNN's own logits and the model's outputs are added to them:
   * the model learns a correction of the CNN. Its heads start at zero, so an untrained model
   * reproduces the CNN exactly and training can only start from the CNN's quality.
   */
  cnnLogitResidual: boolean;
}

/** A sensible default: E = 96 CNN embeddings, D = 48, 4 heads, 2 layers, 10 level slots, CNN-logit residual. */
export const DEFAULT_CONTEXT_CONFIG: Readonly<ContextModelConfig> = Object.freeze({
  embeddingSize: 96,
  modelSize: 48,
  heads: 4,
  layers: 2,
  levels: 10,
  dropout: 0.1,
  seed: 1,
  cnnLogitResidual: true,
});

/** CNN logits per level slot, plain arrays `[spines, levels, classes]`. */
export interface ContextLogitArrays {
  pfirrmann: Float32Array;
  modic: Float32Array;
  findings: Float32Array;
}

/** The input of a context model: a batch of spines, each `levels` slots. */
export interface ContextBatch {
  /** CNN embeddings, `[spines, levels, embeddingSize]`; the values in empty slots are ignored. */
  embeddings: Float32Array;
  /** `[spines, levels]`: 1 where a disc is in the slot, 0 where the slot is empty. */
  mask: Uint8Array;
  spines: number;
  /** The CNN's logits per slot; required when the model has {@link ContextModelConfig.cnnLogitResidual}. */
  cnnLogits?: ContextLogitArrays;
}

/** The tag in `context.json`. */
export const CONTEXT_FORMAT = 'spinegrade-context-model';
/** The version of the `context.json` + `context.bin` format. */
export const CONTEXT_VERSION = 1;
/** File name of the description of a saved context model. */
export const CONTEXT_JSON = 'context.json';
/** File name of the weights of a saved context model (float32, little-endian). */
export const CONTEXT_BIN = 'context.bin';

/** The grader heads, in the order of the context model's output columns. */
export const HEAD_NAMES = ['pfirrmann', 'modic', 'findings'] as const;
/** Classes per head, in {@link HEAD_NAMES} order. */
export const HEAD_SIZES = HEAD_NAMES.map((name) => GRADER_HEADS[name]);
/** Output columns of the context model's heads layer. */
export const HEAD_TOTAL = HEAD_SIZES.reduce((s, n) => s + n, 0);
/** The MLP of each encoder layer is D → MLP_RATIO·D → D. */
export const MLP_RATIO = 2;
/** Epsilon of every layer normalisation. */
export const LAYER_NORM_EPSILON = 1e-5;
/** Added to attention scores of empty slots; exp() of it underflows to exactly 0 in float32. */
export const MASKED_SCORE = -1e9;

/** A USAGE error. */
export function usage(message: string): SpinegradeError {
  return new SpinegradeError('USAGE', message);
}

/** Throws a USAGE error unless `config` describes a buildable model. */
export function validateContextConfig(config: ContextModelConfig): void {
  const positive: (keyof ContextModelConfig)[] = ['embeddingSize', 'modelSize', 'heads', 'layers', 'levels'];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw usage(`context model ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (config.modelSize % config.heads !== 0) {
    throw usage(`context model modelSize ${config.modelSize} is not a multiple of heads ${config.heads}`);
  }
  if (typeof config.dropout !== 'number' || !(config.dropout >= 0 && config.dropout < 1)) {
    throw usage(`context model dropout must be in [0, 1), got ${String(config.dropout)}`);
  }
  if (typeof config.seed !== 'number' || !Number.isFinite(config.seed)) {
    throw usage(`context model seed must be a finite number, got ${String(config.seed)}`);
  }
  if (typeof config.cnnLogitResidual !== 'boolean') {
    throw usage('context model cnnLogitResidual must be true or false');
  }
}

/** One weight of a context model: name, shape, initialiser. */
export interface ParameterSpec {
  name: string;
  shape: number[];
  init: 'zeros' | 'ones' | 'glorot' | 'embedding';
  trainable: boolean;
}

/** Names, shapes and initialisers of every weight, in the fixed order of `context.bin`. */
export function parameterSpecs(config: ContextModelConfig): ParameterSpec[] {
  const { embeddingSize: e, modelSize: d, levels } = config;
  const specs: ParameterSpec[] = [
    { name: 'input/mean', shape: [e], init: 'zeros', trainable: false },
    { name: 'input/std', shape: [e], init: 'ones', trainable: false },
    { name: 'input/kernel', shape: [e, d], init: 'glorot', trainable: true },
    { name: 'input/bias', shape: [d], init: 'zeros', trainable: true },
    { name: 'level/embedding', shape: [levels, d], init: 'embedding', trainable: true },
  ];
  for (let l = 0; l < config.layers; l++) {
    const p = `layer${l}`;
    specs.push(
      { name: `${p}/norm1/gamma`, shape: [d], init: 'ones', trainable: true },
      { name: `${p}/norm1/beta`, shape: [d], init: 'zeros', trainable: true },
      { name: `${p}/attention/qkv/kernel`, shape: [d, 3 * d], init: 'glorot', trainable: true },
      { name: `${p}/attention/qkv/bias`, shape: [3 * d], init: 'zeros', trainable: true },
      { name: `${p}/attention/out/kernel`, shape: [d, d], init: 'glorot', trainable: true },
      { name: `${p}/attention/out/bias`, shape: [d], init: 'zeros', trainable: true },
      { name: `${p}/norm2/gamma`, shape: [d], init: 'ones', trainable: true },
      { name: `${p}/norm2/beta`, shape: [d], init: 'zeros', trainable: true },
      { name: `${p}/mlp/hidden/kernel`, shape: [d, MLP_RATIO * d], init: 'glorot', trainable: true },
      { name: `${p}/mlp/hidden/bias`, shape: [MLP_RATIO * d], init: 'zeros', trainable: true },
      { name: `${p}/mlp/out/kernel`, shape: [MLP_RATIO * d, d], init: 'glorot', trainable: true },
      { name: `${p}/mlp/out/bias`, shape: [d], init: 'zeros', trainable: true },
    );
  }
  specs.push(
    { name: 'final/norm/gamma', shape: [d], init: 'ones', trainable: true },
    { name: 'final/norm/beta', shape: [d], init: 'zeros', trainable: true },
    // With the CNN-logit residual the heads start at zero: the untrained model is the CNN.
    {
      name: 'heads/kernel',
      shape: [d, HEAD_TOTAL],
      init: config.cnnLogitResidual ? 'zeros' : 'glorot',
      trainable: true,
    },
    { name: 'heads/bias', shape: [HEAD_TOTAL], init: 'zeros', trainable: true },
  );
  return specs;
}

/** `context.json`. */
export interface ContextJson {
  format: typeof CONTEXT_FORMAT;
  version: typeof CONTEXT_VERSION;
  config: ContextModelConfig;
  variables: { name: string; shape: number[] }[];
  /** Bytes of `context.bin`. */
  bytes: number;
  /** SHA-256 of `context.bin`, so that a weights file from another save is caught. */
  sha256: string;
}

/** `context.json` parsed and checked (format, version, configuration, fields). */
export function parseContextJson(text: string, path: string): ContextJson {
  const invalid = (message: string): SpinegradeError => new SpinegradeError('INVALID_HEADER', message, path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid(`not valid JSON: ${describeError(error)}`);
  }
  if (typeof json !== 'object' || json === null) throw invalid('not a context model description');
  const j = json as Partial<ContextJson>;
  if (j.format !== CONTEXT_FORMAT) throw invalid(`format is ${JSON.stringify(j.format)}, expected "${CONTEXT_FORMAT}"`);
  if (j.version !== CONTEXT_VERSION)
    throw invalid(`version ${String(j.version)} is not supported (expected ${CONTEXT_VERSION})`);
  if (typeof j.config !== 'object' || j.config === null) throw invalid('config is missing');
  try {
    validateContextConfig(j.config);
  } catch (error) {
    throw invalid(describeError(error));
  }
  if (!Array.isArray(j.variables)) throw invalid('variables are missing');
  if (typeof j.bytes !== 'number' || typeof j.sha256 !== 'string') throw invalid('bytes or sha256 is missing');
  return j as ContextJson;
}

/** Throws a USAGE error unless `batch` fits a model of `config`. */
export function checkContextBatch(config: Readonly<ContextModelConfig>, batch: ContextBatch): void {
  const { levels, embeddingSize, cnnLogitResidual } = config;
  const spines = batch.spines;
  if (!Number.isInteger(spines) || spines < 1) throw usage(`context batch needs at least one spine, got ${spines}`);
  const expect = (what: string, actual: number, wanted: number): void => {
    if (actual !== wanted) throw usage(`context batch ${what} holds ${actual} values, expected ${wanted}`);
  };
  expect('embeddings', batch.embeddings.length, spines * levels * embeddingSize);
  expect('mask', batch.mask.length, spines * levels);
  if (cnnLogitResidual) {
    if (batch.cnnLogits === undefined) {
      throw usage('this context model adds CNN logits: the batch must carry cnnLogits');
    }
    for (const head of HEAD_NAMES) {
      expect(`cnnLogits.${head}`, batch.cnnLogits[head].length, spines * levels * GRADER_HEADS[head]);
    }
  }
}

/** The saved weights of a context model, by name, checked against its configuration and checksum. */
export interface ContextWeights {
  readonly config: ContextModelConfig;
  /** Every weight by name (the names of {@link parameterSpecs}). */
  readonly values: ReadonlyMap<string, Float32Array>;
}

/** Reads and checks `context.json` + `context.bin` from folder `dir`. */
export async function readContextWeights(dir: string): Promise<ContextWeights> {
  const jsonPath = join(dir, CONTEXT_JSON);
  const binPath = join(dir, CONTEXT_BIN);
  const json = parseContextJson(
    (await readModelFile(jsonPath, 'context model description')).toString('utf8'),
    jsonPath,
  );
  const specs = parameterSpecs(json.config);
  const mismatch = (message: string): SpinegradeError => new SpinegradeError('INVALID_HEADER', message, jsonPath);
  if (json.variables.length !== specs.length) {
    throw mismatch(`lists ${json.variables.length} weights, the configuration needs ${specs.length}`);
  }
  specs.forEach((spec, i) => {
    const v = json.variables[i];
    const sameShape =
      Array.isArray(v?.shape) && v.shape.length === spec.shape.length && v.shape.every((n, k) => n === spec.shape[k]);
    if (v?.name !== spec.name || !sameShape) {
      throw mismatch(
        `weight ${i} is ${JSON.stringify(v?.name)} ${JSON.stringify(v?.shape)}, the configuration needs ${spec.name} [${spec.shape.join(', ')}]`,
      );
    }
  });
  const expected = specs.reduce((s, spec) => s + spec.shape.reduce((a, b) => a * b, 1), 0) * 4;
  if (json.bytes !== expected) throw mismatch(`says the weights hold ${json.bytes} bytes, the shapes need ${expected}`);
  const bin = await readModelFile(binPath, 'weights file');
  if (bin.byteLength < expected) {
    throw new SpinegradeError(
      'TRUNCATED',
      `weights hold ${bin.byteLength} bytes, ${CONTEXT_JSON} needs ${expected}`,
      binPath,
    );
  }
  if (bin.byteLength > expected) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      `weights hold ${bin.byteLength} bytes, ${CONTEXT_JSON} describes ${expected}`,
      binPath,
    );
  }
  if (createHash('sha256').update(bin).digest('hex') !== json.sha256) {
    throw new SpinegradeError('INVALID_HEADER', `weights do not match the checksum in ${CONTEXT_JSON}`, binPath);
  }
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const values = new Map<string, Float32Array>();
  let at = 0;
  for (const spec of specs) {
    const array = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < array.length; i++, at += 4) array[i] = view.getFloat32(at, true);
    values.set(spec.name, array);
  }
  return { config: json.config, values };
}

/** The additive attention mask of a batch, `[spines, 1, 1, levels]`: 0 where a disc is, {@link MASKED_SCORE} where none. */
export function attentionMaskBias(batch: ContextBatch): Float32Array {
  const bias = new Float32Array(batch.mask.length);
  for (let i = 0; i < bias.length; i++) bias[i] = batch.mask[i] ? 0 : MASKED_SCORE;
  return bias;
}

/** A context model loaded for inference, on either engine. */
export interface ContextPredictor {
  readonly engine: InferenceEngine;
  readonly config: Readonly<ContextModelConfig>;
  /** The logits `[spines, levels, classes]` of a batch. */
  predict(batch: ContextBatch): ContextLogitArrays;
  dispose(): void;
}
