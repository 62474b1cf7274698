/**
 * Grader v2 at inference: a slice and one point per lumbar level in, per-level grades out. The
 * bundle is the five cross-validation fold models (an ensemble: their logits are averaged), each
 * with an ordinal Pfirrmann head (4 logits), Modic 0-3 and six binary findings, plus temperatures
 * fitted out of fold per contrast, and a review threshold. Fusion across a patient's series follows
 * {@link V2_FUSION}: Pfirrmann from T2 where there is one, Modic and the rest from T1 and T2 together.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BINARY_FINDINGS } from '../disc/findings.js';
import { SpinegradeError } from '../errors.js';
import type { EngineChoice, Network } from '../models/engine.js';
import { loadNetwork } from '../models/network.js';
import { robustRange } from '../transforms/intensity.js';
import type { Image2D } from '../transforms/resample.js';
import { sigmoid, softmax } from './calibration.js';
import {
  cropFrame,
  DEFAULT_V2_CROP,
  discFrames,
  type LevelPoint,
  NO_JITTER,
  packV2Inputs,
  TTA_JITTERS,
  V2_CHANNELS,
  type V2Contrast,
  type V2CropConfig,
  type V2Input,
} from './v2Crops.js';

/** The v2 network's outputs (logits): ordinal Pfirrmann (P(grade > k), k = 1…4), Modic 0-3, binary findings. */
export const V2_OUTPUTS = ['pfirrmann', 'modic', 'findings'] as const;

/** Logit counts of each output. */
export const V2_HEADS = { pfirrmann: 4, modic: 4, findings: BINARY_FINDINGS.length } as const;

/** How the four ordinal logits make grade probabilities. */
export type OrdinalKind =
  /** Independent P(grade > k) = σ(z_k) (made monotone). */
  | 'cumulative'
  /** CORN: conditional P(grade > k | grade > k − 1) = σ(z_k), multiplied up. */
  | 'corn';

/** One disc's logits. */
export interface V2Logits {
  pfirrmann: number[];
  modic: number[];
  findings: number[];
}

/** Temperatures of one contrast (logits are divided by them). */
export interface V2Temperatures {
  pfirrmann: number;
  modic: number;
  findings: number[];
}

/** The bundle's description (`grader-v2.json`). */
export interface V2BundleInfo {
  format: 'spinegrade-grader-v2';
  crop: V2CropConfig;
  ordinal: OrdinalKind;
  /** Folders of the ensemble's models, relative to the bundle. */
  members: string[];
  /** Average logits over {@link TTA_JITTERS} placements. */
  tta: boolean;
  temperatures: Record<V2Contrast, V2Temperatures>;
  /** A disc whose top Pfirrmann probability is below this is flagged for review. */
  reviewThreshold: number;
  /** The training recipe and its out-of-fold figures (for the card). */
  recipe: string;
}

/** Grade probabilities 1-5 from ordinal logits (at a temperature). */
export function ordinalProbabilities(logits: readonly number[], kind: OrdinalKind, temperature = 1): number[] {
  const above: number[] = [];
  let running = 1;
  for (const z of logits) {
    const s = sigmoid(z, temperature);
    running = kind === 'corn' ? running * s : Math.min(running, s);
    above.push(running);
  }
  const probs = [1 - (above[0] as number)];
  for (let k = 1; k < above.length; k++) probs.push((above[k - 1] as number) - (above[k] as number));
  probs.push(above[above.length - 1] as number);
  return probs.map((p) => Math.max(p, 0));
}

/** The most probable grade (1-based) of a probability row. */
export function topGrade(probs: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < probs.length; k++) if ((probs[k] as number) > (probs[best] as number)) best = k;
  return best + 1;
}

