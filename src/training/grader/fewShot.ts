/**
 * The few-shot site-adaptation experiment: train a grader on one scanner vendor's patients, then
 * fine-tune it on N = 0, 5, 10, 20 … patients of another vendor and score it on that vendor's
 * remaining patients — the same held-out patients for every N of a seed (the tuning patients of
 * smaller N are a subset of those of larger N), repeated over seeds. What it measures: how much a
 * handful of a new site's labelled patients buys, with 95% bootstrap CIs over the test patients.
 */
import { restrictToPatients } from '../../datasets/common.js';
import type { SpineDataset } from '../../datasets/types.js';
import { levelOfIvdLabel } from '../../disc/levels.js';
import type { PredictionLine } from '../../disc/predictions.js';
import { type Evaluation, evaluatePredictions, type MetricRow } from '../../evaluation/score.js';
import { disposeContextModel } from '../../grade/context.js';
import { type GradedDisc, gradesFromLogits, UNCALIBRATED } from '../../grade/grader.js';
import { mulberry32, shuffleInPlace } from '../../metrics/random.js';
import { cell, f } from '../common/card.js';
import { FEW_SHOT_MARKERS } from './card.js';
import { type GraderExperimentOptions, predictionLines, predictVariants, trainGraderPair } from './experiment.js';
import { type FineTuneOptions, fineTuneGrader } from './finetune.js';
import type { DiscCropRecord } from './samples.js';
import { labelCrops } from './train.js';

/** A scanner vendor from a DICOM Manufacturer (`Philips Healthcare` and `Philips Medical Systems` are one vendor). */
export function vendorOf(manufacturer: string | undefined): string {
  const first = (manufacturer ?? '').trim().split(/\s+/)[0] ?? '';
  if (first === '') return 'unknown';
  return first.charAt(0).toUpperCase() + first.slice(1).toLowerCase();
}

/** The patients of each vendor (a patient's vendor: that of their first series with one). */
export function patientsByVendor(dataset: SpineDataset): Map<string, string[]> {
  const vendorOfPatient = new Map<string, string>();
  for (const s of dataset.series)
    if (!vendorOfPatient.has(s.patient) && s.manufacturer) vendorOfPatient.set(s.patient, vendorOf(s.manufacturer));
  const out = new Map<string, string[]>();
  for (const patient of dataset.patients) {
    const vendor = vendorOfPatient.get(patient) ?? 'unknown';
    out.set(vendor, [...(out.get(vendor) ?? []), patient]);
  }
  return out;
}

/** Options of {@link fewShotCurve}. */
export interface FewShotOptions {
  readonly source: string;
  readonly target: string;
  /** Numbers of target-vendor patients to fine-tune on, e.g. [0, 5, 10, 20]. */
  readonly shots: readonly number[];
  readonly seeds: readonly number[];
  /** Training of the source-vendor model. */
  readonly base: GraderExperimentOptions;
  readonly fineTune: Omit<FineTuneOptions, 'seed'>;
  readonly resamples: number;
  readonly onLog?: (line: string) => void;
}

/** The scores of one (N, seed). */
export interface FewShotPoint {
  shots: number;
  seed: number;
  testPatients: number;
  tunedCrops: number;
  seconds: number;
  kappa: MetricRow | undefined;
  balancedAccuracy: MetricRow | undefined;
  modicAuc: MetricRow | undefined;
  herniationAuc: MetricRow | undefined;
}

/** The whole curve. */
export interface FewShotResult {
  source: string;
  target: string;
  sourcePatients: number;
  targetPatients: number;
  baseSeconds: number;
  options: { shots: number[]; seeds: number[]; epochs: number; contextEpochs: number; learningRate: number };
  points: FewShotPoint[];
}

function scoresOf(
  evaluation: Evaluation,
): Pick<FewShotPoint, 'kappa' | 'balancedAccuracy' | 'modicAuc' | 'herniationAuc'> {
  const pf = evaluation.pfirrmannFused.rows;
  return {
    kappa: pf.find((r) => r.measure === 'kappa (linear)'),
    balancedAccuracy: pf.find((r) => r.measure === 'balanced accuracy'),
    modicAuc: evaluation.modicAnyFused.rows[0],
    herniationAuc: evaluation.binaryFused.find((s) => s.finding === 'herniation')?.rows[0],
  };
}

