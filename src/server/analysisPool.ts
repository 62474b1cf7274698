/**
 * The server's analyses in a pool of worker threads (`analysisWorker.ts`), so the HTTP thread only
 * schedules and streams: each worker loads the models once (on its first task) and runs one task at
 * a time. A re-render goes to the worker holding that analysis result when it is free. A worker that
 * dies fails its task (`INTERNAL`) and is replaced on the next task; an aborted task stops its worker.
 */
import { Worker } from 'node:worker_threads';
import { disableRuntimeTelemetry } from '../models/onnx/runtime.js';
import type { FindingsDocument } from '../report/findings.js';
import {
  type AnalysisInputs,
  type AnalysisRunner,
  type AnalyzedStudy,
  type ErrorData,
  errorFromData,
  type ProgressReport,
  RESULTS_KEPT,
} from './analysisEngine.js';
import type { AnalysisWorkerData, WorkerTask } from './analysisWorker.js';
import { ServiceError } from './errors.js';

type Task = WorkerTask & {
  progress: ProgressReport;
  signal: AbortSignal;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
};

interface Slot {
  worker: Worker;
  task: Task | undefined;
  /** Keys of the analysis results the worker holds, most recent last. */
  keys: string[];
}

/** What a worker sends back. */
type WorkerMessage =
  | { id: number; progress: { stage: Parameters<ProgressReport>[0]; done: number; total: number } }
  | { id: number; result: unknown }
  | { id: number; error: ErrorData };

/** Analyses in worker threads; see the module comment. */
export class WorkerPoolRunner implements AnalysisRunner {
  private readonly slots: Slot[] = [];
  private readonly waiting: Task[] = [];
  private nextId = 1;
  private closed = false;

  /** `size` workers at most (the analyses that may run at once). */
  constructor(
    private readonly size: number,
    private readonly models: AnalysisWorkerData = {},
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  analyze(
    inputs: AnalysisInputs & { heatDir: string },
    progress: ProgressReport,
    signal: AbortSignal,
  ): Promise<AnalyzedStudy> {
    return this.submit({ id: this.nextId++, op: 'analyze', inputs }, progress, signal) as Promise<AnalyzedStudy>;
  }

  render(
    inputs: AnalysisInputs & { findings: FindingsDocument; dir: string },
    progress: ProgressReport,
    signal: AbortSignal,
  ): Promise<{ notes: string[] }> {
    return this.submit({ id: this.nextId++, op: 'render', inputs }, progress, signal) as Promise<{ notes: string[] }>;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.waiting.splice(0)) {
      task.reject(new ServiceError('SHUTTING_DOWN', 'the server shut down before this job ran'));
    }
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private submit(message: WorkerTask, progress: ProgressReport, signal: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(new ServiceError('SHUTTING_DOWN', 'the server is shutting down'));
    return new Promise<unknown>((resolve, reject) => {
      // The listener goes when the task settles: a finished job's signal is kept (with its view), and
      // the listener would keep the task — its inputs and result, findings included — alive with it.
      const onAbort = (): void => this.abort(task);
      const settled = (): void => signal.removeEventListener('abort', onAbort);
      const task: Task = {
        ...message,
        progress,
        signal,
        resolve: (value) => {
          settled();
          resolve(value);
        },
        reject: (error) => {
          settled();
          reject(error);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(task);
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const task = this.waiting[0] as Task;
      const idle = this.slots.filter((s) => !s.task);
      const slot =
        idle.find((s) => s.keys.includes(task.inputs.key)) ??
        idle[0] ??
        (this.slots.length < this.size ? this.spawn() : undefined);
      if (!slot) return;
      this.waiting.shift();
      slot.task = task;
      const message: WorkerTask =
        task.op === 'analyze'
          ? { id: task.id, op: 'analyze', inputs: task.inputs }
          : { id: task.id, op: 'render', inputs: task.inputs };
      slot.worker.postMessage(message);
    }
  }

  private spawn(): Slot {
    // Set here: a worker thread's process.env is its own copy, which the runtime's native code never sees.
    disableRuntimeTelemetry();
    const worker = new Worker(new URL('./analysisWorker.js', import.meta.url), { workerData: this.models });
    const slot: Slot = { worker, task: undefined, keys: [] };
    this.slots.push(slot);
    worker.on('message', (message: WorkerMessage) => {
      const task = slot.task;
      if (!task || task.id !== message.id) return;
      if ('progress' in message) {
        task.progress(message.progress.stage, message.progress.done, message.progress.total);
        return;
      }
      slot.task = undefined;
      if ('error' in message) task.reject(errorFromData(message.error));
      else {
        slot.keys = [...slot.keys.filter((k) => k !== task.inputs.key), task.inputs.key].slice(-RESULTS_KEPT);
        task.resolve(message.result);
      }
      this.pump();
    });
    const lost = (why: string): void => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      if (!this.closed) this.log(`analysis worker stopped: ${why}`);
      slot.task?.reject(new ServiceError('INTERNAL', `the analysis worker stopped (${why})`));
      slot.task = undefined;
      this.pump();
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return slot;
  }

  private abort(task: Task): void {
    const queued = this.waiting.indexOf(task);
    if (queued >= 0) {
      this.waiting.splice(queued, 1);
      task.reject(task.signal.reason);
      return;
    }
    const slot = this.slots.find((s) => s.task === task);
    if (!slot) return;
    // A worker cannot be interrupted inside a model call: it is stopped (a new one loads the models).
    slot.task = undefined;
    this.slots.splice(this.slots.indexOf(slot), 1);
    void slot.worker.terminate();
    task.reject(task.signal.reason);
    this.pump();
  }
}
