/** The PACS panel: the studies the PACS holds (filtered), each retrieved and analysed on request. */
import * as api from './api.js';
import { byId, h } from './dom.js';
import { fail } from './messages.js';
import { startAnalysis } from './queue.js';
import { addQueueItems, currentStudy, type QueueItem, rememberLabel, updateQueueItem } from './state.js';
import { openStudy } from './study.js';

/** Lists the PACS's studies whose patient or description contains `filter`. */
export async function loadPacs(filter = ''): Promise<void> {
  const list = byId('pacs-list');
  list.replaceChildren(h('li', {}, 'Asking the PACS…'));
  try {
    const wanted = filter.trim().toLowerCase();
    const studies = (await api.listPacsStudies()).filter(
      (s) =>
        !wanted ||
        `${s.patientName ?? ''} ${s.patientId ?? ''} ${s.studyDescription ?? ''}`.toLowerCase().includes(wanted),
    );
    if (!studies.length) {
      list.replaceChildren(h('li', {}, 'No studies found.'));
      return;
    }
    list.replaceChildren(
      ...studies.map((s) => {
        const name = (s.patientName ?? '').replace(/\^/g, ' ').trim() || 'Unnamed';
        const label = `${name}${s.studyDescription ? ` — ${s.studyDescription}` : ''}`;
        return h(
          'li',
          { 'data-study-uid': s.studyInstanceUid },
          h('div', { className: 'name' }, label),
          h(
            'div',
            { className: 'hint' },
            [
              formatDate(s.studyDate),
              s.modalities.join('/'),
              s.series !== null ? `${s.series} series` : '',
              s.instances !== null ? `${s.instances} images` : '',
            ]
              .filter(Boolean)
              .join(' · '),
          ),
          h(
            'button',
            {
              type: 'button',
              className: 'small',
              'aria-label': `Open and analyse ${label}`,
              // A study the PACS lists without a UID cannot be retrieved.
              disabled: s.studyInstanceUid === null,
              onclick: () => {
                if (s.studyInstanceUid !== null) void importAndAnalyse(s.studyInstanceUid, label);
              },
            },
            'Open & analyse',
          ),
        );
      }),
    );
  } catch (error) {
    list.replaceChildren(h('li', {}, `The PACS list failed: ${(error as Error).message}`));
  }
}

function formatDate(date: string | null): string {
  return date && /^\d{8}$/.test(date) ? `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}` : (date ?? '');
}

async function importAndAnalyse(studyInstanceUid: string, label: string): Promise<void> {
  const item: QueueItem = {
    id: `local-${Date.now()}`,
    uploaded: false,
    label,
    phase: 'importing',
    progress: null,
    message: 'retrieving from the PACS',
    jobId: null,
  };
  addQueueItems([item], 'front');
  try {
    const { id } = await api.importFromPacs(studyInstanceUid);
    updateQueueItem(item, { id, uploaded: true });
    rememberLabel(id, label);
    for (;;) {
      const study = await api.getStudy(id);
      if (study.status === 'ready') break;
      if (study.status === 'failed') {
        const error = typeof study.error === 'string' ? study.error : (study.error?.message ?? 'unknown error');
        throw new Error(error);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    updateQueueItem(item, { phase: 'ready', message: 'retrieved' });
    if (!currentStudy()) void openStudy(id);
    await startAnalysis(item);
  } catch (error) {
    updateQueueItem(item, { phase: 'failed', message: `failed: ${(error as Error).message}` });
    fail(error, `Could not import ${label}`);
  }
}

/** Wires the PACS search form. */
export function bindPacs(): void {
  byId<HTMLFormElement>('pacs-search').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadPacs(byId<HTMLInputElement>('pacs-filter').value);
  });
}
