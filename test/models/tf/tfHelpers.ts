/** Helpers for the TensorFlow.js tests: seeded data, backend-by-backend computation, comparison. */
import assert from 'node:assert/strict';
import { initTf, type TfBackendName, tf } from '../../../src/models/tf/backend.js';

/** Deterministic pseudo-random values in [-1, 1) (a 32-bit LCG), independent of any backend. */
export function seededValues(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

/** Values and shape of a tensor computed on one backend. */
export interface Computed {
  data: Float32Array;
  shape: number[];
}

/**
 * Switches to `backend`, runs `fn` inside a tidy (it must build all its tensors from plain arrays) and
 * returns the values of the tensors it returns; checks that no tensor leaked.
 */
export async function computeOn(backend: TfBackendName, fn: () => tf.Tensor[]): Promise<Computed[]> {
  await initTf(backend);
  assert.equal(tf.getBackend(), backend);
  const before = tf.memory().numTensors;
  const tensors = tf.tidy(fn);
  const out = tensors.map((t) => ({ data: new Float32Array(t.dataSync()), shape: t.shape.slice() }));
  tf.dispose(tensors);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  return out;
}

/** The largest absolute difference between two results, relative to max(1, largest reference magnitude). */
export function relativeDifference(actual: Computed, expected: Computed): number {
  assert.deepEqual(actual.shape, expected.shape);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i] ?? 0;
    diff = Math.max(diff, Math.abs((actual.data[i] ?? 0) - e));
    scale = Math.max(scale, Math.abs(e));
  }
  return diff / scale;
}

/** Asserts that every result of `wasm` matches `cpu` within `tolerance` (relative, see above). */
export function assertParity(wasm: Computed[], cpu: Computed[], what: string, tolerance = 1e-4): void {
  assert.equal(wasm.length, cpu.length);
  cpu.forEach((expected, i) => {
    const actual = wasm[i];
    assert.ok(actual !== undefined);
    const diff = relativeDifference(actual, expected);
    assert.ok(diff < tolerance, `${what} [${i}]: relative difference ${diff.toExponential(2)}`);
  });
}
