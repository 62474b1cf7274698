/**
 * Training the per-disc grader CNN on disc crops: targets from the dataset's grades (every series of
 * a patient carries that patient's labels), class-balanced loss weights from the training discs,
 * crop-level augmentation, a fixed epoch budget with a cosine schedule (no early stopping: the
 * validation fold is only watched, so out-of-fold figures stay honest).
 */
import type { DiscLabel } from '../../datasets/types.js';
import { BINARY_FINDINGS } from '../../disc/findings.js';
import { GRADER_NETWORK_OUTPUTS, predictCrops } from '../../grade/grader.js';
import { balancedClassWeights, GRADER_HEADS, type GraderLossWeights } from '../../grade/loss.js';
import { DEFAULT_GRADER_CONFIG, type GraderConfig } from '../../grade/model.js';
import { cohenKappa } from '../../metrics/agreement.js';
import { rocAuc } from '../../metrics/probabilistic.js';
import { mulberry32 } from '../../metrics/random.js';
import type { tfl } from '../../models/tf/backend.js';
import { layersNetwork } from '../../models/tf/network.js';
import { type EpochRecord, trainModel } from '../../models/tf/train.js';
import type { Batch } from '../../models/tf/trainCore.js';
import { augmentSample } from '../../transforms/augment.js';
import { shuffledBatches, type TrainerSettings, trainerOptions } from '../common/trainer.js';
import type { DiscCropRecord } from './samples.js';

/** A crop with the grades that train on it. */
export interface LabelledCrop {
  readonly record: DiscCropRecord;
  readonly label: DiscLabel;
}

/** Pairs crops with their patient-disc grades (by the training level); crops of ungraded discs are left out. */
export function labelCrops(records: readonly DiscCropRecord[], labels: readonly DiscLabel[]): LabelledCrop[] {
  const byKey = new Map(labels.map((l) => [`${l.patient}\u0000${l.ivdLabel}`, l]));
  const out: LabelledCrop[] = [];
  for (const record of records) {
    const label = byKey.get(`${record.patient}\u0000${record.trainingIvdLabel}`);
    if (label) out.push({ record, label });
  }
  return out;
}

/** Loss weights balancing the grades and findings of the training crops. */
export function lossWeightsFor(crops: readonly Pick<LabelledCrop, 'label'>[]): GraderLossWeights {
  const pfirrmann = [0, 0, 0, 0, 0];
  const modic = [0, 0, 0, 0];
  const positives = BINARY_FINDINGS.map(() => 0);
  const graded = BINARY_FINDINGS.map(() => 0);
  for (const { label } of crops) {
    if (label.pfirrmann !== undefined) pfirrmann[label.pfirrmann - 1]!++;
    if (label.modic !== undefined) modic[label.modic]!++;
    BINARY_FINDINGS.forEach((finding, k) => {
      const value = label[finding];
      if (value === undefined) return;
      graded[k]!++;
      if (value === 1) positives[k]!++;
    });
  }
  return {
    pfirrmannClass: balancedClassWeights(pfirrmann),
    modicClass: balancedClassWeights(modic),
    // sqrt of the negative:positive ratio, capped: rare findings count more without swamping the rest.
    findingsPositive: positives.map((p, k) => (p > 0 ? Math.min(Math.sqrt((graded[k]! - p) / p), 5) : 1)),
    ordinal: 1,
  };
}

/** A batch of crops in the layout the training engine consumes. */
export function graderBatch(crops: readonly { pixels: Float32Array; label: DiscLabel }[], cropSize: number): Batch {
  const n = crops.length;
  const pixels = cropSize * cropSize;
  const inputs = new Float32Array(n * pixels);
  const pfirrmann = new Float32Array(n * GRADER_HEADS.pfirrmann);
  const modic = new Float32Array(n * GRADER_HEADS.modic);
  const findings = new Float32Array(n * GRADER_HEADS.findings);
  const findingsWeight = new Float32Array(n * GRADER_HEADS.findings);
  crops.forEach(({ pixels: crop, label }, i) => {
    inputs.set(crop, i * pixels);
    if (label.pfirrmann !== undefined) pfirrmann[i * GRADER_HEADS.pfirrmann + label.pfirrmann - 1] = 1;
    if (label.modic !== undefined) modic[i * GRADER_HEADS.modic + label.modic] = 1;
    BINARY_FINDINGS.forEach((finding, k) => {
      const value = label[finding];
      if (value === undefined) return;
      findings[i * GRADER_HEADS.findings + k] = value;
      findingsWeight[i * GRADER_HEADS.findings + k] = 1;
    });
  });
  return {
    inputs,
    inputShape: [n, cropSize, cropSize, 1],
    targets: {
      pfirrmann: { data: pfirrmann, shape: [n, GRADER_HEADS.pfirrmann] },
      modic: { data: modic, shape: [n, GRADER_HEADS.modic] },
      findings: { data: findings, shape: [n, GRADER_HEADS.findings] },
      findingsWeight: { data: findingsWeight, shape: [n, GRADER_HEADS.findings] },
    },
  };
}

