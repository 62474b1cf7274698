/**
 * Training the grader end to end (`spinegrade train grader`): disc crops from the localiser,
 * cross-validation of every family (classical, CNN, hybrid, ensemble), the final models and their card.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readDataset } from '../../datasets/index.js';
import { toJsonLines } from '../../disc/predictions.js';
import { type Evaluation, evaluatePredictions } from '../../evaluation/score.js';
import { CLASSICAL_JSON, saveClassicalModel } from '../../grade/classicalModel.js';
import { saveContextModel } from '../../grade/context.js';
import { DEFAULT_CROP_CONFIG } from '../../grade/crops.js';
import { gradableDisc } from '../../grade/discCrops.js';
import {
  GRADER_VARIANTS,
  type Grader,
  type GraderCalibration,
  type GraderVariant,
  gradeSeriesDiscs,
  loadGrader,
  UNCALIBRATED,
} from '../../grade/grader.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { type Localizer, loadLocalizer } from '../../localize/localizer.js';
import type { EngineChoice } from '../../models/engine.js';
import { saveModel } from '../../models/tf/io.js';
import type { Progress } from '../../util/progress.js';
import { epochProgress } from '../common/trainer.js';
import { graderCardMarkdown, keptCardSection, VARIANT_NAMES } from './card.js';
import { crossValidateGrader, type GraderExperimentOptions, trainGraderPair } from './experiment.js';
import { collectDiscCrops, type DiscCropRecord } from './samples.js';
import { labelCrops } from './train.js';

/** The settings of one grader training run (the command line's options, parsed). */
export interface GraderTrainingSettings {
  /** The localiser folders that crop the discs (several: each patient by one that never saw them). */
  localizerDirs: readonly string[];
  /** The engine the localisers and the saved grader's throughput run on. */
  engine: EngineChoice;
  epochs: number;
  contextEpochs: number;
  /** Cross-validation folds; 0 for none. */
  folds: number;
  seed: number;
  workers: 1 | 2;
  /** Bootstrap resamples of the confidence intervals. */
  resamples: number;
  /** A disc whose top Pfirrmann probability is below this needs review. */
  reviewThreshold: number;
}

/** What was tried and what limits the grader (printed in its card). */
export const GRADER_NOTES: readonly string[] = [
  "Only the mid-sagittal slice of each series is graded (SPIDER's 2D release has no neighbouring slices); lateral herniations and Modic changes off the midline are out of view.",
  'Modic types 1 and 3 are a handful of discs in SPIDER: the Modic type figures rest on them and say little; Modic any-vs-none is the meaningful figure.',
  "Training levels come from the localiser, corrected by the T2 keypoints where they exist; T2 SPACE crops and T1 crops of other fields of view rely on the localiser's levels, so some crops train with a neighbour's grades.",
  'A small network trained for minutes on 2 CPU cores; not tried yet: larger crops or networks, several slices per disc, ensembles of seeds.',
];

