/** Runs the current pipeline over every series of a dataset: with one model, or out-of-fold. */
import { patientFolds } from '../datasets/splits.js';
import type { SpineDataset } from '../datasets/types.js';
import { classPriorDiscs, fitClassPrior } from '../grade/prior.js';
import type { SpinegradeModel } from '../models/store.js';
import { fusePatients, type PredictionLine } from '../report/predictions.js';

/** How to predict a dataset. */
export type PredictionPlan =
  | { mode: 'model'; model: SpinegradeModel }
  /** Fit a fresh model on K−1 patient folds and predict the held-out fold, for each fold. */
  | { mode: 'cross-validate'; folds: number; seed: number };

/** Predictions plus what the caller should tell the user about them. */
export interface DatasetPredictions {
  lines: PredictionLine[];
  /** One line describing the model(s) used. */
  description: string;
  /** Patients of the dataset that the model was trained on (in-sample figures if non-zero). */
  inSamplePatients: number;
  /** For cross-validation: the patients each fold's model was fitted on and predicted. */
  folds?: { fittedOn: string[]; predicted: string[] }[];
}

function predictSeriesLines(
  dataset: SpineDataset,
  patients: ReadonlySet<string>,
  model: SpinegradeModel,
  onSeries: () => void,
): PredictionLine[] {
  const lines: PredictionLine[] = [];
  for (const series of dataset.series) {
    if (!patients.has(series.patient)) continue;
    lines.push({
      series: series.id,
      patient: series.patient,
      sequence: series.sequence,
      discs: classPriorDiscs(model),
    });
    onSeries();
  }
  return lines;
}

/** Predicts every series of the dataset and appends one fused line per patient. */
export function predictDataset(
  dataset: SpineDataset,
  plan: PredictionPlan,
  onProgress?: (done: number, total: number) => void,
): DatasetPredictions {
  let done = 0;
  const total = dataset.series.length;
  const tick = (): void => onProgress?.(++done, total);
  if (plan.mode === 'model') {
    const trained = new Set(plan.model.trainedOn.patients);
    return {
      lines: withPatientLines(predictSeriesLines(dataset, new Set(dataset.patients), plan.model, tick)),
      description: `${plan.model.kind} fitted on ${plan.model.trainedOn.dataset} (${plan.model.trainedOn.patients.length} patients)`,
      inSamplePatients: dataset.patients.filter((p) => trained.has(p)).length,
    };
  }
  const seriesLines: PredictionLine[] = [];
  const folds: { fittedOn: string[]; predicted: string[] }[] = [];
  for (const fold of patientFolds(dataset, plan.folds, plan.seed)) {
    const model = fitClassPrior(dataset.discs, fold.trainPatients, `${dataset.root} fold ${fold.fold}`);
    seriesLines.push(...predictSeriesLines(dataset, new Set(fold.testPatients), model, tick));
    folds.push({ fittedOn: model.trainedOn.patients, predicted: [...fold.testPatients] });
  }
  const order = new Map(dataset.series.map((s, n) => [s.id, n]));
  seriesLines.sort((a, b) => (order.get(a.series ?? '') ?? 0) - (order.get(b.series ?? '') ?? 0));
  return {
    lines: withPatientLines(seriesLines),
    description: `class-prior, ${plan.folds}-fold patient-level cross-validation (seed ${plan.seed}), out-of-fold`,
    inSamplePatients: 0,
    folds,
  };
}

function withPatientLines(seriesLines: PredictionLine[]): PredictionLine[] {
  return [...seriesLines, ...fusePatients(seriesLines)];
}
