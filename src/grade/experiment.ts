/**
 * The grader's experiments: patient-level K-fold cross-validation of the CNN and of the hybrid
 * (CNN + across-levels context model), temperatures cross-fitted on the other folds' out-of-fold
 * logits, and the final models trained on every patient with the calibration from all folds.
 */

import { levelOfIvdLabel } from '../datasets/levels.js';
import { patientFolds } from '../datasets/splits.js';
import { BINARY_FINDINGS, type DiscLabel, type SpineDataset } from '../datasets/types.js';
import type { tfl } from '../models/tf/backend.js';
import type { EpochRecord, TrainProgress } from '../models/tf/train.js';
import { type DiscPrediction, fusePatients, type PredictionLine } from '../report/predictions.js';
import { coverageAccuracyCurve, fitBinaryTemperature, fitTemperature } from './calibration.js';
import {
  type ContextModel,
  type ContextTargets,
  type ContextTrainingData,
  createContextModel,
  DEFAULT_CONTEXT_CONFIG,
  disposeContextModel,
  predictContext,
  trainContextModel,
} from './context.js';
import { type GradedDisc, type GraderCalibration, gradesFromLogits } from './grader.js';
import { GRADER_HEADS } from './loss.js';
import { type GraderConfig, type GraderOutputs, predictCrops } from './model.js';
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
type LogitTable = Pick<GraderOutputs, 'pfirrmann' | 'modic' | 'findings'>;

function emptyTable(n: number): LogitTable {
  return {
    pfirrmann: new Float32Array(n * GRADER_HEADS.pfirrmann),
    modic: new Float32Array(n * GRADER_HEADS.modic),
    findings: new Float32Array(n * GRADER_HEADS.findings),
  };
}

function copyRow(from: LogitTable, fromIndex: number, to: LogitTable, toIndex: number): void {
  for (const head of ['pfirrmann', 'modic', 'findings'] as const) {
    const size = GRADER_HEADS[head];
    to[head].set(from[head].subarray(fromIndex * size, (fromIndex + 1) * size), toIndex * size);
  }
}

/** Crops grouped by series, each crop's slot its level (the training level, or the localiser's). */
interface SpineGroup {
  series: string;
  indices: number[];
}

function groupBySeries(records: readonly DiscCropRecord[], indices: readonly number[]): SpineGroup[] {
  const groups = new Map<string, number[]>();
  for (const i of indices) {
    const series = (records[i] as DiscCropRecord).series;
    groups.set(series, [...(groups.get(series) ?? []), i]);
  }
  return [...groups.entries()].map(([series, members]) => ({ series, indices: members }));
}

