/**
 * `cohort.html`: the page a researcher looks at first after a batch — studies analysed and failed,
 * the Pfirrmann grade distribution per level, disc height by grade, the fraction flagged for review
 * per level, and the failures with their reasons. Drawn from the cohort table's rows (the same
 * numbers as `cohort.csv`), as one self-contained file: inline CSS and SVG, no scripts, nothing
 * loaded from the network (a Content-Security-Policy meta tag forbids it).
 */

import { join } from 'node:path';
import { PFIRRMANN_GRADES } from '../disc/grades.js';
import { LUMBAR_LEVELS } from '../disc/levels.js';
import { writeFileAtomic } from '../io/atomic.js';
import { RESEARCH_USE_DISCLAIMER, SPIDER_CREDIT } from '../report/findings.js';
import { escapeHtml, SELF_CONTAINED_HTML_START } from '../report/html.js';
import { pfirrmannColour } from '../report/overlayImage.js';
import { percentiles } from '../transforms/intensity.js';
import type { CohortRow } from './cohort.js';

/** What the page says about the run besides the rows. */
export interface CohortPageContext {
  /** When the table was built (ISO 8601). */
  createdAt: string;
  /** The model version of the run (the batch's resume key), shortened on the page. */
  modelVersion: string;
}

/** Five-number summary of a sample (linear-interpolated quartiles). */
export interface BoxSummary {
  n: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
}

/** The five-number summary of `values`, or undefined when there are none. */
export function boxSummary(values: readonly number[]): BoxSummary | undefined {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const [q1, median, q3] = percentiles(sorted, [25, 50, 75]) as [number, number, number];
  return { n: sorted.length, min: sorted[0]!, q1, median, q3, max: sorted[sorted.length - 1]! };
}

/** The figures the page draws, computed from the rows (exported for tests and the Node API). */
export interface CohortSummary {
  studies: { total: number; ok: number; failed: number; pending: number };
  /** Levels in display order: the lumbar ones first, then any other found. */
  levels: string[];
  /** Count of analysed rows per level and Pfirrmann grade (`gradeCounts[level][grade]`). */
  gradeCounts: Record<string, Record<number, number>>;
  /** Disc height (mm) per Pfirrmann grade. */
  heightByGrade: Record<number, BoxSummary | undefined>;
  /** Rows flagged for review per level, of the analysed rows at that level. */
  flagged: Record<string, { flagged: number; rows: number }>;
  /** All analysed rows flagged, and studies with at least one flagged level. */
  flaggedTotal: { rows: number; of: number; studies: number };
  /** Failed or unfinished studies, with why. */
  failures: {
    studyId: string;
    source: string;
    status: string;
    kind: string;
    reason: string;
    attempts: number | null;
  }[];
}

const asNumber = (value: CohortRow[keyof CohortRow]): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/** Summarises the cohort table's rows into what the page shows. */
export function summarizeCohort(rows: readonly CohortRow[]): CohortSummary {
  const statusByStudy = new Map<string, string>();
  for (const row of rows) statusByStudy.set(String(row.study_id), String(row.status));
  const statuses = [...statusByStudy.values()];
  const analysed = rows.filter((r) => r.status === 'ok' && typeof r.level === 'string');
  const found = new Set(analysed.map((r) => String(r.level)));
  const levels = [
    ...LUMBAR_LEVELS.filter((l) => found.has(l)),
    ...[...found].filter((l) => !LUMBAR_LEVELS.some((x) => x === l)).sort(),
  ];
  const gradeCounts: CohortSummary['gradeCounts'] = {};
  const flagged: CohortSummary['flagged'] = {};
  for (const level of levels) {
    gradeCounts[level] = Object.fromEntries(PFIRRMANN_GRADES.map((g) => [g, 0]));
    flagged[level] = { flagged: 0, rows: 0 };
  }
  const heights: Record<number, number[]> = Object.fromEntries(PFIRRMANN_GRADES.map((g) => [g, []]));
  const flaggedStudies = new Set<string>();
  for (const row of analysed) {
    const level = String(row.level);
    const grade = asNumber(row.pfirrmann_grade);
    if (grade !== null && gradeCounts[level]![grade] !== undefined) gradeCounts[level]![grade]!++;
    const height = asNumber(row.disc_height_mm);
    if (grade !== null && height !== null) heights[grade]?.push(height);
    flagged[level]!.rows++;
    if (row.needs_review === true) {
      flagged[level]!.flagged++;
      flaggedStudies.add(String(row.study_id));
    }
  }
  return {
    studies: {
      total: statusByStudy.size,
      ok: statuses.filter((s) => s === 'ok').length,
      failed: statuses.filter((s) => s === 'failed').length,
      pending: statuses.filter((s) => s === 'pending').length,
    },
    levels,
    gradeCounts,
    heightByGrade: Object.fromEntries(PFIRRMANN_GRADES.map((g) => [g, boxSummary(heights[g] ?? [])])),
    flagged,
    flaggedTotal: {
      rows: analysed.filter((r) => r.needs_review === true).length,
      of: analysed.length,
      studies: flaggedStudies.size,
    },
    failures: rows
      .filter((r) => r.status !== 'ok')
      .map((r) => ({
        studyId: String(r.study_id),
        source: String(r.source ?? ''),
        status: String(r.status),
        kind: String(r.error_kind ?? ''),
        reason: String(r.reason ?? ''),
        attempts: asNumber(r.attempts),
      })),
  };
}

