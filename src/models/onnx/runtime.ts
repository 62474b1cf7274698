/**
 * Running ONNX models with onnxruntime-node, synchronously: its native binding runs a session in the
 * calling thread (the package's public `InferenceSession.run` only wraps that call in a promise), so
 * the inference code can stay synchronous whichever engine runs it. The binding is loaded on first
 * use; {@link onnxRuntimeAvailable} tells whether it loads on this platform.
 */
import { createRequire } from 'node:module';
import { SpinegradeError } from '../../errors.js';

interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type: string;
}

interface BindingSession {
  loadModel(path: string, options: object): void;
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  readonly inputMetadata: readonly { name: string }[];
  readonly outputMetadata: readonly { name: string }[];
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, null>, options: object): Record<string, OrtTensor>;
  dispose(): void;
}

interface Runtime {
  readonly newSession: () => BindingSession;
  readonly tensor: (data: Float32Array, dims: readonly number[]) => OrtTensor;
}

let runtime: Runtime | Error | undefined;

/**
 * Turns off onnxruntime-node's telemetry for this process. onnxruntime-node 1.30 starts a telemetry
 * system when it initialises: it writes /tmp/mat-debug-<pid>.log (under $TMPDIR) and keeps a cache
 * database open under ~/.cache/Microsoft/DeveloperTools/.onnxruntime. Its own switch turns that off;
 * the native library reads the process environment, which only the main thread's `process.env`
 * sets — so a program that loads the models in worker threads calls this on its main thread first.
 */
export function disableRuntimeTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY = '1';
}

function loadRuntime(): Runtime | Error {
  if (runtime === undefined) {
    try {
      disableRuntimeTelemetry();
      const require = createRequire(import.meta.url);
      const bindingModule = require('onnxruntime-node/dist/binding.js') as {
        binding: { InferenceSession: new () => BindingSession };
        initOrt: () => void;
      };
      const common = require('onnxruntime-common') as {
        Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
      };
      bindingModule.initOrt();
      runtime = {
        newSession: () => new bindingModule.binding.InferenceSession(),
        tensor: (data, dims) => new common.Tensor('float32', data, dims),
      };
    } catch (error) {
      runtime = error instanceof Error ? error : new Error(String(error));
    }
  }
  return runtime;
}

/** True when onnxruntime-node loads here (it ships binaries for Linux, macOS and Windows on x64 and arm64). */
export function onnxRuntimeAvailable(): boolean {
  return !(loadRuntime() instanceof Error);
}

/**
 * Session options: all graph optimisations (convolution + batch-norm + activation fusion among them),
 * CPU, one thread. A second intra-op thread made no measurable difference to `analyze` on 2 cores
 * (the networks run one slice at a time), and single-threaded sessions do not compete with each other
 * when batch workers run side by side.
 */
const SESSION_OPTIONS = {
  graphOptimizationLevel: 'all',
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  logSeverityLevel: 3,
};

/** An ONNX model loaded into onnxruntime, run synchronously on float32 inputs. */
export class OnnxSession {
  private session: BindingSession | undefined;
  private readonly tensor: Runtime['tensor'];
  /** The graph's input names. */
  readonly inputNames: readonly string[];
  /** The graph's output names. */
  readonly outputNames: readonly string[];

  /** Loads a model from an `.onnx` file or from its bytes; `source` names it in errors. */
  constructor(model: string | Uint8Array, source = typeof model === 'string' ? model : 'ONNX model') {
    const ort = loadRuntime();
    if (ort instanceof Error) {
      throw new SpinegradeError('USAGE', `onnxruntime-node does not load here (${ort.message})`, source);
    }
    const session = ort.newSession();
    try {
      if (typeof model === 'string') session.loadModel(model, SESSION_OPTIONS);
      else session.loadModel(model.buffer, model.byteOffset, model.byteLength, SESSION_OPTIONS);
    } catch (error) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `onnxruntime cannot load the model: ${error instanceof Error ? error.message : String(error)}`,
        source,
      );
    }
    this.session = session;
    this.tensor = ort.tensor;
    this.inputNames = session.inputMetadata.map((m) => m.name);
    this.outputNames = session.outputMetadata.map((m) => m.name);
  }

  /** Runs the model on float32 `inputs` (by input name); returns the `outputs` asked for, in that order. */
  run(inputs: Readonly<Record<string, { data: Float32Array; dims: readonly number[] }>>, outputs: readonly string[]) {
    if (!this.session) throw new Error('the ONNX session was disposed');
    const feeds: Record<string, OrtTensor> = {};
    for (const [name, { data, dims }] of Object.entries(inputs)) feeds[name] = this.tensor(data, dims);
    const fetches: Record<string, null> = {};
    for (const name of outputs) fetches[name] = null;
    const results = this.session.run(feeds, fetches, {});
    return outputs.map((name) => {
      const result = results[name];
      if (!result || !(result.data instanceof Float32Array))
        throw new Error(`the ONNX model gave no float output ${name}`);
      return { data: result.data, dims: result.dims };
    });
  }

  /** Frees the native session. */
  dispose(): void {
    this.session?.dispose();
    this.session = undefined;
  }
}
