/** Agreement between two sets of numbers: mean absolute error, Lin's concordance correlation and Spearman's rank correlation. */
import { requirePaired } from './checks.js';

/** The mean of |truth − predicted|. */
export function meanAbsoluteError(truth: readonly number[], predicted: readonly number[]): number {
  requirePaired('mean absolute error', truth, predicted);
  let sum = 0;
  for (let n = 0; n < truth.length; n++) sum += Math.abs((truth[n] as number) - (predicted[n] as number));
  return sum / truth.length;
}

/**
 * Lin's concordance correlation coefficient (Lin 1989), ρ_c = 2·s_xy / (s_x² + s_y² + (x̄ − ȳ)²) with
 * population (1/n) moments. Degenerate cases: identical constant inputs (denominator 0) → 1; one input
 * constant, or both constant but different → 0 (no covariance, non-zero denominator); a single pair
 * → 1 when equal, else 0.
 */
export function linsCcc(x: readonly number[], y: readonly number[]): number {
  requirePaired("Lin's CCC", x, y, 'x and y');
  const n = x.length;
  let sumX = 0;
  let sumY = 0;
  for (let i = 0; i < n; i++) {
    sumX += x[i] as number;
    sumY += y[i] as number;
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let varX = 0;
  let varY = 0;
  let cov = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - meanX;
    const dy = (y[i] as number) - meanY;
    varX += dx * dx;
    varY += dy * dy;
    cov += dx * dy;
  }
  varX /= n;
  varY /= n;
  cov /= n;
  const denominator = varX + varY + (meanX - meanY) * (meanX - meanY);
  if (denominator === 0) return 1;
  return (2 * cov) / denominator;
}

/** Ranks of values (1-based; ties share their mean rank). */
export function ranksOf(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length).fill(0);
  for (let at = 0; at < order.length; ) {
    let end = at;
    while (
      end + 1 < order.length &&
      (order[end + 1] as readonly [number, number])[0] === (order[at] as readonly [number, number])[0]
    )
      end++;
    for (let k = at; k <= end; k++) ranks[(order[k] as readonly [number, number])[1]] = (at + end) / 2 + 1;
    at = end + 1;
  }
  return ranks;
}

/** Spearman's rank correlation of two equally long lists (NaN when either is constant or shorter than 2). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError('spearman: lists of different lengths');
  const n = a.length;
  if (n < 2) return Number.NaN;
  const ra = ranksOf(a);
  const rb = ranksOf(b);
  const mean = (n + 1) / 2;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    const da = (ra[i] as number) - mean;
    const db = (rb[i] as number) - mean;
    cov += da * db;
    va += da * da;
    vb += db * db;
  }
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : Number.NaN;
}
