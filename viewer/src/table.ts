/**
 * The per-level table: Pfirrmann and Modic grades with their probabilities, the binary findings'
 * probabilities, the review flag and the quantitative measures, one row per disc, top to bottom.
 * Values a reader overrode are marked, with the model's value in the tooltip.
 */
import { h, measure, prob } from './dom.js';
import { gradeColour } from './overlay.js';
import type { FusedLevelFindings } from './types.js';

/** What one row shows: a series' disc or a fused level (no geometry needed). */
export type LevelRow = Omit<FusedLevelFindings, 'fromSeries'>;

export interface TableHandlers {
  select(level: string): void;
  override(level: string): void;
}

const BINARY: { key: keyof LevelRow & string; label: string; title: string }[] = [
  { key: 'herniation', label: 'Hern.', title: 'Herniation probability' },
  { key: 'bulging', label: 'Bulg.', title: 'Bulging probability' },
  { key: 'narrowing', label: 'Narr.', title: 'Narrowing probability' },
  { key: 'endplateUpper', label: 'EP↑', title: 'Upper endplate defect probability' },
  { key: 'endplateLower', label: 'EP↓', title: 'Lower endplate defect probability' },
  { key: 'spondylolisthesis', label: 'List.', title: 'Spondylolisthesis probability' },
];

/** The measures columns (docs/measures.md). */
const MEASURES: { key: string; label: string; title: string; digits: number }[] = [
  {
    key: 'discHeightMm',
    label: 'Height',
    title: 'Disc height: mean of anterior, middle and posterior (mm)',
    digits: 1,
  },
  { key: 'discHeightAnteriorMm', label: 'Ant.', title: 'Anterior disc height (mm)', digits: 1 },
  { key: 'discHeightMiddleMm', label: 'Mid.', title: 'Middle disc height (mm)', digits: 1 },
  { key: 'discHeightPosteriorMm', label: 'Post.', title: 'Posterior disc height (mm)', digits: 1 },
  { key: 'discHeightIndex', label: 'DHI', title: 'Disc height index', digits: 2 },
  { key: 'signalIntensityRatio', label: 'SIR', title: 'Signal intensity ratio of the disc', digits: 2 },
  { key: 'nucleusAnnulusContrast', label: 'NAC', title: 'Nucleus–annulus contrast', digits: 2 },
  { key: 'listhesisMm', label: 'Slip', title: 'Listhesis (mm)', digits: 1 },
  { key: 'wedgeAngleDeg', label: 'Wedge', title: 'Wedge angle of the disc (degrees)', digits: 1 },
  { key: 'canalApMm', label: 'Canal', title: 'AP diameter of the spinal canal at the disc level (mm)', digits: 1 },
  {
    key: 'canalApRatio',
    label: 'Canal ratio',
    title: 'Canal AP diameter at the disc / at the adjacent mid-vertebral bodies',
    digits: 2,
  },
];

const topProb = (probs: readonly number[], grade: number, offset: number): number | undefined => probs[grade - offset];

/** The reader's grade overrides in force, by `level|finding`, with the model's value they replaced. */
export type Overrides = ReadonlyMap<string, { previous: unknown; reason: string }>;

function overridden(overrides: Overrides, level: string, finding: string): string | null {
  const o = overrides.get(`${level}|${finding}`);
  if (!o) return null;
  const previous =
    typeof o.previous === 'number' && !Number.isInteger(o.previous) ? prob(o.previous) : String(o.previous ?? '?');
  return `model: ${previous}; reason: ${o.reason}`;
}

