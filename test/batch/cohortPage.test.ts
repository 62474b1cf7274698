import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COHORT_COLUMNS, type CohortRow } from '../../src/batch/cohort.js';
import { boxSummary, renderCohortPage, summarizeCohort } from '../../src/batch/cohortPage.js';
import { withPage } from '../helpers/chromium.js';

const COHORT_PNG = fileURLToPath(new URL('../../../test-output/cohort.png', import.meta.url));
const LEVELS = ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'];
const HOSTILE_REASON = 'a.mha: not a MetaImage <script>alert(1)</script> & more';

function row(values: Partial<CohortRow>): CohortRow {
  return { ...(Object.fromEntries(COHORT_COLUMNS.map((c) => [c, null])) as CohortRow), ...values };
}

/** 12 analysed studies whose grades rise towards L5/S1 and whose heights fall with grade; 2 failed, 1 pending. */
function cohortRows(): CohortRow[] {
  const rows: CohortRow[] = [];
  for (let s = 0; s < 12; s++) {
    LEVELS.forEach((level, n) => {
      const grade = 1 + Math.floor(((n + (s % 4)) * 4) / 7);
      rows.push(
        row({
          study_id: `s${s}`,
          study_key: `key${s}`,
          source: `cohort/s${s}`,
          status: 'ok',
          level,
          pfirrmann_grade: grade,
          needs_review: (s + n) % 5 === 0,
          disc_height_mm: 11 - grade * 0.9 + (s % 3) * 0.2,
        }),
      );
    });
  }
  rows.push(
    row({
      study_id: 'bad1',
      source: 'cohort/a.mha',
      status: 'failed',
      error_kind: 'INPUT_ERROR',
      reason: HOSTILE_REASON,
      attempts: 1,
    }),
    row({
      study_id: 'bad2',
      source: 'cohort/b',
      status: 'failed',
      error_kind: 'NO_SAGITTAL',
      reason: 'no sagittal series',
      attempts: 3,
    }),
    row({ study_id: 'later', source: 'cohort/c', status: 'pending', reason: 'not analysed yet' }),
  );
  return rows;
}

test('the summary counts studies, grades per level, heights per grade and flags exactly from the rows', () => {
  const rows = cohortRows();
  const summary = summarizeCohort(rows);
  assert.deepEqual(summary.studies, { total: 15, ok: 12, failed: 2, pending: 1 });
  assert.deepEqual(summary.levels, LEVELS);
  for (const level of LEVELS) {
    const mine = rows.filter((r) => r.level === level);
    for (const grade of [1, 2, 3, 4, 5]) {
      assert.equal(summary.gradeCounts[level]![grade], mine.filter((r) => r.pfirrmann_grade === grade).length);
    }
    assert.deepEqual(summary.flagged[level], {
      flagged: mine.filter((r) => r.needs_review === true).length,
      rows: mine.length,
    });
  }
  const heights3 = rows.filter((r) => r.pfirrmann_grade === 3).map((r) => r.disc_height_mm as number);
  assert.equal(summary.heightByGrade[3]?.n, heights3.length);
  assert.equal(summary.flaggedTotal.of, 60);
  assert.equal(summary.failures.length, 3);
  assert.deepEqual(
    summary.failures.map((f) => f.studyId),
    ['bad1', 'bad2', 'later'],
  );
});

test('the five-number summary interpolates quartiles and skips non-finite values', () => {
  assert.deepEqual(boxSummary([4, 1, 3, 2, Number.NaN]), { n: 4, min: 1, q1: 1.75, median: 2.5, q3: 3.25, max: 4 });
  assert.equal(boxSummary([]), undefined);
});

test('the page is self-contained (no script, no URL) and shows a failure reason as text', () => {
  const html = renderCohortPage(cohortRows(), { createdAt: '2026-12-06T22:00:00Z', modelVersion: 'f'.repeat(64) });
  assert.equal(html.match(/<script/gi)?.length ?? 0, 0);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  assert.ok(html.includes('not a MetaImage &lt;script&gt;alert(1)&lt;/script&gt; &amp; more'));
  assert.match(html, /Content-Security-Policy/);
});

test('in headless Chromium the cohort page draws the grade bars, height boxes and review bars it computed, and lists the failures', async (t) => {
  const rows = cohortRows();
  const summary = summarizeCohort(rows);
  const html = renderCohortPage(rows, { createdAt: '2026-12-06T22:00:00Z', modelVersion: 'f'.repeat(64) });
  await withPage(t, async (page, problems) => {
    const requests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('data:') && request.url() !== 'about:blank') requests.push(request.url());
    });
    await page.setContent(html, { waitUntil: 'load' });
    for (const level of LEVELS) {
      const segments = await page
        .locator(`rect.grade-bar[data-level="${level}"]`)
        .evaluateAll((els) =>
          els.map((e) => [Number(e.getAttribute('data-grade')), Number(e.getAttribute('data-count'))]),
        );
      const expected = Object.entries(summary.gradeCounts[level]!)
        .filter(([, count]) => count > 0)
        .map(([grade, count]) => [Number(grade), count]);
      assert.deepEqual(segments, expected, level);
      const fraction = Number(
        await page.locator(`rect.review-bar[data-level="${level}"]`).getAttribute('data-fraction'),
      );
      const { flagged, rows: n } = summary.flagged[level]!;
      assert.ok(Math.abs(fraction - flagged / n) < 1e-4, `${level} review fraction`);
    }
    // Heights fall with grade in this cohort, and the boxes' medians say so.
    const medians = await page
      .locator('g.height-box')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-median'))));
    assert.equal(medians.length, 5);
    for (let n = 1; n < medians.length; n++) assert.ok(medians[n]! < medians[n - 1]!, 'medians fall with grade');
    const failures = await page.locator('#failures tbody tr').allTextContents();
    assert.equal(failures.length, 3);
    assert.ok(failures[0]!.includes(HOSTILE_REASON), 'the reason is shown as text');
    assert.equal(await page.locator('script').count(), 0);
    assert.ok(await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth'));
    assert.deepEqual(requests, [], 'no network requests');
    assert.deepEqual(problems, []);
    await mkdir(dirname(COHORT_PNG), { recursive: true });
    await page.screenshot({ path: COHORT_PNG, fullPage: true });
    assert.ok((await stat(COHORT_PNG)).size > 10_000);
  });
});
