/**
 * The in-process job queue of the server: analyses and re-gradings wait in order and a fixed number
 * run at a time; two jobs of the same study never run together. Jobs report progress (stage, done,
 * total) that clients poll or follow as Server-Sent Events.
 */
import { randomBytes } from 'node:crypto';
import { ServiceError, toServiceError } from './errors.js';

/** What a job does. */
export type JobKind = 'analyze' | 'levels' | 'render';

/** Where a job is in its life. */
export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

/** The stage a job reports (the analysis stages, then writing the outputs). */
export type JobStage = 'queued' | 'read' | 'localize' | 'grade' | 'explain' | 'outputs' | 'done';

/** A job as the API shows it. */
export interface JobView {
  id: string;
  studyId: string;
  kind: JobKind;
  status: JobStatus;
  /** Jobs running or waiting before this one (0 when running or finished). */
  position: number;
  stage: JobStage;
  done: number;
  total: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The findings revision the job produced, once done. */
  revision: number | null;
  error: { code: string; message: string } | null;
}

/** What a running job can do. */
export interface JobContext {
  /** Reports progress. */
  progress(stage: JobStage, done: number, total: number): void;
  /** Aborted when the server closes. */
  signal: AbortSignal;
}

/** The work of a job; resolves with the revision it produced (or null). */
export type JobRun = (context: JobContext) => Promise<number | null>;

interface Job {
  view: Omit<JobView, 'position'>;
  run: JobRun;
  listeners: Set<(view: JobView) => void>;
  finished: Promise<JobView>;
  resolve: (view: JobView) => void;
  controller: AbortController;
  finishedAtMs?: number;
}

/** Options of a {@link JobQueue}. */
export interface JobQueueOptions {
  /** Jobs running at once (default 1). */
  concurrency?: number;
  /** Most jobs waiting; more are refused with `QUEUE_FULL` (default 500). */
  maxQueued?: number;
  /** How long finished jobs stay visible, ms (default one hour). */
  keepFinishedMs?: number;
  /** Called when a job fails (for the log: ids and codes only). */
  onFailure?: (view: JobView) => void;
  /** Called when a job is queued, starts and ends (not on progress), e.g. to persist its state. */
  onChange?: (view: JobView) => void;
}

