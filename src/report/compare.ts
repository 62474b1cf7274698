/**
 * Comparing two studies of one patient (`spinegrade compare`): levels matched by name, per level the
 * probability that each grade and finding changed (from both studies' calibrated distributions,
 * taken as independent) and the change in each measure against its measured repeatability
 * coefficient, so that a change smaller than the noise is said to be within noise. Data in, data
 * out: `comparison.json` (a versioned schema, docs/compare.md) and a self-contained HTML page.
 */
import { BINARY_FINDINGS, type BinaryFinding } from '../disc/findings.js';
import type { GradedFinding } from '../disc/grades.js';
import {
  type FindingsDocument,
  type FusedLevelFindings,
  RESEARCH_USE_DISCLAIMER,
  type StudyFindings,
} from './findings.js';
import { escapeHtml, pngImage, SELF_CONTAINED_HTML_START } from './html.js';

/** Schema identifier of `comparison.json`. */
export const COMPARISON_SCHEMA = 'spinegrade/comparison' as const;
/** Version of the comparison schema (semver: minor = fields added). */
export const COMPARISON_VERSION = '1.0.0' as const;

/** The measures compared, in table order. */
export const COMPARED_MEASURES = ['discHeightMm', 'discHeightIndex', 'signalIntensityRatio', 'canalApMm'] as const;
/** A compared measure (a key of the findings' `measures`). */
export type ComparedMeasure = (typeof COMPARED_MEASURES)[number];

/** Repeatability coefficients per measure (null: not measured) and where they come from. */
export interface ComparisonNoise {
  source: string;
  coefficients: Record<ComparedMeasure, number | null>;
}

/** A graded finding in both studies. */
export interface GradeChange {
  baseline: number;
  followUp: number;
  /** Probability that the true grade differs: 1 − Σₖ p_baseline(k)·p_followUp(k). */
  probabilityChanged: number;
}

/** A binary finding in both studies. */
export interface FindingChange {
  baseline: number;
  followUp: number;
  /** Probability that presence differs: p_b(1 − p_f) + (1 − p_b)p_f. */
  probabilityChanged: number;
}

/** A measure in both studies. */
export interface MeasureChange {
  baseline: number | null;
  followUp: number | null;
  /** Follow-up minus baseline, or null when either is missing. */
  change: number | null;
  repeatabilityCoefficient: number | null;
  /** True when |change| < the repeatability coefficient; null when either is unknown. */
  withinNoise: boolean | null;
}

/** One level found in both studies. */
export interface LevelChange {
  level: string;
  pfirrmann: GradeChange;
  modic: GradeChange;
  findings: Record<BinaryFinding, FindingChange>;
  measures: Record<ComparedMeasure, MeasureChange>;
}

/** Which study a side of the comparison is. */
export interface ComparedStudy {
  key: string;
  studyInstanceUid: string | null;
  analysedAt: string;
  findingsVersion: string;
}

/** The whole `comparison.json`. */
export interface StudyComparison {
  schema: typeof COMPARISON_SCHEMA;
  version: typeof COMPARISON_VERSION;
  createdAt: string;
  disclaimer: string;
  baseline: ComparedStudy;
  followUp: ComparedStudy;
  noise: ComparisonNoise;
  levels: LevelChange[];
  onlyInBaseline: string[];
  onlyInFollowUp: string[];
}

/** Probability that two independent draws from class distributions differ. */
export function probabilityDifferent(a: readonly number[], b: readonly number[]): number {
  let same = 0;
  for (let k = 0; k < Math.min(a.length, b.length); k++) same += (a[k] ?? 0) * (b[k] ?? 0);
  return Math.min(1, Math.max(0, 1 - same));
}

function gradeChange(a: GradedFinding, b: GradedFinding): GradeChange {
  return {
    baseline: a.grade,
    followUp: b.grade,
    probabilityChanged: round(probabilityDifferent(a.probs, b.probs)),
  };
}

const round = (v: number): number => Math.round(v * 10000) / 10000;

function measureChange(a: number | null | undefined, b: number | null | undefined, rc: number | null): MeasureChange {
  const baseline = typeof a === 'number' && Number.isFinite(a) ? a : null;
  const followUp = typeof b === 'number' && Number.isFinite(b) ? b : null;
  const change = baseline !== null && followUp !== null ? round(followUp - baseline) : null;
  return {
    baseline,
    followUp,
    change,
    repeatabilityCoefficient: rc,
    withinNoise: change === null || rc === null ? null : Math.abs(change) < rc,
  };
}

