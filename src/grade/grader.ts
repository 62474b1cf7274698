/**
 * A trained grader as shipped in `models/grader/`: the per-disc CNN (`model.json` + `weights.bin`),
 * optionally the across-levels context model (`context.json` + `context.bin`), and the calibration
 * fitted on out-of-fold predictions (temperatures per head, the "needs review" threshold), all in
 * the CNN's metadata. Grading turns a series' disc crops into calibrated probabilities.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BINARY_FINDINGS, type BinaryFinding } from '../datasets/types.js';
import { SpinegradeError } from '../errors.js';
import { initTf, type tfl } from '../models/tf/backend.js';
import { loadModel, readModelMetadata } from '../models/tf/io.js';
import { type DiscPrediction, gradedFinding, MODIC_TYPES, PFIRRMANN_GRADES } from '../report/predictions.js';
import { sigmoid, softmax } from './calibration.js';
import { CONTEXT_JSON, type ContextBatch, type ContextModel, loadContextModel, predictContext } from './context.js';
import type { DiscCropConfig } from './crops.js';
import { GRADER_HEADS } from './loss.js';
import { type GraderConfig, type GraderOutputs, predictCrops } from './model.js';

/** Temperatures per head and the review threshold, fitted on out-of-fold predictions. */
export interface GraderCalibration {
  pfirrmann: number;
  modic: number;
  /** One temperature per binary finding, in `BINARY_FINDINGS` order. */
  findings: number[];
  /** A disc whose top Pfirrmann probability is below this needs review. */
  reviewThreshold: number;
}

/** No calibration: temperature 1 everywhere, nothing flagged. */
export const UNCALIBRATED: GraderCalibration = {
  pfirrmann: 1,
  modic: 1,
  findings: BINARY_FINDINGS.map(() => 1),
  reviewThreshold: 0,
};

/** A loaded grader. */
export interface Grader {
  readonly kind: 'grader';
  readonly model: tfl.LayersModel;
  readonly config: GraderConfig;
  readonly crop: DiscCropConfig;
  readonly calibration: GraderCalibration;
  /** The across-levels context model, when the grader has one. */
  readonly context: ContextModel | undefined;
  readonly dir: string;
  readonly trainedOn: { dataset: string; patients: string[] };
  readonly metadata: Record<string, unknown>;
}

/** True when a model folder holds a grader (a tfjs model whose metadata has a grader configuration). */
export async function isGraderDir(dir: string): Promise<boolean> {
  if (!existsSync(join(dir, 'model.json'))) return false;
  try {
    return (await readModelMetadata(dir)).graderConfig !== undefined;
  } catch {
    return false;
  }
}

/** Loads a grader saved by `train grader`. */
export async function loadGrader(dir: string): Promise<Grader> {
  await initTf('wasm');
  const metadata = await readModelMetadata(dir);
  const config = metadata.graderConfig as GraderConfig | undefined;
  const crop = metadata.cropConfig as DiscCropConfig | undefined;
  if (!config || !crop) throw new SpinegradeError('INVALID_HEADER', 'not a spinegrade grader (no graderConfig)', dir);
  const calibration = (metadata.calibration as GraderCalibration | undefined) ?? UNCALIBRATED;
  const context = existsSync(join(dir, CONTEXT_JSON)) ? await loadContextModel(dir) : undefined;
  return {
    kind: 'grader',
    model: await loadModel(dir),
    config,
    crop,
    calibration,
    context,
    dir,
    trainedOn: (metadata.trainedOn as Grader['trainedOn'] | undefined) ?? { dataset: 'unknown', patients: [] },
    metadata,
  };
}

/** One disc to grade: its crop and level. */
export interface DiscToGrade {
  readonly crop: Float32Array;
  readonly ivdLabel: number;
  readonly level: string;
}

/** A graded disc: the prediction fields plus whether it needs review. */
export type GradedDisc = Omit<DiscPrediction, 'center' | 'posterior' | 'outline'> & { needsReview: boolean };

/** Logits of discs, flat per head (rows of the head's size). */
export type Logits = Pick<GraderOutputs, 'pfirrmann' | 'modic' | 'findings'>;

/** One spine for the context model: rows of a CNN output and each row's level slot (IVD label). */
export interface SpineRows {
  readonly rows: readonly number[];
  readonly slots: readonly number[];
}

/** Where each packed row went: its spine, its slot and its row in the CNN output. */
export interface PlacedRow {
  readonly spine: number;
  readonly slot: number;
  readonly row: number;
}