/** Bounded-concurrency FIFO of jobs with per-study exclusion. */
export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: Job[] = [];
  private readonly running = new Set<Job>();
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly keepFinishedMs: number;
  private readonly onFailure: ((view: JobView) => void) | undefined;
  private readonly onChange: ((view: JobView) => void) | undefined;
  private closed = false;

  constructor(options: JobQueueOptions = {}) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
    this.maxQueued = Math.max(1, Math.floor(options.maxQueued ?? 500));
    this.keepFinishedMs = options.keepFinishedMs ?? 60 * 60_000;
    this.onFailure = options.onFailure;
    this.onChange = options.onChange;
  }

  /** Queues a job (`front`: ahead of every waiting job); throws `QUEUE_FULL` when the queue is full. */
  add(studyId: string, kind: JobKind, run: JobRun, options: { front?: boolean } = {}): JobView {
    if (this.closed) throw new ServiceError('SHUTTING_DOWN', 'the server is shutting down');
    if (this.waiting.length >= this.maxQueued) {
      throw new ServiceError('QUEUE_FULL', `${this.waiting.length} jobs are waiting already; try again later`);
    }
    this.prune();
    let resolve: (view: JobView) => void = () => undefined;
    const finished = new Promise<JobView>((r) => {
      resolve = r;
    });
    const job: Job = {
      view: {
        id: `j-${randomBytes(8).toString('hex')}`,
        studyId,
        kind,
        status: 'queued',
        stage: 'queued',
        done: 0,
        total: 0,
        createdAt: new Date().toISOString(),
        startedAt: null,
        finishedAt: null,
        revision: null,
        error: null,
      },
      run,
      listeners: new Set(),
      finished,
      resolve,
      controller: new AbortController(),
    };
    this.jobs.set(job.view.id, job);
    if (options.front) this.waiting.unshift(job);
    else this.waiting.push(job);
    this.onChange?.(this.viewOf(job));
    this.pump();
    return this.viewOf(job);
  }

  /** A job's current view; undefined when unknown (or pruned). */
  get(id: string): JobView | undefined {
    const job = this.jobs.get(id);
    return job ? this.viewOf(job) : undefined;
  }

  /** Every known job, newest first. */
  list(): JobView[] {
    this.prune();
    return [...this.jobs.values()].map((j) => this.viewOf(j)).reverse();
  }

  /** Calls `listener` on every change of the job until it ends; returns the unsubscribe function. */
  subscribe(id: string, listener: (view: JobView) => void): () => void {
    const job = this.jobs.get(id);
    if (!job) return () => undefined;
    job.listeners.add(listener);
    return () => job.listeners.delete(listener);
  }

  /** Resolves with the job's final view when it has finished (done or failed). */
  wait(id: string): Promise<JobView> {
    const job = this.jobs.get(id);
    if (!job) return Promise.reject(new ServiceError('NOT_FOUND', `no job ${id}`));
    return job.finished;
  }

  /** Counts for `/api/health`. */
  stats(): { running: number; queued: number; concurrency: number } {
    return { running: this.running.size, queued: this.waiting.length, concurrency: this.concurrency };
  }

  /** True while any job of `studyId` waits or runs. */
  busy(studyId: string): boolean {
    return [...this.running, ...this.waiting].some((j) => j.view.studyId === studyId);
  }

  /** Refuses new jobs, fails the waiting ones, aborts the running ones and waits for them to end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) {
      this.finish(job, null, new ServiceError('SHUTTING_DOWN', 'the server shut down before this job ran'));
    }
    for (const job of this.running) job.controller.abort(new ServiceError('SHUTTING_DOWN', 'the server shut down'));
    await Promise.all([...this.running].map((j) => j.finished));
  }

  private viewOf(job: Job): JobView {
    let position = 0;
    if (job.view.status === 'queued') position = this.running.size + this.waiting.indexOf(job);
    return { ...job.view, position };
  }

  private notify(job: Job): void {
    const view = this.viewOf(job);
    for (const listener of job.listeners) listener(view);
  }

  private pump(): void {
    while (this.running.size < this.concurrency) {
      const busyStudies = new Set([...this.running].map((j) => j.view.studyId));
      const index = this.waiting.findIndex((j) => !busyStudies.has(j.view.studyId));
      if (index < 0) return;
      const [job] = this.waiting.splice(index, 1) as [Job];
      this.start(job);
    }
  }

  private start(job: Job): void {
    this.running.add(job);
    job.view.status = 'running';
    job.view.startedAt = new Date().toISOString();
    job.view.stage = 'read';
    this.onChange?.(this.viewOf(job));
    this.notify(job);
    for (const waiting of this.waiting) this.notify(waiting);
    const context: JobContext = {
      progress: (stage, done, total) => {
        job.view.stage = stage;
        job.view.done = done;
        job.view.total = total;
        this.notify(job);
      },
      signal: job.controller.signal,
    };
    // Start on a later tick so a synchronous throw in `run` is a rejection, and the caller of `add` gets its view first.
    setImmediate(() => {
      job
        .run(context)
        .then(
          (revision) => this.finish(job, revision, undefined),
          (error: unknown) => this.finish(job, null, error),
        )
        .finally(() => {
          this.running.delete(job);
          this.pump();
        });
    });
  }

  private finish(job: Job, revision: number | null, error: unknown): void {
    job.view.finishedAt = new Date().toISOString();
    job.finishedAtMs = Date.now();
    if (error === undefined) {
      job.view.status = 'done';
      job.view.stage = 'done';
      job.view.revision = revision;
    } else {
      const failure = toServiceError(error);
      job.view.status = 'failed';
      job.view.error = { code: failure.code, message: failure.message };
      this.onFailure?.(this.viewOf(job));
    }
    const view = this.viewOf(job);
    this.onChange?.(view);
    this.notify(job);
    job.listeners.clear();
    job.resolve(view);
  }

  private prune(): void {
    const limit = Date.now() - this.keepFinishedMs;
    const finished = [...this.jobs.values()].filter((j) => j.finishedAtMs !== undefined);
    const excess = finished.length - 5000;
    finished.forEach((job, n) => {
      if ((job.finishedAtMs as number) < limit || n < excess) this.jobs.delete(job.view.id);
    });
  }
}
