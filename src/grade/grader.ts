/**
 * A trained grader as shipped in `models/grader/`: the per-disc CNN (`model.json` + `weights.bin`),
 * optionally the across-levels context model (`context.json` + `context.bin`), and the calibration
 * fitted on out-of-fold predictions (temperatures per head, the "needs review" threshold), all in
 * the CNN's metadata. Grading turns a series' disc crops into calibrated probabilities.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BINARY_FINDINGS, type BinaryFinding } from '../disc/findings.js';
import type { Logits } from '../disc/logits.js';
import type { DiscMeasures } from '../disc/measures.js';
import { type DiscPrediction, gradedFinding, MODIC_TYPES, PFIRRMANN_GRADES } from '../disc/predictions.js';
import { SpinegradeError } from '../errors.js';
import type { EngineChoice, Network } from '../models/engine.js';
import { readModelMetadata } from '../models/modelJson.js';
import { loadNetwork } from '../models/network.js';
import type { tfl } from '../models/tf/backend.js';
import { sigmoid, softmax } from './calibration.js';
import {
  CLASSICAL_JSON,
  type ClassicalInput,
  type ClassicalModel,
  classicalLogits,
  classicalShap,
  loadClassicalModel,
} from './classicalModel.js';
import type { ContextModel } from './context.js';
import { CONTEXT_JSON, type ContextBatch, type ContextPredictor } from './contextFormat.js';
import { loadContextPredictor } from './contextOnnx.js';
import type { DiscCropConfig } from './crops.js';
import { GRADER_HEADS } from './loss.js';
import type { GraderConfig } from './model.js';

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

/**
 * Which family grades: the CNN alone, the hybrid (CNN + across-levels context model), the classical
 * SVMs on measures and texture, or the ensemble (hybrid and classical pooled).
 */
export type GraderVariant = 'cnn' | 'hybrid' | 'classical' | 'ensemble';

/** The variants a cross-validation compares, in table order. */
export const GRADER_VARIANTS: readonly GraderVariant[] = ['classical', 'cnn', 'hybrid', 'ensemble'];