/** One disc graded by v2. */
export interface V2Grades {
  readonly level: string;
  readonly ivdLabel: number;
  readonly contrast: V2Contrast;
  readonly logits: V2Logits;
  /** Pfirrmann 1-5 probabilities (calibrated). */
  readonly pfirrmann: number[];
  readonly pfirrmannGrade: number;
  readonly needsReview: boolean;
  /** Modic 0-3 probabilities (calibrated). */
  readonly modic: number[];
  /** Probability of each binary finding, in `BINARY_FINDINGS` order (calibrated). */
  readonly findings: number[];
}

/** Calibrated grades of one disc's logits. */
export function gradesOfLogits(
  logits: V2Logits,
  info: Pick<V2BundleInfo, 'ordinal' | 'temperatures' | 'reviewThreshold'>,
  contrast: V2Contrast,
  disc: { level: string; ivdLabel: number },
): V2Grades {
  const t = info.temperatures[contrast];
  const pfirrmann = ordinalProbabilities(logits.pfirrmann, info.ordinal, t.pfirrmann);
  return {
    ...disc,
    contrast,
    logits,
    pfirrmann,
    pfirrmannGrade: topGrade(pfirrmann),
    needsReview: Math.max(...pfirrmann) < info.reviewThreshold,
    modic: softmax(logits.modic, t.modic),
    findings: logits.findings.map((z, k) => sigmoid(z, t.findings[k] ?? 1)),
  };
}

/** Splits a network run into per-disc logits, averaging `groups` consecutive rows (TTA placements). */
export function logitsOfRun(
  outputs: readonly { data: Float32Array }[],
  discs: number,
  groups = 1,
  into: V2Logits[] = Array.from({ length: discs }, () => ({
    pfirrmann: new Array<number>(V2_HEADS.pfirrmann).fill(0),
    modic: new Array<number>(V2_HEADS.modic).fill(0),
    findings: new Array<number>(V2_HEADS.findings).fill(0),
  })),
  weight = 1 / groups,
): V2Logits[] {
  V2_OUTPUTS.forEach((name, o) => {
    const width = V2_HEADS[name];
    const data = (outputs[o] as { data: Float32Array }).data;
    for (let d = 0; d < discs; d++) {
      const target = (into[d] as V2Logits)[name];
      for (let g = 0; g < groups; g++) {
        const row = (d * groups + g) * width;
        for (let k = 0; k < width; k++) target[k] = (target[k] as number) + weight * (data[row + k] as number);
      }
    }
  });
  return into;
}

/** A loaded v2 bundle. */
export interface GraderV2 {
  readonly info: V2BundleInfo;
  readonly members: readonly Network[];
  dispose(): void;
}

/** Loads a v2 bundle (`grader-v2.json` and its member folders). */
export async function loadGraderV2(dir: string, engine: EngineChoice): Promise<GraderV2> {
  const path = join(dir, 'grader-v2.json');
  let info: V2BundleInfo;
  try {
    info = JSON.parse(await readFile(path, 'utf8')) as V2BundleInfo;
  } catch (error) {
    throw new SpinegradeError('UNREADABLE', `cannot read the grader v2 description: ${(error as Error).message}`, path);
  }
  if (info.format !== 'spinegrade-grader-v2' || !Array.isArray(info.members) || info.members.length === 0)
    throw new SpinegradeError('UNREADABLE', 'not a grader v2 description (format or members missing)', path);
  const members = await Promise.all(info.members.map((m) => loadNetwork(join(dir, m), V2_OUTPUTS, engine)));
  return { info, members, dispose: () => members.forEach((m) => m.dispose()) };
}

/** Logits of discs' placements, averaged over the ensemble (and TTA placements when the bundle says so). */
export function ensembleLogits(
  members: readonly Network[],
  inputs: readonly V2Input[][],
  crop: V2CropConfig,
): V2Logits[] {
  const groups = inputs[0]?.length ?? 1;
  const flat = inputs.flat();
  const batch = packV2Inputs(flat, crop.size);
  let sum: V2Logits[] | undefined;
  for (const member of members) {
    const out = member.run(batch, [flat.length, crop.size, crop.size, V2_CHANNELS]);
    sum = logitsOfRun(out, inputs.length, groups, sum, 1 / (groups * members.length));
  }
  return sum ?? [];
}

