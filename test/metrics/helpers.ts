/** Assertions shared by the metric tests. */
import assert from 'node:assert/strict';
import { SpinegradeError } from '../../src/errors.js';

/** `actual` is within `tolerance` of `expected`. */
export function assertNear(actual: number, expected: number, tolerance = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);
}

/** A validator for `assert.throws`: a USAGE {@link SpinegradeError} whose message matches `pattern`. */
export function usageError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SpinegradeError, `expected a SpinegradeError, got ${String(error)}`);
    assert.equal(error.kind, 'USAGE');
    assert.match(error.message, pattern);
    return true;
  };
}

/** Truth and predicted label lists holding `matrix[i][j]` samples of (classes[i], classes[j]). */
export function pairsFromMatrix(
  matrix: readonly (readonly number[])[],
  classes: readonly number[],
): { truth: number[]; predicted: number[] } {
  const truth: number[] = [];
  const predicted: number[] = [];
  matrix.forEach((row, i) => {
    row.forEach((count, j) => {
      for (let n = 0; n < count; n++) {
        truth.push(classes[i] as number);
        predicted.push(classes[j] as number);
      }
    });
  });
  return { truth, predicted };
}