/** Hybrid predictions (uncalibrated: the scores here do not depend on temperatures) of the crops `indices`. */
function hybridLines(
  trained: Parameters<typeof predictVariants>[0],
  records: readonly DiscCropRecord[],
  indices: readonly number[],
): PredictionLine[] {
  const logits = predictVariants(trained, records, indices).hybrid;
  const subset = indices.map((i) => records[i] as DiscCropRecord);
  const graded: GradedDisc[] = gradesFromLogits(
    logits,
    subset.map((r) => ({ ivdLabel: r.ivdLabel, level: levelOfIvdLabel(r.ivdLabel) })),
    UNCALIBRATED,
  );
  return predictionLines(subset, graded);
}

/** Runs the experiment on the dataset's crops (see the module comment). */
export async function fewShotCurve(
  dataset: SpineDataset,
  records: readonly DiscCropRecord[],
  options: FewShotOptions,
): Promise<FewShotResult> {
  const log = options.onLog ?? (() => {});
  const vendors = patientsByVendor(dataset);
  const sourcePatients = vendors.get(options.source) ?? [];
  const targetPatients = vendors.get(options.target) ?? [];
  const most = Math.max(0, ...options.shots);
  if (sourcePatients.length < 1 || targetPatients.length < most + 1)
    throw new RangeError(
      `vendors: ${[...vendors.entries()].map(([v, p]) => `${v} ${p.length}`).join(', ')}; need ≥ 1 ${options.source} patient and ≥ ${most + 1} ${options.target} patients (the largest N plus one to test on)`,
    );
  const labelled = labelCrops(records, dataset.discs);
  log(`training on ${sourcePatients.length} ${options.source} patients`);
  const base = await trainGraderPair(records, labelled, sourcePatients, [], options.base);
  const points: FewShotPoint[] = [];
  for (const seed of options.seeds) {
    const order = shuffleInPlace([...targetPatients].sort(), mulberry32(seed));
    const test = order.slice(most);
    const testSet = new Set(test);
    const testIndices = records.flatMap((r, i) => (testSet.has(r.patient) ? [i] : []));
    const testDataset = restrictToPatients(dataset, testSet);
    for (const shots of options.shots) {
      const tuning = order.slice(0, shots);
      let trained = base;
      let tunedCrops = 0;
      let seconds = 0;
      if (shots > 0) {
        const tuned = await fineTuneGrader(
          { model: base.cnn, config: base.config, context: base.context },
          records,
          labelled,
          tuning,
          { ...options.fineTune, seed },
        );
        trained = { ...base, cnn: tuned.cnn, context: tuned.context ?? base.context };
        tunedCrops = tuned.crops;
        seconds = tuned.seconds;
      }
      const lines = hybridLines(trained, records, testIndices);
      const scores = scoresOf(await evaluatePredictions(testDataset, lines, { resamples: options.resamples }));
      points.push({ shots, seed, testPatients: test.length, tunedCrops, seconds, ...scores });
      log(
        `seed ${seed}, N = ${shots}: Pfirrmann κ ${cell(scores.kappa)}, Modic AUC ${cell(scores.modicAuc)} (${tunedCrops} crops tuned, ${seconds.toFixed(0)} s)`,
      );
      if (trained !== base) {
        trained.cnn.dispose();
        if (trained.context !== base.context) disposeContextModel(trained.context);
      }
    }
  }
  base.cnn.dispose();
  disposeContextModel(base.context);
  return {
    source: options.source,
    target: options.target,
    sourcePatients: sourcePatients.length,
    targetPatients: targetPatients.length,
    baseSeconds: base.seconds,
    options: {
      shots: [...options.shots],
      seeds: [...options.seeds],
      epochs: options.fineTune.epochs,
      contextEpochs: options.fineTune.contextEpochs,
      learningRate: options.fineTune.learningRate,
    },
    points,
  };
}

