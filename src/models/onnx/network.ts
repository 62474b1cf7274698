/** An exported ONNX model as a {@link Network}, run by onnxruntime. */
import type { Network, NetworkOutput } from '../engine.js';
import { onnxOutputName } from './fromLayers.js';
import { OnnxSession } from './runtime.js';

/** Input pixels per run above which a batch is split: large batches are slower per image on onnxruntime here. */
const PIXELS_PER_RUN = 1 << 16;

/** The ONNX export of a layers model (see `layersModelToOnnx`), run by onnxruntime. */
export class OnnxNetwork implements Network {
  readonly engine = 'onnx' as const;
  private readonly session: OnnxSession;
  private readonly inputName: string;
  private readonly outputNames: readonly string[];

  /** `model`: an `.onnx` file or its bytes, holding the layer `outputs` (see `savedModelToOnnx`); `source` names it. */
  constructor(
    model: string | Uint8Array,
    readonly outputs: readonly string[],
    source = typeof model === 'string' ? model : 'ONNX model',
  ) {
    this.session = new OnnxSession(model, source);
    const [input] = this.session.inputNames;
    if (input === undefined || this.session.inputNames.length !== 1) {
      this.session.dispose();
      throw new Error(`${source}: expected one input, found ${this.session.inputNames.length}`);
    }
    this.inputName = input;
    this.outputNames = outputs.map(onnxOutputName);
    const missing = this.outputNames.filter((name) => !this.session.outputNames.includes(name));
    if (missing.length > 0) {
      this.session.dispose();
      throw new Error(`${source}: has no output ${missing.join(', ')}`);
    }
  }

  run(input: Float32Array, shape: readonly [number, number, number, number]): NetworkOutput[] {
    const [n, h, w, c] = shape;
    const itemSize = h * w * c;
    const chunk = Math.max(1, Math.floor(PIXELS_PER_RUN / (h * w)));
    if (chunk >= n) return this.session.run({ [this.inputName]: { data: input, dims: shape } }, this.outputNames);
    let outputs: NetworkOutput[] | undefined;
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const part = this.session.run(
        {
          [this.inputName]: { data: input.slice(start * itemSize, (start + count) * itemSize), dims: [count, h, w, c] },
        },
        this.outputNames,
      );
      outputs ??= part.map((o) => ({
        data: new Float32Array((o.data.length / count) * n),
        dims: [n, ...o.dims.slice(1)],
      }));
      const into = outputs;
      part.forEach((o, k) => (into[k] as NetworkOutput).data.set(o.data, (o.data.length / count) * start));
    }
    return outputs ?? [];
  }

  dispose(): void {
    this.session.dispose();
  }
}
