/**
 * The classical grader: hand-made features of each disc — the quantitative measures
 * (`measures.ts`), GLCM texture and intensities of the disc band of its crop, the sequence and the
 * level — into linear SVMs with Platt probabilities, one per decision:
 * - Pfirrmann: four cumulative SVMs (grade > 1 … grade > 4), made monotone, differenced into five
 *   class probabilities (an ordinal decomposition; Frank & Hall, ECML 2001);
 * - Modic: one SVM per type against the rest, normalised;
 * - each binary finding: one SVM.
 * Outputs are logits of the same shape as the CNN's, so calibration and scoring are shared. SHAP
 * values are exact (linear model, independent features): per finding, per feature, in SVM score
 * units; for Pfirrmann, of the summed cumulative scores (positive pushes toward a higher grade),
 * for Modic, of "any Modic change" (the type-0 SVM negated).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiscLabel } from '../datasets/types.js';
import { BINARY_FINDINGS } from '../disc/findings.js';
import type { Logits } from '../disc/logits.js';
import type { DiscMeasures } from '../disc/measures.js';
import { SpinegradeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { glcmFeatures, type LinearSvm, svmProbability, svmScore, svmShap, trainLinearSvm } from './classical.js';
import type { DiscCropConfig } from './crops.js';

/** File name of a saved classical model inside a grader folder. */
export const CLASSICAL_JSON = 'classical.json';

/** What the classical model reads of one disc. */
export interface ClassicalInput {
  /** The disc crop (see `crops.ts`), row-major, `size × size`. */
  readonly crop: Float32Array;
  readonly measures: DiscMeasures | undefined;
  readonly ivdLabel: number;
  /** `T1` changes how intensities read; anything else is taken as T2-weighted. */
  readonly sequence: string;
}

const MEASURE_FEATURES = [
  'discHeightAnteriorMm',
  'discHeightMiddleMm',
  'discHeightPosteriorMm',
  'discHeightMm',
  'discHeightIndex',
  'signalIntensityRatio',
  'nucleusAnnulusContrast',
  'endplateSignalRatio',
  'listhesisMm',
  'wedgeAngleDeg',
  'discAngleDeg',
] as const satisfies readonly (keyof DiscMeasures)[];

/** Names of the classical model's features, in feature-row order. */
export const CLASSICAL_FEATURES: readonly string[] = [
  ...MEASURE_FEATURES,
  'absListhesisMm',
  'textureContrast',
  'textureHomogeneity',
  'textureEnergy',
  'textureCorrelation',
  'discMeanIntensity',
  'discIntensitySpread',
  'discBrightFraction',
  'vertebraAboveIntensity',
  'vertebraBelowIntensity',
  'canalIntensity',
  'sequenceT1',
  'levelL5S1',
  'levelL4L5',
  'levelThoracolumbar',
];

/** Crop regions, mm from the disc centre (x posterior, y inferior): [x0, x1, y0, y1]. */
const REGIONS = {
  disc: [-12, 12, -3, 3],
  vertebraAbove: [-12, 12, -14, -7],
  vertebraBelow: [-12, 12, 7, 14],
  canal: [18, 26, -5, 5],
} as const;

function regionMask(size: number, spacingMm: number, discU: number, [x0, x1, y0, y1]: readonly number[]): Uint8Array {
  const mask = new Uint8Array(size * size);
  const half = (size - 1) / 2;
  for (let v = 0; v < size; v++) {
    const y = (v - half) * spacingMm;
    if (y < (y0 as number) || y > (y1 as number)) continue;
    for (let u = 0; u < size; u++) {
      const x = (u - discU) * spacingMm;
      if (x >= (x0 as number) && x <= (x1 as number)) mask[v * size + u] = 1;
    }
  }
  return mask;
}

function meanOf(pixels: Float32Array, mask: Uint8Array): { mean: number; spread: number; values: number[] } {
  const values: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) values.push(pixels[i] as number);
  const mean = values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
  const spread = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, values.length));
  return { mean, spread, values };
}

