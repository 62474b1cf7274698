/**
 * Saving and loading TensorFlow.js layers models to and from a folder: `model.json` (topology, weights
 * manifest and metadata, in the layout tfjs itself writes) and `weights.bin` (all weights, concatenated).
 * Plain tfjs-core has no `file://` handler; {@link fileSystemHandler} is one.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, SpinegradeError } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import {
  MODEL_JSON,
  type ModelJson,
  type ModelMetadata,
  readSavedModel,
  WEIGHTS_BIN,
  weightByteLength,
} from '../modelJson.js';
import { tf, tfl } from './backend.js';

export { MODEL_JSON, type ModelMetadata, readModelMetadata, WEIGHTS_BIN } from '../modelJson.js';

/** Options of {@link fileSystemHandler} and {@link saveModel}. */
export interface SaveOptions {
  /** Merged into `userDefinedMetadata` of `model.json` (over the model's own metadata). */
  metadata?: ModelMetadata;
  /** Store float32 weights as float16 (half the size; tfjs decodes them back to float32 on load). */
  float16?: boolean;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of `value`, rounded to nearest even. */
export function float16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** Re-encodes the unquantised float32 weights of a weights buffer as float16. */
function quantizeToFloat16(
  specs: tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    const length = weightByteLength(spec);
    const bytes = new Uint8Array(data, offset, length);
    offset += length;
    if (spec.dtype !== 'float32' || spec.quantization !== undefined) {
      outSpecs.push(spec);
      parts.push(bytes);
      continue;
    }
    const values = new Float32Array(bytes.slice().buffer);
    const half = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) half[i] = float16Bits(values[i] ?? 0);
    outSpecs.push({ ...spec, quantization: { dtype: 'float16' } });
    parts.push(new Uint8Array(half.buffer));
  }
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.byteLength;
  }
  return { specs: outSpecs, data: joined.buffer };
}

/**
 * A tfjs IOHandler that saves a model into folder `dir` (created if missing; `model.json` and
 * `weights.bin` are each replaced atomically, weights first) and loads it back.
 */
export function fileSystemHandler(dir: string, options: SaveOptions = {}): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology === undefined || artifacts.modelTopology instanceof ArrayBuffer) {
        throw new SpinegradeError('UNSUPPORTED', 'only layers models (JSON topology) can be saved', dir);
      }
      let specs = artifacts.weightSpecs ?? [];
      let data: ArrayBuffer =
        artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      if (options.float16 === true) ({ specs, data } = quantizeToFloat16(specs, data));
      const metadata = { ...(artifacts.userDefinedMetadata ?? {}), ...(options.metadata ?? {}) };
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: specs }],
      };
      if (Object.keys(metadata).length > 0) json.userDefinedMetadata = metadata;
      if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
      try {
        await mkdir(dir, { recursive: true });
      } catch (error) {
        throw new SpinegradeError('OUTPUT_ERROR', `cannot create folder: ${describeError(error)}`, dir);
      }
      await writeFileAtomic(join(dir, WEIGHTS_BIN), new Uint8Array(data), { overwrite: true });
      await writeFileAtomic(join(dir, MODEL_JSON), `${JSON.stringify(json)}\n`, { overwrite: true });
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(json.modelTopology).length,
          weightSpecsBytes: JSON.stringify(specs).length,
          weightDataBytes: data.byteLength,
        },
      };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const { json, specs, data } = await readSavedModel(dir);
      return tf.io.getModelArtifactsForJSON(json as tf.io.ModelJSON, async () => [specs, data.slice().buffer]);
    },
  };
}

/** Saves a layers model into folder `dir` (see {@link fileSystemHandler}) with optional metadata. */
export async function saveModel(
  model: tfl.LayersModel,
  dir: string,
  metadata?: ModelMetadata,
  options: Omit<SaveOptions, 'metadata'> = {},
): Promise<void> {
  await model.save(fileSystemHandler(dir, { ...options, ...(metadata === undefined ? {} : { metadata }) }));
}

/** Loads a layers model saved by {@link saveModel} from folder `dir`. */
export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(fileSystemHandler(dir));
}