const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

function rgb(grade: number): string {
  const [r, g, b] = pfirrmannColour(grade);
  return `rgb(${r},${g},${b})`;
}

function svg(width: number, height: number, label: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
    `role="img" aria-label="${escapeHtml(label)}">${body}</svg>`
  );
}

/** Stacked horizontal bars: per level, the share of each Pfirrmann grade, with the counts. */
function gradeChart(summary: CohortSummary): string {
  const left = 64;
  const barWidth = 480;
  const rowHeight = 28;
  const top = 8;
  const height = top + summary.levels.length * rowHeight + 28;
  const bars = summary.levels
    .map((level, n) => {
      const counts = summary.gradeCounts[level]!;
      const total = PFIRRMANN_GRADES.reduce((sum, g) => sum + (counts[g] ?? 0), 0);
      const y = top + n * rowHeight;
      let x = left;
      const segments = PFIRRMANN_GRADES.map((g) => {
        const count = counts[g] ?? 0;
        if (count === 0 || total === 0) return '';
        const w = (count / total) * barWidth;
        const rect =
          `<rect class="grade-bar" data-level="${escapeHtml(level)}" data-grade="${g}" data-count="${count}" x="${x.toFixed(1)}" y="${y}" ` +
          `width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${rgb(g)}"><title>${escapeHtml(level)}: Pfirrmann ${g}, ${count} of ${total}</title></rect>` +
          (w > 18
            ? `<text x="${(x + w / 2).toFixed(1)}" y="${y + 14}" text-anchor="middle" ${FONT}>${count}</text>`
            : '');
        x += w;
        return rect;
      }).join('');
      return `<text x="${left - 8}" y="${y + 14}" text-anchor="end" ${FONT}>${escapeHtml(level)}</text>${segments}<text x="${left + barWidth + 6}" y="${y + 14}" ${FONT} fill="#5b6470">n ${total}</text>`;
    })
    .join('');
  const legendY = top + summary.levels.length * rowHeight + 10;
  const legend = PFIRRMANN_GRADES.map(
    (g, n) =>
      `<rect x="${left + n * 92}" y="${legendY}" width="12" height="12" fill="${rgb(g)}"/><text x="${left + n * 92 + 16}" y="${legendY + 10}" ${FONT}>Pfirrmann ${g}</text>`,
  ).join('');
  return svg(left + barWidth + 60, height, 'Pfirrmann grade distribution per level', bars + legend);
}

