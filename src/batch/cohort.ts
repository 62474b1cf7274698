/**
 * The cohort table: one row per study × disc level, fused over the study's graded series, with every
 * grade, probability, measure, review flag and warning; one row per failed (or unfinished) study
 * saying why. Built at the end of a batch from what is on disk — each study's `findings.json` and
 * done record, or its failure record — so it is exact whatever happened to the jobs: a study
 * appears once, from its one committed output folder. Columns: {@link COHORT_COLUMNS}
 * (documented in docs/batch.md).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isFormatNote, OUTPUT_FILES } from '../analyze/outputs.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { FindingsDocument, FusedLevelFindings, SeriesFindings, StudyFindings } from '../report/findings.js';
import { type DoneRecord, type FailureRecord, readDoneRecord, readFailureRecord, studyOutputDir } from './job.js';
import type { BatchStudy } from './studies.js';

/** A cell of the table: text, number, flag, or empty. */
export type CohortValue = string | number | boolean | null;

/** One row, keyed by column name. */
export type CohortRow = Record<(typeof COHORT_COLUMNS)[number], CohortValue>;

/** The columns, in order. */
export const COHORT_COLUMNS = [
  'study_id',
  'study_key',
  'source',
  'status',
  'reason',
  'error_kind',
  'attempts',
  'source_format',
  'study_instance_uid',
  'level',
  'ivd_label',
  'series',
  'sequences',
  'n_series',
  'pfirrmann_grade',
  'pfirrmann_p1',
  'pfirrmann_p2',
  'pfirrmann_p3',
  'pfirrmann_p4',
  'pfirrmann_p5',
  'modic_type',
  'modic_p0',
  'modic_p1',
  'modic_p2',
  'modic_p3',
  'endplate_upper',
  'endplate_lower',
  'spondylolisthesis',
  'herniation',
  'bulging',
  'narrowing',
  'needs_review',
  'disc_height_anterior_mm',
  'disc_height_middle_mm',
  'disc_height_posterior_mm',
  'disc_height_mm',
  'disc_height_index',
  'signal_intensity_ratio',
  'nucleus_annulus_contrast',
  'endplate_signal_ratio',
  'listhesis_mm',
  'wedge_angle_deg',
  'disc_angle_deg',
  'possible_transitional',
  'warnings',
  'skipped_series',
  'model_version',
  'grader',
  'analysed_at',
] as const;

/** The measures, as `[column, findings.json key]`. */
const MEASURE_COLUMNS = [
  ['disc_height_anterior_mm', 'discHeightAnteriorMm'],
  ['disc_height_middle_mm', 'discHeightMiddleMm'],
  ['disc_height_posterior_mm', 'discHeightPosteriorMm'],
  ['disc_height_mm', 'discHeightMm'],
  ['disc_height_index', 'discHeightIndex'],
  ['signal_intensity_ratio', 'signalIntensityRatio'],
  ['nucleus_annulus_contrast', 'nucleusAnnulusContrast'],
  ['endplate_signal_ratio', 'endplateSignalRatio'],
  ['listhesis_mm', 'listhesisMm'],
  ['wedge_angle_deg', 'wedgeAngleDeg'],
  ['disc_angle_deg', 'discAngleDeg'],
] as const;

/** The binary findings, as `[column, findings.json key]`. */
const BINARY_COLUMNS = [
  ['endplate_upper', 'endplateUpper'],
  ['endplate_lower', 'endplateLower'],
  ['spondylolisthesis', 'spondylolisthesis'],
  ['herniation', 'herniation'],
  ['bulging', 'bulging'],
  ['narrowing', 'narrowing'],
] as const;

const round6 = (value: number | null | undefined): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? Number(value.toFixed(6)) : null;

/** A row with every column empty except the study's identity. */
function emptyRow(study: BatchStudy): CohortRow {
  const row = Object.fromEntries(COHORT_COLUMNS.map((c) => [c, null])) as CohortRow;
  row.study_id = study.id;
  row.study_key = study.key;
  row.source = study.source;
  return row;
}

/** How a series is named in the `series` column: its UID, else its description or number, else its index. */
function seriesName(series: SeriesFindings | undefined, index: number): string {
  return (
    series?.seriesInstanceUid ??
    series?.seriesDescription ??
    (series?.seriesNumber != null ? `#${series.seriesNumber}` : `series ${index}`)
  );
}

/** The rows of one analysed study: one per fused level. */
export function studyRows(
  study: BatchStudy,
  findings: FindingsDocument,
  done: Pick<DoneRecord, 'modelVersion' | 'finishedAt' | 'attempt'>,
): CohortRow[] {
  const rows: CohortRow[] = [];
  for (const found of findings.studies) {
    for (const level of found.levels) rows.push(levelRow(study, findings, found, level, done));
  }
  return rows;
}

