/**
 * Progress on stderr for long work: a line redrawn in place on a terminal; elsewhere (a log, a pipe)
 * a plain line every {@link PLAIN_PROGRESS_INTERVAL_MS} and one at the end, so that short runs stay
 * silent; nothing with --quiet.
 */
import type { Progress } from '../util/progress.js';

/** How often a plain progress line is written when stderr is not a terminal. */
export const PLAIN_PROGRESS_INTERVAL_MS = 10_000;

/** A progress line that redraws in place on a terminal (at most ~10 times a second), or plain lines elsewhere. */
export function terminalProgress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  quiet = false,
  plainIntervalMs = PLAIN_PROGRESS_INTERVAL_MS,
): Progress {
  const terminal = stream.isTTY === true;
  let lastDraw = 0;
  let drawn = false;
  let last: { done: number; total: number } | undefined;
  let printedDone = -1;
  const started = Date.now();
  const seconds = (now: number): string => ((now - started) / 1000).toFixed(1);
  const plainLine = (done: number, total: number, now: number): void => {
    const percent = total > 0 ? ` (${Math.round((100 * done) / total)}%)` : '';
    stream.write(`${label}: ${done}/${total}${percent} ${seconds(now)}s\n`);
    printedDone = done;
  };
  return {
    update(done, total) {
      if (quiet) return;
      const now = Date.now();
      last = { done, total };
      if (!terminal) {
        if (now - Math.max(started, lastDraw) < plainIntervalMs) return;
        lastDraw = now;
        plainLine(done, total, now);
        drawn = true;
        return;
      }
      if (done < total && now - lastDraw < 100) return;
      lastDraw = now;
      const width = 24;
      const filled = total > 0 ? Math.round((done / total) * width) : width;
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${seconds(now)}s`);
      drawn = true;
    },
    finish() {
      if (!drawn) return;
      if (terminal) stream.write('\n');
      else if (last && last.done !== printedDone) plainLine(last.done, last.total, Date.now());
      drawn = false;
    },
  };
}
