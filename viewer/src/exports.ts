/** The exports panel: download links, the corrections made so far, and storing SR/SEG to the PACS. */
import * as api from './api.js';
import { byId, h } from './dom.js';
import { fail, say } from './messages.js';
import { currentStudy, serverHealth } from './state.js';

/** Shows the export links (enabled once there are findings) and the store button. */
export function renderExports(): void {
  const c = currentStudy();
  const health = serverHealth();
  const ready = Boolean(c?.findings);
  const isDicom = Boolean(c?.series.some((s) => s.format === 'dicom'));
  byId('exports').replaceChildren(
    ...api.EXPORTS.map((e) => {
      const available = ready && (isDicom || (e.file !== 'sr.dcm' && e.file !== 'seg.dcm'));
      return h(
        'a',
        {
          href: available && c ? api.exportUrl(c.studyId, e.file) : '#',
          download: e.file === 'report.html' ? false : '',
          target: e.file === 'report.html' ? '_blank' : false,
          rel: 'noopener',
          'aria-disabled': available ? 'false' : 'true',
          'data-export': e.file,
        },
        e.label,
      );
    }),
  );
  const store = byId<HTMLButtonElement>('store-button');
  store.disabled = !(ready && isDicom && health?.dicomweb);
  store.title = !health?.dicomweb
    ? 'The server has no PACS (spinegrade serve --dicomweb <url>)'
    : isDicom
      ? 'STOW-RS the DICOM SR and SEG of the current findings to the PACS'
      : 'Only DICOM studies can be stored';
}

/** Lists the corrections of the open study's findings. */
export function renderCorrections(): void {
  const list = byId('corrections');
  const corrections = currentStudy()?.findings?.corrections ?? [];
  if (!corrections.length) {
    list.replaceChildren(h('li', { className: 'hint' }, 'None: the findings are the model’s.'));
    return;
  }
  list.replaceChildren(
    ...corrections.map((k) => {
      const what =
        k.type === 'levels'
          ? `Levels: ${
              k.levelOverride && 'anchor' in k.levelOverride
                ? `disc named ${k.levelOverride.anchor.level}`
                : k.levelOverride && 'shift' in k.levelOverride
                  ? `shift ${k.levelOverride.shift}`
                  : 'moved'
            }`
          : `${k.level} ${k.finding}: ${String(k.previous ?? '?')} → ${String(k.value)} — “${k.reason ?? ''}”`;
      return h(
        'li',
        { 'data-status': k.status },
        what,
        ' ',
        h('span', { className: 'status' }, `(${k.status}, ${k.by}, ${new Date(k.at).toLocaleString()})`),
      );
    }),
  );
}

/** STOW-RS the open study's DICOM SR and SEG to the PACS. */
export async function storeToPacs(): Promise<void> {
  const c = currentStudy();
  if (!c) return;
  const button = byId<HTMLButtonElement>('store-button');
  button.disabled = true;
  try {
    say('Storing SR and SEG to the PACS…');
    const stored = await api.storeToPacs(c.studyId);
    say(`Stored to the PACS: ${stored.map((s) => s.kind.toUpperCase()).join(' and ')}.`, 'ok');
  } catch (error) {
    fail(error, 'Could not store to the PACS');
  } finally {
    button.disabled = false;
  }
}

/** Wires the store button. */
export function bindExports(): void {
  byId('store-button').addEventListener('click', () => void storeToPacs());
}
