/** The evaluation as a text table, with the human and published reference figures beside Pfirrmann. */
import { PFIRRMANN_REFERENCES, REFERENCE_SOURCES } from './references.js';
import type { BinarySection, Evaluation, GradedSection, MetricRow } from './score.js';

const fmt = (v: number): string => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));

function formatRow(row: MetricRow, references = ''): string {
  const { value, lower, upper } = row.estimate;
  const ci = Number.isNaN(lower) ? '' : `[${fmt(lower)}, ${fmt(upper)}]`;
  return `  ${row.measure.padEnd(34)} ${fmt(value).padStart(6)}  ${ci.padEnd(16)} ${references}`.trimEnd();
}

function gradedBlock(title: string, section: GradedSection, withReferences: boolean): string[] {
  const lines = [
    `${title}: ${section.discs} discs, ${section.patients} patients${section.missed ? `, ${section.missed} missed (scored as wrong)` : ''}`,
    `  ${'measure'.padEnd(34)} ${'value'.padStart(6)}  ${'95% CI'.padEnd(16)} ${withReferences ? 'reference' : ''}`.trimEnd(),
  ];
  for (const row of section.rows) {
    const refs = withReferences
      ? (PFIRRMANN_REFERENCES[row.measure] ?? []).map((r) => `${r.label} ${r.value}`).join(' · ')
      : '';
    lines.push(formatRow(row, refs));
  }
  lines.push(
    `  confusion (rows truth ${section.classes.join('/')}, columns predicted): ${section.confusion.map((r) => r.join(' ')).join(' | ')}`,
  );
  return lines;
}

function binaryLine(section: BinarySection): string[] {
  const [auc, balanced, brier] = section.rows as [MetricRow, MetricRow, MetricRow];
  const ci = (r: MetricRow): string =>
    Number.isNaN(r.estimate.lower) ? '' : ` [${fmt(r.estimate.lower)}, ${fmt(r.estimate.upper)}]`;
  return [
    `  ${section.finding.padEnd(22)} n ${String(section.discs).padStart(4)} pos ${String(section.positives).padStart(4)}  ` +
      `AUC ${fmt(auc.estimate.value)}${ci(auc)}  bal.acc ${fmt(balanced.estimate.value)}${ci(balanced)}  Brier ${fmt(brier.estimate.value)}`,
  ];
}

/** Formats the whole evaluation for a terminal. */
export function formatEvaluation(evaluation: Evaluation, header: readonly string[]): string {
  const lines: string[] = [...header, ''];
  lines.push(
    ...gradedBlock('Pfirrmann, per patient-disc (fused over series), L1/L2-L5/S1', evaluation.pfirrmannFused, true),
    '',
  );
  lines.push(...gradedBlock('Pfirrmann, per series', evaluation.pfirrmannPerSeries, true).slice(0, -1), '');
  for (const [sequence, section] of Object.entries(evaluation.pfirrmannPerSequence)) {
    const kappa = section.rows.find((r) => r.measure === 'kappa (linear)')!;
    const balanced = section.rows.find((r) => r.measure === 'balanced accuracy')!;
    lines.push(
      `  ${sequence.padEnd(8)} ${String(section.discs).padStart(5)} discs  kappa (linear) ${fmt(kappa.estimate.value)} [${fmt(kappa.estimate.lower)}, ${fmt(kappa.estimate.upper)}]` +
        `  balanced accuracy ${fmt(balanced.estimate.value)} [${fmt(balanced.estimate.lower)}, ${fmt(balanced.estimate.upper)}]`,
    );
  }
  lines.push('', `Modic type 0-3, per patient-disc: ${evaluation.modicFused.discs} discs`);
  for (const row of evaluation.modicFused.rows.filter((r) => /kappa \(unweighted\)|balanced accuracy/.test(r.measure)))
    lines.push(formatRow(row));
  lines.push('', 'Other findings, per patient-disc (fused):');
  lines.push(...binaryLine(evaluation.modicAnyFused));
  for (const section of evaluation.binaryFused) lines.push(...binaryLine(section));
  lines.push('');
  if (evaluation.localisation) {
    const l = evaluation.localisation;
    lines.push(`Localisation (T2 disc keypoints): ${l.found}/${l.keypoints} keypoints, ${l.patients} patients`);
    for (const row of l.rows) lines.push(formatRow(row));
  } else {
    lines.push('Localisation: not scored (the dataset has no disc keypoints)');
  }
  if (evaluation.dice) {
    lines.push(`Segmentation: ${evaluation.dice.slices} mask slices, ${evaluation.dice.patients} patients`);
    for (const row of evaluation.dice.rows) lines.push(formatRow(row));
  }
  if (evaluation.notes.length) lines.push('', ...evaluation.notes.map((n) => `note: ${n}`));
  lines.push(
    '',
    'CIs: 95% percentile bootstrap over patients. Missed discs count as wrong.',
    ...REFERENCE_SOURCES.map((s) => `reference: ${s}`),
  );
  return lines.join('\n');
}
