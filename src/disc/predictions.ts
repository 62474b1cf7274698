/**
 * The predictions file (`predict --out`): JSON Lines, a public contract documented in the README.
 * One line per series, then one line per patient (`"series": null`) with the grades fused over that
 * patient's series. A disc the pipeline did not find is absent; geometry fields are present only
 * when the disc was localised.
 */
import { readFile } from 'node:fs/promises';
import { SpinegradeError } from '../errors.js';
import { BINARY_FINDINGS, type BinaryFinding } from './findings.js';
import { type GradedFinding, MODIC_TYPES, PFIRRMANN_GRADES } from './grades.js';
import type { DiscMeasures } from './measures.js';
import type { ModelIdentity } from './provenance.js';

export { type GradedFinding, MODIC_TYPES, PFIRRMANN_GRADES } from './grades.js';

/** Pixel coordinates `[x, y]` in the series' mid-sagittal image. */
export type PixelPoint = [number, number];

/** Everything predicted for one disc. */
export type DiscPrediction = {
  level: string;
  ivdLabel: number;
  center?: PixelPoint;
  posterior?: PixelPoint;
  outline?: PixelPoint[];
  pfirrmann: GradedFinding;
  modic: GradedFinding;
  /** True when the top Pfirrmann probability is below the grader's review threshold (absent: no threshold). */
  needsReview?: boolean;
  /** Quantitative measures of a localised disc (see `grade/measures.ts` for the definitions). */
  measures?: DiscMeasures;
  /**
   * Per finding, per feature SHAP values of the classical model (docs/classical.md); present when the
   * grader has one: part of the grade in its classical and ensemble variants, a second opinion otherwise.
   */
  shap?: Record<string, Record<string, number>>;
  /** The classical model's own Pfirrmann grade (what `shap.pfirrmann` explains). */
  classicalPfirrmann?: GradedFinding;
} & Record<BinaryFinding, number>;

/** One line of the predictions file. */
export interface PredictionLine {
  /** Series id, or null on a patient line (grades fused over the patient's series). */
  series: string | null;
  patient: string;
  /** Sequence of the series; absent on patient lines. */
  sequence?: string;
  discs: DiscPrediction[];
  /**
   * The models that wrote the line (`predict` writes it on every line): the grader or class prior
   * (null when cross-validated afresh) and the localisers.
   */
  models?: { model: ModelIdentity | null; localizers: ModelIdentity[] };
}

/** The index of the largest value. */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let n = 1; n < values.length; n++) if ((values[n] as number) > (values[best] as number)) best = n;
  return best;
}

/** A finding from probabilities over `classes`: the grade is the most probable class. */
export function gradedFinding(probs: readonly number[], classes: readonly number[]): GradedFinding {
  return { grade: classes[argmax(probs)] as number, probs: [...probs] };
}

/**
 * Fuses the series lines of each patient into one patient line: for every disc level seen, the mean
 * of the probabilities over the series that found it (geometry is dropped). With a review threshold,
 * a fused disc whose top Pfirrmann probability is below it is marked `needsReview`.
 */
export function fusePatients(seriesLines: readonly PredictionLine[], reviewThreshold?: number): PredictionLine[] {
  const byPatient = new Map<string, Map<number, DiscPrediction[]>>();
  for (const line of seriesLines) {
    if (line.series === null) continue;
    const levels = byPatient.get(line.patient) ?? new Map<number, DiscPrediction[]>();
    byPatient.set(line.patient, levels);
    for (const disc of line.discs) {
      const list = levels.get(disc.ivdLabel) ?? [];
      list.push(disc);
      levels.set(disc.ivdLabel, list);
    }
  }
  const fused: PredictionLine[] = [];
  for (const [patient, levels] of byPatient) {
    const discs = [...levels.entries()]
      .sort(([a], [b]) => b - a)
      .map(([ivdLabel, list]) => {
        const pfirrmann = meanVector(list.map((d) => d.pfirrmann.probs));
        const modic = meanVector(list.map((d) => d.modic.probs));
        const disc = {
          level: list[0]!.level,
          ivdLabel,
          pfirrmann: gradedFinding(pfirrmann, PFIRRMANN_GRADES),
          modic: gradedFinding(modic, MODIC_TYPES),
        } as DiscPrediction;
        for (const finding of BINARY_FINDINGS) disc[finding] = mean(list.map((d) => d[finding]));
        if (reviewThreshold !== undefined) disc.needsReview = Math.max(...pfirrmann) < reviewThreshold;
        return disc;
      });
    fused.push({ series: null, patient, discs });
  }
  return fused;
}

