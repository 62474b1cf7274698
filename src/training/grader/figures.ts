/**
 * Out-of-fold figures of grader v2 with 95% bootstrap intervals over patients: per contrast (every
 * disc of every series) and fused per patient-disc ({@link fuseV2}), for the issue's must-reach
 * measures — Pfirrmann linear κ, balanced accuracy, within one grade, ECE, Modic any-vs-none AUC,
 * herniation AUC — and the other binary findings' AUCs.
 */
import { BINARY_FINDINGS } from '../../disc/findings.js';
import { coverageAccuracyCurve } from '../../grade/calibration.js';
import { topGrade, type V2FusedGrades, type V2Grades } from '../../grade/v2.js';
import { accuracy, balancedAccuracy, cohenKappa, confusionMatrix, withinOneRate } from '../../metrics/agreement.js';
import { type BootstrapResult, bootstrapCi, groupByPatient } from '../../metrics/bootstrap.js';
import { expectedCalibrationError, rocAuc } from '../../metrics/probabilistic.js';

/** One scored disc: its grades (calibrated) and truth. */
export interface ScoredDisc {
  readonly patient: string;
  readonly ivdLabel: number;
  readonly pfirrmann: readonly number[];
  readonly modic: readonly number[];
  readonly findings: readonly number[];
  readonly truth: { pfirrmann?: number; modic?: number; findings: (number | undefined)[] };
}

/** A figure with its interval. */
export type Figure = BootstrapResult;

/** The figures of one set of discs. */
export interface V2Figures {
  discs: number;
  patients: number;
  pfirrmannKappa: Figure;
  balancedAccuracy: Figure;
  withinOne: Figure;
  exact: Figure;
  ece: Figure;
  modicAnyAuc: Figure;
  herniationAuc: Figure;
  /** AUC of every binary finding (point estimates). */
  findingsAuc: Record<string, number>;
  /** Linear κ per level (point estimates). */
  kappaByLevel: Record<string, number>;
  /** Rows: truth grade 1-5; columns: predicted grade 1-5. */
  confusion: number[][];
}

const GRADES = [1, 2, 3, 4, 5];

function graded(items: readonly ScoredDisc[]): ScoredDisc[] {
  return items.filter((d) => d.truth.pfirrmann !== undefined);
}

function kappaOf(items: readonly ScoredDisc[]): number {
  const g = graded(items);
  if (g.length < 2) return Number.NaN;
  return cohenKappa(
    g.map((d) => d.truth.pfirrmann as number),
    g.map((d) => topGrade(d.pfirrmann)),
    GRADES,
    'linear',
  );
}

function aucOf(
  items: readonly ScoredDisc[],
  truth: (d: ScoredDisc) => number | undefined,
  score: (d: ScoredDisc) => number,
): number {
  const labels: number[] = [];
  const scores: number[] = [];
  for (const d of items) {
    const t = truth(d);
    if (t === undefined) continue;
    labels.push(t);
    scores.push(score(d));
  }
  return labels.includes(0) && labels.includes(1) ? rocAuc(labels, scores) : Number.NaN;
}

const modicAny = (d: ScoredDisc): number | undefined =>
  d.truth.modic === undefined ? undefined : d.truth.modic > 0 ? 1 : 0;
const modicAnyScore = (d: ScoredDisc): number => 1 - (d.modic[0] as number);
const HERNIATION = BINARY_FINDINGS.indexOf('herniation');

/** The figures of a set of scored discs, intervals by resampling patients. */
export function figuresOf(items: readonly ScoredDisc[], resamples = 1000): V2Figures {
  const groups = groupByPatient(items);
  const ci = (statistic: (items: ScoredDisc[]) => number): Figure => bootstrapCi(groups, statistic, { resamples });
  const onGraded =
    (f: (t: number[], p: number[]) => number) =>
    (list: ScoredDisc[]): number => {
      const g = graded(list);
      return g.length
        ? f(
            g.map((d) => d.truth.pfirrmann as number),
            g.map((d) => topGrade(d.pfirrmann)),
          )
        : Number.NaN;
    };
  const g = graded(items);
  const kappaByLevel: Record<string, number> = {};
  for (const label of [5, 4, 3, 2, 1]) kappaByLevel[String(label)] = kappaOf(items.filter((d) => d.ivdLabel === label));
  return {
    discs: items.length,
    patients: groups.length,
    pfirrmannKappa: ci(kappaOf),
    balancedAccuracy: ci(onGraded((t, p) => balancedAccuracy(t, p, GRADES))),
    withinOne: ci(onGraded(withinOneRate)),
    exact: ci(onGraded(accuracy)),
    ece: ci((list) => {
      const h = graded(list);
      return h.length
        ? expectedCalibrationError(
            h.map((d) => d.truth.pfirrmann as number),
            h.map((d) => [...d.pfirrmann]),
            GRADES,
          ).ece
        : Number.NaN;
    }),
    modicAnyAuc: ci((list) => aucOf(list, modicAny, modicAnyScore)),
    herniationAuc: ci((list) =>
      aucOf(
        list,
        (d) => d.truth.findings[HERNIATION],
        (d) => d.findings[HERNIATION] as number,
      ),
    ),
    findingsAuc: Object.fromEntries(
      BINARY_FINDINGS.map((f, k) => [
        f,
        aucOf(
          items,
          (d) => d.truth.findings[k],
          (d) => d.findings[k] as number,
        ),
      ]),
    ),
    kappaByLevel,
    confusion: g.length
      ? confusionMatrix(
          g.map((d) => d.truth.pfirrmann as number),
          g.map((d) => topGrade(d.pfirrmann)),
          GRADES,
        )
      : [],
  };
}

/** A scored disc from per-series or fused grades and the disc's truth. */
export function scored(
  patient: string,
  ivdLabel: number,
  grades: Pick<V2Grades | V2FusedGrades, 'pfirrmann' | 'modic' | 'findings'>,
  truth: ScoredDisc['truth'],
): ScoredDisc {
  return { patient, ivdLabel, pfirrmann: grades.pfirrmann, modic: grades.modic, findings: grades.findings, truth };
}

/** The lowest review threshold (top Pfirrmann probability) at which the discs not flagged reach `targetAccuracy`. */
export function chooseReviewThreshold(
  items: readonly ScoredDisc[],
  targetAccuracy: number,
): { threshold: number; coverage: number; accuracy: number; curve: ReturnType<typeof coverageAccuracyCurve> } {
  const g = graded(items);
  const confidences = g.map((d) => Math.max(...d.pfirrmann));
  const correct = g.map((d) => topGrade(d.pfirrmann) === d.truth.pfirrmann);
  const grid = Array.from({ length: 19 }, (_, k) => k * 0.05);
  const curve = coverageAccuracyCurve(confidences, correct, grid);
  const chosen =
    curve.find((p) => p.accuracy >= targetAccuracy && p.graded > 0) ??
    (curve[curve.length - 1] as (typeof curve)[number]);
  return { threshold: chosen.threshold, coverage: chosen.coverage, accuracy: chosen.accuracy, curve };
}
