/** A small seeded pseudo-random number generator, so that splits and bootstraps are reproducible. */
import { SpinegradeError } from '../errors.js';

/**
 * The mulberry32 generator: a function returning uniform numbers in [0, 1), the same sequence for the
 * same seed. The seed is taken as a 32-bit unsigned integer (`seed >>> 0`); a non-finite seed is a
 * USAGE error.
 */
export function mulberry32(seed: number): () => number {
  if (!Number.isFinite(seed)) throw new SpinegradeError('USAGE', `random seed must be a finite number, got ${seed}`);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `array` in place (Fisher-Yates) with numbers from `random`, and returns it. */
export function shuffleInPlace<T>(array: T[], random: () => number): T[] {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const held = array[i] as T;
    array[i] = array[j] as T;
    array[j] = held;
  }
  return array;
}
