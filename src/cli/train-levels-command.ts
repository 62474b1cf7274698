/**
 * `spinegrade train levels`: cross-validates the level network over patient folds (out-of-fold
 * predictions and figures with bootstrap CIs) and trains the network to bundle on all patients.
 */
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readDataset } from '../datasets/index.js';
import { SpinegradeError } from '../errors.js';
import { DEFAULT_LEVEL_NETWORK_CONFIG, type LevelNetworkConfig } from '../localize/levels.js';
import type { OutlineLevelFigures } from '../training/localizer/levelOutlines.js';
import { buildLevelSamples } from '../training/localizer/levelSamples.js';
import { crossValidateLevels, trainFinalLevelNetwork } from '../training/localizer/levelTrain.js';
import type { Progress } from '../util/progress.js';
import { positiveInteger } from './args.js';

/** Options of `train levels`, as given on the command line. */
export interface TrainLevelsCliOptions {
  epochs?: string;
  workers?: string;
  seed?: string;
  folds?: string;
  canvas?: string;
  /** Folder of the per-fold models and predictions (reused when present); default `.cache/levels-folds`. */
  workDir?: string;
  /** `no`: cross-validate only, no network trained on all patients. */
  final?: string;
  resamples?: string;
  /** `no`: score only the folds already trained in the work folder. */
  train?: string;
  /** Bundle fold K's saved network (trained on the other folds) instead of training one on all patients. */
  bundleFold?: string;
  /** `yes`: predict the held-out slices again with the saved fold networks (after an inference change). */
  repredict?: string;
  /** A localiser folder: also score its outlines named by the level points, on the patients it never saw. */
  localizer?: string;
}

/** Runs `train levels`; returns the closing message. */
export async function runTrainLevels(
  datasetDir: string,
  out: string,
  options: TrainLevelsCliOptions,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const dataset = await readDataset(datasetDir);
  const seed = positiveInteger(options.seed, '--seed', 1);
  const folds = positiveInteger(options.folds, '--folds', 5);
  const epochs = positiveInteger(options.epochs, '--epochs', 20);
  const workers = positiveInteger(options.workers, '--workers', 2);
  if (workers > 2) throw new SpinegradeError('USAGE', '--workers must be 1 or 2');
  const resamples = positiveInteger(options.resamples, '--resamples', 2000);
  if (options.final !== undefined && !['yes', 'no'].includes(options.final)) {
    throw new SpinegradeError('USAGE', `--final wants yes or no, got "${options.final}"`);
  }
  const config: LevelNetworkConfig = {
    ...DEFAULT_LEVEL_NETWORK_CONFIG,
    size: positiveInteger(options.canvas, '--canvas', DEFAULT_LEVEL_NETWORK_CONFIG.size),
    seed,
  };
  const workDir = options.workDir ?? join('.cache', 'levels-folds');
  const command =
    `spinegrade train levels --data ${datasetDir} --out ${out} --epochs ${epochs} --folds ${folds} --seed ${seed} ` +
    `--workers ${workers} --canvas ${config.size}`;
  const samples = await buildLevelSamples(dataset, config.size, (done, total) => progress.update(done, total));
  progress.finish();
  log(
    `${samples.length} slices with level keypoints (${samples.filter((s) => s.keypointSource === 'carried').length} T1 with carried T2 keypoints)`,
  );
  const trainOptions = { config, epochs, workers: workers as 1 | 2, seed };
  const { predictions, trainingSeconds, foldsScored } = await crossValidateLevels(dataset, samples, {
    ...trainOptions,
    folds,
    foldSeed: seed,
    workDir,
    repredict: options.repredict === 'yes',
    trainMissing: options.train !== 'no',
    onLog: log,
  });
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'oof-predictions.jsonl'), `${predictions.map((p) => JSON.stringify(p)).join('\n')}\n`);
  const { scoreLevelPredictions } = await import('../training/localizer/levelMetrics.js');
  const figures = scoreLevelPredictions(predictions, { resamples });
  let withOutlines: OutlineLevelFigures | undefined;
  if (options.localizer !== undefined) {
    const [{ loadLocalizer }, { scoreLevelsWithOutlines }] = await Promise.all([
      import('../localize/localizer.js'),
      import('../training/localizer/levelOutlines.js'),
    ]);
    withOutlines = await scoreLevelsWithOutlines(
      dataset,
      predictions,
      await loadLocalizer(options.localizer, { engine: 'auto' }),
      resamples,
    );
  }
  const crossValidation = {
    command,
    folds,
    foldSeed: seed,
    foldsScored,
    config,
    trainingMinutesPerFold: trainingSeconds.map((s) => Math.round(s / 6) / 10),
    trainingMinutesTotal: Math.round(trainingSeconds.reduce((a, b) => a + b, 0) / 6) / 10,
    ...figures,
    ...(withOutlines === undefined ? {} : { withLocalizerOutlines: { localizer: options.localizer, ...withOutlines } }),
  };
  await writeFile(join(out, 'cross-validation.json'), `${JSON.stringify(crossValidation, null, 2)}\n`);
  const { levelCardMarkdown } = await import('../training/localizer/levelCard.js');
  const card = (extra: { finalTrainingMinutes?: number; weightsKiB?: number; bundled?: string }): Promise<void> =>
    writeFile(join(out, 'MODEL_CARD.md'), levelCardMarkdown({ ...crossValidation, ...extra }));
  await card({});
  log(JSON.stringify(figures.summary, null, 2));
  if (options.bundleFold !== undefined) {
    const fold = positiveInteger(options.bundleFold, '--bundle-fold', 1);
    const from = join(workDir, `fold-${fold}`);
    for (const file of ['model.json', 'weights.bin']) await copyFile(join(from, file), join(out, file));
    const weightsKiB = Math.round((await stat(join(out, 'weights.bin'))).size / 1024);
    await card({ bundled: `fold ${fold}'s network (trained on the other ${folds - 1} folds' patients)`, weightsKiB });
    return `bundled fold ${fold}'s level network into ${out}; figures in ${join(out, 'cross-validation.json')}`;
  }
  if (options.final === 'no')
    return `cross-validated the level network; figures in ${join(out, 'cross-validation.json')}`;
  log(`training the network to bundle on all ${new Set(samples.map((s) => s.patient)).size} patients`);
  const seconds = await trainFinalLevelNetwork(samples, out, {
    ...trainOptions,
    metadata: {
      command,
      trainedOn: {
        dataset: 'SPIDER training split (2D)',
        patients: [...new Set(samples.map((s) => s.patient))].sort(),
      },
      crossValidation: figures.summary,
    },
  });
  const weightsKiB = Math.round((await stat(join(out, 'weights.bin'))).size / 1024);
  await card({ finalTrainingMinutes: Math.round(seconds / 6) / 10, weightsKiB, bundled: 'trained on all patients' });
  return `trained the level network in ${(seconds / 60).toFixed(1)} min into ${out}; figures in ${join(out, 'cross-validation.json')}`;
}
