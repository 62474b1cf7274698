/** Runs the current pipeline over every series of a dataset: with one model, or out-of-fold. */
import { datasetName } from '../datasets/common.js';
import { patientFolds } from '../datasets/splits.js';
import type { SeriesRecord, SpineDataset } from '../datasets/types.js';
import type { DiscMeasures } from '../disc/measures.js';
import { type DiscPrediction, fusePatients, type PredictionLine } from '../disc/predictions.js';
import { describeIdentity, patientsInTraining, type TrainingPatients } from '../disc/provenance.js';
import { SpinegradeError } from '../errors.js';
import { cropLocalizedDiscs, gradableDisc } from '../grade/discCrops.js';
import { type GradedDisc, gradeSeriesDiscs } from '../grade/grader.js';
import { measureSlice } from '../grade/measures.js';
import { classPriorDiscs, fitClassPrior } from '../grade/prior.js';
import { type Localizer, localizeSeries } from '../localize/localizer.js';
import { identityOfManifest, type ModelManifest, trainingOfRecord } from '../models/manifest.js';
import type { SpinegradeModel } from '../store/store.js';
import type { Progress } from '../util/progress.js';

/**
 * How to predict a dataset. `localizers`: one localiser, or several trained on different folds (each
 * patient is then localised by one that never saw them); none for no disc geometry.
 */
export type PredictionPlan =
  | {
      mode: 'model';
      model: SpinegradeModel;
      /** The model's manifest (its identity, and for a tuned model its tuning patients too). */
      manifest?: ModelManifest;
      localizers?: readonly Localizer[];
    }
  /** Fit a fresh grader on K−1 patient folds and predict the held-out fold, for each fold. */
  | { mode: 'cross-validate'; folds: number; seed: number; localizers?: readonly Localizer[] };

/** Predictions plus what the caller should tell the user about them. */
export interface DatasetPredictions {
  lines: PredictionLine[];
  /** One line describing the model(s) used. */
  description: string;
  /** Patients of the dataset that a model was trained on (in-sample figures if non-zero). */
  inSamplePatients: number;
  /** Those patients by model: the grader's (or class prior's) training data, and every localiser's. */
  inSample: { model: string[]; localizers: string[] };
  /** For cross-validation: the patients each fold's grader was fitted on and predicted. */
  folds?: { fittedOn: string[]; predicted: string[] }[];
}

async function predictSeriesLines(
  series: readonly SeriesRecord[],
  model: SpinegradeModel,
  localizers: readonly Localizer[] | undefined,
  tick: () => void,
): Promise<PredictionLine[]> {
  const lines: PredictionLine[] = [];
  if (model.kind === 'grader' && (!localizers || localizers.length === 0)) {
    throw new SpinegradeError('USAGE', 'the grader needs the discs found first: give a localiser (--localizer)');
  }
  const graded = model.kind === 'grader' ? [] : classPriorDiscs(model);
  const gradesOf = (ivdLabel: number): Omit<DiscPrediction, 'level' | 'ivdLabel'> => {
    const {
      level: _level,
      ivdLabel: _ivd,
      ...grades
    } = graded.find((d) => d.ivdLabel === ivdLabel) ?? (graded[0] as DiscPrediction);
    return grades;
  };
  if (!localizers || localizers.length === 0) {
    for (const record of series) {
      lines.push({ series: record.id, patient: record.patient, sequence: record.sequence, discs: graded });
      tick();
    }
    return lines;
  }
  await localizeSeries(series, localizers, async (record, image, localization) => {
    const found = localization.discs;
    let discs: DiscPrediction[];
    if (model.kind === 'grader') {
      const crops = cropLocalizedDiscs(record, image, localization, model.crop);
      const grades = gradeSeriesDiscs(model, crops.map(gradableDisc));
      discs = crops.map((c, k) => ({
        ...(grades[k] as GradedDisc),
        center: c.disc.center,
        posterior: c.disc.posterior,
        outline: c.disc.outline,
        measures: c.measures as DiscMeasures,
      }));
    } else {
      const measured = measureSlice(image, localization);
      const measuresOf = new Map(found.map((d, k) => [d, measured[k] as DiscMeasures]));
      discs = found.map((d) => ({
        level: d.level,
        ivdLabel: d.ivdLabel,
        center: d.center,
        posterior: d.posterior,
        outline: d.outline,
        measures: measuresOf.get(d) as DiscMeasures,
        ...gradesOf(d.ivdLabel),
      }));
    }
    lines.push({ series: record.id, patient: record.patient, sequence: record.sequence, discs });
    tick();
  });
  const order = new Map(series.map((s, n) => [s.id, n]));
  return lines.sort((a, b) => (order.get(a.series ?? '') ?? 0) - (order.get(b.series ?? '') ?? 0));
}

