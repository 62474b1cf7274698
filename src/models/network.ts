/**
 * A trained image network run for inference, whichever engine runs it: onnxruntime (the exported
 * `model.onnx`, several times faster on a CPU) or TensorFlow.js (the `model.json` + `weights.bin` it
 * was trained as). {@link loadNetwork} picks onnxruntime when the folder's ONNX export is current and
 * onnxruntime loads here, TensorFlow.js otherwise; TensorFlow.js is imported only when it runs.
 */
import { describeError, SpinegradeError } from '../errors.js';
import { readSavedModel, type SavedModel } from './modelJson.js';
import { savedModelToOnnx } from './onnx/fromLayers.js';
import { onnxRuntimeAvailable } from './onnx/runtime.js';

/** The inference engines spinegrade runs networks with. */
export type InferenceEngine = 'onnx' | 'tfjs';
/** An engine, or `auto`: onnxruntime where its export is current and it loads, TensorFlow.js otherwise. */
export type EngineChoice = InferenceEngine | 'auto';
/** The engine choices, as the command line spells them. */
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'onnx', 'tfjs'];

/** One output of a network run: its values, flat and channels-last, and its shape (batch first). */
export interface NetworkOutput {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** A network with one NHWC float32 image input and named outputs, run in inference mode. */
export interface Network {
  readonly engine: InferenceEngine;
  /** The output layers it returns, in order. */
  readonly outputs: readonly string[];
  /** Runs a batch `[n, height, width, channels]`; returns each output, flat and channels-last, with its shape. */
  run(input: Float32Array, shape: readonly [number, number, number, number]): NetworkOutput[];
  /** Frees the weights and the engine's session. */
  dispose(): void;
}

/** True for the spellings of {@link EngineChoice}. */
export function isEngineChoice(value: string): value is EngineChoice {
  return (ENGINE_CHOICES as readonly string[]).includes(value);
}

/** The environment variable that sets the engine wherever none is given (`serve`, `batch`, `watch`, the API). */
export const ENGINE_VARIABLE = 'SPINEGRADE_ENGINE';

/** The engine asked for by {@link ENGINE_VARIABLE}, `auto` when it is unset; a USAGE error when misspelt. */
export function defaultEngineChoice(): EngineChoice {
  const value = process.env[ENGINE_VARIABLE];
  if (value === undefined || value === '') return 'auto';
  if (!isEngineChoice(value)) {
    throw new SpinegradeError('USAGE', `${ENGINE_VARIABLE} wants ${ENGINE_CHOICES.join(', ')}, got "${value}"`);
  }
  return value;
}

/**
 * Loads the network saved in `dir` (`model.json` + `weights.bin`), returning the layers `outputs`,
 * on `choice` (default: {@link defaultEngineChoice}).
 * `auto` converts it to ONNX in memory and runs it on onnxruntime when that loads here and the
 * network has only layers the converter knows, and on TensorFlow.js otherwise; `onnx` insists and
 * says why it cannot; `tfjs` runs it on TensorFlow.js. `saved`: the folder's files when the caller
 * has read them already.
 */
export async function loadNetwork(
  dir: string,
  outputs: readonly string[],
  choice: EngineChoice = defaultEngineChoice(),
  saved?: SavedModel,
): Promise<Network> {
  if (choice !== 'tfjs') {
    const refuse = (reason: string): never => {
      throw new SpinegradeError('USAGE', `cannot run with --engine onnx: ${reason}`, dir);
    };
    if (onnxRuntimeAvailable()) {
      const model = saved ?? (await readSavedModel(dir));
      let bytes: Uint8Array | undefined;
      try {
        bytes = savedModelToOnnx(model, outputs, { producerVersion: '1' });
      } catch (error) {
        if (choice === 'onnx') refuse(describeError(error));
      }
      if (bytes) {
        const { OnnxNetwork } = await import('./onnx/network.js');
        return new OnnxNetwork(bytes, outputs, dir);
      }
    } else if (choice === 'onnx') {
      refuse('onnxruntime-node is not installed or does not load on this platform');
    }
  }
  const [{ initTf }, { loadModel }, { layersNetwork }] = await Promise.all([
    import('./tf/backend.js'),
    import('./tf/io.js'),
    import('./tf/network.js'),
  ]);
  await initTf('wasm');
  return layersNetwork(await loadModel(dir), outputs);
}