/** Box plots of disc height (mm) per Pfirrmann grade. */
function heightChart(summary: CohortSummary): string {
  const boxes = PFIRRMANN_GRADES.map((g) => [g, summary.heightByGrade[g]] as const);
  const present = boxes.flatMap(([, b]) => (b ? [b] : []));
  if (present.length === 0) return '<p class="note">No disc heights measured.</p>';
  const lo = Math.floor(Math.min(...present.map((b) => b.min)));
  const hi = Math.ceil(Math.max(...present.map((b) => b.max)));
  const span = Math.max(1, hi - lo);
  const left = 48;
  const top = 10;
  const plotHeight = 220;
  const column = 96;
  const y = (v: number) => top + plotHeight - ((v - lo) / span) * plotHeight;
  const ticks = Array.from({ length: 5 }, (_, n) => lo + (span * n) / 4)
    .map(
      (v) =>
        `<line x1="${left}" x2="${left + column * 5}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e3e7ec"/>` +
        `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" ${FONT}>${v.toFixed(1)}</text>`,
    )
    .join('');
  const body = boxes
    .map(([g, b], n) => {
      const cx = left + column * n + column / 2;
      const label = `<text x="${cx}" y="${top + plotHeight + 18}" text-anchor="middle" ${FONT}>Pfirrmann ${g}</text>`;
      if (!b)
        return `${label}<text x="${cx}" y="${top + plotHeight / 2}" text-anchor="middle" ${FONT} fill="#5b6470">none</text>`;
      const w = 36;
      return (
        `<g class="height-box" data-grade="${g}" data-n="${b.n}" data-median="${b.median.toFixed(2)}">` +
        `<title>Pfirrmann ${g}: n ${b.n}, median ${b.median.toFixed(1)} mm, IQR ${b.q1.toFixed(1)}–${b.q3.toFixed(1)} mm, range ${b.min.toFixed(1)}–${b.max.toFixed(1)} mm</title>` +
        `<line x1="${cx}" x2="${cx}" y1="${y(b.max).toFixed(1)}" y2="${y(b.min).toFixed(1)}" stroke="#1b1f24"/>` +
        `<rect x="${cx - w / 2}" y="${y(b.q3).toFixed(1)}" width="${w}" height="${Math.max(1, y(b.q1) - y(b.q3)).toFixed(1)}" fill="${rgb(g)}" stroke="#1b1f24"/>` +
        `<line x1="${cx - w / 2}" x2="${cx + w / 2}" y1="${y(b.median).toFixed(1)}" y2="${y(b.median).toFixed(1)}" stroke="#1b1f24" stroke-width="2"/>` +
        `<text x="${cx}" y="${top + plotHeight + 32}" text-anchor="middle" ${FONT} fill="#5b6470">n ${b.n}</text></g>${label}`
      );
    })
    .join('');
  const axis = `<text x="12" y="${top + plotHeight / 2}" transform="rotate(-90 12 ${top + plotHeight / 2})" text-anchor="middle" ${FONT}>disc height, mm</text>`;
  return svg(
    left + column * 5 + 8,
    top + plotHeight + 40,
    'Disc height by Pfirrmann grade (box plots)',
    ticks + axis + body,
  );
}

/** Horizontal bars: the fraction of each level's discs flagged for review. */
function reviewChart(summary: CohortSummary): string {
  const left = 64;
  const barWidth = 360;
  const rowHeight = 26;
  const bars = summary.levels
    .map((level, n) => {
      const { flagged, rows } = summary.flagged[level]!;
      const fraction = rows > 0 ? flagged / rows : 0;
      const y = 8 + n * rowHeight;
      return (
        `<text x="${left - 8}" y="${y + 13}" text-anchor="end" ${FONT}>${escapeHtml(level)}</text>` +
        `<rect x="${left}" y="${y}" width="${barWidth}" height="${rowHeight - 8}" fill="#eef1f5"/>` +
        `<rect class="review-bar" data-level="${escapeHtml(level)}" data-fraction="${fraction.toFixed(4)}" x="${left}" y="${y}" ` +
        `width="${(fraction * barWidth).toFixed(1)}" height="${rowHeight - 8}" fill="#b07000"/>` +
        `<text x="${left + barWidth + 6}" y="${y + 13}" ${FONT}>${Math.round(fraction * 100)}% (${flagged} of ${rows})</text>`
      );
    })
    .join('');
  return svg(
    left + barWidth + 120,
    16 + summary.levels.length * rowHeight,
    'Fraction of discs flagged for review per level',
    bars,
  );
}

function failuresTable(summary: CohortSummary): string {
  if (summary.failures.length === 0) return '<p id="no-failures">No study failed.</p>';
  const rows = summary.failures
    .map(
      (f) =>
        `<tr data-study-id="${escapeHtml(f.studyId)}"><td>${escapeHtml(f.studyId)}</td><td><code>${escapeHtml(f.source)}</code></td>` +
        `<td>${escapeHtml(f.status)}</td><td>${escapeHtml(f.kind)}</td><td>${f.attempts ?? '—'}</td><td class="reason">${escapeHtml(f.reason)}</td></tr>`,
    )
    .join('\n');
  return (
    '<div class="table-scroll"><table id="failures"><thead><tr><th>Study</th><th>Source</th><th>Status</th>' +
    `<th>Kind</th><th>Attempts</th><th>Reason</th></tr></thead><tbody>\n${rows}\n</tbody></table></div>`
  );
}

