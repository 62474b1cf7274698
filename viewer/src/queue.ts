/** The queue of studies: its list, and each study's analysis job followed to the end. */
import * as api from './api.js';
import { byId, h } from './dom.js';
import { fail, say } from './messages.js';
import { followJob, jobFraction, jobText, renderProgress } from './progress.js';
import {
  currentStudy,
  labelOf,
  onQueueChange,
  type QueueItem,
  queueItems,
  removeQueueItem,
  updateQueueItem,
} from './state.js';
import { closeStudy, openStudy, refreshFindings } from './study.js';

/** Shows the queue (and the progress bar, which follows the open study's job). */
export function renderQueue(): void {
  renderProgress();
  const queue = queueItems();
  const list = byId('queue');
  byId('queue-empty').hidden = queue.length > 0;
  const labels = distinctLabels(queue);
  list.replaceChildren(
    ...queue.map((queued) => {
      const item = { ...queued, label: labels.get(queued) ?? queued.label };
      const isCurrent = currentStudy()?.studyId === item.id;
      return h(
        'li',
        { 'aria-current': isCurrent ? 'true' : 'false', 'data-study': item.id },
        h(
          'button',
          {
            type: 'button',
            className: 'open',
            disabled: !item.uploaded || item.phase === 'importing',
            'aria-label': `Open ${item.label} (${item.phase})`,
            onclick: () => void openStudy(item.id),
          },
          h('span', { className: 'name' }, item.label),
          h('span', { className: `state ${item.phase === 'failed' ? 'failed' : ''}` }, item.message || item.phase),
        ),
        item.phase === 'done' || item.phase === 'failed' || item.phase === 'ready'
          ? null
          : h('progress', {
              max: 1,
              ...(item.progress === null ? {} : { value: item.progress }),
              'aria-label': `${item.label}: ${item.message}`,
            }),
        item.uploaded && item.phase !== 'running' && item.phase !== 'queued'
          ? h(
              'div',
              { className: 'actions' },
              item.phase !== 'importing'
                ? h(
                    'button',
                    {
                      type: 'button',
                      className: 'small',
                      'aria-label': `Analyse ${item.label} again`,
                      onclick: () => void startAnalysis(queued),
                    },
                    item.phase === 'done' ? 'Re-analyse' : 'Analyse',
                  )
                : null,
              h(
                'button',
                {
                  type: 'button',
                  className: 'small',
                  'aria-label': `Remove ${item.label} from the server`,
                  onclick: () => void removeStudy(queued),
                },
                'Remove',
              ),
            )
          : null,
      );
    }),
  );
}

/**
 * Labels that tell the queue's entries apart: an entry whose label an earlier entry already has
 * (the same folder uploaded twice) gets its ordinal, "(2)", "(3)"…
 */
function distinctLabels(queue: readonly QueueItem[]): Map<QueueItem, string> {
  const seen = new Map<string, number>();
  const labels = new Map<QueueItem, string>();
  for (const item of queue) {
    const count = (seen.get(item.label) ?? 0) + 1;
    seen.set(item.label, count);
    labels.set(item, count === 1 ? item.label : `${item.label} (${count})`);
  }
  return labels;
}

/** A label for a study this tab did not name: the end of its Study Instance UID, when and how much was uploaded. */
function serverLabel(study: api.Study): string {
  const name = study.studyInstanceUid ? `Study …${study.studyInstanceUid.slice(-8)}` : `Study ${study.id}`;
  const created = new Date(study.createdAt);
  const when = Number.isNaN(created.getTime())
    ? ''
    : ` · ${created.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })}`;
  return `${name}${when} · ${study.files} file${study.files === 1 ? '' : 's'}`;
}

/** The queue item of a study the server holds. */
export function queueItemOf(study: api.Study): QueueItem {
  const a = study.analysis;
  const phase: QueueItem['phase'] =
    study.status === 'importing'
      ? 'importing'
      : study.status === 'failed'
        ? 'failed'
        : a.status === 'none'
          ? 'ready'
          : a.status === 'failed' && a.revision > 0
            ? 'done'
            : a.status;
  const error = typeof study.error === 'string' ? study.error : study.error?.message;
  return {
    id: study.id,
    uploaded: true,
    label: labelOf(study.id) ?? serverLabel(study),
    phase,
    progress: null,
    message: phase === 'failed' && error ? `failed: ${error}` : phase === 'done' ? 'analysed' : phase,
    jobId: a.jobId,
  };
}

async function removeStudy(item: QueueItem): Promise<void> {
  if (!window.confirm(`Remove ${item.label} and its files from the server?`)) return;
  try {
    await api.deleteStudy(item.id);
    removeQueueItem(item);
    if (currentStudy()?.studyId === item.id) closeStudy();
  } catch (error) {
    fail(error, 'Could not remove the study');
  }
}

/** Follows a study's analysis job, keeping its queue item and (if open) the page up to date. */
export async function followAnalysis(item: QueueItem, jobId: string): Promise<void> {
  updateQueueItem(item, { jobId });
  const job = await followJob(jobId, (j) => {
    updateQueueItem(item, { phase: j.status, progress: jobFraction(j), message: jobText(j) });
  });
  const current = currentStudy();
  if (job.status === 'failed') {
    if (current?.studyId === item.id) say(`${item.label}: analysis ${item.message}`, 'error');
    return;
  }
  if (current?.studyId === item.id) {
    say(`${item.label}: analysed.`, 'ok');
    await refreshFindings(true);
  } else if (!current) await openStudy(item.id);
}

/** Starts (again) the analysis of a study in the queue and follows it. */
export async function startAnalysis(item: QueueItem): Promise<void> {
  try {
    updateQueueItem(item, { phase: 'queued', message: 'queued' });
    await followAnalysis(item, await api.analyze(item.id));
  } catch (error) {
    updateQueueItem(item, { phase: 'failed', message: `failed: ${(error as Error).message}` });
    fail(error, `Could not analyse ${item.label}`);
  }
}

/** Keeps the queue's list up to date with the state. */
export function bindQueue(): void {
  onQueueChange(renderQueue);
}