function levelChange(a: FusedLevelFindings, b: FusedLevelFindings, noise: ComparisonNoise): LevelChange {
  const findings = Object.fromEntries(
    BINARY_FINDINGS.map((f) => {
      const pa = a[f];
      const pb = b[f];
      return [f, { baseline: pa, followUp: pb, probabilityChanged: round(pa * (1 - pb) + (1 - pa) * pb) }];
    }),
  ) as Record<BinaryFinding, FindingChange>;
  const measures = Object.fromEntries(
    COMPARED_MEASURES.map((m) => [m, measureChange(a.measures[m], b.measures[m], noise.coefficients[m])]),
  ) as Record<ComparedMeasure, MeasureChange>;
  return {
    level: a.level,
    pfirrmann: gradeChange(a.pfirrmann, b.pfirrmann),
    modic: gradeChange(a.modic, b.modic),
    findings,
    measures,
  };
}

function side(document: FindingsDocument, study: StudyFindings): ComparedStudy {
  return {
    key: study.key,
    studyInstanceUid: study.studyInstanceUid,
    analysedAt: document.createdAt,
    findingsVersion: document.version,
  };
}

/**
 * Compares the first study of `baseline` with the first study of `followUp`: levels matched by
 * name (the fused levels), in the follow-up's order.
 */
export function compareFindings(
  baseline: FindingsDocument,
  followUp: FindingsDocument,
  noise: ComparisonNoise,
  now: Date = new Date(),
): StudyComparison {
  const a = baseline.studies[0];
  const b = followUp.studies[0];
  if (!a || !b) throw new RangeError('compare: each findings document needs a study');
  const before = new Map(a.levels.map((l) => [l.level, l]));
  const after = new Map(b.levels.map((l) => [l.level, l]));
  return {
    schema: COMPARISON_SCHEMA,
    version: COMPARISON_VERSION,
    createdAt: now.toISOString(),
    disclaimer: RESEARCH_USE_DISCLAIMER,
    baseline: side(baseline, a),
    followUp: side(followUp, b),
    noise,
    levels: b.levels.flatMap((level) => {
      const earlier = before.get(level.level);
      return earlier ? [levelChange(earlier, level, noise)] : [];
    }),
    onlyInBaseline: a.levels.filter((l) => !after.has(l.level)).map((l) => l.level),
    onlyInFollowUp: b.levels.filter((l) => !before.has(l.level)).map((l) => l.level),
  };
}

const MEASURE_TITLES: Readonly<Record<ComparedMeasure, { title: string; unit: string; digits: number }>> = {
  discHeightMm: { title: 'Disc height', unit: 'mm', digits: 1 },
  discHeightIndex: { title: 'DHI', unit: '', digits: 2 },
  signalIntensityRatio: { title: 'Signal ratio', unit: '', digits: 2 },
  canalApMm: { title: 'Canal AP', unit: 'mm', digits: 1 },
};

function num(v: number | null, digits: number): string {
  return v === null ? '—' : v.toFixed(digits);
}

/** What a measure change cell says, e.g. `7.9 → 7.1 (−0.8; within noise ±1.1)`. */
export function measureChangeText(change: MeasureChange, digits: number): string {
  if (change.change === null) return `${num(change.baseline, digits)} → ${num(change.followUp, digits)}`;
  const shown = Number(change.change.toFixed(digits)) || 0;
  const sign = shown > 0 ? '+' : '';
  const noise =
    change.withinNoise === null
      ? 'noise not measured'
      : `${change.withinNoise ? 'within noise' : 'beyond noise'} ±${num(change.repeatabilityCoefficient, digits)}`;
  return `${num(change.baseline, digits)} → ${num(change.followUp, digits)} (${sign}${shown.toFixed(digits)}; ${noise})`;
}

function gradeCell(name: string, change: GradeChange): string {
  const moved = change.baseline !== change.followUp;
  return (
    `<td class="grade${moved ? ' moved' : ''}" data-p-changed="${change.probabilityChanged}">${name} ${change.baseline} → ${change.followUp}` +
    ` <small>p changed ${change.probabilityChanged.toFixed(2)}</small></td>`
  );
}

