import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildCohort, COHORT_COLUMNS, type CohortRow, cohortCsv, writeCohort } from '../../src/batch/cohort.js';
import { writeCohortPage } from '../../src/batch/cohortPage.js';
import { DONE_RECORD, studyOutputDir, writeFailureRecord } from '../../src/batch/job.js';
import { formatBatchStatus, formatDuration } from '../../src/batch/progress.js';
import type { BatchStudy } from '../../src/batch/studies.js';
import {
  FINDINGS_VERSION,
  type FindingsDocument,
  type FusedLevelFindings,
  type SeriesFindings,
} from '../../src/report/findings.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const MEASURES = {
  discHeightAnteriorMm: 9.1,
  discHeightMiddleMm: 10.2,
  discHeightPosteriorMm: 7.3,
  discHeightMm: 8.866667,
  discHeightIndex: 0.31,
  signalIntensityRatio: null,
  nucleusAnnulusContrast: 1.2,
  endplateSignalRatio: 0.9,
  listhesisMm: 0.4,
  wedgeAngleDeg: 2.5,
  discAngleDeg: 11,
};

function level(name: string, ivdLabel: number, fromSeries: number[]): FusedLevelFindings {
  return {
    level: name,
    ivdLabel,
    pfirrmann: { grade: 3, probs: [0.05, 0.15, 0.5, 0.2, 0.1] },
    modic: { grade: 0, probs: [0.9, 0.05, 0.03, 0.02] },
    needsReview: false,
    measures: MEASURES,
    endplateUpper: 0.1,
    endplateLower: 0.2,
    spondylolisthesis: 0.01,
    herniation: 0.7,
    bulging: 0.3,
    narrowing: 0.123_456_789,
    fromSeries,
  };
}

function series(uid: string | null, sequence: string, warnings: string[]): SeriesFindings {
  return {
    seriesInstanceUid: uid,
    seriesDescription: 'sag T2',
    seriesNumber: 3,
    sequence,
    selection: 'first',
    midSagittalSlice: 5,
    midSagittalSopInstanceUid: null,
    sliceSize: [256, 256],
    pixelSpacing: [1, 1],
    slicesGraded: 5,
    levelVote: { slices: 5, agreeing: 5, offsetApplied: 0 },
    levelOverride: 0,
    possibleTransitional: sequence === 'T1',
    warnings,
    discs: [],
    vertebrae: [],
  };
}

const FINDINGS = {
  schema: 'spinegrade/findings',
  version: FINDINGS_VERSION,
  createdAt: '2026-01-01T00:00:00.000Z',
  software: { name: 'spinegrade', version: '0.1.0' },
  disclaimer: 'Research use only.',
  credit: 'SPIDER',
  models: {
    grader: { dir: '/m/grader', variant: 'hybrid', accuracy: [] },
    localizer: { dir: '/m/localizer', variant: 'localizer', accuracy: [] },
  },
  reviewThreshold: 0.5,
  studies: [
    {
      key: '1.2.3',
      studyInstanceUid: '1.2.3',
      sourceFormat: 'dicom',
      series: [
        series('1.2.3.4', 'T2', ['motion, "ghosting"']),
        series('1.2.3.5', 'T1', ['low SNR', 'motion, "ghosting"']),
      ],
      levels: [level('L4/L5', 2, [0, 1]), level('L5/S1', 1, [0])],
      skipped: [{ seriesInstanceUid: '1.2.3.9', seriesDescription: 'axial', reasons: ['axial'] }],
    },
  ],
} satisfies FindingsDocument;

const study = (id: string): BatchStudy => ({
  key: `key of ${id}`,
  id,
  inputs: [`/in/${id}`],
  source: `in/${id}`,
  format: 'dicom',
});

