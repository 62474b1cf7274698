/**
 * The `train levels` pipeline: cross-validates the level network over patient folds (out-of-fold
 * predictions and figures with bootstrap CIs), writes the predictions, figures and model card, and
 * bundles a network (trained on all patients, or a saved fold network).
 */
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readDataset } from '../../datasets/index.js';
import type { LevelNetworkConfig } from '../../localize/levels.js';
import type { Progress } from '../../util/progress.js';
import type { OutlineLevelFigures } from './levelOutlines.js';
import { buildLevelSamples } from './levelSamples.js';
import { crossValidateLevels, trainFinalLevelNetwork } from './levelTrain.js';

/** Settings of the `train levels` pipeline (parsed and checked by the CLI). */
export interface LevelTrainingSettings {
  readonly config: LevelNetworkConfig;
  readonly epochs: number;
  readonly folds: number;
  readonly seed: number;
  readonly workers: 1 | 2;
  readonly resamples: number;
  /** Folder of the per-fold models and predictions (reused when present). */
  readonly workDir: string;
  /** False: cross-validate only, no network trained on all patients. */
  readonly final: boolean;
  /** False: score only the folds already trained in the work folder. */
  readonly trainMissing: boolean;
  /** Only these folds (1-based) are trained when missing (default: all). */
  readonly trainFolds?: readonly number[];
  /** Predict the held-out slices again with the saved fold networks (after an inference change). */
  readonly repredict: boolean;
  /** Bundle this fold's saved network (trained on the other folds) instead of training one on all patients. */
  readonly bundleFold?: number;
  /** A localiser folder: also score its outlines named by the level points, on the patients it never saw. */
  readonly localizer?: string;
  /** The command line that reproduces the run (for the card). */
  readonly command: string;
}

/** Runs the `train levels` pipeline on a dataset folder into `out`; returns the closing message. */
export async function trainLevelsOnDataset(
  datasetDir: string,
  out: string,
  settings: LevelTrainingSettings,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const dataset = await readDataset(datasetDir);
  const { config, epochs, folds, seed, workers, resamples, workDir, command } = settings;
  const samples = await buildLevelSamples(dataset, config.size, (done, total) => progress.update(done, total));
  progress.finish();
  log(
    `${samples.length} slices with level keypoints (${samples.filter((s) => s.keypointSource === 'carried').length} T1 with carried T2 keypoints)`,
  );
  const trainOptions = { config, epochs, workers, seed };
  const { predictions, trainingSeconds, foldsScored } = await crossValidateLevels(dataset, samples, {
    ...trainOptions,
    folds,
    foldSeed: seed,
    workDir,
    repredict: settings.repredict,
    trainMissing: settings.trainMissing,
    ...(settings.trainFolds === undefined ? {} : { trainFolds: settings.trainFolds }),
    onLog: log,
  });
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'oof-predictions.jsonl'), `${predictions.map((p) => JSON.stringify(p)).join('\n')}\n`);
  const { scoreLevelPredictions } = await import('./levelMetrics.js');
  const figures = scoreLevelPredictions(predictions, { resamples });
  let withOutlines: OutlineLevelFigures | undefined;
  if (settings.localizer !== undefined) {
    const [{ loadLocalizer }, { scoreLevelsWithOutlines }] = await Promise.all([
      import('../../localize/localizer.js'),
      import('./levelOutlines.js'),
    ]);
    withOutlines = await scoreLevelsWithOutlines(
      dataset,
      predictions,
      await loadLocalizer(settings.localizer, { engine: 'auto' }),
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
    ...(withOutlines === undefined
      ? {}
      : { withLocalizerOutlines: { localizer: settings.localizer, ...withOutlines } }),
  };
  await writeFile(join(out, 'cross-validation.json'), `${JSON.stringify(crossValidation, null, 2)}\n`);
  const { levelCardMarkdown } = await import('./levelCard.js');
  const card = (extra: { finalTrainingMinutes?: number; weightsKiB?: number; bundled?: string }): Promise<void> =>
    writeFile(join(out, 'MODEL_CARD.md'), levelCardMarkdown({ ...crossValidation, ...extra }));
  await card({});
  log(JSON.stringify(figures.summary, null, 2));
  if (settings.bundleFold !== undefined) {
    const fold = settings.bundleFold;
    const from = join(workDir, `fold-${fold}`);
    for (const file of ['model.json', 'weights.bin']) await copyFile(join(from, file), join(out, file));
    const weightsKiB = Math.round((await stat(join(out, 'weights.bin'))).size / 1024);
    await card({ bundled: `fold ${fold}'s network (trained on the other ${folds - 1} folds' patients)`, weightsKiB });
    return `bundled fold ${fold}'s level network into ${out}; figures in ${join(out, 'cross-validation.json')}`;
  }
  if (!settings.final) return `cross-validated the level network; figures in ${join(out, 'cross-validation.json')}`;
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
