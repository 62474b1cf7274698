/** Intensity normalisation that ignores outliers (MR intensities have no absolute scale). */
import { SpinegradeError } from '../errors.js';

/** The `p`-th percentile (0-100) of the values, by linear interpolation between order statistics. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentiles(values, [p])[0] as number;
}

/**
 * Several percentiles at once. The order statistics are found by selection (Floyd-Rivest), not a
 * full sort: the same values a sort gives, in linear time (a sort is used when a value is NaN).
 */
export function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  if (values.length === 0) throw new SpinegradeError('USAGE', 'cannot take a percentile of no values');
  for (const p of ps) {
    if (!(p >= 0 && p <= 100)) throw new SpinegradeError('USAGE', `percentile must be within 0-100, got ${p}`);
  }
  const data = Float64Array.from(values);
  const last = data.length - 1;
  const ranks = ps.map((p) => (p / 100) * last);
  const needed = [...new Set(ranks.flatMap((rank) => [Math.floor(rank), Math.min(Math.floor(rank) + 1, last)]))].sort(
    (a, b) => a - b,
  );
  let hasNaN = false;
  for (let n = 0; n <= last && !hasNaN; n++) hasNaN = Number.isNaN(data[n]);
  if (hasNaN) data.sort();
  else {
    let left = 0;
    for (const k of needed) {
      select(data, k, left, last);
      left = k + 1;
    }
  }
  return ranks.map((rank) => {
    const lo = Math.floor(rank);
    const hi = Math.min(lo + 1, last);
    return (data[lo] as number) + ((data[hi] as number) - (data[lo] as number)) * (rank - lo);
  });
}

/** Ranges already found, by pixel array: images are never changed in place once made, and one slice
 * is cropped for grading, again for each Grad-CAM target, and drawn for the reports. */
const robustRanges = new WeakMap<object, readonly [number, number]>();

/**
 * The 1st and 99th percentiles of an image's pixels, widened to a non-empty range: the intensity
 * range that crops are normalised to and slices are displayed in (robust to a few very bright or dark
 * pixels). Remembered per pixel array.
 */
export function robustRange(pixels: ArrayLike<number>): [number, number] {
  let range = robustRanges.get(pixels);
  if (!range) {
    const [lo, hi] = percentiles(pixels, [1, 99]) as [number, number];
    range = [lo, hi > lo ? hi : lo + 1];
    robustRanges.set(pixels, range);
  }
  return [range[0], range[1]];
}

/**
 * Rearranges `a[left..right]` so that `a[k]` holds the value a sort would put there, smaller-or-equal
 * values before it and greater-or-equal ones after (Floyd & Rivest, CACM 1975; as in `quickselect`).
 */
function select(a: Float64Array, k: number, left: number, right: number): void {
  while (right > left) {
    if (right - left > 600) {
      const n = right - left + 1;
      const m = k - left + 1;
      const z = Math.log(n);
      const s = 0.5 * Math.exp((2 * z) / 3);
      const sd = 0.5 * Math.sqrt((z * s * (n - s)) / n) * (m - n / 2 < 0 ? -1 : 1);
      select(
        a,
        k,
        Math.max(left, Math.floor(k - (m * s) / n + sd)),
        Math.min(right, Math.floor(k + ((n - m) * s) / n + sd)),
      );
    }
    const t = a[k] as number;
    let i = left;
    let j = right;
    swap(a, left, k);
    if ((a[right] as number) > t) swap(a, left, right);
    while (i < j) {
      swap(a, i, j);
      i++;
      j--;
      while ((a[i] as number) < t) i++;
      while ((a[j] as number) > t) j--;
    }
    if (a[left] === t) swap(a, left, j);
    else {
      j++;
      swap(a, j, right);
    }
    if (j <= k) left = j + 1;
    if (k <= j) right = j - 1;
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const v = a[i] as number;
  a[i] = a[j] as number;
  a[j] = v;
}

/**
 * Maps values linearly so the `low`-th percentile becomes 0 and the `high`-th becomes 1, clipping
 * outside. A constant image maps to all zeros.
 */
export function normalizeByPercentiles(values: ArrayLike<number>, low = 1, high = 99): Float32Array {
  const [lo, hi] = percentiles(values, [low, high]) as [number, number];
  const out = new Float32Array(values.length);
  const range = hi - lo;
  if (range <= 0) return out;
  for (let n = 0; n < values.length; n++) {
    const v = ((values[n] as number) - lo) / range;
    out[n] = Math.min(1, Math.max(0, v));
  }
  return out;
}
