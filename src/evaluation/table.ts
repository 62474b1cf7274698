/** The evaluation as a text table, with the human and published reference figures beside Pfirrmann. */
import { PFIRRMANN_REFERENCES, REFERENCE_SOURCES } from './references.js';
import type { BinarySection, Evaluation, GradedSection, MetricRow } from './score.js';

/** Published anchors and the project's targets beside the localisation rows (keyed by sequence). */
const LOCALISATION_REFERENCES: Record<string, string> = {
  T2: 'SpineNet 95.6% · VERIDAH 98.3% · target 99%',
  T1: 'target 97%',
};

/** The SPIDER 3D baseline (van der Graaf et al. 2024) and the project's targets beside the Dice rows. */
const DICE_REFERENCES: Record<string, string> = {
  'Dice disc': 'SPIDER 3D baseline 0.84 · target 0.90',
  'Dice vertebra': 'SPIDER 3D baseline 0.93 · target 0.94',
  'Dice spinal canal': 'SPIDER 3D baseline 0.92 · target 0.93',
};

const fmtOrNa = (v: number | null, digits: number): string => (v === null ? 'n/a' : v.toFixed(digits));

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
    lines.push(
      `Localisation (T2 disc keypoints): ${l.keypoints} keypoints, ${l.patients} patients: ${l.found} found at the right level (<= ${l.toleranceMm} mm)`,
    );
    if (l.t1.keypoints > 0)
      lines.push(
        `  T1: ${l.t1.keypoints} T2 keypoints carried over to the same patient's T1 (same field of view), ${l.t1.patients} patients: ${l.t1.found} found at the right level (<= ${l.toleranceMm} mm); ${l.t1.seriesWithOtherFieldOfView} T1 series with another field of view not checked`,
      );
    for (const row of l.rows) lines.push(formatRow(row, LOCALISATION_REFERENCES[row.measure.slice(0, 2)] ?? ''));
  } else {
    lines.push('Localisation: not scored (the dataset has no disc keypoints)');
  }
  if (evaluation.dice) {
    lines.push(`Segmentation: ${evaluation.dice.slices} mask slices, ${evaluation.dice.patients} patients`);
    for (const row of evaluation.dice.rows) lines.push(formatRow(row, DICE_REFERENCES[row.measure] ?? ''));
  }
  if (evaluation.measuresByGrade) {
    lines.push(
      '',
      'Disc measures by reference Pfirrmann grade (series discs at their localised level; means):',
      `  ${'grade'.padEnd(6)} ${'discs'.padStart(6)} ${'height mm'.padStart(10)} ${'DHI'.padStart(7)} ${'SIR (T2)'.padStart(9)}`,
      ...evaluation.measuresByGrade.map(
        (m) =>
          `  ${String(m.grade).padEnd(6)} ${String(m.discs).padStart(6)} ${fmtOrNa(m.discHeightMm, 2).padStart(10)} ${fmtOrNa(m.discHeightIndex, 3).padStart(7)} ${fmtOrNa(m.signalIntensityRatioT2, 3).padStart(9)}`,
      ),
    );
  }
  if (evaluation.notes.length) lines.push('', ...evaluation.notes.map((n) => `note: ${n}`));
  lines.push(
    '',
    'CIs: 95% percentile bootstrap over patients. Missed discs count as wrong.',
    ...REFERENCE_SOURCES.map((s) => `reference: ${s}`),
  );
  return lines.join('\n');
}
