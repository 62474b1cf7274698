/** Job progress: the stages of a job, following one until it ends, and the progress bar. */
import * as api from './api.js';
import { byId } from './dom.js';
import { currentStudy, findQueueItem, loading, setLoadingState } from './state.js';

const STAGES = ['queued', 'read', 'localize', 'grade', 'explain', 'outputs', 'done'];

/** How far a job is, 0..1, or null when its stage is unknown. */
export function jobFraction(job: api.Job): number | null {
  if (job.status === 'done') return 1;
  const stage = STAGES.indexOf(job.stage);
  if (stage < 0) return null;
  const within = job.total ? Math.min(1, (job.done ?? 0) / job.total) : 0;
  return Math.min(1, (Math.max(0, stage - 1) + within) / (STAGES.length - 2));
}

/** A job's state in words, for the queue. */
export function jobText(job: api.Job): string {
  if (job.status === 'queued') return job.position ? `queued (${job.position} ahead)` : 'queued';
  if (job.status === 'failed') return `failed: ${job.error?.message ?? 'unknown error'}`;
  if (job.status === 'done') return 'analysed';
  const what = job.kind === 'levels' ? 're-labelling' : job.kind === 'render' ? 'making outputs' : 'analysing';
  return `${what}: ${job.stage}${job.total ? ` ${job.done ?? 0}/${job.total}` : ''}`;
}

/** Polls a job until it ends, reporting each state. */
export async function followJob(jobId: string, onUpdate: (job: api.Job) => void): Promise<api.Job> {
  for (;;) {
    let job: api.Job;
    try {
      job = await api.getJob(jobId);
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 0) {
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      throw error;
    }
    onUpdate(job);
    if (job.status === 'done' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Shows what is loading (images, headers) in the progress bar, or with null that nothing is. */
export function setLoading(label: string | null, fraction: number | null = null): void {
  setLoadingState(label === null ? null : { label, fraction });
  renderProgress();
}

/** Shows the open study's running job, else what is loading, else nothing. */
export function renderProgress(): void {
  const current = currentStudy();
  const item = current ? findQueueItem(current.studyId) : undefined;
  const job =
    item && (item.phase === 'queued' || item.phase === 'running')
      ? { label: `${item.label}: ${item.message}`, fraction: item.progress }
      : null;
  const shown = job ?? loading();
  const box = byId('progress');
  // Hidden but keeping its place, so the image does not jump when progress comes and goes.
  box.style.visibility = shown ? 'visible' : 'hidden';
  if (!shown) return;
  byId('progress-label').textContent = shown.label;
  const bar = byId<HTMLProgressElement>('progress-bar');
  if (shown.fraction === null) bar.removeAttribute('value');
  else bar.value = shown.fraction;
}
