/**
 * Training the level network and cross-validating it: per patient fold, a network trained on the
 * other folds' T2 slices (own keypoints) and T1 slices (carried keypoints) predicts the held-out
 * patients' slices; the out-of-fold predictions are scored by `levelMetrics.ts`. Optionally a
 * final network on all patients is trained for bundling.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { patientFolds } from '../../datasets/splits.js';
import type { SpineDataset } from '../../datasets/types.js';
import {
  canvasToHeatmap,
  DEFAULT_LEVEL_NETWORK_CONFIG,
  decodeLevelChain,
  LEVEL_NETWORK_OUTPUTS,
  type LevelNetworkConfig,
  type LevelPoint,
  levelPointsOnImage,
  predictLevelHeatmaps,
} from '../../localize/levels.js';
import { mulberry32 } from '../../metrics/random.js';
import { initTf } from '../../models/tf/backend.js';
import { loadModel, saveModel } from '../../models/tf/io.js';
import { layersNetwork } from '../../models/tf/network.js';
import { type Batch, type TrainResult, trainModel } from '../../models/tf/train.js';
import { type AugmentableSample, type AugmentOptions, augmentSample } from '../../transforms/augment.js';
import { shuffledBatches, type TrainerSettings, trainerOptions } from '../common/trainer.js';
import type { LevelSample } from './levelSamples.js';
import { toBatch } from './targets.js';

/**
 * The augmentation of the level network: strong scale (the field of view varies), rotation, shift,
 * stretch (pixel aspect of resampled PNGs), crop-out of the top or bottom (shorter fields of view);
 * never a flip (levels are counted from the sacrum, anterior is left).
 */
export const LEVEL_AUGMENTATION: AugmentOptions = {
  rotation: { probability: 0.8, maxDegrees: 15 },
  scale: { probability: 0.8, min: 0.75, max: 1.35 },
  stretch: { probability: 0.5, max: 0.12 },
  translation: { probability: 0.8, maxFraction: 0.15 },
  cropOut: { probability: 0.15, minFraction: 0.1, maxFraction: 0.3 },
  contrastCurve: { probability: 0.4 },
};

/**
 * A training batch: the canvas images as inputs, and targets rendered on the heatmap grid (the
 * keypoints moved from canvas to heatmap pixels) by the localiser's target rendering.
 */
export function levelBatch(samples: readonly AugmentableSample[], config: LevelNetworkConfig): Batch {
  const mapSize = config.size / config.outputStride;
  const onMap = samples.map((sample) => ({
    image: new Float32Array(mapSize * mapSize),
    semantic: null,
    canvas: { size: mapSize },
    keypoints:
      sample.keypoints?.map((k) => ({
        ivdLabel: k.ivdLabel,
        x: canvasToHeatmap(k.x, config.outputStride),
        y: canvasToHeatmap(k.y, config.outputStride),
      })) ?? null,
  }));
  const targets = toBatch(onMap, { sigmaPx: config.heatmapSigmaPx, perLevel: true }).targets;
  const pixels = config.size * config.size;
  const inputs = new Float32Array(samples.length * pixels);
  samples.forEach((sample, n) => inputs.set(sample.image, n * pixels));
  return {
    inputs,
    inputShape: [samples.length, config.size, config.size, 1],
    targets: { heatmap: targets.heatmap, heatmapWeight: targets.heatmapWeight },
  };
}

/** Options of {@link trainLevelNetwork}: the shared trainer settings and the network's configuration. */
export interface TrainLevelOptions extends TrainerSettings {
  readonly config?: LevelNetworkConfig;
}

/** Trains a level network on samples (no validation: folds are scored out of fold afterwards). */
export async function trainLevelNetwork(
  samples: readonly LevelSample[],
  options: TrainLevelOptions,
): Promise<TrainResult> {
  const config = options.config ?? DEFAULT_LEVEL_NETWORK_CONFIG;
  const random = mulberry32(options.seed ?? config.seed);
  const batchSize = options.batchSize ?? 8;
  const nextEpoch = function* (): Generator<Batch> {
    for (const chunk of shuffledBatches(samples, batchSize, random)) {
      yield levelBatch(
        chunk.map((s) => augmentSample(s, random, LEVEL_AUGMENTATION)),
        config,
      );
    }
  };
  return trainModel({
    model: { module: new URL('./levelModel.js', import.meta.url).href, config },
    nextEpoch,
    ...trainerOptions(options, 5e-5),
  });
}

/** One out-of-fold prediction: a slice, its reference keypoints and the predicted level points (slice pixels). */
export interface LevelPrediction {
  readonly patient: string;
  readonly series: string;
  readonly sequence: string;
  readonly keypointSource: LevelSample['keypointSource'];
  readonly fold: number;
  readonly width: number;
  readonly height: number;
  readonly mmPerPixel: number;
  readonly keypoints: readonly { ivdLabel: number; x: number; y: number }[];
  readonly points: readonly LevelPoint[];
}

/** The level points of samples predicted by a trained model (TensorFlow.js, as trained). */
export function predictSamples(
  model: Parameters<typeof layersNetwork>[0],
  samples: readonly LevelSample[],
  config: LevelNetworkConfig,
  fold: number,
): LevelPrediction[] {
  const heatmaps = predictLevelHeatmaps(
    layersNetwork(model, LEVEL_NETWORK_OUTPUTS),
    samples.map((s) => s.image),
    config.size,
  );
  return samples.map((sample, n) => ({
    patient: sample.patient,
    series: sample.series,
    sequence: sample.sequence,
    keypointSource: sample.keypointSource,
    fold,
    width: sample.imageWidth,
    height: sample.imageHeight,
    mmPerPixel: sample.mmPerPixel,
    keypoints: sample.imageKeypoints.map(({ ivdLabel, x, y }) => ({ ivdLabel, x, y })),
    points: levelPointsOnImage(
      decodeLevelChain(heatmaps[n] as Float32Array, config.size / config.outputStride),
      sample.canvas,
      config.outputStride,
    ),
  }));
}