/**
 * Packs CNN outputs into a context-model batch, one spine per entry, each row into its slot; rows with
 * a slot outside the model's levels, or whose slot is already taken, are left out.
 */
export function packSpines(
  outputs: GraderOutputs,
  spines: readonly SpineRows[],
  levels: number,
): { batch: ContextBatch & { cnnLogits: Logits }; placed: PlacedRow[] } {
  const { embeddingSize } = outputs;
  const n = spines.length;
  const batch = {
    embeddings: new Float32Array(n * levels * embeddingSize),
    mask: new Uint8Array(n * levels),
    spines: n,
    cnnLogits: {
      pfirrmann: new Float32Array(n * levels * GRADER_HEADS.pfirrmann),
      modic: new Float32Array(n * levels * GRADER_HEADS.modic),
      findings: new Float32Array(n * levels * GRADER_HEADS.findings),
    },
  };
  const placed: PlacedRow[] = [];
  spines.forEach(({ rows, slots }, spine) => {
    rows.forEach((row, k) => {
      const slot = slots[k] as number;
      const at = spine * levels + slot;
      if (slot < 0 || slot >= levels || batch.mask[at]) return;
      batch.mask[at] = 1;
      batch.embeddings.set(
        outputs.embedding.subarray(row * embeddingSize, (row + 1) * embeddingSize),
        at * embeddingSize,
      );
      copyLogitRow(outputs, row, batch.cnnLogits, at);
      placed.push({ spine, slot, row });
    });
  });
  return { batch, placed };
}

/** Copies one row of every head's logits. */
export function copyLogitRow(from: Logits, fromRow: number, to: Logits, toRow: number): void {
  for (const head of ['pfirrmann', 'modic', 'findings'] as const) {
    const size = GRADER_HEADS[head];
    to[head].set(from[head].subarray(fromRow * size, (fromRow + 1) * size), toRow * size);
  }
}

/**
 * The hybrid's logits for the rows of a CNN output: the context model across each spine's levels;
 * rows it does not place keep the CNN's logits.
 */
export function contextLogits(context: ContextModel, outputs: GraderOutputs, spines: readonly SpineRows[]): Logits {
  const { levels } = context.config;
  const { batch, placed } = packSpines(outputs, spines, levels);
  const contextual = predictContext(context, batch);
  const out: Logits = {
    pfirrmann: Float32Array.from(outputs.pfirrmann),
    modic: Float32Array.from(outputs.modic),
    findings: Float32Array.from(outputs.findings),
  };
  for (const { spine, slot, row } of placed) copyLogitRow(contextual, spine * levels + slot, out, row);
  return out;
}

/** Calibrated predictions from logits. */
export function gradesFromLogits(
  logits: Logits,
  discs: readonly Pick<DiscToGrade, 'ivdLabel' | 'level'>[],
  calibration: GraderCalibration,
): GradedDisc[] {
  return discs.map((disc, n) => {
    const pfirrmann = softmax(logits.pfirrmann.subarray(n * 5, n * 5 + 5), calibration.pfirrmann);
    const modic = softmax(logits.modic.subarray(n * 4, n * 4 + 4), calibration.modic);
    const graded = {
      level: disc.level,
      ivdLabel: disc.ivdLabel,
      pfirrmann: gradedFinding(pfirrmann, PFIRRMANN_GRADES),
      modic: gradedFinding(modic, MODIC_TYPES),
      needsReview: Math.max(...pfirrmann) < calibration.reviewThreshold,
    } as GradedDisc;
    BINARY_FINDINGS.forEach((finding: BinaryFinding, k) => {
      graded[finding] = sigmoid(logits.findings[n * GRADER_HEADS.findings + k] as number, calibration.findings[k] ?? 1);
    });
    return graded;
  });
}

/** Grades the discs of one series: CNN, then the context model across its levels when present, then calibration. */
export function gradeSeriesDiscs(grader: Grader, discs: readonly DiscToGrade[], useContext = true): GradedDisc[] {
  if (discs.length === 0) return [];
  const outputs = predictCrops(
    grader.model,
    discs.map((d) => d.crop),
    grader.config.cropSize,
  );
  const spine = { rows: discs.map((_, n) => n), slots: discs.map((d) => d.ivdLabel) };
  const logits = grader.context && useContext ? contextLogits(grader.context, outputs, [spine]) : outputs;
  return gradesFromLogits(logits, discs, grader.calibration);
}