/** The curve as a Markdown section for the grader's card (between the few-shot markers). */
export function fewShotMarkdown(result: FewShotResult, command: string): string {
  const mean = (rows: (MetricRow | undefined)[]): string => {
    const values = rows.flatMap((r) => (r ? [r.estimate.value] : []));
    return values.length ? f(values.reduce((s, v) => s + v, 0) / values.length) : 'n/a';
  };
  const byShots = result.options.shots.map((shots) => result.points.filter((p) => p.shots === shots));
  const meanOf = (points: FewShotPoint[], pick: (p: FewShotPoint) => MetricRow | undefined): number => {
    const values = points.flatMap((p) => {
      const row = pick(p);
      return row ? [row.estimate.value] : [];
    });
    return values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
  };
  const first = byShots[0] ?? [];
  const last = byShots[byShots.length - 1] ?? [];
  const change = (pick: (p: FewShotPoint) => MetricRow | undefined): string => {
    const delta = meanOf(last, pick) - meanOf(first, pick);
    return `${delta >= 0 ? '+' : '−'}${Math.abs(delta).toFixed(3)}`;
  };
  const overlapping = result.options.seeds.every((seed) => {
    const a = first.find((p) => p.seed === seed)?.kappa?.estimate;
    const b = last.find((p) => p.seed === seed)?.kappa?.estimate;
    return !a || !b || (a.lower <= b.upper && b.lower <= a.upper);
  });
  const reading = `Reading: from N = ${result.options.shots[0]} to N = ${result.options.shots[result.options.shots.length - 1]} the mean Pfirrmann κ changes by ${change((p) => p.kappa)}, balanced accuracy by ${change((p) => p.balancedAccuracy)}, Modic AUC by ${change((p) => p.modicAuc)} and herniation AUC by ${change((p) => p.herniationAuc)}. ${
    overlapping
      ? `For every seed the κ CIs at N = ${result.options.shots[0]} and N = ${result.options.shots[result.options.shots.length - 1]} overlap, so on ${result.points[0]?.testPatients ?? 0} test patients the change is not established.`
      : 'For at least one seed the κ CIs at the smallest and largest N do not overlap.'
  } The vendor gap itself is the difference between these figures and the all-vendor out-of-fold ones above.`;
  return [
    FEW_SHOT_MARKERS.start,
    '## Few-shot site adaptation (vendor split)',
    '',
    `Trained on the ${result.sourcePatients} ${result.source} patients only, then fine-tuned (\`spinegrade finetune\`: ${result.options.epochs} CNN epochs at learning rate ${result.options.learningRate}, ${result.options.contextEpochs} context epochs, original calibration kept) on N patients of the other vendor (${result.target}, ${result.targetPatients} patients), and scored on the same ${result.points[0]?.testPatients ?? 0} held-out ${result.target} patients for every N of a seed; the N patients of a smaller N are among those of a larger one. Hybrid variant, per patient-disc, lumbar levels; 95% bootstrap CIs over test patients. Source-model training took ${(result.baseSeconds / 60).toFixed(1)} min.`,
    '',
    `- Command: \`${command}\``,
    '',
    `| N | ${result.options.seeds.map((s) => `κ linear, seed ${s}`).join(' | ')} | mean κ | mean balanced accuracy | mean Modic AUC | mean herniation AUC | tuning time |`,
    `|---|${result.options.seeds.map(() => '---|').join('')}---|---|---|---|---|`,
    ...byShots.map((points, n) => {
      const shots = result.options.shots[n] as number;
      const bySeed = result.options.seeds.map((seed) => cell(points.find((p) => p.seed === seed)?.kappa));
      const seconds = points.reduce((s, p) => s + p.seconds, 0) / Math.max(1, points.length);
      return `| ${shots} | ${bySeed.join(' | ')} | ${mean(points.map((p) => p.kappa))} | ${mean(points.map((p) => p.balancedAccuracy))} | ${mean(points.map((p) => p.modicAuc))} | ${mean(points.map((p) => p.herniationAuc))} | ${seconds.toFixed(0)} s |`;
    }),
    '',
    reading,
    '',
    FEW_SHOT_MARKERS.end,
  ].join('\n');
}
