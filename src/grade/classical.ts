/**
 * The classical family's building blocks: grey-level co-occurrence (GLCM) texture features
 * (Haralick et al., IEEE Trans SMC 1973), a linear support-vector machine trained by Pegasos
 * (Shalev-Shwartz et al., ICML 2007) on standardised features with Platt-scaled probabilities
 * (Platt 1999), and exact SHAP values for it: for a linear score with independent features,
 * φᵢ = wᵢ·(xᵢ − E[xᵢ]) (Lundberg & Lee, NeurIPS 2017), which sum to the score minus its mean.
 */
import { mulberry32 } from '../metrics/random.js';
import { sigmoid } from './calibration.js';

/** Haralick texture features of a region. */
export interface TextureFeatures {
  contrast: number;
  homogeneity: number;
  energy: number;
  correlation: number;
}

/**
 * GLCM features of the pixels where `mask` is 1, quantised to `levels` grey levels between the
 * region's minimum and maximum, symmetric co-occurrences at offsets (1, 0) and (0, 1), averaged.
 * A constant (or empty) region has correlation 1, as scikit-image reports it.
 */
export function glcmFeatures(
  pixels: ArrayLike<number>,
  mask: ArrayLike<number>,
  width: number,
  height: number,
  levels = 16,
): TextureFeatures {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < width * height; i++) {
    if (!mask[i]) continue;
    lo = Math.min(lo, pixels[i] as number);
    hi = Math.max(hi, pixels[i] as number);
  }
  const counts = new Float64Array(levels * levels);
  if (hi < lo) return { contrast: 0, homogeneity: 1, energy: 1, correlation: 1 };
  const level = (v: number): number =>
    hi > lo ? Math.min(levels - 1, Math.floor(((v - lo) / (hi - lo)) * levels)) : 0;
  let total = 0;
  for (const [dx, dy] of [
    [1, 0],
    [0, 1],
  ] as const) {
    for (let y = 0; y + dy < height; y++) {
      for (let x = 0; x + dx < width; x++) {
        const a = x + y * width;
        const b = x + dx + (y + dy) * width;
        if (!mask[a] || !mask[b]) continue;
        const i = level(pixels[a] as number);
        const j = level(pixels[b] as number);
        counts[i * levels + j]! += 1;
        counts[j * levels + i]! += 1;
        total += 2;
      }
    }
  }
  if (total === 0) return { contrast: 0, homogeneity: 1, energy: 1, correlation: 1 };
  let contrast = 0;
  let homogeneity = 0;
  let energy = 0;
  let mean = 0;
  for (let i = 0; i < levels; i++)
    for (let j = 0; j < levels; j++) {
      const p = (counts[i * levels + j] as number) / total;
      contrast += p * (i - j) ** 2;
      homogeneity += p / (1 + Math.abs(i - j));
      energy += p * p;
      mean += p * i;
    }
  let variance = 0;
  let covariance = 0;
  for (let i = 0; i < levels; i++)
    for (let j = 0; j < levels; j++) {
      const p = (counts[i * levels + j] as number) / total;
      variance += p * (i - mean) ** 2;
      covariance += p * (i - mean) * (j - mean);
    }
  return { contrast, homogeneity, energy, correlation: variance > 0 ? covariance / variance : 1 };
}

/** A trained linear SVM with Platt scaling, on features standardised by the training means and deviations. */
export interface LinearSvm {
  readonly means: number[];
  readonly scales: number[];
  readonly weights: number[];
  readonly bias: number;
  /** Platt: P(y = 1) = sigmoid(a·score + b). */
  readonly platt: { a: number; b: number };
  /** Mean training score: the SHAP base value. */
  readonly baseScore: number;
}

/** Options of {@link trainLinearSvm}. */
export interface SvmOptions {
  /** L2 regularisation λ of Pegasos (default 0.01). */
  lambda?: number;
  epochs?: number;
  seed?: number;
  /** Weight of positive samples (default: balanced, negatives / positives). */
  positiveWeight?: number;
}

