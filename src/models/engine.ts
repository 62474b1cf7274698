/** The inference engines, the choice between them, and the network interface every engine implements. */
import { SpinegradeError } from '../errors.js';

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

/**
 * The environment variable that sets the engine wherever none is given (`serve`, `batch`, `watch`, the API).
 * Only the edges read it (the command line, `analyzeStudy` for its callers); everything below takes the choice as an argument.
 */
export const ENGINE_VARIABLE = 'SPINEGRADE_ENGINE';

/** The engine asked for by {@link ENGINE_VARIABLE}, `auto` when it is unset; a USAGE error when misspelt. */
export function engineFromEnvironment(): EngineChoice {
  const value = process.env[ENGINE_VARIABLE];
  if (value === undefined || value === '') return 'auto';
  if (!isEngineChoice(value)) {
    throw new SpinegradeError('USAGE', `${ENGINE_VARIABLE} wants ${ENGINE_CHOICES.join(', ')}, got "${value}"`);
  }
  return value;
}
