/**
 * The grader's experiments: patient-level K-fold cross-validation of every family — the classical
 * SVMs, the CNN, the hybrid (CNN + across-levels context model) and the ensemble (hybrid and
 * classical pooled) — on the same folds and crops, temperatures cross-fitted on the other folds'
 * out-of-fold logits, and the final models trained on every patient with the calibration from all folds.
 */

import { patientFolds } from '../../datasets/splits.js';
import type { DiscLabel, SpineDataset } from '../../datasets/types.js';
import { BINARY_FINDINGS } from '../../disc/findings.js';
import { levelOfIvdLabel } from '../../disc/levels.js';
import type { Logits } from '../../disc/logits.js';
import { type DiscPrediction, fusePatients, type PredictionLine } from '../../disc/predictions.js';
import { coverageAccuracyCurve, fitBinaryTemperature, fitTemperature } from '../../grade/calibration.js';
import {
  type ClassicalInput,
  type ClassicalModel,
  classicalLogits,
  trainClassicalModel,
} from '../../grade/classicalModel.js';
import {
  type ContextModel,
  type ContextTargets,
  type ContextTrainingData,
  createContextModel,
  DEFAULT_CONTEXT_CONFIG,
  disposeContextModel,
  tfjsContextPredictor,
  trainContextModel,
} from '../../grade/context.js';
import { DEFAULT_CROP_CONFIG } from '../../grade/crops.js';
import {
  contextLogits,
  copyLogitRow,
  ensembleLogits,
  GRADER_NETWORK_OUTPUTS,
  GRADER_VARIANTS,
  type GradedDisc,
  type GraderCalibration,
  type GraderOutputs,
  type GraderVariant,
  gradesFromLogits,
  packSpines,
  predictCrops,
  type SpineRows,
} from '../../grade/grader.js';
import { GRADER_HEADS } from '../../grade/loss.js';
import type { GraderConfig } from '../../grade/model.js';
import type { tfl } from '../../models/tf/backend.js';
import { layersNetwork } from '../../models/tf/network.js';
import type { EpochRecord, TrainProgress } from '../../models/tf/train.js';
import type { DiscCropRecord } from './samples.js';
import { cropsOfPatients, type LabelledCrop, labelCrops, lossWeightsFor, trainGrader } from './train.js';

/** Options of a grader experiment. */
export interface GraderExperimentOptions {
  readonly epochs: number;
  readonly contextEpochs: number;
  readonly workers?: 1 | 2;
  readonly seed: number;
  readonly config?: Partial<Omit<GraderConfig, 'loss'>>;
  /** A disc whose top Pfirrmann probability is below this is flagged "needs review". */
  readonly reviewThreshold: number;
  readonly onProgress?: (progress: TrainProgress) => void;
  readonly onLog?: (line: string) => void;
}

/** Logits of every crop under one variant (CNN or hybrid), flat per head, in record order. */
type LogitTable = Logits;

function emptyTable(n: number): LogitTable {
  return {
    pfirrmann: new Float32Array(n * GRADER_HEADS.pfirrmann),
    modic: new Float32Array(n * GRADER_HEADS.modic),
    findings: new Float32Array(n * GRADER_HEADS.findings),
  };
}

/**
 * The crops `indices` (rows 0… of a CNN output in that order) grouped into one spine per series, each
 * crop in the slot of its level.
 */
function spinesOf(
  records: readonly DiscCropRecord[],
  indices: readonly number[],
  levelOf: (record: DiscCropRecord) => number,
): SpineRows[] {
  const bySeries = new Map<string, { rows: number[]; slots: number[] }>();
  indices.forEach((index, row) => {
    const record = records[index] as DiscCropRecord;
    const spine = bySeries.get(record.series) ?? { rows: [], slots: [] };
    bySeries.set(record.series, spine);
    spine.rows.push(row);
    spine.slots.push(levelOf(record));
  });
  return [...bySeries.values()];
}

function writeTargets(targets: ContextTargets, at: number, label: DiscLabel): void {
  if (label.pfirrmann !== undefined) targets.pfirrmann[at * 5 + label.pfirrmann - 1] = 1;
  if (label.modic !== undefined) targets.modic[at * 4 + label.modic] = 1;
  BINARY_FINDINGS.forEach((finding, k) => {
    const value = label[finding];
    if (value === undefined) return;
    targets.findings[at * 6 + k] = value;
    targets.findingsWeight[at * 6 + k] = 1;
  });
}