/** Options of {@link crossValidateLevels}. */
export interface CrossValidateLevelsOptions extends TrainLevelOptions {
  readonly folds: number;
  readonly foldSeed: number;
  /** Folder of per-fold predictions (`fold-<k>.jsonl`): a fold whose file exists is not trained again. */
  readonly workDir: string;
  /**
   * Predict the held-out slices again with each fold's saved network instead of reading the saved
   * predictions (after a change of the inference path, e.g. the canvas).
   */
  readonly repredict?: boolean;
  /** False: folds without saved predictions are left out instead of trained (figures over the folds there are). */
  readonly trainMissing?: boolean;
  /** Only these folds (1-based) are trained when missing; the others without saved predictions are left out (to train folds in parallel processes). */
  readonly trainFolds?: readonly number[];
  readonly onLog?: (line: string) => void;
}

/** Out-of-fold predictions of every sample, training one network per patient fold (resumable per fold). */
export async function crossValidateLevels(
  dataset: SpineDataset,
  samples: readonly LevelSample[],
  options: CrossValidateLevelsOptions,
): Promise<{ predictions: LevelPrediction[]; trainingSeconds: number[]; foldsScored: number[] }> {
  const config = options.config ?? DEFAULT_LEVEL_NETWORK_CONFIG;
  const log = options.onLog ?? (() => {});
  await mkdir(options.workDir, { recursive: true });
  await initTf('wasm');
  const predictions: LevelPrediction[] = [];
  const trainingSeconds: number[] = [];
  const foldsScored: number[] = [];
  for (const fold of patientFolds(dataset, options.folds, options.foldSeed)) {
    const file = join(options.workDir, `fold-${fold.fold + 1}.jsonl`);
    const done = await readFile(file, 'utf8').catch(() => undefined);
    const held = new Set(fold.testPatients);
    const train = samples.filter((s) => !held.has(s.patient));
    const test = samples.filter((s) => held.has(s.patient));
    const mayTrain = options.trainMissing !== false && (options.trainFolds?.includes(fold.fold + 1) ?? true);
    if (done === undefined && !mayTrain) {
      log(`fold ${fold.fold + 1}: not trained yet, left out`);
      continue;
    }
    foldsScored.push(fold.fold + 1);
    if (done !== undefined) {
      const lines = done.split('\n').filter((line) => line.trim() !== '');
      const head = JSON.parse(lines[0] as string) as { trainingSeconds: number };
      trainingSeconds.push(head.trainingSeconds);
      if (options.repredict) {
        const model = await loadModel(join(options.workDir, `fold-${fold.fold + 1}`));
        predictions.push(...predictSamples(model, test, config, fold.fold + 1));
        model.dispose();
        log(`fold ${fold.fold + 1}: predicted again with its saved network`);
      } else {
        for (const line of lines.slice(1)) predictions.push(JSON.parse(line) as LevelPrediction);
        log(`fold ${fold.fold + 1}: predictions read from ${file}`);
      }
      continue;
    }
    log(`fold ${fold.fold + 1}/${options.folds}: training on ${train.length} slices, predicting ${test.length}`);
    const started = performance.now();
    const result = await trainLevelNetwork(train, {
      ...options,
      config,
      onProgress: (progress) => {
        options.onProgress?.(progress);
        if (
          progress.stepsPerEpoch !== undefined ? progress.step === progress.stepsPerEpoch : progress.step % 10 === 0
        ) {
          log(
            `fold ${fold.fold + 1} epoch ${progress.epoch + 1}/${progress.epochs} step ${progress.step}: ` +
              `mean loss ${progress.meanLoss.toFixed(4)}, ${progress.samplesPerSecond.toFixed(1)} slices/s`,
          );
        }
      },
    });
    const seconds = (performance.now() - started) / 1000;
    trainingSeconds.push(seconds);
    const foldPredictions = predictSamples(result.model, test, config, fold.fold + 1);
    await saveModel(
      result.model,
      join(options.workDir, `fold-${fold.fold + 1}`),
      { levelNetworkConfig: config, trainedOn: { patients: fold.trainPatients }, trainingSeconds: seconds },
      { float16: true },
    );
    result.model.dispose();
    predictions.push(...foldPredictions);
    const lines = [JSON.stringify({ trainingSeconds: seconds }), ...foldPredictions.map((p) => JSON.stringify(p))];
    await writeFile(`${file}.part`, `${lines.join('\n')}\n`);
    await rename(`${file}.part`, file);
    log(`fold ${fold.fold + 1}: trained in ${(seconds / 60).toFixed(1)} min`);
  }
  return { predictions, trainingSeconds, foldsScored };
}

/** Trains the network to bundle on all samples and saves it (float16 weights) with its config and notes. */
export async function trainFinalLevelNetwork(
  samples: readonly LevelSample[],
  outDir: string,
  options: TrainLevelOptions & { readonly metadata: Record<string, unknown> },
): Promise<number> {
  const config = options.config ?? DEFAULT_LEVEL_NETWORK_CONFIG;
  const started = performance.now();
  const result = await trainLevelNetwork(samples, { ...options, config });
  const seconds = (performance.now() - started) / 1000;
  await saveModel(
    result.model,
    outDir,
    { ...options.metadata, levelNetworkConfig: config, trainingSeconds: seconds },
    { float16: true },
  );
  result.model.dispose();
  return seconds;
}
