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
  list.replaceChildren(
    ...queue.map((item) => {
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
                      onclick: () => void startAnalysis(item),
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
                  onclick: () => void removeStudy(item),
                },
                'Remove',
              ),
            )
          : null,
      );
    }),
  );
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
    label: labelOf(study.id) ?? (study.studyInstanceUid ? `Study …${study.studyInstanceUid.slice(-8)}` : study.id),
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