function percentText(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((part / whole) * 100)}%` : '—';
}

const STYLE = `
body { margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; font: 14px/1.45 system-ui, sans-serif; color: #1b1f24; background: #fff; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-top: 1px solid #d5dae1; padding-top: 12px; }
.disclaimer { padding: 10px 14px; border: 2px solid #b3261e; border-radius: 6px; background: #fdecea; color: #b3261e; font-weight: 600; }
.counts { display: flex; gap: 24px; flex-wrap: wrap; } .counts div { font-size: 13px; color: #5b6470; } .counts strong { display: block; font-size: 22px; color: #1b1f24; }
.note { color: #5b6470; font-size: 12px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; } th, td { border-bottom: 1px solid #d5dae1; padding: 4px 6px; text-align: left; vertical-align: top; }
thead th { background: #f3f5f8; } td.reason { word-break: break-word; } .table-scroll { overflow-x: auto; }
svg { max-width: 100%; height: auto; }
footer { margin-top: 32px; color: #5b6470; font-size: 12px; border-top: 1px solid #d5dae1; padding-top: 8px; }
`;

/** The cohort page as one self-contained HTML document (see the module comment). */
export function renderCohortPage(rows: readonly CohortRow[], context: CohortPageContext): string {
  const summary = summarizeCohort(rows);
  const { studies, flaggedTotal } = summary;
  const analysedSection =
    summary.levels.length > 0
      ? `<section id="grades"><h2>Pfirrmann grade per level</h2><p class="note">Discs of the analysed studies, levels fused over each study's graded series; the count in each segment.</p>${gradeChart(summary)}</section>` +
        `<section id="heights"><h2>Disc height by Pfirrmann grade</h2><p class="note">Mean disc height (docs/measures.md): box from the first to the third quartile, line at the median, whiskers to the extremes.</p>${heightChart(summary)}</section>` +
        `<section id="review"><h2>Flagged for review</h2><p id="review-total">${flaggedTotal.rows} of ${flaggedTotal.of} discs (${percentText(flaggedTotal.rows, flaggedTotal.of)}) in ${flaggedTotal.studies} of ${studies.ok} analysed studies have a top Pfirrmann probability below the review threshold.</p>${reviewChart(summary)}</section>`
      : '<p class="note" id="no-levels">No study was analysed, so there is nothing to plot.</p>';
  return `${SELF_CONTAINED_HTML_START}
<title>spinegrade cohort — ${studies.total} studies</title>
<style>${STYLE}</style>
</head>
<body>
<h1>spinegrade cohort — ${studies.total} studies</h1>
<p class="note">Built ${escapeHtml(context.createdAt)} with model version ${escapeHtml(context.modelVersion.slice(0, 12))} from the same rows as <code>cohort.csv</code>.</p>
<p class="disclaimer">${escapeHtml(RESEARCH_USE_DISCLAIMER)}</p>
<section id="counts" class="counts">
<div>studies<strong data-count="total">${studies.total}</strong></div>
<div>analysed<strong data-count="ok">${studies.ok}</strong></div>
<div>failed<strong data-count="failed">${studies.failed}</strong></div>
<div>not finished<strong data-count="pending">${studies.pending}</strong></div>
<div>discs<strong data-count="discs">${flaggedTotal.of}</strong></div>
</section>
${analysedSection}
<section id="failures-section"><h2>Failures</h2>${failuresTable(summary)}</section>
<footer><p>${escapeHtml(SPIDER_CREDIT)}</p><p>Self-contained: this page loads nothing from the network.</p></footer>
</body>
</html>
`;
}

/** Writes `cohort.html` into `outDir` atomically (beside `cohort.csv`); returns its path. */
export async function writeCohortPage(
  rows: readonly CohortRow[],
  outDir: string,
  context: CohortPageContext,
): Promise<string> {
  const path = join(outDir, 'cohort.html');
  await writeFileAtomic(path, renderCohortPage(rows, context), { overwrite: true });
  return path;
}
