/** A TensorFlow.js layers model as a {@link Network} (inference on the active backend). */
import type { Network, NetworkOutput } from '../engine.js';
import { tf, tfl } from './backend.js';

/** A {@link Network} that also exposes the layers model it runs (for gradients and training). */
export interface LayersNetwork extends Network {
  readonly engine: 'tfjs';
  readonly model: tfl.LayersModel;
}

/** Models that return other layers' outputs, built once per model and output list (they share the weights). */
const runners = new WeakMap<tfl.LayersModel, Map<string, tfl.LayersModel>>();

function runnerOf(model: tfl.LayersModel, outputs: readonly string[]): tfl.LayersModel {
  const own = model.outputNames;
  if (own.length === outputs.length && own.every((name, i) => name === outputs[i])) return model;
  const byOutputs = runners.get(model) ?? new Map<string, tfl.LayersModel>();
  runners.set(model, byOutputs);
  const key = outputs.join('\n');
  let runner = byOutputs.get(key);
  if (!runner) {
    runner = tfl.model({
      inputs: model.inputs,
      outputs: outputs.map((name) => model.getLayer(name).output as tfl.SymbolicTensor),
    });
    byOutputs.set(key, runner);
  }
  return runner;
}

/** Runs `model`, returning the outputs of the layers named in `outputs` (any layers, not only its own outputs). */
export function layersNetwork(model: tfl.LayersModel, outputs: readonly string[]): LayersNetwork {
  const runner = runnerOf(model, outputs);
  return {
    engine: 'tfjs',
    model,
    outputs,
    run(input, shape) {
      // Read back outside tidy: reading inside it keeps every intermediate alive and runs ~2.5x slower on wasm.
      const results = tf.tidy(() => {
        const result = runner.predict(tf.tensor4d(input, [...shape])) as tf.Tensor | tf.Tensor[];
        return Array.isArray(result) ? result : [result];
      });
      try {
        return results.map((y): NetworkOutput => ({ data: y.dataSync() as Float32Array, dims: y.shape }));
      } finally {
        tf.dispose(results);
      }
    },
    dispose: () => model.dispose(),
  };
}
