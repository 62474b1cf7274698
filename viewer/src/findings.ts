/**
 * The findings panel: the summary, the per-level table and measures, the disc selection (shared
 * with the overlay), the move-label form's choices and the override dialog's fields.
 */
import { levelOfIvdLabel } from '../../src/disc/levels.js';
import * as api from './api.js';
import { byId, h } from './dom.js';
import { renderDraft } from './draft.js';
import { renderCorrections, renderExports } from './exports.js';
import { updateHeat } from './heat.js';
import { currentStudy, findingsOverlay, initials, type OpenStudy, setOverrideLevel, updateStudy } from './state.js';
import { type LevelRow, type Overrides, renderMeasures, renderTable } from './table.js';
import type { DiscFindings } from './types.js';

/** The rows of the table: the discs of the series shown, or the fused levels when it was not graded. */
function rowsOf(c: OpenStudy): LevelRow[] {
  const study = c.findings?.findings.studies[0];
  if (!study) return [];
  const series = c.gradedIndex !== null ? study.series[c.gradedIndex] : undefined;
  return series ? series.discs : study.levels;
}

/** The grade overrides in force (applied, not superseded or replaced), by `level|finding`. */
function overridesOf(c: OpenStudy): Overrides {
  const map = new Map<string, { previous: unknown; reason: string }>();
  for (const k of c.findings?.corrections ?? []) {
    if (k.type !== 'grade' || k.status !== 'applied' || !k.level || !k.finding) continue;
    if (k.seriesIndex !== null && k.seriesIndex !== undefined && k.seriesIndex !== c.gradedIndex) continue;
    map.set(`${k.level}|${k.finding}`, { previous: k.previous, reason: k.reason ?? '' });
  }
  return map;
}

/** Shows the open study's findings (or that there are none yet), with its exports and corrections. */
export function renderFindings(): void {
  const c = currentStudy();
  const summary = byId('findings-summary');
  const table = byId<HTMLTableElement>('levels-table');
  const moveDisc = byId<HTMLSelectElement>('move-disc');
  const moveLevel = byId<HTMLSelectElement>('move-level');
  const findings = c?.findings?.findings;
  if (!c || !findings) {
    summary.textContent = c
      ? 'Not analysed yet: the findings appear here when the analysis is done.'
      : 'No findings yet.';
    renderTable(table, [], new Map(), null, { select() {}, override() {} });
    renderMeasures(byId<HTMLTableElement>('measures-table'), []);
    moveDisc.replaceChildren();
    byId<HTMLButtonElement>('move-apply').disabled = true;
    renderExports();
    renderCorrections();
    renderDraft();
    return;
  }
  const rows = rowsOf(c);
  const g = c.graded;
  const facts = [
    g ? `${g.sequence} series "${g.seriesDescription ?? ''}"` : 'Levels fused over the graded series',
    g ? `mid-sagittal slice ${g.midSagittalSlice + 1}` : '',
    g?.levelOverride ? `labels shifted by ${g.levelOverride > 0 ? '+' : ''}${g.levelOverride}` : '',
    g?.possibleTransitional ? 'possible transitional anatomy' : '',
    `revision ${c.findings?.revision ?? 0}`,
    `review below p ${findings.reviewThreshold}`,
  ].filter(Boolean);
  summary.replaceChildren(
    h('span', {}, facts.join(' · ')),
    ...(g?.warnings ?? []).map((w) => h('span', { className: 'hint', style: 'display:block' }, `⚠ ${w}`)),
  );
  renderTable(table, rows, overridesOf(c), c.selected, { select: selectLevel, override: openOverride });
  renderMeasures(byId<HTMLTableElement>('measures-table'), rows);
  const discs: readonly DiscFindings[] = g?.discs ?? [];
  moveDisc.replaceChildren(
    ...discs.map((d) =>
      h('option', { value: d.level, selected: d.level === c.selected }, `${d.level} (as labelled now)`),
    ),
  );
  if (!moveLevel.options.length) {
    const levels = Array.from({ length: 9 }, (_, i) => levelOfIvdLabel(8 - i));
    moveLevel.replaceChildren(...levels.map((l) => h('option', { value: l }, l)));
  }
  byId<HTMLButtonElement>('move-apply').disabled = !discs.length;
  renderExports();
  renderCorrections();
  renderDraft();
}

/** Selects a disc (or, selected already, unselects it) in the table, the overlay and the move form. */
export function selectLevel(level: string): void {
  const c = currentStudy();
  if (!c) return;
  const selected = c.selected === level ? null : level;
  updateStudy(c, { selected });
  findingsOverlay().setSelected(selected);
  for (const row of byId<HTMLTableElement>('levels-table').querySelectorAll('tbody tr')) {
    row.classList.toggle('selected', (row as HTMLElement).dataset.level === selected);
    row
      .querySelector('.level-button')
      ?.setAttribute('aria-pressed', String((row as HTMLElement).dataset.level === selected));
  }
  if (selected) {
    byId<HTMLSelectElement>('move-disc').value = selected;
    byId<HTMLSelectElement>('move-level').value = selected;
  }
  void updateHeat();
}

// Override dialog ------------------------------------------------------------------------------

const FINDINGS: { key: string; label: string; values: { value: string; label: string }[] }[] = [
  {
    key: 'pfirrmann',
    label: 'Pfirrmann grade',
    values: [1, 2, 3, 4, 5].map((v) => ({ value: String(v), label: String(v) })),
  },
  { key: 'modic', label: 'Modic type', values: [0, 1, 2, 3].map((v) => ({ value: String(v), label: String(v) })) },
  ...api.BINARY_FINDINGS.map((key) => ({
    key,
    label: key.replace(/([A-Z])/g, ' $1').toLowerCase(),
    values: [
      { value: 'true', label: 'present' },
      { value: 'false', label: 'absent' },
    ],
  })),
];

function fillOverrideValues(): void {
  const finding = byId<HTMLSelectElement>('override-finding').value;
  const spec = FINDINGS.find((f) => f.key === finding);
  byId<HTMLSelectElement>('override-value').replaceChildren(
    ...(spec?.values ?? []).map((v) => h('option', { value: v.value }, v.label)),
  );
}

function openOverride(level: string): void {
  setOverrideLevel(level);
  const current = currentStudy();
  const row = current ? rowsOf(current).find((r) => r.level === level) : undefined;
  byId('override-context').textContent = row
    ? `${level}: the model says Pfirrmann ${row.pfirrmann.grade}, Modic ${row.modic.grade}. Your value replaces it in every export; the model's stays in the original.`
    : level;
  const finding = byId<HTMLSelectElement>('override-finding');
  if (!finding.options.length) finding.replaceChildren(...FINDINGS.map((f) => h('option', { value: f.key }, f.label)));
  finding.value = 'pfirrmann';
  fillOverrideValues();
  if (row) byId<HTMLSelectElement>('override-value').value = String(row.pfirrmann.grade);
  byId<HTMLTextAreaElement>('override-reason').value = '';
  byId<HTMLInputElement>('override-by').value = initials() ?? '';
  byId<HTMLDialogElement>('override-dialog').showModal();
}

/** Wires the move form's disc choice (it selects the disc) and the override dialog's fields. */
export function bindFindings(): void {
  byId<HTMLSelectElement>('move-disc').addEventListener('change', (e) => {
    const level = (e.target as HTMLSelectElement).value;
    const current = currentStudy();
    if (current && current.selected !== level) selectLevel(level);
  });
  byId('override-finding').addEventListener('change', fillOverrideValues);
  byId('override-cancel').addEventListener('click', () => byId<HTMLDialogElement>('override-dialog').close());
}