/** The feature row of one disc (NaN where a measure is missing; the model imputes the training mean). */
export function classicalFeatures(input: ClassicalInput, crop: DiscCropConfig): number[] {
  const { size, spacingMm, posteriorShiftMm } = crop;
  const discU = (size - 1) / 2 - posteriorShiftMm / spacingMm;
  const masks = Object.fromEntries(
    Object.entries(REGIONS).map(([name, box]) => [name, regionMask(size, spacingMm, discU, box)]),
  ) as Record<keyof typeof REGIONS, Uint8Array>;
  const disc = meanOf(input.crop, masks.disc);
  const texture = glcmFeatures(input.crop, masks.disc, size, size);
  const measures = input.measures;
  const measureValue = (key: (typeof MEASURE_FEATURES)[number]): number => {
    const value = measures?.[key];
    return typeof value === 'number' && Number.isFinite(value) ? value : Number.NaN;
  };
  const listhesis = measureValue('listhesisMm');
  return [
    ...MEASURE_FEATURES.map(measureValue),
    Math.abs(listhesis),
    texture.contrast,
    texture.homogeneity,
    texture.energy,
    texture.correlation,
    disc.mean,
    disc.spread,
    disc.values.filter((v) => v > 0.6).length / Math.max(1, disc.values.length),
    meanOf(input.crop, masks.vertebraAbove).mean,
    meanOf(input.crop, masks.vertebraBelow).mean,
    meanOf(input.crop, masks.canal).mean,
    input.sequence === 'T1' ? 1 : 0,
    input.ivdLabel === 1 ? 1 : 0,
    input.ivdLabel === 2 ? 1 : 0,
    input.ivdLabel >= 6 ? 1 : 0,
  ];
}

/** A trained classical grader. */
export interface ClassicalModel {
  readonly features: readonly string[];
  /** Training means, used in place of missing values. */
  readonly imputation: readonly number[];
  /** Cumulative SVMs: grade > 1, > 2, > 3, > 4. */
  readonly pfirrmann: readonly LinearSvm[];
  /** One SVM per Modic type 0-3 against the rest. */
  readonly modic: readonly LinearSvm[];
  /** One SVM per binary finding, in `BINARY_FINDINGS` order. */
  readonly findings: readonly LinearSvm[];
  readonly crop: DiscCropConfig;
}

/** Options of {@link trainClassicalModel}. */
export interface ClassicalTrainingOptions {
  readonly seed: number;
  readonly lambda?: number;
  readonly epochs?: number;
}

function impute(rows: readonly number[][]): number[] {
  const d = rows[0]?.length ?? 0;
  return Array.from({ length: d }, (_, k) => {
    let sum = 0;
    let n = 0;
    for (const row of rows) {
      const v = row[k] as number;
      if (Number.isFinite(v)) {
        sum += v;
        n++;
      }
    }
    return n > 0 ? sum / n : 0;
  });
}

function filled(row: readonly number[], imputation: readonly number[]): number[] {
  return row.map((v, k) => (Number.isFinite(v) ? v : (imputation[k] as number)));
}

/**
 * Trains one SVM on the rows whose target is defined; a target with a single class gets a constant
 * model (zero weights, Platt intercept at the class frequency).
 */
function svmFor(
  rows: readonly number[][],
  targets: readonly (number | undefined)[],
  options: ClassicalTrainingOptions,
  salt: number,
): LinearSvm {
  const x: number[][] = [];
  const y: number[] = [];
  targets.forEach((t, n) => {
    if (t === undefined) return;
    x.push(rows[n] as number[]);
    y.push(t);
  });
  const positives = y.filter((v) => v === 1).length;
  if (x.length === 0 || positives === 0 || positives === y.length) {
    const d = rows[0]?.length ?? CLASSICAL_FEATURES.length;
    const rate = Math.min(0.999, Math.max(0.001, x.length ? positives / x.length : 0.5));
    return {
      means: new Array(d).fill(0),
      scales: new Array(d).fill(1),
      weights: new Array(d).fill(0),
      bias: 0,
      platt: { a: 1, b: Math.log(rate / (1 - rate)) },
      baseScore: 0,
    };
  }
  return trainLinearSvm(x, y, {
    seed: options.seed * 7919 + salt,
    lambda: options.lambda ?? 0.01,
    epochs: options.epochs ?? 20,
  });
}

/** Trains the classical grader on labelled discs. */
export function trainClassicalModel(
  discs: readonly { input: ClassicalInput; label: DiscLabel }[],
  crop: DiscCropConfig,
  options: ClassicalTrainingOptions,
): ClassicalModel {
  if (discs.length === 0) throw new SpinegradeError('USAGE', 'the classical model needs labelled discs to train on');
  const raw = discs.map((d) => classicalFeatures(d.input, crop));
  const imputation = impute(raw);
  const rows = raw.map((r) => filled(r, imputation));
  const labels = discs.map((d) => d.label);
  const pfirrmann = [1, 2, 3, 4].map((k) =>
    svmFor(
      rows,
      labels.map((l) => (l.pfirrmann === undefined ? undefined : l.pfirrmann > k ? 1 : 0)),
      options,
      k,
    ),
  );
  const modic = [0, 1, 2, 3].map((type) =>
    svmFor(
      rows,
      labels.map((l) => (l.modic === undefined ? undefined : l.modic === type ? 1 : 0)),
      options,
      10 + type,
    ),
  );
  const findings = BINARY_FINDINGS.map((finding, k) =>
    svmFor(
      rows,
      labels.map((l) => l[finding]),
      options,
      20 + k,
    ),
  );
  return { features: CLASSICAL_FEATURES, imputation, pfirrmann, modic, findings, crop };
}

