/**
 * Training the disc localiser end to end (`spinegrade train localizer`): one held-out fold's model
 * and card, and with cross-validation the other folds' models and the out-of-fold figures.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readDataset } from '../../datasets/index.js';
import { patientFolds } from '../../datasets/splits.js';
import { SpinegradeError } from '../../errors.js';
import { predictWithProgress } from '../../evaluation/predict.js';
import { type Evaluation, evaluatePredictions } from '../../evaluation/score.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { type Localizer, loadLocalizer, localizerForPatient, predictSemanticMask } from '../../localize/localizer.js';
import { DEFAULT_LOCALIZER_CONFIG, type LocalizerConfig } from '../../localize/model.js';
import type { EngineChoice } from '../../models/engine.js';
import { readModelMetadata, saveModel } from '../../models/tf/io.js';
import type { Progress } from '../../util/progress.js';
import { datasetName, type LocalizerCardInput } from '../common/card.js';
import { epochProgress } from '../common/trainer.js';
import { writeLocalizerCard } from './report.js';
import { LOCALIZER_NOTES, trainLocalizer } from './train.js';

/** The settings of one localiser training run (the command line's options, parsed). */
export interface LocalizerTrainingSettings {
  /** The network and its input canvas (its seed is the run's). */
  localizerConfig: LocalizerConfig;
  /** The engine the saved localisers are evaluated on. */
  engine: EngineChoice;
  seed: number;
  folds: number;
  /** The held-out fold whose model goes to `out`, from 1. */
  fold: number;
  workers: 1 | 2;
  epochs: number;
  /** Bootstrap resamples of the confidence intervals. */
  resamples: number;
  /** Epochs without improvement before stopping early (default: train every epoch). */
  patience?: number;
  /** Folder for the other folds' models: train (or reuse) every fold and report out-of-fold figures. */
  crossValidate?: string;
}

/** Same training: same network configuration, same training patients, same epoch budget. */
async function sameTrainingIn(
  dir: string,
  config: LocalizerConfig,
  trainPatients: readonly string[],
  epochs: number,
): Promise<boolean> {
  if (!existsSync(join(dir, 'model.json'))) return false;
  const metadata = await readModelMetadata(dir);
  const patients = (metadata.trainedOn as { patients?: string[] } | undefined)?.patients ?? [];
  const command = typeof metadata.command === 'string' ? metadata.command : '';
  return (
    JSON.stringify(metadata.localizerConfig) === JSON.stringify(config) &&
    patients.length === trainPatients.length &&
    patients.every((p, n) => p === trainPatients[n]) &&
    command.includes(` --epochs ${epochs} `)
  );
}

/**
 * `train localizer`: trains the disc localiser on all patients but one held-out fold, which gives its
 * figures; with `--cross-validate <dir>` also the other folds' localisers (reused when already trained
 * the same way), whose out-of-fold figures go into the card and `cross-validation.json`.
 */
