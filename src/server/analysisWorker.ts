/**
 * A worker thread of the server's analysis pool (`analysisPool.ts`): loads the models once, on its
 * first task, and runs the analyses and renders the pool sends it, one at a time, off the HTTP
 * thread. Messages: `{ id, op: 'analyze' | 'render', inputs }` in; `{ id, progress }`, then
 * `{ id, result }` or `{ id, error }` out.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createAnalyzer } from '../analyze/analyze.js';
import { AnalysisEngine, errorToData, onceAnalyzer, type ProgressReport } from './analysisEngine.js';

/** The models this worker loads (the server's `--model` and `--localizer`). */
export interface AnalysisWorkerData {
  model?: string;
  localizer?: string;
}

/** A task sent to the worker. */
export type WorkerTask =
  | { id: number; op: 'analyze'; inputs: Parameters<AnalysisEngine['analyze']>[0] }
  | { id: number; op: 'render'; inputs: Parameters<AnalysisEngine['render']>[0] };

/**
 * The nice value of an analysis thread: when the CPUs are busy, the thread answering HTTP is served
 * first. On Linux a thread's nice value is its own (and the model runtimes' threads it starts inherit it).
 */
const ANALYSIS_NICE = 10;

const port = parentPort;
if (port) {
  try {
    setPriority(ANALYSIS_NICE);
  } catch {
    // Not allowed here (or not per thread on this system): the analyses run at the process's priority.
  }
  const options = (workerData ?? {}) as AnalysisWorkerData;
  const engine = new AnalysisEngine(onceAnalyzer(() => createAnalyzer(options)));
  port.on('message', (task: WorkerTask) => {
    const progress: ProgressReport = (stage, done, total) =>
      port.postMessage({ id: task.id, progress: { stage, done, total } });
    const signal = new AbortController().signal;
    const work =
      task.op === 'analyze'
        ? engine.analyze(task.inputs, progress, signal)
        : engine.render(task.inputs, progress, signal);
    work.then(
      (result) => port.postMessage({ id: task.id, result }),
      (error: unknown) => port.postMessage({ id: task.id, error: errorToData(error) }),
    );
  });
}
