/** The compare panel: "Compare with…" another analysed study of the queue, opening the comparison page. */
import * as api from './api.js';
import { byId, h } from './dom.js';
import { currentStudy, findQueueItem, onQueueChange, queueItems } from './state.js';

/** Lists the other analysed studies of the queue and points the link at the chosen comparison. */
export function renderCompare(): void {
  const c = currentStudy();
  const select = byId<HTMLSelectElement>('compare-with');
  const chosen = select.value;
  const analysed = Boolean(c && (c.findings || findQueueItem(c.studyId)?.phase === 'done'));
  const others =
    c && analysed ? queueItems().filter((q) => q.uploaded && q.phase === 'done' && q.id !== c.studyId) : [];
  select.replaceChildren(
    h('option', { value: '' }, others.length ? 'Compare with…' : 'No other analysed study in the queue'),
    ...others.map((q) => h('option', { value: q.id, selected: q.id === chosen }, q.label)),
  );
  select.disabled = others.length === 0;
  updateLink();
}

/** The chosen study is the baseline and the open one the follow-up. */
function updateLink(): void {
  const c = currentStudy();
  const baseline = byId<HTMLSelectElement>('compare-with').value;
  const link = byId<HTMLAnchorElement>('compare-open');
  const ready = Boolean(c && baseline);
  link.href = ready && c ? api.comparisonUrl(baseline, c.studyId) : '#';
  link.setAttribute('aria-disabled', ready ? 'false' : 'true');
}

/** Wires the select and follows the queue (studies analysed, another study opened). */
export function bindCompare(): void {
  byId('compare-link').replaceChildren(
    h(
      'a',
      { id: 'compare-open', href: '#', target: '_blank', rel: 'noopener', 'aria-disabled': 'true' },
      'Open comparison',
    ),
  );
  byId('compare-with').addEventListener('change', updateLink);
  byId('compare-open').addEventListener('click', (event) => {
    if (byId('compare-open').getAttribute('aria-disabled') === 'true') event.preventDefault();
  });
  onQueueChange(renderCompare);
  renderCompare();
}