/** A loaded grader. */
export interface Grader {
  readonly kind: 'grader';
  /** The per-disc CNN, run for inference (onnxruntime or TensorFlow.js); outputs {@link GRADER_NETWORK_OUTPUTS}. */
  readonly network: Network;
  readonly config: GraderConfig;
  readonly crop: DiscCropConfig;
  readonly calibration: GraderCalibration;
  /** The across-levels context model, run for inference, when the grader has one. */
  readonly context: ContextPredictor | undefined;
  /** The classical model, when the grader has one. */
  readonly classical: ClassicalModel | undefined;
  /** The family whose outputs (and calibration) this grader ships. */
  readonly variant: GraderVariant;
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

/** The CNN's layers a grader reads: the pooled embedding (the context model's input) and the three heads. */
export const GRADER_NETWORK_OUTPUTS = ['pool', 'pfirrmann', 'modic', 'findings'] as const;

/**
 * Loads a grader saved by `train grader` (or `finetune`) from folder `dir`, its networks to run on
 * `engine` (default: onnxruntime where it loads, see `loadNetwork`; `tfjs` when they are to be
 * trained further, see {@link trainableGrader}).
 */
export async function loadGrader(dir: string, options: { engine: EngineChoice }): Promise<Grader> {
  const metadata = await readModelMetadata(dir);
  const config = metadata.graderConfig as GraderConfig | undefined;
  const crop = metadata.cropConfig as DiscCropConfig | undefined;
  if (!config || !crop) throw new SpinegradeError('INVALID_HEADER', 'not a spinegrade grader (no graderConfig)', dir);
  const calibration = (metadata.calibration as GraderCalibration | undefined) ?? UNCALIBRATED;
  const context = existsSync(join(dir, CONTEXT_JSON)) ? await loadContextPredictor(dir, options.engine) : undefined;
  const classical = existsSync(join(dir, CLASSICAL_JSON)) ? await loadClassicalModel(dir) : undefined;
  const variant = (metadata.variant as GraderVariant | undefined) ?? (context ? 'hybrid' : 'cnn');
  if ((variant === 'hybrid' || variant === 'ensemble') && !context)
    throw new SpinegradeError('INVALID_HEADER', `a ${variant} grader needs ${CONTEXT_JSON}`, dir);
  if ((variant === 'classical' || variant === 'ensemble') && !classical)
    throw new SpinegradeError('INVALID_HEADER', `a ${variant} grader needs ${CLASSICAL_JSON}`, dir);
  return {
    kind: 'grader',
    network: await loadNetwork(dir, GRADER_NETWORK_OUTPUTS, options.engine),
    config,
    crop,
    calibration,
    context,
    classical,
    variant,
    dir,
    trainedOn: (metadata.trainedOn as Grader['trainedOn'] | undefined) ?? { dataset: 'unknown', patients: [] },
    metadata,
  };
}

/** Per-crop outputs of the grader: logits of each head and the pooled embedding. */
export interface GraderOutputs {
  pfirrmann: Float32Array;
  modic: Float32Array;
  findings: Float32Array;
  embedding: Float32Array;
  /** Length of one crop's embedding. */
  embeddingSize: number;
}

/** Runs the grader's CNN on crops (inference mode), in batches; returns every head's logits and the embeddings. */
export function predictCrops(network: Network, crops: readonly Float32Array[], cropSize: number): GraderOutputs {
  const n = crops.length;
  const out: GraderOutputs = {
    pfirrmann: new Float32Array(n * GRADER_HEADS.pfirrmann),
    modic: new Float32Array(n * GRADER_HEADS.modic),
    findings: new Float32Array(n * GRADER_HEADS.findings),
    embedding: new Float32Array(0),
    embeddingSize: 0,
  };
  const pixels = cropSize * cropSize;
  const batch = 64;
  for (let start = 0; start < n; start += batch) {
    const chunk = crops.slice(start, start + batch);
    const input = new Float32Array(chunk.length * pixels);
    chunk.forEach((crop, k) => input.set(crop, k * pixels));
    const [embedding, pfirrmann, modic, findings] = network
      .run(input, [chunk.length, cropSize, cropSize, 1])
      .map((o) => o.data) as [Float32Array, Float32Array, Float32Array, Float32Array];
    if (start === 0) {
      out.embeddingSize = embedding.length / chunk.length;
      out.embedding = new Float32Array(n * out.embeddingSize);
    }
    out.embedding.set(embedding, start * out.embeddingSize);
    out.pfirrmann.set(pfirrmann, start * GRADER_HEADS.pfirrmann);
    out.modic.set(modic, start * GRADER_HEADS.modic);
    out.findings.set(findings, start * GRADER_HEADS.findings);
  }
  return out;
}

/** A grader's trainable TensorFlow.js models (for fine-tuning). */
export interface TrainableGrader {
  readonly model: tfl.LayersModel;
  readonly config: GraderConfig;
  readonly context: ContextModel | undefined;
}

/** The TensorFlow.js models of a grader loaded with `engine: 'tfjs'`; a USAGE error for one on onnxruntime. */
export function trainableGrader(grader: Grader): TrainableGrader {
  const network = grader.network as Network & { model?: tfl.LayersModel };
  const context = grader.context as (ContextPredictor & { model?: ContextModel }) | undefined;
  if (network.engine !== 'tfjs' || !network.model || (context && (context.engine !== 'tfjs' || !context.model))) {
    throw new SpinegradeError('USAGE', 'only a grader loaded with engine "tfjs" can be trained further', grader.dir);
  }
  return { model: network.model, config: grader.config, context: context?.model };
}

const layersModels = new WeakMap<Grader, Promise<tfl.LayersModel>>();

/** The grader's CNN as a TensorFlow.js layers model (for gradients: Grad-CAM), loaded once when it runs on onnxruntime. */
export function graderLayersModel(grader: Grader): Promise<tfl.LayersModel> {
  const network = grader.network as Network & { model?: tfl.LayersModel };
  if (network.model) return Promise.resolve(network.model);
  let loaded = layersModels.get(grader);
  if (!loaded) {
    loaded = (async () => {
      const [{ initTf }, { loadModel }] = await Promise.all([
        import('../models/tf/backend.js'),
        import('../models/tf/io.js'),
      ]);
      await initTf('wasm');
      return loadModel(grader.dir);
    })();
    layersModels.set(grader, loaded);
  }
  return loaded;
}

/** Frees the grader's networks (and a layers model loaded for Grad-CAM). */
export async function disposeGrader(grader: Grader): Promise<void> {
  grader.network.dispose();
  grader.context?.dispose();
  const loaded = layersModels.get(grader);
  layersModels.delete(grader);
  if (loaded) (await loaded).dispose();
}

/** One disc to grade: its crop and level; the classical model also reads its measures and sequence. */
export interface DiscToGrade {
  readonly crop: Float32Array;
  readonly ivdLabel: number;
  readonly level: string;
  readonly measures?: DiscMeasures | undefined;
  readonly sequence?: string;
}

/** A graded disc: the prediction fields plus whether it needs review. */
export type GradedDisc = Omit<DiscPrediction, 'center' | 'posterior' | 'outline'> & { needsReview: boolean };

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
export function contextLogits(context: ContextPredictor, outputs: GraderOutputs, spines: readonly SpineRows[]): Logits {
  const { levels } = context.config;
  const { batch, placed } = packSpines(outputs, spines, levels);
  const contextual = context.predict(batch);
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

/**
 * Pools several families' logits: the mean of their log-probabilities for Pfirrmann and Modic
 * (a log-linear pool), the mean logit for each binary finding.
 */
export function ensembleLogits(parts: readonly Logits[]): Logits {
  const n = (parts[0]?.pfirrmann.length ?? 0) / GRADER_HEADS.pfirrmann;
  const out: Logits = {
    pfirrmann: new Float32Array(n * GRADER_HEADS.pfirrmann),
    modic: new Float32Array(n * GRADER_HEADS.modic),
    findings: new Float32Array(n * GRADER_HEADS.findings),
  };
  for (const part of parts) {
    for (const head of ['pfirrmann', 'modic'] as const) {
      const size = GRADER_HEADS[head];
      for (let row = 0; row < n; row++) {
        const logProbs = softmax(part[head].subarray(row * size, (row + 1) * size)).map((p) =>
          Math.log(Math.max(p, 1e-6)),
        );
        logProbs.forEach((v, k) => {
          out[head][row * size + k] = (out[head][row * size + k] as number) + v / parts.length;
        });
      }
    }
    part.findings.forEach((v, i) => {
      out.findings[i] = (out.findings[i] as number) + v / parts.length;
    });
  }
  return out;
}

/** The classical model's view of a disc to grade. */
function classicalInputOf(disc: DiscToGrade): ClassicalInput {
  return { crop: disc.crop, measures: disc.measures, ivdLabel: disc.ivdLabel, sequence: disc.sequence ?? 'T2' };
}

/**
 * Grades the discs of one series with the grader's variant: the CNN, the context model across its
 * levels, the classical model, or their ensemble; then calibration. When the grader has a classical
 * model, every disc also gets that model's SHAP values and its own Pfirrmann grade
 * (`classicalPfirrmann`): part of the grade in the classical and ensemble variants, an
 * interpretable second opinion beside it in the others (`explain: false` leaves these out, as for
 * the neighbouring slices of a volume, whose grades are only averaged).
 */
export function gradeSeriesDiscs(
  grader: Grader,
  discs: readonly DiscToGrade[],
  options: { explain?: boolean } = {},
): GradedDisc[] {
  if (discs.length === 0) return [];
  const { variant } = grader;
  const parts: Logits[] = [];
  if (variant !== 'classical') {
    const outputs = predictCrops(
      grader.network,
      discs.map((d) => d.crop),
      grader.config.cropSize,
    );
    const spine = { rows: discs.map((_, n) => n), slots: discs.map((d) => d.ivdLabel) };
    parts.push(grader.context && variant !== 'cnn' ? contextLogits(grader.context, outputs, [spine]) : outputs);
  }
  const gradedByClassical = variant === 'classical' || variant === 'ensemble';
  // The classical model runs when it grades, or to explain (SHAP and its own grade) unless told not to.
  const classical = gradedByClassical || options.explain !== false ? grader.classical : undefined;
  const classicalOut = classical ? classicalLogits(classical, discs.map(classicalInputOf)) : undefined;
  if (classicalOut && gradedByClassical) parts.push(classicalOut);
  const logits = parts.length === 1 ? (parts[0] as Logits) : ensembleLogits(parts);
  const graded = gradesFromLogits(logits, discs, grader.calibration);
  if (classical && classicalOut && options.explain !== false)
    graded.forEach((g, n) => {
      g.shap = classicalShap(classical, classicalInputOf(discs[n] as DiscToGrade));
      g.classicalPfirrmann = gradedFinding(
        softmax(classicalOut.pfirrmann.subarray(n * 5, n * 5 + 5)),
        PFIRRMANN_GRADES,
      );
    });
  return graded;
}
