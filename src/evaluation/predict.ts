/** Runs the current pipeline over every series of a dataset: with one model, or out-of-fold. */
import { patientFolds } from '../datasets/splits.js';
import type { SeriesRecord, SpineDataset } from '../datasets/types.js';
import { classPriorDiscs, fitClassPrior } from '../grade/prior.js';
import { type Localizer, localizeImages, localizerTrainingPatients } from '../localize/localizer.js';
import type { SpinegradeModel } from '../models/store.js';
import { type DiscPrediction, fusePatients, type PredictionLine } from '../report/predictions.js';

/** How to predict a dataset. */
export type PredictionPlan =
  | { mode: 'model'; model: SpinegradeModel; localizer?: Localizer }
  /** Fit a fresh grader on K−1 patient folds and predict the held-out fold, for each fold. */
  | { mode: 'cross-validate'; folds: number; seed: number; localizer?: Localizer };

/** Predictions plus what the caller should tell the user about them. */
export interface DatasetPredictions {
  lines: PredictionLine[];
  /** One line describing the model(s) used. */
  description: string;
  /** Patients of the dataset that a model was trained on (in-sample figures if non-zero). */
  inSamplePatients: number;
  /** For cross-validation: the patients each fold's grader was fitted on and predicted. */
  folds?: { fittedOn: string[]; predicted: string[] }[];
}

/** Series localised at once (bounded memory). */
const LOCALIZE_CHUNK = 8;

async function predictSeriesLines(
  series: readonly SeriesRecord[],
  model: SpinegradeModel,
  localizer: Localizer | undefined,
  tick: () => void,
): Promise<PredictionLine[]> {
  const lines: PredictionLine[] = [];
  const graded = classPriorDiscs(model);
  const gradesOf = (ivdLabel: number): Omit<DiscPrediction, 'level' | 'ivdLabel'> => {
    const {
      level: _level,
      ivdLabel: _ivd,
      ...grades
    } = graded.find((d) => d.ivdLabel === ivdLabel) ?? (graded[0] as DiscPrediction);
    return grades;
  };
  for (let start = 0; start < series.length; start += localizer ? LOCALIZE_CHUNK : series.length) {
    const chunk = series.slice(start, start + (localizer ? LOCALIZE_CHUNK : series.length));
    const localized = localizer
      ? localizeImages(localizer, await Promise.all(chunk.map((s) => s.loadMidSagittal())))
      : undefined;
    chunk.forEach((record, n) => {
      const discs: DiscPrediction[] = localized
        ? (localized[n]?.discs ?? []).map((d) => ({
            level: d.level,
            ivdLabel: d.ivdLabel,
            center: d.center,
            posterior: d.posterior,
            outline: d.outline,
            ...gradesOf(d.ivdLabel),
          }))
        : graded;
      lines.push({ series: record.id, patient: record.patient, sequence: record.sequence, discs });
      tick();
    });
  }
  return lines;
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
  const localizerPatients = new Set(localizerTrainingPatients(plan.localizer));
  const localizerNote = plan.localizer
    ? `; discs localised by ${plan.localizer.dir}`
    : '; no localiser (no disc geometry)';
  if (plan.mode === 'model') {
    const trained = new Set([...plan.model.trainedOn.patients, ...localizerPatients]);
    return {
      lines: withPatientLines(await predictSeriesLines(dataset.series, plan.model, plan.localizer, tick)),
      description: `${plan.model.kind} fitted on ${plan.model.trainedOn.dataset} (${plan.model.trainedOn.patients.length} patients)${localizerNote}`,
      inSamplePatients: dataset.patients.filter((p) => trained.has(p)).length,
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
        plan.localizer,
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
    inSamplePatients: dataset.patients.filter((p) => localizerPatients.has(p)).length,
    folds,
  };
}

function withPatientLines(seriesLines: PredictionLine[]): PredictionLine[] {
  return [...seriesLines, ...fusePatients(seriesLines)];
}