/** Trains a linear SVM (hinge loss, Pegasos) on rows of features with 0/1 labels, then fits Platt scaling. */
export function trainLinearSvm(
  features: readonly number[][],
  labels: readonly number[],
  options: SvmOptions = {},
): LinearSvm {
  const n = features.length;
  const d = features[0]?.length ?? 0;
  if (n === 0 || labels.length !== n) throw new RangeError('features and labels must be non-empty and paired');
  const means = Array.from({ length: d }, (_, k) => features.reduce((s, row) => s + (row[k] as number), 0) / n);
  const scales = means.map((m, k) => {
    const v = features.reduce((s, row) => s + ((row[k] as number) - m) ** 2, 0) / n;
    return v > 0 ? Math.sqrt(v) : 1;
  });
  const x = features.map((row) => row.map((v, k) => (v - (means[k] as number)) / (scales[k] as number)));
  const y = labels.map((l) => (l === 1 ? 1 : -1));
  const positives = y.filter((v) => v === 1).length;
  const positiveWeight = options.positiveWeight ?? (positives > 0 ? (n - positives) / positives : 1);
  const lambda = options.lambda ?? 0.01;
  const random = mulberry32(options.seed ?? 1);
  const w = new Array<number>(d).fill(0);
  let bias = 0;
  let t = 0;
  for (let epoch = 0; epoch < (options.epochs ?? 30); epoch++) {
    for (let step = 0; step < n; step++) {
      const i = Math.floor(random() * n);
      t++;
      const rate = 1 / (lambda * t);
      const row = x[i] as number[];
      const yi = y[i] as number;
      const margin = yi * (row.reduce((s, v, k) => s + v * (w[k] as number), 0) + bias);
      const weight = yi === 1 ? positiveWeight : 1;
      for (let k = 0; k < d; k++) w[k] = (1 - rate * lambda) * (w[k] as number);
      if (margin < 1) {
        for (let k = 0; k < d; k++) w[k] = (w[k] as number) + rate * weight * yi * (row[k] as number);
        bias += rate * weight * yi * 0.1;
      }
    }
  }
  const scores = x.map((row) => row.reduce((s, v, k) => s + v * (w[k] as number), 0) + bias);
  return {
    means,
    scales,
    weights: w,
    bias,
    platt: fitPlatt(scores, labels),
    baseScore: scores.reduce((s, v) => s + v, 0) / n,
  };
}

/** Platt scaling by gradient descent on the log-loss of sigmoid(a·score + b). */
function fitPlatt(scores: readonly number[], labels: readonly number[]): { a: number; b: number } {
  let a = 1;
  let b = 0;
  for (let iteration = 0; iteration < 500; iteration++) {
    let ga = 0;
    let gb = 0;
    scores.forEach((s, n) => {
      const p = sigmoid(a * s + b);
      const err = p - (labels[n] === 1 ? 1 : 0);
      ga += err * s;
      gb += err;
    });
    a -= (0.5 * ga) / scores.length;
    b -= (0.5 * gb) / scores.length;
  }
  return { a, b };
}

/** The SVM's decision score of one feature row. */
export function svmScore(model: LinearSvm, row: readonly number[]): number {
  return row.reduce(
    (s, v, k) => s + (model.weights[k] as number) * ((v - (model.means[k] as number)) / (model.scales[k] as number)),
    model.bias,
  );
}

/** P(positive) of one feature row (Platt-scaled score). */
export function svmProbability(model: LinearSvm, row: readonly number[]): number {
  return sigmoid(model.platt.a * svmScore(model, row) + model.platt.b);
}

/**
 * Exact SHAP values of one row for the SVM's decision score (independent features): one value per
 * feature; they sum to `svmScore(row) − baseScore` where `baseScore` is the mean training score.
 */
export function svmShap(model: LinearSvm, row: readonly number[]): number[] {
  return row.map(
    (v, k) => ((model.weights[k] as number) * (v - (model.means[k] as number))) / (model.scales[k] as number),
  );
}