/** Grades every level point of one slice. */
export function gradeSliceV2(
  grader: GraderV2,
  image: Image2D,
  points: readonly LevelPoint[],
  contrast: V2Contrast,
  options: { aspect?: number; where?: string } = {},
): V2Grades[] {
  const { info } = grader;
  const crop = info.crop ?? DEFAULT_V2_CROP;
  const frames = discFrames(points, options.aspect ?? 1, options.where);
  const range = robustRange(image.pixels);
  const jitters = info.tta ? TTA_JITTERS : [NO_JITTER];
  const inputs = frames.map((frame) =>
    jitters.map((jitter) => ({
      crop: cropFrame(image, frame, crop, jitter, range),
      ivdLabel: frame.ivdLabel,
      contrast,
    })),
  );
  const logits = ensembleLogits(grader.members, inputs, crop);
  return frames.map((frame, n) => gradesOfLogits(logits[n] as V2Logits, info, contrast, frame));
}

/** Which contrasts a finding is graded from: the first present (`first`) or all present, probabilities averaged (`mean`). */
export interface V2FusionRule {
  readonly from: readonly V2Contrast[];
  readonly rule: 'first' | 'mean';
}

/** The fusion rule of each output. */
export interface V2Fusion {
  readonly pfirrmann: V2FusionRule;
  readonly modic: V2FusionRule;
  readonly findings: V2FusionRule;
}

/** Which contrasts each finding is graded from, in order of preference. */
export const V2_FUSION: V2Fusion = {
  /** Pfirrmann is defined on T2: T1 only where the patient has no T2. */
  pfirrmann: { from: ['T2', 'T1'], rule: 'first' },
  /** Modic types are read on T1 and T2 together. */
  modic: { from: ['T1', 'T2'], rule: 'mean' },
  findings: { from: ['T1', 'T2'], rule: 'mean' },
};

/** A patient-disc's grades fused over its series, with the contrasts each came from. */
export interface V2FusedGrades {
  readonly pfirrmann: number[];
  readonly pfirrmannGrade: number;
  readonly pfirrmannFrom: V2Contrast[];
  readonly needsReview: boolean;
  readonly modic: number[];
  readonly modicFrom: V2Contrast[];
  readonly findings: number[];
  readonly findingsFrom: V2Contrast[];
}

function meanRows(rows: readonly number[][]): number[] {
  const out = (rows[0] as number[]).map(() => 0);
  for (const row of rows) row.forEach((v, k) => (out[k] = (out[k] as number) + v / rows.length));
  return out;
}

/** Fuses one patient-disc's per-series grades (calibrated probabilities) by {@link V2_FUSION}. */
export function fuseV2(
  series: readonly V2Grades[],
  reviewThreshold: number,
  fusion: V2Fusion = V2_FUSION,
): V2FusedGrades {
  if (series.length === 0) throw new RangeError('no series to fuse');
  const pick = (rule: V2FusionRule): V2Grades[] => {
    if (rule.rule === 'first') {
      for (const contrast of rule.from) {
        const found = series.filter((s) => s.contrast === contrast);
        if (found.length) return found;
      }
      return [...series];
    }
    return series.filter((s) => rule.from.includes(s.contrast));
  };
  const p = pick(fusion.pfirrmann);
  const m = pick(fusion.modic);
  const f = pick(fusion.findings);
  const pfirrmann = meanRows(p.map((s) => s.pfirrmann));
  const from = (list: V2Grades[]): V2Contrast[] => [...new Set(list.map((s) => s.contrast))];
  return {
    pfirrmann,
    pfirrmannGrade: topGrade(pfirrmann),
    pfirrmannFrom: from(p),
    needsReview: Math.max(...pfirrmann) < reviewThreshold,
    modic: meanRows(m.map((s) => s.modic)),
    modicFrom: from(m),
    findings: meanRows(f.map((s) => s.findings)),
    findingsFrom: from(f),
  };
}