/** The settings of {@link augmentCrop}: small rotations, zoom, shifts, elastic, no crop-out (photometric defaults). */
export const CROP_AUGMENTATION = {
  rotation: { maxDegrees: 10 },
  scale: { min: 0.9, max: 1.12 },
  translation: { maxFraction: 0.06 },
  elastic: { amplitudePx: 1.5 },
  cropOut: { probability: 0 },
} as const;

/** Crop augmentation: small rotations, zoom, shifts, elastic, and the photometric changes (no flips, no crop-out). */
export function augmentCrop(crop: Float32Array, size: number, random: () => number): Float32Array {
  return augmentSample({ image: crop, semantic: null, keypoints: null, canvas: { size } }, random, CROP_AUGMENTATION)
    .image;
}

/** Figures of a grader on labelled crops (per crop): Pfirrmann linear κ and the mean AUC of the binary findings. */
export interface GraderScores {
  pfirrmannKappa: number;
  findingsAuc: number;
  crops: number;
}

/** Scores a grader on crops: per-crop Pfirrmann linear κ and mean binary-finding AUC. */
export function scoreGrader(model: tfl.LayersModel, crops: readonly LabelledCrop[], cropSize: number): GraderScores {
  const out = predictCrops(
    layersNetwork(model, GRADER_NETWORK_OUTPUTS),
    crops.map((c) => c.record.crop),
    cropSize,
  );
  const truth: number[] = [];
  const predicted: number[] = [];
  crops.forEach(({ label }, i) => {
    if (label.pfirrmann === undefined) return;
    const logits = out.pfirrmann.subarray(i * 5, i * 5 + 5);
    let best = 0;
    for (let k = 1; k < 5; k++) if ((logits[k] as number) > (logits[best] as number)) best = k;
    truth.push(label.pfirrmann);
    predicted.push(best + 1);
  });
  const aucs: number[] = [];
  BINARY_FINDINGS.forEach((finding, k) => {
    const labels: number[] = [];
    const scores: number[] = [];
    crops.forEach(({ label }, i) => {
      const value = label[finding];
      if (value === undefined) return;
      labels.push(value);
      scores.push(out.findings[i * GRADER_HEADS.findings + k] as number);
    });
    if (labels.includes(0) && labels.includes(1)) aucs.push(rocAuc(labels, scores));
  });
  return {
    pfirrmannKappa: truth.length > 1 ? cohenKappa(truth, predicted, [1, 2, 3, 4, 5], 'linear') : Number.NaN,
    findingsAuc: aucs.length ? aucs.reduce((s, a) => s + a, 0) / aucs.length : Number.NaN,
    crops: crops.length,
  };
}

/** Options of {@link trainGrader}. */
export interface TrainGraderOptions extends TrainerSettings {
  readonly config?: Partial<Omit<GraderConfig, 'loss'>>;
  /** Fine-tune from these weights (a grader's, flattened) instead of starting fresh. */
  readonly initialWeights?: Float32Array;
  /** Loss weights; default balanced on the training crops (fine-tuning keeps the original's). */
  readonly lossWeights?: GraderLossWeights;
  /** Crops to watch after each epoch (logged, never used to pick weights). */
  readonly watch?: readonly LabelledCrop[];
}

/** Trains the grader CNN on labelled crops. */
export async function trainGrader(
  train: readonly LabelledCrop[],
  options: TrainGraderOptions,
): Promise<{ model: tfl.LayersModel; config: GraderConfig; history: EpochRecord[]; watched?: GraderScores }> {
  const seed = options.seed ?? DEFAULT_GRADER_CONFIG.seed;
  const config: GraderConfig = {
    ...DEFAULT_GRADER_CONFIG,
    ...options.config,
    seed,
    loss: options.lossWeights ?? lossWeightsFor(train),
  };
  const log = options.onLog ?? (() => {});
  const random = mulberry32(seed);
  const batchSize = options.batchSize ?? 32;
  const size = config.cropSize;
  const nextEpoch = function* (): Generator<Batch> {
    for (const chunk of shuffledBatches(train, batchSize, random)) {
      yield graderBatch(
        chunk.map((c) => ({ pixels: augmentCrop(c.record.crop, size, random), label: c.label })),
        size,
      );
    }
  };
  let watched: GraderScores | undefined;
  const watch = options.watch ?? [];
  const result = await trainModel({
    model: { module: new URL('../../grade/model.js', import.meta.url).href, config },
    nextEpoch,
    ...trainerOptions(options, 5e-5),
    restoreBest: false,
    ...(options.initialWeights ? { initialWeights: options.initialWeights } : {}),
    ...(watch.length > 0
      ? {
          validate: async (model: tfl.LayersModel, epoch: number) => {
            watched = scoreGrader(model, watch, size);
            log(
              `epoch ${epoch + 1}: watched crops: Pfirrmann κ ${watched.pfirrmannKappa.toFixed(3)}, findings AUC ${watched.findingsAuc.toFixed(3)}`,
            );
            return watched.pfirrmannKappa;
          },
        }
      : {}),
  });
  return { model: result.model, config, history: result.history, ...(watched ? { watched } : {}) };
}

/** The labelled crops of the given patients. */
export function cropsOfPatients(crops: readonly LabelledCrop[], patients: Iterable<string>): LabelledCrop[] {
  const chosen = new Set(patients);
  return crops.filter((c) => chosen.has(c.record.patient));
}
