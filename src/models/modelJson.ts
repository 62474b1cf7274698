/**
 * Reading a saved model folder's `model.json` (the layout tfjs writes: topology, weights manifest,
 * metadata) without loading TensorFlow.js, so commands that only need the metadata, or run the
 * network with onnxruntime, start quickly.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { describeError, SpinegradeError } from '../errors.js';
import { LITTLE_ENDIAN } from '../util/endian.js';

/** The file names of a saved model inside its folder. */
export const MODEL_JSON = 'model.json';
/** The weights file name inside a model folder. */
export const WEIGHTS_BIN = 'weights.bin';

/** JSON-serialisable metadata stored in `model.json` under `userDefinedMetadata`. */
export type ModelMetadata = Record<string, unknown>;

/** The parsed `model.json` of a saved layers model. */
export interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: tf.io.WeightsManifestConfig;
  userDefinedMetadata?: ModelMetadata;
  trainingConfig?: tf.io.TrainingConfig;
}

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** The number of bytes a weight occupies in the weights file, as its manifest entry describes it. */
export function weightByteLength(spec: tf.io.WeightsManifestEntry): number {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const bytes = BYTES_PER_VALUE[dtype];
  if (bytes === undefined) throw new Error(`weight ${spec.name} has unsupported dtype ${dtype}`);
  return size * bytes;
}

/** The bytes of `path`; a NOT_FOUND error saying "`what` is missing", or UNREADABLE, otherwise. */
export async function readModelFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ENOENT';
    throw new SpinegradeError(
      missing ? 'NOT_FOUND' : 'UNREADABLE',
      missing ? `${what} is missing` : `cannot read: ${describeError(error)}`,
      path,
    );
  }
}

/** The parsed JSON of `path` (a model folder's `model.json`), with a clear error when unreadable. */
export async function readJson(path: string): Promise<unknown> {
  const text = (await readModelFile(path, 'model.json of this model folder')).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new SpinegradeError('INVALID_HEADER', 'model.json is not valid JSON', path);
  }
}

/** `value` checked to be a layers model's `model.json` (topology, a weights manifest of files in the folder). */
export function checkModelJson(value: unknown, path: string): ModelJson {
  const json = value as Partial<ModelJson> | null;
  if (json === null || typeof json !== 'object' || typeof json.modelTopology !== 'object') {
    throw new SpinegradeError('INVALID_HEADER', 'model.json has no modelTopology', path);
  }
  if (!Array.isArray(json.weightsManifest)) {
    throw new SpinegradeError('INVALID_HEADER', 'model.json has no weightsManifest', path);
  }
  for (const group of json.weightsManifest) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new SpinegradeError('INVALID_HEADER', 'model.json has a malformed weightsManifest', path);
    }
    for (const file of group.paths) {
      if (typeof file !== 'string' || basename(file) !== file || file === '..' || file === '.') {
        throw new SpinegradeError(
          'INVALID_HEADER',
          `weights path "${String(file)}" must be a file in the folder`,
          path,
        );
      }
    }
  }
  return json as ModelJson;
}

/** The `userDefinedMetadata` of the model saved in folder `dir` (empty when it has none). */
export async function readModelMetadata(dir: string): Promise<ModelMetadata> {
  const jsonPath = join(dir, MODEL_JSON);
  const json = checkModelJson(await readJson(jsonPath), jsonPath);
  return json.userDefinedMetadata ?? {};
}

/** A saved layers model as stored: its `model.json`, the weights' manifest entries and their bytes, checked. */
export interface SavedModel {
  readonly json: ModelJson;
  readonly specs: tf.io.WeightsManifestEntry[];
  readonly data: Uint8Array;
}

/** Reads `model.json` and its weight files from folder `dir`, checking the weights' size against the manifest. */
export async function readSavedModel(dir: string): Promise<SavedModel> {
  const jsonPath = join(dir, MODEL_JSON);
  const json = checkModelJson(await readJson(jsonPath), jsonPath);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const file of group.paths) buffers.push(await readModelFile(join(dir, file), 'weights file'));
  }
  const expected = specs.reduce((sum, spec) => sum + weightByteLength(spec), 0);
  const total = buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  const weightsPath = join(dir, json.weightsManifest[0]?.paths[0] ?? WEIGHTS_BIN);
  if (total < expected) {
    throw new SpinegradeError('TRUNCATED', `weights hold ${total} bytes, model.json needs ${expected}`, weightsPath);
  }
  if (total > expected) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      `weights hold ${total} bytes, model.json describes ${expected}`,
      weightsPath,
    );
  }
  const data = new Uint8Array(total);
  let at = 0;
  for (const buffer of buffers) {
    data.set(buffer, at);
    at += buffer.byteLength;
  }
  return { json, specs, data };
}

/** The float value of IEEE half-precision `bits`. */
function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

/** Every float weight of a saved model by name, decoded to float32 (float16-quantised weights included). */
export function savedWeights(saved: SavedModel): Map<string, { values: Float32Array; shape: readonly number[] }> {
  const weights = new Map<string, { values: Float32Array; shape: readonly number[] }>();
  const view = new DataView(saved.data.buffer, saved.data.byteOffset, saved.data.byteLength);
  let offset = 0;
  for (const spec of saved.specs) {
    const length = weightByteLength(spec);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const storedAs = spec.quantization?.dtype ?? spec.dtype;
    if (spec.dtype === 'float32' && (storedAs === 'float32' || storedAs === 'float16')) {
      const start = saved.data.byteOffset + offset;
      let values: Float32Array;
      if (storedAs === 'float32' && LITTLE_ENDIAN) {
        values = new Float32Array(saved.data.buffer.slice(start, start + size * 4));
      } else {
        values = new Float32Array(size);
        for (let i = 0; i < size; i++) {
          values[i] =
            storedAs === 'float32'
              ? view.getFloat32(offset + i * 4, true)
              : float16Value(view.getUint16(offset + i * 2, true));
        }
      }
      weights.set(spec.name, { values, shape: spec.shape });
    }
    offset += length;
  }
  return weights;
}