/** The CNN's outputs for the crops `indices`, in that order. */
export function cnnOutputs(
  model: tfl.LayersModel,
  records: readonly DiscCropRecord[],
  indices: readonly number[],
  cropSize: number,
) {
  return predictCrops(
    layersNetwork(model, GRADER_NETWORK_OUTPUTS),
    indices.map((i) => (records[i] as DiscCropRecord).crop),
    cropSize,
  );
}

/** The classical model's input for a crop record, at the level given. */
export function classicalInputOfRecord(record: DiscCropRecord, ivdLabel = record.ivdLabel): ClassicalInput {
  return { crop: record.crop, measures: record.measures, ivdLabel, sequence: record.sequence };
}

/** Trains the classical model on labelled crops (each at its training level). */
export function trainClassicalOn(crops: readonly LabelledCrop[], seed: number): ClassicalModel {
  return trainClassicalModel(
    crops.map((c) => ({ input: classicalInputOfRecord(c.record, c.record.trainingIvdLabel), label: c.label })),
    DEFAULT_CROP_CONFIG,
    { seed },
  );
}

/**
 * The context model's training batch: the CNN outputs of the crops `indices` (in that order) packed
 * into one spine per series at their training levels, with the grades of each placed crop as targets.
 */
export function contextTrainingData(
  records: readonly DiscCropRecord[],
  labelled: readonly LabelledCrop[],
  indices: readonly number[],
  outputs: GraderOutputs,
  levels: number,
): ContextTrainingData {
  const labelByKey = new Map(labelled.map((c) => [c.record, c.label]));
  const { batch, placed } = packSpines(
    outputs,
    spinesOf(records, indices, (r) => r.trainingIvdLabel),
    levels,
  );
  const cells = batch.spines * levels;
  const data: ContextTrainingData = {
    ...batch,
    targets: {
      pfirrmann: new Float32Array(cells * 5),
      modic: new Float32Array(cells * 4),
      findings: new Float32Array(cells * 6),
      findingsWeight: new Float32Array(cells * 6),
    },
  };
  for (const { spine, slot, row } of placed) {
    const label = labelByKey.get(records[indices[row] as number] as DiscCropRecord);
    if (label) writeTargets(data.targets, spine * levels + slot, label);
  }
  return data;
}

/** One trained fold (or the final model): the CNN, the context model and the classical model. */
export interface TrainedGrader {
  cnn: tfl.LayersModel;
  config: GraderConfig;
  context: ContextModel;
  classical: ClassicalModel;
  history: EpochRecord[];
  contextHistory: { epoch: number; meanLoss: number }[];
  seconds: number;
}