/** The comparison page: the two mid-sagittal overlays side by side and the change table. */
export function renderComparisonHtml(
  comparison: StudyComparison,
  overlays: { baseline?: Uint8Array; followUp?: Uint8Array } = {},
): string {
  const figure = (label: string, study: ComparedStudy, png: Uint8Array | undefined, id: string) =>
    `<figure id="${id}"><figcaption><strong>${label}</strong> ${escapeHtml(study.key)} · analysed ${escapeHtml(study.analysedAt)}</figcaption>` +
    (png
      ? pngImage(png, `${label}: mid-sagittal slice with the discs outlined by grade`, 'class="overlay"')
      : '<p class="note">No overlay picture.</p>') +
    '</figure>';
  const head =
    '<tr><th>Level</th><th>Pfirrmann</th><th>Modic</th>' +
    COMPARED_MEASURES.map((m) => {
      const t = MEASURE_TITLES[m];
      return `<th>${t.title}${t.unit ? ` <small>${t.unit}</small>` : ''}</th>`;
    }).join('') +
    '<th>Findings that may have changed <small>p changed ≥ 0.5</small></th></tr>';
  const rows = comparison.levels
    .map((l) => {
      const measures = COMPARED_MEASURES.map((m) => {
        const c = l.measures[m];
        const state = c.withinNoise === null ? '' : c.withinNoise ? ' within-noise' : ' beyond-noise';
        return `<td class="measure${state}" data-measure="${m}">${escapeHtml(measureChangeText(c, MEASURE_TITLES[m].digits))}</td>`;
      }).join('');
      const changed = BINARY_FINDINGS.filter((f) => l.findings[f].probabilityChanged >= 0.5)
        .map(
          (f) =>
            `${f} ${l.findings[f].baseline.toFixed(2)} → ${l.findings[f].followUp.toFixed(2)} (p changed ${l.findings[f].probabilityChanged.toFixed(2)})`,
        )
        .join('; ');
      return (
        `<tr data-level="${escapeHtml(l.level)}"><th scope="row">${escapeHtml(l.level)}</th>` +
        gradeCell('', l.pfirrmann) +
        gradeCell('', l.modic) +
        measures +
        `<td>${escapeHtml(changed || 'none')}</td></tr>`
      );
    })
    .join('\n');
  const unmatched = [
    ...comparison.onlyInBaseline.map((l) => `${l} (baseline only)`),
    ...comparison.onlyInFollowUp.map((l) => `${l} (follow-up only)`),
  ];
  return `${SELF_CONTAINED_HTML_START}
<title>spinegrade comparison — ${escapeHtml(comparison.baseline.key)} → ${escapeHtml(comparison.followUp.key)}</title>
<style>
body { margin: 0 auto; max-width: 1280px; padding: 16px 24px 48px; font: 14px/1.45 system-ui, sans-serif; color: #1b1f24; }
.disclaimer { padding: 10px 14px; border: 2px solid #b3261e; border-radius: 6px; background: #fdecea; color: #b3261e; font-weight: 600; }
.pair { display: flex; flex-wrap: wrap; gap: 16px; } .pair figure { margin: 0; flex: 1 1 400px; } .overlay { max-width: 100%; height: auto; background: #000; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin-top: 16px; } th, td { border-bottom: 1px solid #d5dae1; padding: 4px 6px; text-align: left; vertical-align: top; }
thead th { background: #f3f5f8; } small, .note { color: #5b6470; } td.beyond-noise { background: #fff4d6; font-weight: 600; } td.within-noise { color: #5b6470; } td.grade.moved { font-weight: 700; }
</style>
</head>
<body>
<h1>Change between two studies</h1>
<p class="disclaimer">${escapeHtml(comparison.disclaimer)}</p>
<div class="pair">${figure('Baseline', comparison.baseline, overlays.baseline, 'baseline')}${figure('Follow-up', comparison.followUp, overlays.followUp, 'follow-up')}</div>
<div class="table-scroll"><table id="changes"><thead>${head}</thead><tbody>
${rows}
</tbody></table></div>
<p class="note">p changed: the probability that the true grade differs between the studies, from both calibrated distributions taken as independent. A measure change is <em>within noise</em> when it is smaller than the measure's repeatability coefficient (${escapeHtml(comparison.noise.source)}).</p>
${unmatched.length ? `<p id="unmatched">Levels found in one study only: ${escapeHtml(unmatched.join(', '))}.</p>` : ''}
</body>
</html>
`;
}

/** The comparison as text for a terminal: a line per level, then the noise source. */
export function formatComparison(comparison: StudyComparison): string {
  const lines = [`${comparison.baseline.key} → ${comparison.followUp.key}`];
  for (const l of comparison.levels) {
    const measures = COMPARED_MEASURES.map(
      (m) => `${MEASURE_TITLES[m].title} ${measureChangeText(l.measures[m], MEASURE_TITLES[m].digits)}`,
    ).join('; ');
    lines.push(
      `${l.level}: Pfirrmann ${l.pfirrmann.baseline} → ${l.pfirrmann.followUp} (p changed ${l.pfirrmann.probabilityChanged.toFixed(2)}), ` +
        `Modic ${l.modic.baseline} → ${l.modic.followUp} (p changed ${l.modic.probabilityChanged.toFixed(2)}); ${measures}`,
    );
  }
  if (comparison.onlyInBaseline.length) lines.push(`only in the baseline: ${comparison.onlyInBaseline.join(', ')}`);
  if (comparison.onlyInFollowUp.length) lines.push(`only in the follow-up: ${comparison.onlyInFollowUp.join(', ')}`);
  lines.push(`noise: ${comparison.noise.source}`, comparison.disclaimer);
  return `${lines.join('\n')}\n`;
}
