/**
 * Grader v2 cross-validation: one recipe trained on the same five patient-level folds as the bundled
 * models (seed 1), out-of-fold logits for every disc (single placement and TTA), temperatures per
 * contrast cross-fitted on the other folds' out-of-fold logits, figures per contrast and fused per
 * patient-disc, and the five fold models kept as the shipped ensemble.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { patientFolds } from '../../datasets/splits.js';
import type { DiscLabel, SpineDataset } from '../../datasets/types.js';
import { BINARY_FINDINGS } from '../../disc/findings.js';
import { fitBinaryTemperature, fitTemperature, minimiseOverTemperature } from '../../grade/calibration.js';
import { balancedClassWeights } from '../../grade/loss.js';
import {
  fuseV2,
  gradesOfLogits,
  logitsOfRun,
  type OrdinalKind,
  ordinalProbabilities,
  V2_FUSION,
  V2_HEADS,
  V2_OUTPUTS,
  type V2BundleInfo,
  type V2Fusion,
  type V2Grades,
  type V2Logits,
  type V2Temperatures,
} from '../../grade/v2.js';
import { packV2Inputs, V2_CHANNELS, type V2Contrast, type V2CropConfig } from '../../grade/v2Crops.js';
import { mulberry32 } from '../../metrics/random.js';
import { saveModel } from '../../models/tf/io.js';
import { layersNetwork } from '../../models/tf/network.js';
import { trainModel } from '../../models/tf/train.js';
import type { Batch, TensorData } from '../../models/tf/trainCore.js';
import { augmentSample } from '../../transforms/augment.js';
import { shuffledBatches, trainerOptions } from '../common/trainer.js';
import { chooseReviewThreshold, figuresOf, type ScoredDisc, scored, type V2Figures } from './figures.js';
import type { V2NetworkConfig } from './model.js';
import { augmentCrop, CROP_AUGMENTATION, graderBatch, lossWeightsFor } from './train.js';
import type { V2Sample } from './v2Samples.js';

/** A training recipe: everything an ablation row changes. */
export interface V2Recipe {
  name: string;
  description: string;
  epochs: number;
  filters: number[];
  strides: number[];
  dropout: number;
  ordinal: OrdinalKind;
  /** Pfirrmann class weights ∝ 1/frequency^power (0: none, 1: inverse frequency). */
  classWeightPower: number;
  /** Contrasts whose crops train the network. */
  trainContrasts: V2Contrast[];
  learningRate: number;
  batchSize: number;
  /** Weight of the Modic and findings terms. */
  auxiliaryWeight: number;
  /**
   * Crop augmentation: `v1` is the v1 grader's (its contrast curves invert about 5% of crops, which
   * flips the nucleus-against-CSF brightness Pfirrmann is read from); `monotone` keeps the geometry
   * and the mild photometric changes but no contrast curve; `geometric` changes the geometry only;
   * `none` trains on the crops as they are.
   */
  augment?: 'v1' | 'monotone' | 'geometric' | 'none';
}

/** The v1 crop augmentation without contrast curves (intensity order kept). */
export function augmentCropMonotone(crop: Float32Array, size: number, random: () => number): Float32Array {
  return augmentSample({ image: crop, semantic: null, keypoints: null, canvas: { size } }, random, {
    ...CROP_AUGMENTATION,
    contrastCurve: { probability: 0 },
  }).image;
}

/** The v1 crop augmentation's geometric part only (intensities untouched). */
export function augmentCropGeometric(crop: Float32Array, size: number, random: () => number): Float32Array {
  return augmentSample({ image: crop, semantic: null, keypoints: null, canvas: { size } }, random, {
    ...CROP_AUGMENTATION,
    photometric: false,
  }).image;
}

const AUGMENTERS = {
  v1: augmentCrop,
  monotone: augmentCropMonotone,
  geometric: augmentCropGeometric,
  none: (crop: Float32Array) => crop,
} as const;

/**
 * The reference experiment, made multi-task and fitted to the shared CPUs: six conv blocks,
 * level input, cumulative ordinal, inverse-frequency weights; 12 epochs over T2 + T1 crops are about
 * the reference's number of steps (20 epochs over T2 alone).
 */
export const REFERENCE_RECIPE: V2Recipe = {
  name: 'reference',
  description:
    'six 3×3 conv blocks (16-16-32-32-64-64, strides 2-1-2-1-2-1), level + contrast planes, cumulative ordinal, inverse-frequency weights, T2 + T1 crops (48 px over 64 mm), 12 epochs',
  epochs: 12,
  filters: [16, 16, 32, 32, 64, 64],
  strides: [2, 1, 2, 1, 2, 1],
  dropout: 0.3,
  ordinal: 'cumulative',
  classWeightPower: 1,
  trainContrasts: ['T2', 'T1'],
  learningRate: 2e-3,
  batchSize: 32,
  auxiliaryWeight: 1,
};

