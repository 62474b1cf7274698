/** Input checks shared by the metric functions (internal; not part of the public API). */
import { SpinegradeError } from '../errors.js';

/** Throws a USAGE error when there are no samples. */
export function requireNonEmpty(metric: string, length: number): void {
  if (length === 0) throw new SpinegradeError('USAGE', `${metric}: no samples (empty input)`);
}

/** Throws a USAGE error when two paired inputs differ in length, or when they are empty. */
export function requirePaired(
  metric: string,
  a: ArrayLike<unknown>,
  b: ArrayLike<unknown>,
  names = 'truth and predicted',
): void {
  if (a.length !== b.length) {
    throw new SpinegradeError('USAGE', `${metric}: ${names} differ in length (${a.length} vs ${b.length})`);
  }
  requireNonEmpty(metric, a.length);
}

/** Maps each class to its index in `classes`; throws a USAGE error when `classes` is empty or repeats a class. */
export function classIndex(metric: string, classes: readonly number[]): Map<number, number> {
  if (classes.length === 0) throw new SpinegradeError('USAGE', `${metric}: the list of classes is empty`);
  const index = new Map<number, number>();
  classes.forEach((c, n) => {
    if (index.has(c)) throw new SpinegradeError('USAGE', `${metric}: class ${c} is listed twice`);
    index.set(c, n);
  });
  return index;
}

/** The index of `value` in the class map; throws a USAGE error naming the sample when it is not a known class. */
export function indexOfClass(
  metric: string,
  index: ReadonlyMap<number, number>,
  value: number,
  what: string,
  sample: number,
): number {
  const found = index.get(value);
  if (found === undefined) {
    throw new SpinegradeError(
      'USAGE',
      `${metric}: ${what} value ${value} at sample ${sample} is not one of the classes [${[...index.keys()].join(', ')}]`,
    );
  }
  return found;
}

/** Throws a USAGE error unless every label is 0 or 1. */
export function requireBinaryLabels(metric: string, labels: ArrayLike<number>): void {
  for (let n = 0; n < labels.length; n++) {
    const label = labels[n];
    if (label !== 0 && label !== 1) {
      throw new SpinegradeError('USAGE', `${metric}: label ${label} at sample ${n} is not 0 or 1`);
    }
  }
}

/** Throws a USAGE error unless the value is a probability (a number within [0, 1]). */
export function requireProbability(metric: string, p: number | undefined, where: string): number {
  if (p === undefined || !(p >= 0 && p <= 1)) {
    throw new SpinegradeError('USAGE', `${metric}: probability ${p} at ${where} is not within [0, 1]`);
  }
  return p;
}

/** Throws a USAGE error unless `bins` is a positive integer. */
export function requireBinCount(metric: string, bins: number): void {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new SpinegradeError('USAGE', `${metric}: the number of bins must be a positive integer, got ${bins}`);
  }
}