function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

function meanVector(vectors: readonly (readonly number[])[]): number[] {
  const out = new Array<number>(vectors[0]!.length).fill(0);
  for (const v of vectors) v.forEach((x, n) => (out[n]! += x / vectors.length));
  return out;
}

/** Serialises lines as JSON Lines (numbers rounded to 6 decimals to keep files small and stable). */
export function toJsonLines(lines: readonly PredictionLine[]): string {
  const text = lines.map((line) =>
    JSON.stringify(line, (_key, value) => (typeof value === 'number' ? round6(value) : value)),
  );
  return `${text.join('\n')}\n`;
}

function round6(value: number): number {
  return Number.isInteger(value) ? value : Number(value.toFixed(6));
}

/** Reads and checks a predictions file; a malformed line is an error naming the file and line. */
export async function readPredictions(path: string): Promise<PredictionLine[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new SpinegradeError('NOT_FOUND', 'predictions file does not exist or cannot be read', path);
  }
  const lines: PredictionLine[] = [];
  text.split('\n').forEach((raw, index) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new SpinegradeError('INVALID_HEADER', `line ${index + 1} is not JSON`, path);
    }
    const problem = predictionLineProblem(value);
    if (problem) throw new SpinegradeError('INVALID_HEADER', `line ${index + 1}: ${problem}`, path);
    lines.push(value as PredictionLine);
  });
  if (lines.length === 0) throw new SpinegradeError('NO_IMAGES', 'predictions file holds no lines', path);
  return lines;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isPoint = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && v.every(isNumber);

/** What is wrong with a parsed predictions line, or undefined when it follows the contract. */
export function predictionLineProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const line = value as Record<string, unknown>;
  if (typeof line.patient !== 'string') return '"patient" must be a string';
  if (line.series !== null && typeof line.series !== 'string') return '"series" must be a string or null';
  if (!Array.isArray(line.discs)) return '"discs" must be an array';
  for (const [n, raw] of line.discs.entries()) {
    if (typeof raw !== 'object' || raw === null) return `disc ${n} is not an object`;
    const disc = raw as Record<string, unknown>;
    if (typeof disc.level !== 'string' || !Number.isInteger(disc.ivdLabel))
      return `disc ${n} needs "level" and "ivdLabel"`;
    for (const [name, size] of [
      ['pfirrmann', 5],
      ['modic', 4],
    ] as const) {
      const finding = disc[name] as { grade?: unknown; probs?: unknown } | undefined;
      if (
        !finding ||
        !isNumber(finding.grade) ||
        !Array.isArray(finding.probs) ||
        finding.probs.length !== size ||
        !finding.probs.every(isNumber)
      ) {
        return `disc ${n} (${disc.level}): "${name}" needs a grade and ${size} probabilities`;
      }
    }
    for (const finding of BINARY_FINDINGS) {
      const p = disc[finding];
      if (!isNumber(p) || p < 0 || p > 1) return `disc ${n} (${disc.level}): "${finding}" must be a probability`;
    }
    if (disc.needsReview !== undefined && typeof disc.needsReview !== 'boolean')
      return `disc ${n}: "needsReview" must be true or false`;
    if (
      disc.measures !== undefined &&
      !(
        typeof disc.measures === 'object' &&
        disc.measures !== null &&
        Object.values(disc.measures).every((v) => v === null || isNumber(v))
      )
    )
      return `disc ${n}: "measures" must be an object of numbers (or null)`;
    if (disc.center !== undefined && !isPoint(disc.center)) return `disc ${n}: "center" must be [x, y]`;
    if (disc.posterior !== undefined && !isPoint(disc.posterior)) return `disc ${n}: "posterior" must be [x, y]`;
    if (disc.outline !== undefined && !(Array.isArray(disc.outline) && disc.outline.every(isPoint))) {
      return `disc ${n}: "outline" must be a list of [x, y]`;
    }
  }
  return undefined;
}