/** One disc's out-of-fold line. */
export interface V2OofLine {
  patient: string;
  series: string;
  contrast: V2Contrast;
  ivdLabel: number;
  level: string;
  fold: number;
  placedBy: V2Sample['placedBy'];
  logits: V2Logits;
  logitsTta: V2Logits;
  truth: ScoredDisc['truth'];
}

function truthOf(label: DiscLabel): ScoredDisc['truth'] {
  return {
    ...(label.pfirrmann === undefined ? {} : { pfirrmann: label.pfirrmann }),
    ...(label.modic === undefined ? {} : { modic: label.modic }),
    findings: BINARY_FINDINGS.map((f) => label[f]),
  };
}

/** A training batch: packed inputs (augmented crop) and the ordinal, Modic and findings targets. */
export function v2Batch(
  chunk: readonly V2Sample[],
  recipe: Pick<V2Recipe, 'ordinal' | 'augment'>,
  gradeWeights: readonly number[],
  size: number,
  random: () => number,
): Batch {
  const n = chunk.length;
  const k = V2_HEADS.pfirrmann;
  const ordinal = new Float32Array(n * k);
  const ordinalMask = new Float32Array(n * k);
  const sampleWeight = new Float32Array(n);
  chunk.forEach(({ label }, i) => {
    const grade = label.pfirrmann;
    if (grade !== undefined) {
      sampleWeight[i] = gradeWeights[grade - 1] as number;
      for (let t = 0; t < k; t++) {
        ordinal[i * k + t] = grade > t + 1 ? 1 : 0;
        // CORN trains threshold t only on discs above the threshold before it.
        ordinalMask[i * k + t] = recipe.ordinal === 'corn' ? (grade >= t + 1 ? 1 : 0) : 1;
      }
    }
  });
  // Modic and findings targets as the v1 grader lays them out.
  const { modic, findings, findingsWeight } = graderBatch(
    chunk.map((s) => ({ pixels: s.crops[0] as Float32Array, label: s.label })),
    size,
  ).targets as Record<string, TensorData>;
  const inputs = packV2Inputs(
    chunk.map((s) => ({
      crop: AUGMENTERS[recipe.augment ?? 'v1'](s.crops[0] as Float32Array, size, random),
      ivdLabel: s.ivdLabel,
      contrast: s.contrast,
    })),
    size,
  );
  return {
    inputs,
    inputShape: [n, size, size, V2_CHANNELS],
    targets: {
      ordinal: { data: ordinal, shape: [n, k] },
      ordinalMask: { data: ordinalMask, shape: [n, k] },
      sampleWeight: { data: sampleWeight, shape: [n, 1] },
      modic: modic as TensorData,
      findings: findings as TensorData,
      findingsWeight: findingsWeight as TensorData,
    },
  };
}

/** Out-of-fold logits of test discs (single placement, and the mean over TTA placements). */
function predictFold(
  network: ReturnType<typeof layersNetwork>,
  test: readonly V2Sample[],
  size: number,
): { single: V2Logits[]; tta: V2Logits[] } {
  const single: V2Logits[] = [];
  const tta: V2Logits[] = [];
  const chunk = 32;
  for (let start = 0; start < test.length; start += chunk) {
    const part = test.slice(start, start + chunk);
    const groups = (part[0] as V2Sample).crops.length;
    const inputs = part.flatMap((s) => s.crops.map((crop) => ({ crop, ivdLabel: s.ivdLabel, contrast: s.contrast })));
    const out = network.run(packV2Inputs(inputs, size), [inputs.length, size, size, V2_CHANNELS]);
    tta.push(...logitsOfRun(out, part.length, groups));
    // The single placement is the first of each group.
    const firsts = out.map((o, n) => {
      const width = V2_HEADS[V2_OUTPUTS[n] as keyof typeof V2_HEADS];
      const data = new Float32Array(part.length * width);
      for (let d = 0; d < part.length; d++)
        data.set(o.data.subarray(d * groups * width, d * groups * width + width), d * width);
      return { data };
    });
    single.push(...logitsOfRun(firsts, part.length, 1));
  }
  return { single, tta };
}