const FLOOR = 1e-4;
const logit = (p: number): number => Math.log(p / (1 - p));

/** The classical model's logits (log class probabilities for Pfirrmann and Modic; logits for findings). */
export function classicalLogits(model: ClassicalModel, inputs: readonly ClassicalInput[]): Logits {
  const out: Logits = {
    pfirrmann: new Float32Array(inputs.length * 5),
    modic: new Float32Array(inputs.length * 4),
    findings: new Float32Array(inputs.length * BINARY_FINDINGS.length),
  };
  inputs.forEach((input, n) => {
    const row = filled(classicalFeatures(input, model.crop), model.imputation);
    const above: number[] = [];
    for (const svm of model.pfirrmann) {
      const p = svmProbability(svm, row);
      above.push(Math.min(p, above.length ? (above[above.length - 1] as number) : 1));
    }
    const cumulative = [1, ...above, 0];
    for (let g = 0; g < 5; g++)
      out.pfirrmann[n * 5 + g] = Math.log(Math.max(FLOOR, (cumulative[g] as number) - (cumulative[g + 1] as number)));
    const modic = model.modic.map((svm) => Math.max(FLOOR, svmProbability(svm, row)));
    const total = modic.reduce((s, v) => s + v, 0);
    modic.forEach((p, k) => {
      out.modic[n * 4 + k] = Math.log(p / total);
    });
    model.findings.forEach((svm, k) => {
      const p = Math.min(1 - FLOOR, Math.max(FLOOR, svmProbability(svm, row)));
      out.findings[n * BINARY_FINDINGS.length + k] = logit(p);
    });
  });
  return out;
}

const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;

/**
 * Exact SHAP values of one disc, per finding, per feature (SVM score units): `pfirrmann` explains
 * the summed cumulative scores, `modic` the score of "any Modic change", each binary finding its own.
 */
export function classicalShap(model: ClassicalModel, input: ClassicalInput): Record<string, Record<string, number>> {
  const row = filled(classicalFeatures(input, model.crop), model.imputation);
  const named = (values: readonly number[]): Record<string, number> =>
    Object.fromEntries(model.features.map((name, k) => [name, round4(values[k] as number)]));
  const sum = (svms: readonly LinearSvm[], sign = 1): number[] => {
    const total = new Array<number>(row.length).fill(0);
    for (const svm of svms) svmShap(svm, row).forEach((v, k) => (total[k] = (total[k] as number) + sign * v));
    return total;
  };
  const out: Record<string, Record<string, number>> = {
    pfirrmann: named(sum(model.pfirrmann)),
    modic: named(sum([model.modic[0] as LinearSvm], -1)),
  };
  BINARY_FINDINGS.forEach((finding, k) => {
    out[finding] = named(svmShap(model.findings[k] as LinearSvm, row));
  });
  return out;
}

/** The summed cumulative Pfirrmann score (what the `pfirrmann` SHAP values add up to, less the base). */
export function classicalPfirrmannScore(model: ClassicalModel, input: ClassicalInput): number {
  const row = filled(classicalFeatures(input, model.crop), model.imputation);
  return model.pfirrmann.reduce((s, svm) => s + svmScore(svm, row), 0);
}

/** Writes the classical model into a grader folder. */
export async function saveClassicalModel(model: ClassicalModel, dir: string): Promise<void> {
  await writeFileAtomic(join(dir, CLASSICAL_JSON), `${JSON.stringify(model)}\n`, { overwrite: true });
}

/** Reads a classical model saved by {@link saveClassicalModel}. */
export async function loadClassicalModel(dir: string): Promise<ClassicalModel> {
  const path = join(dir, CLASSICAL_JSON);
  const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<ClassicalModel>;
  if (
    !Array.isArray(parsed.features) ||
    parsed.features.join() !== CLASSICAL_FEATURES.join() ||
    parsed.pfirrmann?.length !== 4 ||
    parsed.modic?.length !== 4 ||
    parsed.findings?.length !== BINARY_FINDINGS.length ||
    !parsed.crop
  )
    throw new SpinegradeError('INVALID_HEADER', 'not a classical model of this spinegrade version', path);
  return parsed as ClassicalModel;
}