/** Trains, cross-validates and saves a grader (see the module comment); returns what to tell the user. */
export async function trainGraderOnDataset(
  datasetDir: string,
  out: string,
  settings: GraderTrainingSettings,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const started = Date.now();
  const dataset = await readDataset(datasetDir);
  const { seed, folds, workers, reviewThreshold, resamples, localizerDirs } = settings;
  const localizers: Localizer[] = [];
  for (const dir of localizerDirs) localizers.push(await loadLocalizer(resolve(dir), { engine: settings.engine }));
  const experiment: GraderExperimentOptions = {
    epochs: settings.epochs,
    contextEpochs: settings.contextEpochs,
    workers,
    seed,
    reviewThreshold,
    onProgress: epochProgress(progress),
    onLog: (line) => {
      progress.finish();
      log(line);
    },
  };

  log(`localising ${dataset.series.length} series and cropping their discs`);
  const records = await collectDiscCrops(dataset, localizers, { onProgress: progress.update });
  progress.finish();
  const labelled = labelCrops(records, dataset.discs);
  const cropSeconds = (Date.now() - started) / 1000;
  const bySequence: Record<string, number> = {};
  for (const c of labelled) bySequence[c.record.sequence] = (bySequence[c.record.sequence] ?? 0) + 1;
  log(`${records.length} discs cropped, ${labelled.length} with grades`);

  let shipped: GraderVariant = 'hybrid';
  let calibration: GraderCalibration = UNCALIBRATED;
  let card: Parameters<typeof graderCardMarkdown>[0] | undefined;
  let cvSeconds = 0;
  let summary = '';
  if (folds >= 2) {
    const cv = await crossValidateGrader(dataset, records, folds, experiment);
    cvSeconds = cv.seconds;
    const evaluations: Partial<Record<GraderVariant, Evaluation>> = {};
    for (const variant of GRADER_VARIANTS)
      evaluations[variant] = await evaluatePredictions(dataset, cv.lines[variant], { resamples });
    const kappa = (variant: GraderVariant): number =>
      evaluations[variant]?.pfirrmannFused.rows.find((r) => r.measure === 'kappa (linear)')?.estimate.value ?? 0;
    shipped = [...GRADER_VARIANTS].sort((a, b) => kappa(b) - kappa(a))[0] as GraderVariant;
    const runnerUp = GRADER_VARIANTS.filter((v) => v !== shipped).sort(
      (a, b) => kappa(b) - kappa(a),
    )[0] as GraderVariant;
    const shippedBecause = `it has the highest out-of-fold Pfirrmann linear κ (${kappa(shipped).toFixed(3)}; next: ${VARIANT_NAMES[runnerUp]} ${kappa(runnerUp).toFixed(3)}). κ is the primary measure because Pfirrmann is ordinal and the human agreement figures are κ; the other columns show where the ranking differs.`;
    calibration = cv.calibration[shipped];
    await mkdir(out, { recursive: true });
    await writeFileAtomic(join(out, 'out-of-fold.jsonl'), toJsonLines(cv.lines[shipped]), {
      overwrite: true,
    });
    summary = `out-of-fold Pfirrmann linear κ: ${GRADER_VARIANTS.map((v) => `${VARIANT_NAMES[v]} ${kappa(v).toFixed(3)}`).join(', ')}; shipped ${shipped}`;
    log(summary);
    card = {
      dataset,
      command: '',
      seed,
      folds,
      evaluations,
      coverage: cv.coverage,
      shipped,
      shippedBecause,
      calibration,
      seconds: { crossValidation: cvSeconds, final: 0, crops: cropSeconds },
      crops: {
        total: records.length,
        labelled: labelled.length,
        correctedLevels: records.filter((r) => r.ivdLabel !== r.trainingIvdLabel).length,
        bySequence,
      },
      localizers: localizerDirs,
      config: {},
      epochs: experiment.epochs,
      contextEpochs: experiment.contextEpochs,
      discsPerSecond: 0,
      weightsBytes: 0,
      notes: GRADER_NOTES,
    };
  }

  log(`final models: training on all ${dataset.patients.length} patients`);
  const final = await trainGraderPair(records, labelled, dataset.patients, [], experiment);
  const command = `spinegrade train grader --data ${datasetDir} --out ${out} --localizer ${localizerDirs.join(',')} --epochs ${experiment.epochs} --context-epochs ${experiment.contextEpochs} --folds ${folds} --seed ${seed} --workers ${workers}`;
  await saveModel(final.cnn, out, {
    graderConfig: final.config,
    cropConfig: DEFAULT_CROP_CONFIG,
    calibration,
    variant: shipped,
    trainedOn: { dataset: 'SPIDER training split', patients: [...dataset.patients] },
    command,
    seconds: final.seconds,
    history: final.history,
  });
  if (shipped === 'hybrid' || shipped === 'ensemble') await saveContextModel(final.context, out);
  await saveClassicalModel(final.classical, out);
  const discsPerSecond = measureThroughput(await loadGrader(out, { engine: settings.engine }), records);
  if (card) {
    const weightsBytes =
      (await stat(join(out, 'weights.bin'))).size +
      (shipped === 'hybrid' || shipped === 'ensemble' ? (await stat(join(out, 'context.bin'))).size : 0) +
      (await stat(join(out, CLASSICAL_JSON))).size;
    const earlier = await readFile(join(out, 'MODEL_CARD.md'), 'utf8').catch(() => '');
    const appendix = keptCardSection(earlier);
    await writeFileAtomic(
      join(out, 'MODEL_CARD.md'),
      graderCardMarkdown({
        ...card,
        command,
        config: { ...final.config, loss: undefined },
        seconds: { ...card.seconds, final: final.seconds },
        discsPerSecond,
        weightsBytes,
        ...(appendix ? { appendix } : {}),
      }),
      { overwrite: true },
    );
  }
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  return `wrote ${out} in ${minutes} min${summary ? `: ${summary}` : ''}; ${discsPerSecond.toFixed(0)} discs/s`;
}

/** Discs graded per second by a saved grader, series by series as `predict` does (crop → calibrated probabilities). */
function measureThroughput(grader: Grader, records: readonly DiscCropRecord[]): number {
  const bySeries = new Map<string, DiscCropRecord[]>();
  for (const r of records) bySeries.set(r.series, [...(bySeries.get(r.series) ?? []), r]);
  const groups = [...bySeries.values()].slice(0, 80);
  const discsOf = (group: DiscCropRecord[]) => group.map(gradableDisc);
  gradeSeriesDiscs(grader, discsOf(groups[0] ?? []));
  const started = performance.now();
  let discs = 0;
  for (const group of groups) {
    gradeSeriesDiscs(grader, discsOf(group));
    discs += group.length;
  }
  return discs / ((performance.now() - started) / 1000);
}