test('the cohort table: one row per study × level, failed studies with their reason, unfinished ones marked', async (t) => {
  const out = await tempFolder(t);
  const version = 'a'.repeat(64);
  const folder = studyOutputDir(out, 'ok');
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'findings.json'), JSON.stringify(FINDINGS));
  await writeFile(
    join(folder, DONE_RECORD),
    JSON.stringify({
      schema: 'spinegrade/batch-study',
      modelVersion: version,
      attempt: 2,
      finishedAt: '2026-01-02T00:00:00Z',
    }),
  );
  await writeFailureRecord(out, {
    schema: 'spinegrade/batch-failure',
    version: 1,
    studyKey: 'key of bad',
    studyId: 'bad',
    inputs: ['/in/bad'],
    modelVersion: version,
    reason: '/in/bad/x.dcm: DICOM file is truncated',
    kind: 'TRUNCATED',
    attempts: 1,
    worker: null,
    failedAt: '2026-01-02T00:00:01Z',
  });
  const { rows, counts } = await buildCohort([study('ok'), study('bad'), study('todo')], out, version);
  assert.deepEqual(counts, { studies: 3, ok: 1, failed: 1, pending: 1, rows: 4 });
  const [l4, l5, bad, todo] = rows as [CohortRow, CohortRow, CohortRow, CohortRow];
  assert.equal(l4.study_id, 'ok');
  assert.equal(l4.study_key, 'key of ok');
  assert.equal(l4.status, 'ok');
  assert.equal(l4.level, 'L4/L5');
  assert.equal(l4.series, '1.2.3.4;1.2.3.5');
  assert.equal(l4.sequences, 'T2;T1');
  assert.equal(l4.n_series, 2);
  assert.deepEqual(
    [l4.pfirrmann_grade, l4.pfirrmann_p1, l4.pfirrmann_p3, l4.modic_type, l4.modic_p0],
    [3, 0.05, 0.5, 0, 0.9],
  );
  assert.equal(l4.narrowing, 0.123457, 'six decimals');
  assert.equal(l4.signal_intensity_ratio, null);
  assert.equal(l4.disc_angle_deg, 11);
  assert.equal(l4.possible_transitional, true);
  assert.equal(l4.warnings, 'motion, "ghosting" | low SNR');
  assert.equal(l4.skipped_series, 1);
  assert.equal(l4.attempts, 2);
  assert.equal(l4.model_version, 'a'.repeat(12));
  assert.equal(l4.grader, 'hybrid');
  assert.equal(l5.series, '1.2.3.4');
  assert.equal(l5.possible_transitional, false);
  assert.deepEqual(
    [bad.status, bad.error_kind, bad.reason, bad.level],
    ['failed', 'TRUNCATED', '/in/bad/x.dcm: DICOM file is truncated', null],
  );
  assert.equal(todo.status, 'pending');

  // Another model version: nothing on disk counts.
  const other = await buildCohort([study('ok'), study('bad')], out, 'b'.repeat(64));
  assert.deepEqual(other.counts, { studies: 2, ok: 0, failed: 0, pending: 2, rows: 2 });

  const files = await writeCohort(rows, out);
  const page = await readFile(
    await writeCohortPage(rows, out, { createdAt: '2026-01-01T00:00:00Z', modelVersion: 'a'.repeat(64) }),
    'utf8',
  );
  assert.match(page, /^<!doctype html>/);
  const studies = new Set(rows.map((r) => r.study_id)).size;
  assert.ok(page.includes(`data-count="total">${studies}<`), 'the page beside the CSV counts the same studies');
  const csv = await readFile(files.csv, 'utf8');
  const lines = csv.trimEnd().split('\n');
  assert.equal(lines[0], COHORT_COLUMNS.join(','));
  assert.equal(lines.length, 5);
  assert.ok(lines[1]?.includes(',"motion, ""ghosting"" | low SNR",'), 'RFC 4180 quoting');
  const jsonl = (await readFile(files.jsonl, 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as CohortRow);
  assert.deepEqual(jsonl, rows);
  assert.equal(cohortCsv([]), `${COHORT_COLUMNS.join(',')}\n`);
});

test('docs/batch.md documents every cohort column', async () => {
  const docs = await readFile(join(REPO_ROOT, 'docs/batch.md'), 'utf8');
  const missing = COHORT_COLUMNS.filter((column) => !docs.includes(`\`${column}\``));
  assert.deepEqual(missing, []);
});

test('the status line shows done, failed, running, rate and time left', () => {
  assert.equal(formatDuration(12_400), '12s');
  assert.equal(formatDuration(245_000), '4m 05s');
  assert.equal(formatDuration(3_720_000), '1h 02m');
  assert.equal(
    formatBatchStatus({ total: 40, done: 12, failed: 1, running: 2, workers: 2, settledThisRun: 10 }, 120_000),
    'batch 12/40 done · 1 failed · 2 running · 2 workers · 5.0 studies/min · ETA 5m 24s',
  );
  assert.equal(
    formatBatchStatus({ total: 3, done: 0, failed: 0, settledThisRun: 0 }, 1000),
    'batch 0/3 done · 0 failed · rate pending',
  );
});