/** Temperatures of one contrast fitted on out-of-fold logits. */
export function fitV2Temperatures(
  lines: readonly { logits: V2Logits; truth: ScoredDisc['truth'] }[],
  ordinal: OrdinalKind,
): V2Temperatures {
  const withGrade = lines.filter((l) => l.truth.pfirrmann !== undefined);
  const pfirrmann = withGrade.length
    ? minimiseOverTemperature((t) => {
        let nll = 0;
        for (const l of withGrade) {
          const p = ordinalProbabilities(l.logits.pfirrmann, ordinal, t)[(l.truth.pfirrmann as number) - 1] as number;
          nll -= Math.log(Math.max(p, 1e-12));
        }
        return nll / withGrade.length;
      })
    : 1;
  const withModic = lines.filter((l) => l.truth.modic !== undefined);
  const modic = fitTemperature(
    withModic.flatMap((l) => l.logits.modic),
    V2_HEADS.modic,
    withModic.map((l) => l.truth.modic as number),
  );
  const findings = BINARY_FINDINGS.map((_, f) => {
    const known = lines.filter((l) => l.truth.findings[f] !== undefined);
    return fitBinaryTemperature(
      known.map((l) => l.logits.findings[f] as number),
      known.map((l) => l.truth.findings[f] as number),
    );
  });
  return { pfirrmann, modic, findings };
}

/** Figures of one way of reading the out-of-fold logits (single or TTA). */
export interface V2Evaluation {
  perContrast: Partial<Record<V2Contrast, V2Figures>>;
  fused: V2Figures;
  /** Fused, Pfirrmann from T2 discs only (the patient-discs that have a T2). */
  review: ReturnType<typeof chooseReviewThreshold>;
  temperatures: Record<V2Contrast, V2Temperatures>;
}

/** How out-of-fold logits are read: TTA or not, calibrated or not, and the fusion across series. */
export interface V2Reading {
  tta: boolean;
  calibrate: boolean;
  fusion: V2Fusion;
}

/** The reading the bundle uses at inference. */
export const DEFAULT_READING: V2Reading = { tta: false, calibrate: true, fusion: V2_FUSION };

const UNCALIBRATED: V2Temperatures = { pfirrmann: 1, modic: 1, findings: BINARY_FINDINGS.map(() => 1) };

/** Calibrates (cross-fitted per fold and contrast) and scores out-of-fold lines. */
export function evaluateOof(
  lines: readonly V2OofLine[],
  ordinal: OrdinalKind,
  reading: V2Reading,
  reviewAccuracy: number,
  resamples: number,
): V2Evaluation {
  const useTta = reading.tta;
  const logitsOf = (l: V2OofLine): V2Logits => (useTta ? l.logitsTta : l.logits);
  const contrasts: V2Contrast[] = ['T2', 'T1'];
  const folds = [...new Set(lines.map((l) => l.fold))];
  const fitted = new Map<string, V2Temperatures>();
  for (const contrast of contrasts)
    for (const fold of folds)
      fitted.set(
        `${contrast}/${fold}`,
        reading.calibrate
          ? fitV2Temperatures(
              lines
                .filter((l) => l.contrast === contrast && l.fold !== fold)
                .map((l) => ({ logits: logitsOf(l), truth: l.truth })),
              ordinal,
            )
          : UNCALIBRATED,
      );
  const grades: { line: V2OofLine; grades: V2Grades }[] = lines.map((line) => ({
    line,
    grades: gradesOfLogits(
      logitsOf(line),
      {
        ordinal,
        reviewThreshold: 0,
        temperatures: {
          T1: fitted.get(`T1/${line.fold}`) as V2Temperatures,
          T2: fitted.get(`T2/${line.fold}`) as V2Temperatures,
        },
      },
      line.contrast,
      line,
    ),
  }));
  const perContrast: V2Evaluation['perContrast'] = {};
  for (const contrast of contrasts) {
    const mine = grades.filter((g) => g.line.contrast === contrast);
    if (mine.length)
      perContrast[contrast] = figuresOf(
        mine.map((g) => scored(g.line.patient, g.line.ivdLabel, g.grades, g.line.truth)),
        resamples,
      );
  }
  const byDisc = new Map<string, { line: V2OofLine; grades: V2Grades }[]>();
  for (const g of grades) {
    const key = `${g.line.patient}\u0000${g.line.ivdLabel}`;
    byDisc.set(key, [...(byDisc.get(key) ?? []), g]);
  }
  const fusedDiscs = [...byDisc.values()].map((list) => {
    const first = (list[0] as (typeof list)[number]).line;
    return scored(
      first.patient,
      first.ivdLabel,
      fuseV2(
        list.map((g) => g.grades),
        0,
        reading.fusion,
      ),
      first.truth,
    );
  });
  const temperatures = {
    T1: fitV2Temperatures(
      lines.filter((l) => l.contrast === 'T1').map((l) => ({ logits: logitsOf(l), truth: l.truth })),
      ordinal,
    ),
    T2: fitV2Temperatures(
      lines.filter((l) => l.contrast === 'T2').map((l) => ({ logits: logitsOf(l), truth: l.truth })),
      ordinal,
    ),
  };
  return {
    perContrast,
    fused: figuresOf(fusedDiscs, resamples),
    review: chooseReviewThreshold(fusedDiscs, reviewAccuracy),
    temperatures,
  };
}

