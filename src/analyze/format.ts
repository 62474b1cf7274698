/** `findings.json` as text for a terminal: per study, a table of the fused levels, then each series. */
import type {
  DiscFindings,
  FindingsDocument,
  FusedLevelFindings,
  SeriesFindings,
  StudyFindings,
} from '../report/findings.js';

type Row = Omit<DiscFindings, 'geometry' | 'shap'> | FusedLevelFindings;

const COLUMNS: readonly [string, number][] = [
  ['level', 7],
  ['Pfirrmann', 12],
  ['Modic', 12],
  ['herniation', 10],
  ['bulging', 7],
  ['narrowing', 9],
  ['endplates up/low', 16],
  ['listhesis', 9],
  ['disc height', 11],
  ['canal AP', 8],
  ['review', 6],
];

const p2 = (p: number): string => p.toFixed(2);

function cells(row: Row): string[] {
  const top = (probs: readonly number[]): number => Math.max(...probs);
  const height = row.measures.discHeightMm;
  return [
    row.level,
    `${row.pfirrmann.grade} (p ${p2(top(row.pfirrmann.probs))})`,
    `${row.modic.grade} (p ${p2(top(row.modic.probs))})`,
    p2(row.herniation),
    p2(row.bulging),
    p2(row.narrowing),
    `${p2(row.endplateUpper)}/${p2(row.endplateLower)}`,
    p2(row.spondylolisthesis),
    Number.isFinite(height) ? `${height.toFixed(1)} mm` : '—',
    typeof row.measures.canalApMm === 'number' ? `${row.measures.canalApMm.toFixed(1)} mm` : '—',
    row.needsReview ? 'yes' : '',
  ];
}

/** A table of discs: one line per level, top to bottom. */
export function levelTable(rows: readonly Row[], indent = '  '): string[] {
  const line = (values: readonly string[]): string =>
    `${indent}${values.map((v, n) => v.padEnd((COLUMNS[n] as [string, number])[1])).join('  ')}`.trimEnd();
  return [line(COLUMNS.map(([name]) => name)), ...rows.map((row) => line(cells(row)))];
}

function seriesName(series: SeriesFindings, index: number): string {
  const parts = [
    `Series ${index + 1}: ${series.sequence}`,
    series.seriesDescription ? `"${series.seriesDescription}"` : undefined,
    series.seriesNumber !== null ? `#${series.seriesNumber}` : undefined,
  ];
  return parts.filter(Boolean).join(' ');
}

function seriesLines(series: SeriesFindings, index: number, withTable: boolean): string[] {
  const vote = series.levelVote;
  const facts = [
    `mid-sagittal slice ${series.midSagittalSlice}`,
    `${series.slicesGraded} slice(s) graded`,
    `levels voted by ${vote.agreeing} of ${vote.slices} slice(s)${vote.offsetApplied ? ` (shifted ${vote.offsetApplied})` : ''}`,
  ];
  if (series.levelOverride !== 0)
    facts.push(`override: ${series.levelOverride > 0 ? '+' : ''}${series.levelOverride} level(s)`);
  const lines = [`${seriesName(series, index)} — ${facts.join(', ')}`];
  if (withTable) lines.push(...levelTable(series.discs));
  for (const warning of series.warnings) lines.push(`  warning: ${warning}`);
  return lines;
}

function studyLines(study: StudyFindings): string[] {
  const title = study.studyInstanceUid ? `Study ${study.studyInstanceUid}` : study.key;
  const lines = [
    `${title} (${study.sourceFormat}): ${study.series.length} series graded${study.skipped.length ? `, ${study.skipped.length} skipped` : ''}`,
  ];
  if (study.series.length > 0) {
    const from = study.series.map((s, n) => `${n + 1} (${s.sequence})`).join(' + ');
    lines.push(
      study.series.length > 1
        ? `Levels, fused over series ${from} (probabilities averaged; the columns after Modic are probabilities):`
        : 'Levels (the columns after Modic are probabilities):',
    );
    lines.push(...levelTable(study.levels));
  }
  study.series.forEach((series, n) => {
    lines.push(...seriesLines(series, n, study.series.length > 1));
  });
  for (const skipped of study.skipped) {
    const name = skipped.seriesDescription
      ? `"${skipped.seriesDescription}"`
      : (skipped.seriesInstanceUid ?? 'a series');
    lines.push(`Skipped ${name}: ${skipped.reasons.join('; ')}`);
  }
  return lines;
}

/** The whole findings document as text (ends with the research-use disclaimer). */
export function formatFindings(findings: FindingsDocument): string {
  const blocks = findings.studies.map((study) => studyLines(study).join('\n'));
  return [...blocks, findings.disclaimer].join('\n\n');
}
