/**
 * The batch's live status line on stderr: done / failed / running, the rate in studies per minute
 * and the time left. On a terminal it redraws in place (other messages are printed above it); in a
 * log file it is printed every `intervalMs` and at the end.
 */

/** What the status line shows. */
export interface BatchCounts {
  total: number;
  /** Studies with a done record (analysed in this run or before). */
  done: number;
  /** Studies with a failure record. */
  failed: number;
  /** Jobs being analysed now (when known). */
  running?: number;
  /** Workers connected to the queue (when known). */
  workers?: number;
  /** Studies settled (done or failed) in this run, for the rate. */
  settledThisRun: number;
}

/** `1h 02m`, `4m 05s`, `12s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** The status text, e.g. `batch 12/40 done · 1 failed · 2 running · 3.1 studies/min · ETA 8m 40s`. */
export function formatBatchStatus(counts: BatchCounts, elapsedMs: number): string {
  const parts = [`batch ${counts.done}/${counts.total} done`, `${counts.failed} failed`];
  if (counts.running !== undefined) parts.push(`${counts.running} running`);
  if (counts.workers !== undefined) parts.push(`${counts.workers} worker${counts.workers === 1 ? '' : 's'}`);
  const left = counts.total - counts.done - counts.failed;
  if (counts.settledThisRun > 0 && elapsedMs > 0) {
    const perMinute = (counts.settledThisRun / elapsedMs) * 60_000;
    parts.push(`${perMinute.toFixed(1)} studies/min`);
    parts.push(left > 0 ? `ETA ${formatDuration((left / perMinute) * 60_000)}` : 'finishing');
  } else if (left > 0) {
    parts.push('rate pending');
  }
  return parts.join(' · ');
}

/** A status line plus messages, on one stream. */
export class StatusLine {
  private drawn = false;
  private lastText = '';
  private lastPrint = 0;
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly quiet = false,
    private readonly intervalMs = 10_000,
  ) {
    this.tty = stream.isTTY === true;
  }

  /** Shows `text` as the current status (a terminal redraws; a log gets it every `intervalMs`). */
  update(text: string): void {
    this.lastText = text;
    if (this.quiet) return;
    if (this.tty) {
      this.stream.write(`\r${text}\x1b[K`);
      this.drawn = true;
    } else if (Date.now() - this.lastPrint >= this.intervalMs) {
      this.stream.write(`${text}\n`);
      this.lastPrint = Date.now();
    }
  }

  /** Prints a message line (above the status line on a terminal). Messages are printed even when quiet. */
  message(line: string): void {
    if (this.tty && this.drawn) {
      this.stream.write(`\r\x1b[K${line}\n${this.quiet ? '' : `${this.lastText}\x1b[K`}`);
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Prints the last status for good and ends the line. */
  finish(): void {
    if (this.quiet) return;
    if (this.tty) {
      if (this.drawn) this.stream.write('\n');
    } else if (this.lastText !== '') {
      this.stream.write(`${this.lastText}\n`);
    }
    this.drawn = false;
  }
}