/** Context-model input for spines of crops, with targets from the labels when given. */
function contextData(
  groups: readonly SpineGroup[],
  outputs: Map<number, { embedding: Float32Array; logits: LogitTable; row: number }>,
  slotOf: (index: number) => number,
  labelOf: ((index: number) => DiscLabel | undefined) | undefined,
  levels: number,
  embeddingSize: number,
): ContextTrainingData {
  const spines = groups.length;
  const data: ContextTrainingData = {
    spines,
    embeddings: new Float32Array(spines * levels * embeddingSize),
    mask: new Uint8Array(spines * levels),
    cnnLogits: emptyTable(spines * levels),
    targets: {
      pfirrmann: new Float32Array(spines * levels * 5),
      modic: new Float32Array(spines * levels * 4),
      findings: new Float32Array(spines * levels * 6),
      findingsWeight: new Float32Array(spines * levels * 6),
    },
  };
  groups.forEach((group, s) => {
    for (const index of group.indices) {
      const slot = slotOf(index);
      if (slot < 0 || slot >= levels || data.mask[s * levels + slot]) continue;
      const at = s * levels + slot;
      data.mask[at] = 1;
      const out = outputs.get(index);
      if (!out) continue;
      data.embeddings.set(out.embedding, at * embeddingSize);
      copyRow(out.logits, out.row, data.cnnLogits as LogitTable, at);
      const label = labelOf?.(index);
      if (label) writeTargets(data.targets, at, label);
    }
  });
  return data;
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

/** CNN outputs of crops, keyed by record index. */
function cnnOutputs(
  model: tfl.LayersModel,
  records: readonly DiscCropRecord[],
  indices: readonly number[],
  cropSize: number,
): { table: Map<number, { embedding: Float32Array; logits: LogitTable; row: number }>; embeddingSize: number } {
  const out = predictCrops(
    model,
    indices.map((i) => (records[i] as DiscCropRecord).crop),
    cropSize,
  );
  const table = new Map<number, { embedding: Float32Array; logits: LogitTable; row: number }>();
  indices.forEach((index, row) => {
    table.set(index, {
      embedding: out.embedding.subarray(row * out.embeddingSize, (row + 1) * out.embeddingSize),
      logits: out,
      row,
    });
  });
  return { table, embeddingSize: out.embeddingSize };
}

/** One trained fold (or the final model): the CNN and the context model. */
export interface TrainedGrader {
  cnn: tfl.LayersModel;
  config: GraderConfig;
  context: ContextModel;
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
  const { table, embeddingSize } = cnnOutputs(model, records, trainIndices, config.cropSize);
  const labelByKey = new Map(labelled.map((c) => [c.record, c.label]));
  // Slots for IVD labels 0 (transitional) to 10 (T7/T8), the localiser's range.
  const contextConfig = { ...DEFAULT_CONTEXT_CONFIG, embeddingSize, levels: 11, seed: options.seed };
  const data = contextData(
    groupBySeries(records, trainIndices),
    table,
    (i) => (records[i] as DiscCropRecord).trainingIvdLabel,
    (i) => labelByKey.get(records[i] as DiscCropRecord),
    contextConfig.levels,
    embeddingSize,
  );
  const context = createContextModel(contextConfig);
  const { history: contextHistory } = await trainContextModel(context, data, {
    epochs: options.contextEpochs,
    seed: options.seed,
    weights: lossWeightsFor(train),
    onEpoch: (epoch, loss) => log(`context model epoch ${epoch + 1}: loss ${loss.toFixed(4)}`),
  });
  return { cnn: model, config, context, history, contextHistory, seconds: (Date.now() - started) / 1000 };
}

/** Logits of the given crops under the CNN alone and under the hybrid (slots: the localiser's levels). */
export function predictBoth(
  trained: Pick<TrainedGrader, 'cnn' | 'config' | 'context'>,
  records: readonly DiscCropRecord[],
  indices: readonly number[],
): { cnn: LogitTable; hybrid: LogitTable } {
  const { table, embeddingSize } = cnnOutputs(trained.cnn, records, indices, trained.config.cropSize);
  const cnn = emptyTable(indices.length);
  indices.forEach((index, row) => {
    const out = table.get(index) as { logits: LogitTable; row: number };
    copyRow(out.logits, out.row, cnn, row);
  });
  const hybrid = emptyTable(indices.length);
  hybrid.pfirrmann.set(cnn.pfirrmann);
  hybrid.modic.set(cnn.modic);
  hybrid.findings.set(cnn.findings);
  const rowOf = new Map(indices.map((index, row) => [index, row]));
  const { levels } = trained.context.config;
  const groups = groupBySeries(records, indices);
  const data = contextData(
    groups,
    table,
    (i) => (records[i] as DiscCropRecord).ivdLabel,
    undefined,
    levels,
    embeddingSize,
  );
  const out = predictContext(trained.context, data);
  groups.forEach((group, s) => {
    const used = new Set<number>();
    for (const index of group.indices) {
      const slot = (records[index] as DiscCropRecord).ivdLabel;
      if (slot < 0 || slot >= levels || used.has(slot)) continue;
      used.add(slot);
      copyRow(out, s * levels + slot, hybrid, rowOf.get(index) as number);
    }
  });
  return { cnn, hybrid };
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
  lines: { cnn: PredictionLine[]; hybrid: PredictionLine[] };
  /** Calibration fitted on all out-of-fold logits of each variant (what the final model ships with). */
  calibration: { cnn: GraderCalibration; hybrid: GraderCalibration };
  /** Coverage/accuracy of the out-of-fold Pfirrmann grades per crop (cross-fitted calibration). */
  coverage: { cnn: ReturnType<typeof coverageAccuracyCurve>; hybrid: ReturnType<typeof coverageAccuracyCurve> };
  folds: { fold: number; trainPatients: number; testPatients: number; seconds: number; history: EpochRecord[] }[];
  seconds: number;
}

/** Patient-level K-fold cross-validation of the CNN and the hybrid on the dataset's crops. */
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
  const oof = { cnn: emptyTable(records.length), hybrid: emptyTable(records.length) };
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
    const both = predictBoth(trained, records, indices);
    indices.forEach((index, row) => {
      copyRow(both.cnn, row, oof.cnn, index);
      copyRow(both.hybrid, row, oof.hybrid, index);
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
  for (const variant of ['cnn', 'hybrid'] as const) {
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
  indices.forEach((index, row) => copyRow(table, index, out, row));
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