/** Options of {@link crossValidateV2}. */
export interface CrossValidateV2Options {
  readonly folds: number;
  readonly seed: number;
  readonly workers: 1 | 2;
  readonly crop: V2CropConfig;
  /** Train and predict only these folds (a quick check; the figures then cover only their patients). */
  readonly onlyFolds?: readonly number[];
  /** Where the fold models go (`fold0` … `fold4`); none kept when absent. */
  readonly modelDir?: string;
  readonly onLog?: (line: string) => void;
}

/** Cross-validates one recipe; returns the out-of-fold lines and seconds spent training. */
export async function crossValidateV2(
  dataset: SpineDataset,
  samples: readonly V2Sample[],
  recipe: V2Recipe,
  options: CrossValidateV2Options,
): Promise<{ lines: V2OofLine[]; trainSeconds: number }> {
  const log = options.onLog ?? (() => {});
  const folds = patientFolds(dataset, options.folds, options.seed);
  const size = options.crop.size;
  const lines: V2OofLine[] = [];
  const started = Date.now();
  for (const fold of folds) {
    if (options.onlyFolds && !options.onlyFolds.includes(fold.fold)) continue;
    const trainSet = new Set(fold.trainPatients);
    const train = samples.filter((s) => trainSet.has(s.patient) && recipe.trainContrasts.includes(s.contrast));
    const test = samples.filter((s) => !trainSet.has(s.patient));
    const counts = [0, 0, 0, 0, 0];
    for (const s of train) if (s.label.pfirrmann !== undefined) counts[s.label.pfirrmann - 1]!++;
    const gradeWeights = balancedClassWeights(counts, recipe.classWeightPower, 5);
    const aux = lossWeightsFor(train);
    const config: V2NetworkConfig = {
      cropSize: size,
      filters: recipe.filters,
      strides: recipe.strides,
      dropout: recipe.dropout,
      seed: options.seed + fold.fold,
      loss: { modicClass: aux.modicClass, findingsPositive: aux.findingsPositive },
      auxiliaryWeight: recipe.auxiliaryWeight,
    };
    const random = mulberry32(options.seed * 1000 + fold.fold);
    const foldStart = Date.now();
    const result = await trainModel({
      model: { module: new URL('./model.js', import.meta.url).href, config },
      nextEpoch: function* () {
        for (const chunk of shuffledBatches(train, recipe.batchSize, random))
          yield v2Batch(chunk, recipe, gradeWeights, size, random);
      },
      ...trainerOptions(
        {
          epochs: recipe.epochs,
          learningRate: recipe.learningRate,
          workers: options.workers,
          onProgress: (p) => {
            if (p.step === 1 && p.epoch > 0)
              log(
                `${recipe.name}: fold ${fold.fold + 1}, epoch ${p.epoch}/${p.epochs} done, ${p.samplesPerSecond.toFixed(0)} discs/s`,
              );
          },
        },
        5e-5,
      ),
      restoreBest: false,
    });
    const network = layersNetwork(result.model, V2_OUTPUTS);
    const { single, tta } = predictFold(network, test, size);
    test.forEach((s, n) =>
      lines.push({
        patient: s.patient,
        series: s.series,
        contrast: s.contrast,
        ivdLabel: s.ivdLabel,
        level: s.level,
        fold: fold.fold,
        placedBy: s.placedBy,
        logits: single[n] as V2Logits,
        logitsTta: tta[n] as V2Logits,
        truth: truthOf(s.label),
      }),
    );
    if (options.modelDir) {
      const dir = join(options.modelDir, `fold${fold.fold}`);
      await mkdir(dir, { recursive: true });
      await saveModel(result.model, dir, { kind: 'grader-v2', recipe: recipe.name, fold: fold.fold });
    }
    result.model.dispose();
    log(
      `${recipe.name}: fold ${fold.fold + 1}/${folds.length} trained on ${train.length} discs in ${((Date.now() - foldStart) / 1000).toFixed(0)} s, ${test.length} held out`,
    );
  }
  return { lines, trainSeconds: (Date.now() - started) / 1000 };
}

/** Writes the out-of-fold lines as JSONL (one disc a line, with its fold). */
export async function writeOofJsonl(path: string, lines: readonly V2OofLine[]): Promise<void> {
  await writeFile(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
}

/** The bundle description of a cross-validated recipe (its fold models are the ensemble). */
export function bundleInfo(
  recipe: V2Recipe,
  crop: V2CropConfig,
  evaluation: V2Evaluation,
  tta: boolean,
  folds: number,
): V2BundleInfo {
  return {
    format: 'spinegrade-grader-v2',
    crop,
    ordinal: recipe.ordinal,
    members: Array.from({ length: folds }, (_, k) => `fold${k}`),
    tta,
    temperatures: evaluation.temperatures,
    reviewThreshold: evaluation.review.threshold,
    recipe: recipe.name,
  };
}
