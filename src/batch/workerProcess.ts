/**
 * The entry point of a batch worker process: {@link runWorkerProcess} loads the models once and takes
 * jobs until told to stop. `spinegrade worker` calls it with parameters from its flags; the workers
 * `batch` starts run workerEntry.ts, which takes its {@link WorkerParameters} from the first IPC message.
 */
import { createAnalyzer } from '../analyze/analyze.js';
import { describeError, isSpinegradeError } from '../errors.js';
import { modelVersion } from './job.js';
import { onStopSignals } from './signals.js';
import { runWorker, type WorkerSummary } from './worker.js';
import { parseWorkerParametersMessage, type WorkerParameters } from './workerParameters.js';

/** Runs a worker with `parameters` until `stop` resolves; returns what it did. */
export async function runWorkerProcess(
  parameters: WorkerParameters,
  stop: Promise<unknown>,
  log: (line: string) => void,
): Promise<WorkerSummary> {
  const choice = {
    ...(parameters.model !== undefined ? { model: parameters.model } : {}),
    ...(parameters.localizer !== undefined ? { localizer: parameters.localizer } : {}),
  };
  const [version, analyzer] = await Promise.all([modelVersion(choice), createAnalyzer(choice)]);
  try {
    const summary = await runWorker({
      redis: parameters.redis,
      concurrency: parameters.concurrency,
      analyzer,
      version,
      log,
      verbose: parameters.verbose,
      stop,
    });
    log(
      `worker: stopped (${summary.analysed} analysed, ${summary.alreadyDone} already done, ${summary.failed} failed attempts)`,
    );
    return summary;
  } finally {
    analyzer.dispose();
  }
}

const STOPPED_FIRST = Symbol('stopped before the parameters came');

/**
 * The body of a worker process started by `batch`: parameters from the first IPC message; stops on
 * SIGINT/SIGTERM or when `batch` goes away (the IPC channel closes). Returns the exit code.
 */
export async function workerProcessMain(): Promise<number> {
  const say = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  process.once('disconnect', () => stop());
  if (!process.connected) stop(); // `batch` went away before this process was ready
  const removeHandlers = onStopSignals(() => stop(), say);
  try {
    const message = await Promise.race([
      new Promise<unknown>((resolve) => process.once('message', resolve)),
      stopped.then(() => STOPPED_FIRST),
    ]);
    if (message === STOPPED_FIRST) return 0;
    await runWorkerProcess(parseWorkerParametersMessage(message), stopped, say);
    return 0;
  } catch (error) {
    say(`spinegrade: ${isSpinegradeError(error) ? '' : 'internal error: '}${describeError(error)}`);
    return isSpinegradeError(error) ? error.exitCode : 1;
  } finally {
    removeHandlers();
    if (process.connected) process.disconnect();
  }
}