/**
 * The dataset's patients in the localisers' training data: those every localiser saw (with one
 * localiser per fold, none); none without localisers.
 */
export function localizerInSamplePatients(dataset: SpineDataset, localizers: readonly Localizer[]): string[] {
  const name = datasetName(dataset);
  const sets = localizers.map((l) => trainingOfRecord(l.metadata.trainedOn));
  if (sets.length === 0) return [];
  return dataset.patients.filter((p) => sets.every((set) => patientsInTraining(name, [p], [set]).length > 0));
}

/** Predicts every series of the dataset and appends one fused line per patient. */
export async function predictDataset(
  dataset: SpineDataset,
  plan: PredictionPlan,
  onProgress?: (done: number, total: number) => void,
): Promise<DatasetPredictions> {
  let done = 0;
  const total = dataset.series.length;
  const tick = (): void => onProgress?.(++done, total);
  const localizers = plan.localizers ?? [];
  const localizerPatients = localizerInSamplePatients(dataset, localizers);
  const localizerNote =
    localizers.length === 0
      ? '; no localiser (no disc geometry)'
      : localizers.length === 1
        ? `; discs localised by ${(localizers[0] as Localizer).dir}`
        : `; discs localised out of fold by ${localizers.length} localisers (${localizers.map((l) => l.dir).join(', ')})`;
  if (plan.mode === 'model') {
    const modelSets: readonly TrainingPatients[] =
      plan.manifest?.trainingData ?? trainingOfRecord(plan.model.trainedOn);
    const modelPatients = patientsInTraining(datasetName(dataset), dataset.patients, [modelSets]);
    const inSample = new Set([...modelPatients, ...localizerPatients]);
    return {
      lines: withPatientLines(
        await predictSeriesLines(dataset.series, plan.model, plan.localizers, tick),
        plan.model.kind === 'grader' ? plan.model.calibration.reviewThreshold : undefined,
      ),
      description: `${
        plan.manifest
          ? describeIdentity(identityOfManifest(plan.manifest))
          : `${plan.model.kind} fitted on ${plan.model.trainedOn.dataset} (${plan.model.trainedOn.patients.length} patients)`
      }${localizerNote}`,
      inSamplePatients: inSample.size,
      inSample: { model: modelPatients, localizers: localizerPatients },
    };
  }
  const seriesLines: PredictionLine[] = [];
  const folds: { fittedOn: string[]; predicted: string[] }[] = [];
  for (const fold of patientFolds(dataset, plan.folds, plan.seed)) {
    const model = fitClassPrior(dataset.discs, fold.trainPatients, `${dataset.root} fold ${fold.fold}`);
    const testPatients = new Set(fold.testPatients);
    seriesLines.push(
      ...(await predictSeriesLines(
        dataset.series.filter((s) => testPatients.has(s.patient)),
        model,
        plan.localizers,
        tick,
      )),
    );
    folds.push({ fittedOn: model.trainedOn.patients, predicted: [...fold.testPatients] });
  }
  const order = new Map(dataset.series.map((s, n) => [s.id, n]));
  seriesLines.sort((a, b) => (order.get(a.series ?? '') ?? 0) - (order.get(b.series ?? '') ?? 0));
  return {
    lines: withPatientLines(seriesLines),
    description: `class-prior, ${plan.folds}-fold patient-level cross-validation (seed ${plan.seed}), out-of-fold${localizerNote}`,
    inSamplePatients: localizerPatients.length,
    inSample: { model: [], localizers: localizerPatients },
    folds,
  };
}

function withPatientLines(seriesLines: PredictionLine[], reviewThreshold?: number): PredictionLine[] {
  return [...seriesLines, ...fusePatients(seriesLines, reviewThreshold)];
}

/** Reads a dataset and predicts it, reporting progress. */
export async function predictWithProgress(
  dataset: SpineDataset,
  plan: PredictionPlan,
  progress: Progress,
): Promise<DatasetPredictions> {
  try {
    return await predictDataset(dataset, plan, progress.update);
  } finally {
    progress.finish();
  }
}