function levelRow(
  study: BatchStudy,
  findings: FindingsDocument,
  found: StudyFindings,
  level: FusedLevelFindings,
  done: Pick<DoneRecord, 'modelVersion' | 'finishedAt' | 'attempt'>,
): CohortRow {
  const row = emptyRow(study);
  const contributing = level.fromSeries.map((n) => ({ n, series: found.series[n] }));
  row.status = 'ok';
  row.attempts = done.attempt;
  row.source_format = found.sourceFormat;
  row.study_instance_uid = found.studyInstanceUid;
  row.level = level.level;
  row.ivd_label = level.ivdLabel;
  row.series = contributing.map(({ n, series }) => seriesName(series, n)).join(';');
  row.sequences = contributing.map(({ series }) => series?.sequence ?? '').join(';');
  row.n_series = contributing.length;
  row.pfirrmann_grade = level.pfirrmann.grade;
  level.pfirrmann.probs.forEach((p, n) => {
    row[`pfirrmann_p${n + 1}` as keyof CohortRow] = round6(p);
  });
  row.modic_type = level.modic.grade;
  level.modic.probs.forEach((p, n) => {
    row[`modic_p${n}` as keyof CohortRow] = round6(p);
  });
  for (const [column, key] of BINARY_COLUMNS) row[column] = round6(level[key]);
  row.needs_review = level.needsReview;
  for (const [column, key] of MEASURE_COLUMNS) row[column] = round6(level.measures[key]);
  row.possible_transitional = contributing.some(({ series }) => series?.possibleTransitional === true);
  // Notes about the input format (no SR for PNG input) are the study's, not warnings about a level.
  const warnings = new Set(
    contributing.flatMap(({ series }) => series?.warnings ?? []).filter((w) => !isFormatNote(w)),
  );
  row.warnings = warnings.size > 0 ? [...warnings].join(' | ') : null;
  row.skipped_series = found.skipped.length;
  row.model_version = done.modelVersion.slice(0, 12);
  row.grader = findings.models.grader.variant;
  row.analysed_at = done.finishedAt;
  return row;
}

/** The row of a study that failed (or, with `failure` undefined, did not finish). */
export function failedRow(study: BatchStudy, failure: FailureRecord | undefined): CohortRow {
  const row = emptyRow(study);
  if (failure) {
    row.status = 'failed';
    row.reason = failure.reason;
    row.error_kind = failure.kind;
    row.attempts = failure.attempts;
    row.model_version = failure.modelVersion.slice(0, 12);
    row.analysed_at = failure.failedAt;
  } else {
    row.status = 'pending';
    row.reason = 'not analysed yet (the batch was interrupted; run it again to resume)';
  }
  return row;
}

/** Counts of the rows' studies. */
export interface CohortCounts {
  studies: number;
  ok: number;
  failed: number;
  pending: number;
  rows: number;
}

/**
 * Builds the table for `studies` from `outDir` (see the module comment): done studies give their
 * level rows, failed ones a row with the reason, others a `pending` row. A done study whose
 * findings.json cannot be read counts as failed, with that reason.
 */
export async function buildCohort(
  studies: readonly BatchStudy[],
  outDir: string,
  version: string,
): Promise<{ rows: CohortRow[]; counts: CohortCounts }> {
  const rows: CohortRow[] = [];
  const counts: CohortCounts = { studies: studies.length, ok: 0, failed: 0, pending: 0, rows: 0 };
  for (const study of studies) {
    const done = await readDoneRecord(outDir, study.id, version);
    if (done) {
      const path = join(studyOutputDir(outDir, study.id), OUTPUT_FILES.findings);
      let findings: FindingsDocument | undefined;
      try {
        findings = JSON.parse(await readFile(path, 'utf8')) as FindingsDocument;
      } catch (error) {
        const row = failedRow(study, undefined);
        row.status = 'failed';
        row.reason = `${path}: cannot read the findings (${error instanceof Error ? error.message : String(error)})`;
        row.error_kind = 'OUTPUT_ERROR';
        rows.push(row);
        counts.failed++;
        continue;
      }
      rows.push(...studyRows(study, findings, done));
      counts.ok++;
      continue;
    }
    const failure = await readFailureRecord(outDir, study.id, version);
    rows.push(failedRow(study, failure));
    if (failure) counts.failed++;
    else counts.pending++;
  }
  counts.rows = rows.length;
  return { rows, counts };
}

/** One CSV field (RFC 4180: quoted when it holds a comma, quote, line break or edge spaces). */
function csvField(value: CohortValue): string {
  if (value === null) return '';
  const text = typeof value === 'string' ? value : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The table as CSV text (header row, then one line per row). */
export function cohortCsv(rows: readonly CohortRow[]): string {
  const lines = [COHORT_COLUMNS.join(',')];
  for (const row of rows) lines.push(COHORT_COLUMNS.map((c) => csvField(row[c])).join(','));
  return `${lines.join('\n')}\n`;
}

/** The table as JSON Lines (one object per row, the same keys as the CSV columns). */
export function cohortJsonl(rows: readonly CohortRow[]): string {
  return rows.map((row) => `${JSON.stringify(row)}\n`).join('');
}

/** Writes `cohort.csv` and `cohort.jsonl` into `outDir`, each atomically; returns their paths. */
export async function writeCohort(rows: readonly CohortRow[], outDir: string): Promise<{ csv: string; jsonl: string }> {
  const csv = join(outDir, 'cohort.csv');
  const jsonl = join(outDir, 'cohort.jsonl');
  await writeFileAtomic(csv, cohortCsv(rows), { overwrite: true });
  await writeFileAtomic(jsonl, cohortJsonl(rows), { overwrite: true });
  return { csv, jsonl };
}
