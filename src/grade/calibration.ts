/**
 * Calibration and abstention: temperature scaling of logits (one temperature per head, fitted by
 * minimising the negative log-likelihood of out-of-fold predictions), and the coverage/accuracy
 * curve of the "needs review" threshold on the top probability.
 */

/** Softmax of `logits / temperature` (numerically stable). */
export function softmax(logits: ArrayLike<number>, temperature = 1): number[] {
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < logits.length; k++) max = Math.max(max, (logits[k] as number) / temperature);
  const exps = Array.from({ length: logits.length }, (_, k) => Math.exp((logits[k] as number) / temperature - max));
  const sum = exps.reduce((s, e) => s + e, 0);
  return exps.map((e) => e / sum);
}

/** Logistic sigmoid of `logit / temperature`. */
export function sigmoid(logit: number, temperature = 1): number {
  const z = logit / temperature;
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Minimises a unimodal function of log-temperature over [1/20, 20] by golden-section search. */
export function minimiseOverTemperature(loss: (temperature: number) => number): number {
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = hi - ratio * (hi - lo);
  let b = lo + ratio * (hi - lo);
  let fa = loss(Math.exp(a));
  let fb = loss(Math.exp(b));
  for (let i = 0; i < 60; i++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - ratio * (hi - lo);
      fa = loss(Math.exp(a));
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + ratio * (hi - lo);
      fb = loss(Math.exp(b));
    }
  }
  return Math.exp((lo + hi) / 2);
}

/**
 * The temperature that minimises the mean negative log-likelihood of the true classes under
 * `softmax(logits / T)`; `logits` holds one row of `classes` values per sample; 1 with no samples.
 */
export function fitTemperature(logits: ArrayLike<number>, classes: number, truth: readonly number[]): number {
  if (truth.length === 0) return 1;
  if (logits.length !== truth.length * classes) throw new RangeError('logits and truth do not match');
  const rows = truth.map((_, n) => Array.from({ length: classes }, (_, k) => logits[n * classes + k] as number));
  return minimiseOverTemperature((t) => {
    let nll = 0;
    rows.forEach((row, n) => {
      nll -= Math.log(Math.max(softmax(row, t)[truth[n] as number] as number, 1e-12));
    });
    return nll / rows.length;
  });
}

/** The temperature that minimises the mean binary cross-entropy of `sigmoid(logit / T)`; 1 with no samples. */
export function fitBinaryTemperature(logits: readonly number[], labels: readonly number[]): number {
  if (labels.length === 0) return 1;
  if (logits.length !== labels.length) throw new RangeError('logits and labels do not match');
  return minimiseOverTemperature((t) => {
    let loss = 0;
    logits.forEach((z, n) => {
      const p = Math.min(Math.max(sigmoid(z, t), 1e-12), 1 - 1e-12);
      loss -= labels[n] === 1 ? Math.log(p) : Math.log(1 - p);
    });
    return loss / logits.length;
  });
}

/** One point of the coverage/accuracy curve. */
export interface CoveragePoint {
  /** Discs whose top probability is at least this are graded; the rest need review. */
  threshold: number;
  /** Fraction of discs graded. */
  coverage: number;
  /** Accuracy among the graded discs (NaN when none is graded). */
  accuracy: number;
  graded: number;
}

/** Accuracy of the discs kept when those below each confidence threshold are left for review. */
export function coverageAccuracyCurve(
  confidences: readonly number[],
  correct: readonly boolean[],
  thresholds: readonly number[] = [0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
): CoveragePoint[] {
  if (confidences.length !== correct.length) throw new RangeError('confidences and correct do not match');
  return thresholds.map((threshold) => {
    let graded = 0;
    let right = 0;
    confidences.forEach((c, n) => {
      if (c < threshold) return;
      graded++;
      if (correct[n]) right++;
    });
    return {
      threshold,
      coverage: confidences.length ? graded / confidences.length : Number.NaN,
      accuracy: graded ? right / graded : Number.NaN,
      graded,
    };
  });
}