/** Renders the table body and head. */
export function renderTable(
  table: HTMLTableElement,
  rows: readonly LevelRow[],
  overrides: Overrides,
  selected: string | null,
  handlers: TableHandlers,
): void {
  const head = table.tHead ?? table.createTHead();
  head.replaceChildren(
    h(
      'tr',
      {},
      h('th', { scope: 'col' }, 'Level'),
      h('th', { scope: 'col', title: 'Pfirrmann grade (probability)' }, 'Pfirrmann'),
      h('th', { scope: 'col', title: 'Modic type (probability)' }, 'Modic'),
      ...BINARY.map((b) => h('th', { scope: 'col', title: b.title }, b.label)),
      h('th', { scope: 'col', title: 'Needs review: top Pfirrmann probability below the threshold' }, 'Rev.'),
      h('th', { scope: 'col' }, h('span', { className: 'visually-hidden' }, 'Override')),
    ),
  );
  const body = table.tBodies[0] ?? table.createTBody();
  body.replaceChildren(
    ...rows.map((row) => {
      const pOver = overridden(overrides, row.level, 'pfirrmann');
      const mOver = overridden(overrides, row.level, 'modic');
      const pp = topProb(row.pfirrmann.probs, row.pfirrmann.grade, 1);
      const mp = topProb(row.modic.probs, row.modic.grade, 0);
      return h(
        'tr',
        { className: row.level === selected ? 'selected' : '', 'data-level': row.level },
        h(
          'th',
          { scope: 'row' },
          h(
            'button',
            {
              type: 'button',
              className: 'level-button',
              title: 'Select this disc (for moving its label)',
              'aria-pressed': row.level === selected ? 'true' : 'false',
              onclick: () => handlers.select(row.level),
            },
            row.level,
          ),
        ),
        h(
          'td',
          {
            className: pOver ? 'override' : '',
            title: `P(1…5) = ${row.pfirrmann.probs.map((p) => p.toFixed(2)).join(' / ')}${pOver ? ` · reader override (${pOver})` : ''}`,
            'data-finding': 'pfirrmann',
            'data-grade': row.pfirrmann.grade,
          },
          h(
            'span',
            { className: 'grade', style: `background:${gradeColour(row.pfirrmann.grade)}` },
            row.pfirrmann.grade,
          ),
          ` ${prob(pp)}`,
          pOver ? ' ✎' : '',
        ),
        h(
          'td',
          {
            className: mOver ? 'override' : '',
            title: `P(0…3) = ${row.modic.probs.map((p) => p.toFixed(2)).join(' / ')}${mOver ? ` · reader override (${mOver})` : ''}`,
            'data-finding': 'modic',
            'data-grade': row.modic.grade,
          },
          `${row.modic.grade} ${prob(mp)}`,
          mOver ? ' ✎' : '',
        ),
        ...BINARY.map((b) => {
          const value = row[b.key] as unknown as number;
          const over = overridden(overrides, row.level, b.key);
          const classes = [value >= 0.5 ? 'high' : '', over ? 'override' : ''].filter(Boolean).join(' ');
          return h(
            'td',
            { className: classes, title: over ? `reader override (${over})` : b.title, 'data-finding': b.key },
            prob(value),
            over ? ' ✎' : '',
          );
        }),
        h(
          'td',
          { className: row.needsReview ? 'review' : '', title: row.needsReview ? 'needs review' : 'confident' },
          row.needsReview ? '⚑' : '',
          row.needsReview ? h('span', { className: 'visually-hidden' }, 'needs review') : '',
        ),
        h(
          'td',
          {},
          h(
            'button',
            {
              type: 'button',
              className: 'small override-button',
              title: `Override a grade of ${row.level}`,
              'aria-label': `Override a grade of ${row.level}`,
              onclick: () => handlers.override(row.level),
            },
            '✎',
          ),
        ),
      );
    }),
  );
}

/** Renders the measures table (one row per disc; `–` where the slice does not show what one needs). */
export function renderMeasures(table: HTMLTableElement, rows: readonly LevelRow[]): void {
  const head = table.tHead ?? table.createTHead();
  head.replaceChildren(
    h(
      'tr',
      {},
      h('th', { scope: 'col' }, 'Level'),
      ...MEASURES.map((m) => h('th', { scope: 'col', title: m.title }, m.label)),
    ),
  );
  const body = table.tBodies[0] ?? table.createTBody();
  body.replaceChildren(
    ...rows.map((row) =>
      h(
        'tr',
        { 'data-level': row.level },
        h('th', { scope: 'row' }, row.level),
        ...MEASURES.map((m) =>
          h(
            'td',
            { 'data-measure': m.key },
            measure((row.measures as unknown as Record<string, number | null>)[m.key], m.digits),
          ),
        ),
      ),
    ),
  );
}
