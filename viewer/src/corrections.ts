/**
 * Sending corrections: moving a level label (dragged on the overlay or chosen in the move form),
 * which re-labels and re-grades the study, and a grade override from the override dialog.
 */
import * as api from './api.js';
import { byId } from './dom.js';
import { fail, say } from './messages.js';
import { followJob, jobFraction, jobText, setLoading } from './progress.js';
import {
  currentStudy,
  findingsOverlay,
  findQueueItem,
  initials,
  overrideLevel,
  rememberInitials,
  updateQueueItem,
  updateStudy,
} from './state.js';
import { refreshFindings } from './study.js';

/** Sends a level correction: the disc now labelled `from` is really `to`. */
async function moveLabel(from: string, to: string): Promise<void> {
  const c = currentStudy();
  const disc = c?.graded?.discs.find((d) => d.level === from);
  if (!c || !disc) return;
  if (from === to) {
    say(`${from} is already labelled ${to}.`);
    return;
  }
  // A pixel of the first graded series' slice, or (for any other series) the disc's patient point.
  const anchor =
    c.gradedIndex === 0
      ? { level: to, atPx: [disc.geometry.centerPx[0], disc.geometry.centerPx[1]] as [number, number] }
      : { level: to, atMm: [...disc.geometry.centerMm] as [number, number, number] };
  const item = findQueueItem(c.studyId);
  try {
    say(`Re-labelling: the disc labelled ${from} becomes ${to}; grading again…`);
    const jobId = await api.correctLevels(c.studyId, { anchor }, initials());
    const job = await followJob(jobId, (j) => {
      if (item) {
        updateQueueItem(item, {
          phase: j.status === 'done' ? 'done' : j.status,
          progress: jobFraction(j),
          message: jobText(j),
        });
      } else setLoading(`Re-labelling and re-grading: ${j.stage}`, jobFraction(j));
    });
    setLoading(null);
    if (job.status === 'failed') {
      if (item) updateQueueItem(item, { phase: 'done', message: 'level correction failed' });
      say(`The level correction failed: ${job.error?.message ?? 'unknown error'}`, 'error');
      await refreshFindings(false);
      return;
    }
    updateStudy(c, { selected: to });
    await refreshFindings(false);
    say(`Labels moved (${from} → ${to}) and discs re-graded.`, 'ok');
  } catch (error) {
    setLoading(null);
    fail(error, 'Could not move the label');
  }
}

/** A label dropped on the overlay: it names the disc it was dropped on (after the reader confirms). */
export function onLabelDrop(level: string, at: [number, number]): void {
  const c = currentStudy();
  const g = c?.graded;
  if (!c || !g) return;
  const target = findingsOverlay().nearestDisc(at);
  const reach = 15 / Math.min(...g.pixelSpacing);
  if (!target || Math.hypot(target.center[0] - at[0], target.center[1] - at[1]) > reach) {
    say('Drop the label onto a disc (within 15 mm of its centre).', 'error');
    return;
  }
  if (target.level === level) return;
  if (
    !window.confirm(`Name the disc now labelled ${target.level} "${level}"? Every level is re-labelled and re-graded.`)
  )
    return;
  void moveLabel(target.level, level);
}

/** Sends the override dialog's grade for its level. */
async function submitOverride(): Promise<void> {
  const c = currentStudy();
  const level = overrideLevel();
  if (!c || !level) return;
  const finding = byId<HTMLSelectElement>('override-finding').value;
  const raw = byId<HTMLSelectElement>('override-value').value;
  const reason = byId<HTMLTextAreaElement>('override-reason').value.trim();
  const by = byId<HTMLInputElement>('override-by').value.trim();
  if (by) rememberInitials(by);
  const value = raw === 'true' ? true : raw === 'false' ? false : Number(raw);
  try {
    const revision = await api.correctGrade(c.studyId, { level, finding, value, reason, ...(by ? { by } : {}) });
    say(`${level}: ${finding} set to ${raw} (revision ${revision}).`, 'ok');
    await refreshFindings(false);
  } catch (error) {
    fail(error, 'Could not save the override');
  }
}

/** Wires the move form and the override dialog's submit. */
export function bindCorrections(): void {
  byId<HTMLFormElement>('move-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const from = byId<HTMLSelectElement>('move-disc').value;
    const to = byId<HTMLSelectElement>('move-level').value;
    void moveLabel(from, to);
  });
  byId<HTMLFormElement>('override-form').addEventListener('submit', (e) => {
    e.preventDefault();
    byId<HTMLDialogElement>('override-dialog').close();
    void submitOverride();
  });
}
