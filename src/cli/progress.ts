/** A progress line on stderr for long work; silent when stderr is not a terminal or when quiet. */
import type { Progress } from '../util/progress.js';

/** A progress line that redraws in place on a terminal (at most ~10 times a second). */
export function terminalProgress(label: string, stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  const active = !quiet && stream.isTTY === true;
  let lastDraw = 0;
  let drawn = false;
  const started = Date.now();
  return {
    update(done, total) {
      if (!active) return;
      const now = Date.now();
      if (done < total && now - lastDraw < 100) return;
      lastDraw = now;
      const width = 24;
      const filled = total > 0 ? Math.round((done / total) * width) : width;
      const seconds = ((now - started) / 1000).toFixed(1);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${seconds}s`);
      drawn = true;
    },
    finish() {
      if (active && drawn) stream.write('\n');
    },
  };
}