export async function trainLocalizerOnDataset(
  datasetDir: string,
  out: string,
  settings: LocalizerTrainingSettings,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const dataset = await readDataset(datasetDir);
  const { seed, folds, workers, epochs, resamples, localizerConfig, engine } = settings;
  const foldIndex = settings.fold - 1;
  const splits = patientFolds(dataset, folds, seed);
  const split = splits[foldIndex];
  if (!split) throw new SpinegradeError('USAGE', `--fold must be within 1..${folds}`);
  const sizeOptions =
    localizerConfig.size === DEFAULT_LOCALIZER_CONFIG.size &&
    localizerConfig.spacingMm === DEFAULT_LOCALIZER_CONFIG.spacingMm &&
    localizerConfig.baseFilters === DEFAULT_LOCALIZER_CONFIG.baseFilters &&
    localizerConfig.depth === DEFAULT_LOCALIZER_CONFIG.depth
      ? ''
      : ` --canvas ${localizerConfig.size} --spacing-mm ${localizerConfig.spacingMm} --base-filters ${localizerConfig.baseFilters} --depth ${localizerConfig.depth}`;
  const channelOption =
    localizerConfig.heatmapChannels === DEFAULT_LOCALIZER_CONFIG.heatmapChannels
      ? ''
      : ` --heatmap-channels ${localizerConfig.heatmapChannels}`;
  const commandOf = (dir: string, fold: number, crossValidate = ''): string =>
    `spinegrade train localizer --data ${datasetDir} --out ${dir} --epochs ${epochs} --folds ${folds} --fold ${fold} --seed ${seed} --workers ${workers}${sizeOptions}${channelOption}${crossValidate}`;

  const trainFold = async (fold: number, dir: string): Promise<void> => {
    const started = Date.now();
    const foldSplit = splits[fold - 1] as (typeof splits)[number];
    log(`fold ${fold} of ${folds}: training on ${foldSplit.trainPatients.length} patients into ${dir}`);
    const { result, scores, config } = await trainLocalizer(dataset, {
      config: localizerConfig,
      trainPatients: foldSplit.trainPatients,
      validationPatients: foldSplit.testPatients,
      epochs,
      workers,
      seed,
      ...(settings.patience !== undefined ? { patience: settings.patience } : {}),
      onProgress: epochProgress(progress, epochs),
      onLog: log,
    });
    progress.finish();
    await mkdir(dir, { recursive: true });
    await saveModel(result.model, dir, {
      localizerConfig: config,
      trainedOn: {
        dataset: datasetName(dataset),
        patients: foldSplit.trainPatients,
        heldOutPatients: foldSplit.testPatients,
      },
      heldOutScores: scores,
      command: commandOf(dir, fold),
      seconds: (Date.now() - started) / 1000,
      history: result.history,
    });
    log(
      `fold ${fold}: held-out Dice disc ${scores.dice.disc.toFixed(3)}, vertebra ${scores.dice.vertebra.toFixed(3)}, canal ${scores.dice.canal.toFixed(3)}; level rate ${scores.levelRate.toFixed(3)}`,
    );
  };

  const foldDirs = splits.map((_, n) =>
    n === foldIndex || settings.crossValidate === undefined ? out : join(settings.crossValidate, `fold-${n + 1}`),
  );
  const foldsToRun = settings.crossValidate === undefined ? [foldIndex] : splits.map((_, n) => n);
  for (const n of foldsToRun) {
    const dir = foldDirs[n] as string;
    const trainPatients = (splits[n] as (typeof splits)[number]).trainPatients;
    if (settings.crossValidate !== undefined && (await sameTrainingIn(dir, localizerConfig, trainPatients, epochs))) {
      log(`fold ${n + 1} of ${folds}: reusing ${dir} (same configuration, patients and epochs)`);
      continue;
    }
    await trainFold(n + 1, dir);
  }

  const localizer = await loadLocalizer(out, { engine });
  const metadata = localizer.metadata;
  const seconds = Number(metadata.seconds);
  let crossValidation: LocalizerCardInput['crossValidation'];
  if (settings.crossValidate !== undefined) {
    const localizers: Localizer[] = [];
    // foldDirs[foldIndex] is `out`, whose localiser is already loaded.
    for (const [n, dir] of foldDirs.entries())
      localizers.push(n === foldIndex ? localizer : await loadLocalizer(dir, { engine }));
    const predictions = await predictWithProgress(
      dataset,
      { mode: 'cross-validate', folds, seed, localizers },
      progress,
    );
    const evaluation = await evaluatePredictions(dataset, predictions.lines, {
      resamples,
      predictMask: async (slice) =>
        predictSemanticMask(localizerForPatient(localizers, slice.patient), await slice.loadImage()),
    });
    crossValidation = {
      evaluation,
      folds,
      seconds: localizers.reduce((sum, l) => sum + Number(l.metadata.seconds), 0),
      command: commandOf(out, foldIndex + 1, ` --cross-validate ${settings.crossValidate}`),
    };
    await writeFileAtomic(
      join(out, 'cross-validation.json'),
      `${JSON.stringify(
        {
          version: 1,
          command: crossValidation.command,
          folds: splits.map((split, n) => ({
            fold: n + 1,
            command: localizers[n]?.metadata.command,
            seconds: localizers[n]?.metadata.seconds,
            heldOutPatients: split.testPatients,
          })),
          evaluation,
        },
        null,
        1,
      )}\n`,
      { overwrite: true },
    );
  }
  const history = (metadata.history ?? []) as LocalizerCardInput['history'];
  const evaluation = await writeLocalizerCard(
    localizer,
    dataset,
    {
      heldOutPatients: split.testPatients,
      trainPatients: split.trainPatients,
      command: String(metadata.command),
      seed,
      seconds,
      history,
      config: { ...localizerConfig },
      notes: LOCALIZER_NOTES,
      ...(crossValidation ? { crossValidation } : {}),
    },
    resamples,
  );
  const rateOf = (e: Evaluation | undefined): string =>
    (e?.localisation?.rows[0]?.estimate.value ?? Number.NaN).toFixed(3);
  return (
    `wrote ${out} (${(seconds / 60).toFixed(1)} min of training): held-out patients: T2 discs at the right level ${rateOf(evaluation)}` +
    (crossValidation ? `; ${folds}-fold out-of-fold ${rateOf(crossValidation.evaluation)}` : '')
  );
}
