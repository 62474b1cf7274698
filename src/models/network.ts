/**
 * A trained image network run for inference, whichever engine runs it: onnxruntime (the exported
 * `model.onnx`, several times faster on a CPU) or TensorFlow.js (the `model.json` + `weights.bin` it
 * was trained as). {@link loadNetwork} picks onnxruntime when the folder's ONNX export is current and
 * onnxruntime loads here, TensorFlow.js otherwise; TensorFlow.js is imported only when it runs.
 */
import { describeError, SpinegradeError } from '../errors.js';
import type { EngineChoice, Network } from './engine.js';
import { readSavedModel, type SavedModel } from './modelJson.js';
import { savedModelToOnnx } from './onnx/fromLayers.js';
import { onnxRuntimeAvailable } from './onnx/runtime.js';

/**
 * Loads the network saved in `dir` (`model.json` + `weights.bin`), returning the layers `outputs`,
 * on `choice` (the caller's: the command line or {@link engineFromEnvironment} at the edge).
 * `auto` converts it to ONNX in memory and runs it on onnxruntime when that loads here and the
 * network has only layers the converter knows, and on TensorFlow.js otherwise; `onnx` insists and
 * says why it cannot; `tfjs` runs it on TensorFlow.js. `saved`: the folder's files when the caller
 * has read them already.
 */
export async function loadNetwork(
  dir: string,
  outputs: readonly string[],
  choice: EngineChoice,
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
