/**
 * One place to get TensorFlow.js from: the core namespace (`tf`), the layers API (`tfl`) and
 * {@link initTf}, which selects the backend (wasm by default) after registering spinegrade's own
 * kernels and gradients (see `kernels.ts`).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerCustomKernels } from './kernels.js';

/** `tf`: the tfjs-core namespace (ops, tensors, io); `tfl`: tfjs-layers (layers, models, loading). */
export { tf, tfl };

/** The TensorFlow.js backends spinegrade trains and runs on. */
export type TfBackendName = 'wasm' | 'cpu';

let wasmPathsSet = false;
let pending: Promise<unknown> = Promise.resolve();

/** The folder holding the `.wasm` binaries of `@tensorflow/tfjs-backend-wasm`, with a trailing slash. */
export function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  return `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
}

/**
 * Registers the custom kernels, then makes `backend` the active TensorFlow.js backend and waits until
 * it is ready. Idempotent and safe to call concurrently; returns the `tf` namespace.
 */
export function initTf(backend: TfBackendName = 'wasm'): Promise<typeof tf> {
  const next = pending.then(async () => {
    registerCustomKernels();
    if (backend === 'wasm' && !wasmPathsSet) {
      setWasmPaths(wasmBinaryDir());
      wasmPathsSet = true;
    }
    if (tf.getBackend() !== backend) {
      const ok = await tf.setBackend(backend);
      if (!ok) throw new Error(`TensorFlow.js backend "${backend}" failed to initialise`);
    }
    await tf.ready();
    return tf;
  });
  pending = next.catch(() => undefined);
  return next;
}
