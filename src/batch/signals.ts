/** Stopping on SIGINT/SIGTERM, shared by `batch`, `worker` and the worker processes `batch` starts. */

/**
 * Calls `onStop` on the first SIGINT/SIGTERM; a second one exits at once (code 130). Returns a
 * function that removes the handlers.
 */
export function onStopSignals(onStop: (signal: NodeJS.Signals) => void, say: (line: string) => void): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      say(`spinegrade: ${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    onStop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}