/** Trains the CNN, then the context model on the CNN's embeddings of the same training crops. */
export async function trainGraderPair(
  records: readonly DiscCropRecord[],
  labelled: readonly LabelledCrop[],
  trainPatients: readonly string[],
  watchPatients: readonly string[],
  options: GraderExperimentOptions,
): Promise<TrainedGrader> {
  const started = Date.now();
  const log = options.onLog ?? (() => {});
  const train = cropsOfPatients(labelled, trainPatients);
  const watch = cropsOfPatients(labelled, watchPatients);
  const { model, config, history } = await trainGrader(train, {
    epochs: options.epochs,
    seed: options.seed,
    ...(options.workers ? { workers: options.workers } : {}),
    ...(options.config ? { config: options.config } : {}),
    watch,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    onLog: log,
  });
  const trainSet = new Set(trainPatients);
  const trainIndices = records.flatMap((r, i) => (trainSet.has(r.patient) ? [i] : []));
  const outputs = cnnOutputs(model, records, trainIndices, config.cropSize);
  // Slots for IVD labels 0 (transitional) to 10 (T7/T8), the localiser's range.
  const contextConfig = {
    ...DEFAULT_CONTEXT_CONFIG,
    embeddingSize: outputs.embeddingSize,
    levels: 11,
    seed: options.seed,
  };
  const data = contextTrainingData(records, labelled, trainIndices, outputs, contextConfig.levels);
  const context = createContextModel(contextConfig);
  const { history: contextHistory } = await trainContextModel(context, data, {
    epochs: options.contextEpochs,
    seed: options.seed,
    weights: lossWeightsFor(train),
    onEpoch: (epoch, loss) => log(`context model epoch ${epoch + 1}: loss ${loss.toFixed(4)}`),
  });
  const classical = trainClassicalOn(train, options.seed);
  log(`classical model trained on ${train.length} crops`);
  return {
    cnn: model,
    config,
    context,
    classical,
    history,
    contextHistory,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Logits of the given crops (in that order) under every family (context slots: the localiser's levels). */
export function predictVariants(
  trained: Pick<TrainedGrader, 'cnn' | 'config' | 'context' | 'classical'>,
  records: readonly DiscCropRecord[],
  indices: readonly number[],
): Record<GraderVariant, LogitTable> {
  const outputs = cnnOutputs(trained.cnn, records, indices, trained.config.cropSize);
  const hybrid = contextLogits(
    tfjsContextPredictor(trained.context),
    outputs,
    spinesOf(records, indices, (r) => r.ivdLabel),
  );
  const classical = classicalLogits(
    trained.classical,
    indices.map((i) => classicalInputOfRecord(records[i] as DiscCropRecord)),
  );
  return { cnn: outputs, hybrid, classical, ensemble: ensembleLogits([hybrid, classical]) };
}

/** Temperatures for every head fitted on labelled logits, with the stated review threshold. */
export function fitCalibration(
  logits: LogitTable,
  labels: readonly (DiscLabel | undefined)[],
  threshold: number,
): GraderCalibration {
  const pick = (head: 'pfirrmann' | 'modic', classes: number, truthOf: (l: DiscLabel) => number | undefined) => {
    const rows: number[] = [];
    const truth: number[] = [];
    labels.forEach((label, n) => {
      const t = label ? truthOf(label) : undefined;
      if (t === undefined) return;
      truth.push(t);
      for (let k = 0; k < classes; k++) rows.push(logits[head][n * classes + k] as number);
    });
    return fitTemperature(rows, classes, truth);
  };
  const pfirrmann = pick('pfirrmann', 5, (l) => (l.pfirrmann === undefined ? undefined : l.pfirrmann - 1));
  const modic = pick('modic', 4, (l) => l.modic);
  const findings = BINARY_FINDINGS.map((finding, k) => {
    const z: number[] = [];
    const y: number[] = [];
    labels.forEach((label, n) => {
      const value = label?.[finding];
      if (value === undefined) return;
      z.push(logits.findings[n * 6 + k] as number);
      y.push(value);
    });
    return fitBinaryTemperature(z, y);
  });
  return { pfirrmann, modic, findings, reviewThreshold: threshold };
}

/** The result of a cross-validation. */
export interface GraderCrossValidation {
  /** Out-of-fold prediction lines (series, then fused patient lines) for each variant. */
  lines: Record<GraderVariant, PredictionLine[]>;
  /** Calibration fitted on all out-of-fold logits of each variant (what the final model ships with). */
  calibration: Record<GraderVariant, GraderCalibration>;
  /** Coverage/accuracy of the out-of-fold Pfirrmann grades per crop (cross-fitted calibration). */
  coverage: Record<GraderVariant, ReturnType<typeof coverageAccuracyCurve>>;
  folds: { fold: number; trainPatients: number; testPatients: number; seconds: number; history: EpochRecord[] }[];
  seconds: number;
}

/** Patient-level K-fold cross-validation of every family on the dataset's crops (same folds, same crops). */
export async function crossValidateGrader(
  dataset: SpineDataset,
  records: readonly DiscCropRecord[],
  folds: number,
  options: GraderExperimentOptions,
): Promise<GraderCrossValidation> {
  const started = Date.now();
  const log = options.onLog ?? (() => {});
  const labelled = labelCrops(records, dataset.discs);
  const labelOfRecord = new Map(labelled.map((c) => [c.record, c.label]));
  const oof = Object.fromEntries(GRADER_VARIANTS.map((v) => [v, emptyTable(records.length)])) as Record<
    GraderVariant,
    LogitTable
  >;
  const foldOf = new Int32Array(records.length).fill(-1);
  const foldRecords: GraderCrossValidation['folds'] = [];
  const splits = patientFolds(dataset, folds, options.seed);
  for (const split of splits) {
    log(
      `fold ${split.fold + 1} of ${folds}: ${split.trainPatients.length} training patients, ${split.testPatients.length} held out`,
    );
    const trained = await trainGraderPair(records, labelled, split.trainPatients, split.testPatients, options);
    const test = new Set(split.testPatients);
    const indices = records.flatMap((r, i) => (test.has(r.patient) ? [i] : []));
    const variants = predictVariants(trained, records, indices);
    indices.forEach((index, row) => {
      for (const variant of GRADER_VARIANTS) copyLogitRow(variants[variant], row, oof[variant], index);
      foldOf[index] = split.fold;
    });
    trained.cnn.dispose();
    disposeContextModel(trained.context);
    foldRecords.push({
      fold: split.fold + 1,
      trainPatients: split.trainPatients.length,
      testPatients: split.testPatients.length,
      seconds: trained.seconds,
      history: trained.history,
    });
  }
  // Labels of each crop for calibration: its true level's grades (the training level).
  const labels = records.map((r) => labelOfRecord.get(r));
  const result = { lines: {}, calibration: {}, coverage: {} } as Pick<
    GraderCrossValidation,
    'lines' | 'calibration' | 'coverage'
  >;
  for (const variant of GRADER_VARIANTS) {
    const table = oof[variant];
    const graded: (GradedDisc | undefined)[] = new Array(records.length);
    const confidences: number[] = [];
    const correct: boolean[] = [];
    for (const split of splits) {
      const inFold = (i: number): boolean => foldOf[i] === split.fold;
      const others = records.flatMap((_, i) => (!inFold(i) && (foldOf[i] as number) >= 0 ? [i] : []));
      const calibration = fitCalibration(
        subTable(table, others),
        others.map((i) => labels[i]),
        options.reviewThreshold,
      );
      const mine = records.flatMap((_, i) => (inFold(i) ? [i] : []));
      const grades = gradesFromLogits(
        subTable(table, mine),
        mine.map((i) => discOf(records[i] as DiscCropRecord)),
        calibration,
      );
      mine.forEach((index, row) => {
        graded[index] = grades[row];
        const label = labels[index];
        const grade = grades[row] as GradedDisc;
        if (label?.pfirrmann === undefined) return;
        confidences.push(Math.max(...grade.pfirrmann.probs));
        correct.push(grade.pfirrmann.grade === label.pfirrmann);
      });
    }
    result.calibration[variant] = fitCalibration(table, labels, options.reviewThreshold);
    result.lines[variant] = predictionLines(records, graded, result.calibration[variant].reviewThreshold);
    result.coverage[variant] = coverageAccuracyCurve(confidences, correct);
  }
  return { ...result, folds: foldRecords, seconds: (Date.now() - started) / 1000 };
}

function subTable(table: LogitTable, indices: readonly number[]): LogitTable {
  const out = emptyTable(indices.length);
  indices.forEach((index, row) => copyLogitRow(table, index, out, row));
  return out;
}

function discOf(record: DiscCropRecord): { ivdLabel: number; level: string } {
  return { ivdLabel: record.ivdLabel, level: levelOfIvdLabel(record.ivdLabel) };
}

/** Series lines (geometry from the localiser) and fused patient lines from graded crops. */
export function predictionLines(
  records: readonly DiscCropRecord[],
  graded: readonly (GradedDisc | undefined)[],
  reviewThreshold?: number,
): PredictionLine[] {
  const bySeries = new Map<string, PredictionLine>();
  records.forEach((record, n) => {
    const grade = graded[n];
    if (!grade) return;
    const line = bySeries.get(record.series) ?? {
      series: record.series,
      patient: record.patient,
      sequence: record.sequence,
      discs: [],
    };
    bySeries.set(record.series, line);
    const disc: DiscPrediction = {
      ...grade,
      center: record.disc.center,
      posterior: record.disc.posterior,
      outline: record.disc.outline,
    };
    line.discs.push(disc);
  });
  const seriesLines = [...bySeries.values()];
  return [...seriesLines, ...fusePatients(seriesLines, reviewThreshold)];
}
