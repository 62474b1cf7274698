/**
 * `spinegrade batch`: grade a whole cohort. The coordinator finds the studies, skips those already
 * done with the same model version (resume), enqueues one BullMQ job per remaining study (job id =
 * hash of study key and model version, so enqueueing is idempotent), starts local workers, shows a
 * status line until every study is done or failed, and builds the cohort table from what is on disk.
 *
 * Where the queue lives:
 * - `--redis <url>`: an existing Redis; workers on any machine (`spinegrade worker`) take part.
 * - otherwise a private `redis-server` found on PATH, on a free loopback port with its data (append-only
 *   file, `appendfsync always`) in a temporary folder, restarted on the same data if it dies;
 * - with no `redis-server` (or `--in-process`): the same job function, one study after another in this
 *   process, with the same retries, records and resume.
 *
 * The disk is the source of truth: a study is done when its output folder holds a done record for this
 * model version, failed when `out/failed/<id>.json` says so. The coordinator watches the disk, and
 * when the queue has nothing left while studies are unsettled (a job lost with a Redis that lost its
 * data, or failed without a record) it re-enqueues or records them, so nothing is lost.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Job, Queue } from 'bullmq';
import { createAnalyzer } from '../analyze/analyze.js';
import { describeError, SpinegradeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { buildCohort, type CohortCounts, writeCohort } from './cohort.js';
import { writeCohortPage } from './cohortPage.js';
import {
  type BatchJobData,
  batchJobId,
  cleanStaging,
  type DoneRecord,
  failureRecordPath,
  type ModelChoice,
  type ModelVersion,
  modelVersion,
  processStudy,
  queueName,
  readDoneRecord,
  readFailureRecord,
  StudyFailure,
  studyState,
  thisWorker,
  writeFailureRecord,
} from './job.js';
import { formatBatchStatus, StatusLine } from './progress.js';
import { closeRedis, parseRedisUrl, pingRedis, queueConnection, type RedisTarget, redisUrl } from './redis.js';
import { findRedisServer, type RedisServer, startRedisServer } from './redis-server.js';
import { type BatchStudy, discoverBatchStudies } from './studies.js';
import { type BatchTuning, batchJobOptions, batchTuning } from './worker.js';
import { type WorkerParameters, workerParametersMessage } from './workerParameters.js';

/** The file a worker process started by `batch` runs (workerEntry.ts, compiled beside this one). */
const WORKER_PROCESS_ENTRY = fileURLToPath(new URL('./workerEntry.js', import.meta.url));

/** Options of {@link runBatch}. */
export interface BatchOptions extends ModelChoice {
  /** A folder tree of studies, one image file, or a manifest CSV (`study_id,path[,pixel_spacing]`). */
  input: string;
  /** Output folder (created if missing; an existing one is resumed). */
  out: string;
  /** Local worker processes to start (default 1; 0 only with `redis`: workers run elsewhere). */
  workers?: number;
  /** An existing Redis (`redis://host:port[/db]`); without it a private one is started. */
  redis?: string;
  /** Jobs per worker process (default 1). */
  concurrency?: number;
  /** Spacing (mm) of PNG/JPEG slices found in a folder tree. */
  pixelSpacing?: readonly [number, number];
  /** Try the studies that failed in an earlier run again (default: keep their failure). */
  retryFailed?: boolean;
  /** Run in this process even when redis-server is available. */
  inProcess?: boolean;
  /** No status line (messages are still printed). */
  quiet?: boolean;
  /** Stops the batch: local workers finish the studies in hand; a re-run resumes. */
  signal?: AbortSignal;
  /** Where the status line and messages go (default stderr). */
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** How the jobs were run. */
export type BatchMode = 'redis' | 'embedded-redis' | 'in-process' | 'nothing-to-do';

/** What a batch did; also written to `out/batch-run.json`. */
export interface BatchSummary {
  schema: 'spinegrade/batch-run';
  version: 1;
  input: string;
  out: string;
  mode: BatchMode;
  modelVersion: string;
  software: string;
  startedAt: string;
  finishedAt: string;
  interrupted: boolean;
  workers: number;
  concurrency: number;
  studies: {
    total: number;
    /** Done before this run (not recomputed). */
    alreadyDone: number;
    /** Failed before this run and kept (see `retryFailed`). */
    alreadyFailed: number;
    /** Analysed in this run. */
    analysed: number;
    /** Failed in this run. */
    failed: number;
    /** Neither done nor failed (only when interrupted). */
    pending: number;
    /** Jobs enqueued again because the queue no longer had them. */
    requeued: number;
  };
  /** Wall time of the whole command. */
  elapsedMs: number;
  /** Studies settled in this run per minute of wall time since the jobs were enqueued. */
  studiesPerMinute: number | null;
  /**
   * Studies analysed in this run per minute between the first analysis start and the last finish
   * (excludes discovery, start-up and model loading).
   */
  throughputPerMinute: number | null;
  /** Mean milliseconds per analysed study, per stage (from the done records of this run). */
  meanStageMs: Record<string, number> | null;
  files: { cohortCsv: string; cohortJsonl: string; cohortHtml: string; summary: string };
  cohort: CohortCounts;
  skippedFiles: Record<string, number>;
}

/** Keeps track of the studies not yet settled, from the disk. */
class Tracker {
  readonly remaining = new Map<string, BatchStudy>();
  readonly doneThisRun: DoneRecord[] = [];
  failedThisRun = 0;

  constructor(
    readonly outDir: string,
    readonly version: string,
    pending: readonly BatchStudy[],
  ) {
    for (const study of pending) this.remaining.set(study.id, study);
  }

  get settled(): number {
    return this.doneThisRun.length + this.failedThisRun;
  }

  /** Looks at the disk for every unsettled study; returns how many settled since the last look. */
  async poll(): Promise<number> {
    let settled = 0;
    for (const [id] of [...this.remaining]) {
      const done = await readDoneRecord(this.outDir, id, this.version);
      if (done) {
        this.doneThisRun.push(done);
      } else if (await readFailureRecord(this.outDir, id, this.version)) {
        this.failedThisRun++;
      } else {
        continue;
      }
      this.remaining.delete(id);
      settled++;
    }
    return settled;
  }
}

/** The pieces every mode shares. */
interface BatchContext {
  options: BatchOptions;
  outDir: string;
  version: ModelVersion;
  tuning: BatchTuning;
  status: StatusLine;
  tracker: Tracker;
  total: number;
  alreadyDone: number;
  alreadyFailed: number;
  /** When the jobs were handed out (for the rate). */
  enqueuedAt: number;
  requeued: number;
}

function jobData(ctx: Pick<BatchContext, 'outDir' | 'version'>, study: BatchStudy): BatchJobData {
  return {
    studyKey: study.key,
    studyId: study.id,
    inputs: [...study.inputs],
    ...(study.pixelSpacing ? { pixelSpacing: [study.pixelSpacing[0], study.pixelSpacing[1]] } : {}),
    outDir: ctx.outDir,
    modelVersion: ctx.version.id,
  };
}

function showStatus(ctx: BatchContext, extra: { running?: number; workers?: number } = {}): void {
  const { tracker } = ctx;
  ctx.status.update(
    formatBatchStatus(
      {
        total: ctx.total,
        done: ctx.alreadyDone + tracker.doneThisRun.length,
        failed: ctx.alreadyFailed + tracker.failedThisRun,
        settledThisRun: tracker.settled,
        ...extra,
      },
      Date.now() - ctx.enqueuedAt,
    ),
  );
}

/** Waits `ms`, or less when the signal aborts; never throws. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  await sleep(ms, undefined, signal ? { signal } : {}).catch(() => undefined);
}

/** Runs `task` until it succeeds, retrying on errors for up to `forMs` (Redis may be restarting). */
async function persist<T>(what: string, task: () => Promise<T>, ctx: BatchContext, forMs = 120_000): Promise<T> {
  const until = Date.now() + forMs;
  let said = false;
  for (;;) {
    try {
      return await task();
    } catch (error) {
      if (Date.now() > until || ctx.options.signal?.aborted) {
        throw new SpinegradeError('UNREADABLE', `${what}: ${describeError(error)}`);
      }
      if (!said) ctx.status.message(`batch: ${what} failed (${describeError(error)}); retrying`);
      said = true;
      await pause(1000, ctx.options.signal);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// In-process mode

async function runInProcess(ctx: BatchContext): Promise<void> {
  const { options, tracker, tuning } = ctx;
  const analyzer = await createAnalyzer({
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.localizer !== undefined ? { localizer: options.localizer } : {}),
  });
  ctx.enqueuedAt = Date.now();
  try {
    for (const study of [...tracker.remaining.values()]) {
      if (options.signal?.aborted) break;
      showStatus(ctx, { running: 1 });
      for (let attempt = 1; ; attempt++) {
        try {
          await processStudy(analyzer, jobData(ctx, study), {
            attempt,
            maxAttempts: tuning.attempts,
            ...(options.signal ? { signal: options.signal } : {}),
          });
          break;
        } catch (error) {
          if (!(error instanceof StudyFailure) || error.final || options.signal?.aborted) {
            if (!options.signal?.aborted) ctx.status.message(`batch: failed ${study.id}: ${describeError(error)}`);
            break;
          }
          const wait = tuning.backoffMs * 2 ** (attempt - 1);
          ctx.status.message(
            `batch: ${study.id} failed (attempt ${attempt}/${tuning.attempts}, retry in ${wait} ms): ${error.message}`,
          );
          await pause(wait, options.signal);
        }
      }
      await tracker.poll();
    }
  } finally {
    analyzer.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------
// Local worker processes

/** Worker processes started by the coordinator, restarted when one dies (a bounded number of times). */
class LocalWorkers {
  private readonly children = new Map<number, { child: ChildProcess; log: WriteStream; lastLine: string }>();
  private stopping = false;
  private deaths = 0;
  private readonly maxDeaths: number;
  private lastDeath = '';

  constructor(
    private readonly count: number,
    private readonly redis: RedisTarget,
    private readonly ctx: BatchContext,
  ) {
    this.maxDeaths = Math.max(3, count * 3);
  }

  start(): void {
    for (let slot = 1; slot <= this.count; slot++) this.spawn(slot);
  }

  /** The process ids of the live workers. */
  get pids(): number[] {
    return [...this.children.values()].map((c) => c.child.pid ?? 0).filter((pid) => pid > 0);
  }

  private spawn(slot: number): void {
    const { options, outDir } = this.ctx;
    const parameters: WorkerParameters = {
      redis: this.redis,
      concurrency: options.concurrency ?? 1,
      ...(options.model !== undefined ? { model: resolve(options.model) } : {}),
      ...(options.localizer !== undefined ? { localizer: resolve(options.localizer) } : {}),
      verbose: true,
    };
    // Parameters go by IPC message (a Redis password never shows in a process list); the worker stops
    // when this process goes away (the channel closes).
    const child = spawn(process.execPath, [WORKER_PROCESS_ENTRY], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      detached: true,
    });
    // A worker that dies before it reads the message is reported by the 'exit' handler below.
    child.send(workerParametersMessage(parameters), () => undefined);
    const log = createWriteStream(join(outDir, 'log', `worker-${slot}.log`), { flags: 'a' });
    const entry = { child, log, lastLine: '' };
    child.stderr?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      const lines = chunk.toString('utf8').trim().split('\n');
      entry.lastLine = lines.at(-1) ?? entry.lastLine;
    });
    child.once('exit', (code, signal) => {
      this.children.delete(slot);
      log.end();
      if (this.stopping) return;
      this.deaths++;
      this.lastDeath = `worker ${slot} (pid ${child.pid}) exited with ${signal ?? code}${entry.lastLine ? `: ${entry.lastLine}` : ''}`;
      this.ctx.status.message(`batch: ${this.lastDeath}`);
      if (this.deaths <= this.maxDeaths) {
        setTimeout(() => {
          if (!this.stopping) this.spawn(slot);
        }, 1000);
      }
    });
    this.children.set(slot, entry);
  }

  /** Throws when workers keep dying (more than the budget) and none is left. */
  check(): void {
    if (this.deaths > this.maxDeaths && this.children.size === 0) {
      throw new SpinegradeError(
        'INTERNAL',
        `worker processes keep dying (${this.deaths} times; last: ${this.lastDeath}); see ${join(this.ctx.outDir, 'log')}`,
      );
    }
  }

  /** Asks every worker to stop (SIGTERM: finish the job in hand), then kills those still there after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const exits = [...this.children.values()].map(
      ({ child }) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
    );
    const timer = setTimeout(() => {
      for (const { child } of this.children.values()) child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  /** Kills every worker at once (the coordinator is exiting). */
  killNow(): void {
    this.stopping = true;
    for (const { child } of this.children.values()) child.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------------------------------------------
// Queued mode

/** The kind recorded for a job BullMQ failed (the worker prefixes its reasons with the kind). */
function kindOfReason(reason: string): string {
  if (/stalled more than/i.test(reason)) return 'STALLED';
  return /^([A-Z_]+): /.exec(reason)?.[1] ?? 'INTERNAL';
}

/** Writes the failure record of a job that BullMQ failed without its worker writing one. */
async function recordFailedJob(ctx: BatchContext, study: BatchStudy, job: Job<BatchJobData>): Promise<void> {
  const reason = job.failedReason || 'failed (no reason recorded)';
  const kind = kindOfReason(reason);
  await writeFailureRecord(ctx.outDir, {
    schema: 'spinegrade/batch-failure',
    version: 1,
    studyKey: study.key,
    studyId: study.id,
    inputs: [...study.inputs],
    modelVersion: ctx.version.id,
    reason:
      kind === 'STALLED'
        ? `the worker analysing it died ${job.stalledCounter} time(s): ${reason}`
        : reason.replace(/^[A-Z_]+: /, ''),
    kind,
    attempts: Math.max(job.attemptsMade, job.attemptsStarted),
    worker: null,
    failedAt: new Date(job.finishedOn ?? Date.now()).toISOString(),
  });
}

/** Adds the jobs of `studies`; with `checkExisting`, jobs already in the queue are looked at first. */
async function enqueue(
  ctx: BatchContext,
  queue: Queue<BatchJobData>,
  studies: readonly BatchStudy[],
  checkExisting: boolean,
): Promise<void> {
  const options = batchJobOptions(ctx.tuning);
  const toAdd: { name: string; data: BatchJobData; opts: { jobId: string } & typeof options }[] = [];
  for (const study of studies) {
    const jobId = batchJobId(study.key, ctx.version.id);
    if (checkExisting) {
      const job = await persist('reading the queue', () => queue.getJob(jobId), ctx);
      if (job) {
        const state = await persist('reading the queue', () => job.getState(), ctx);
        if (state === 'failed' && !ctx.options.retryFailed) {
          await recordFailedJob(ctx, study, job); // failed in an earlier run without a record
          continue;
        }
        if (state === 'failed' || state === 'completed') {
          await persist('updating the queue', () => job.remove(), ctx);
        } else {
          continue; // waiting, delayed or active: an interrupted run's job, still queued
        }
      }
    }
    toAdd.push({ name: 'study', data: jobData(ctx, study), opts: { ...options, jobId } });
  }
  for (let n = 0; n < toAdd.length; n += 200) {
    const chunk = toAdd.slice(n, n + 200);
    await persist('adding jobs', () => queue.addBulk(chunk), ctx);
  }
}

/**
 * Looks at every unsettled study in the queue: a job the queue no longer has is added again (after
 * checking the disk once more), a failed job without a failure record gets one.
 */
async function reconcile(ctx: BatchContext, queue: Queue<BatchJobData>): Promise<void> {
  const options = batchJobOptions(ctx.tuning);
  for (const study of [...ctx.tracker.remaining.values()]) {
    const jobId = batchJobId(study.key, ctx.version.id);
    const job = await queue.getJob(jobId);
    if (!job) {
      if ((await studyState(ctx.outDir, study.id, ctx.version.id)) !== 'pending') continue;
      await queue.add('study', jobData(ctx, study), { ...options, jobId });
      ctx.requeued++;
      ctx.status.message(`batch: the queue had lost the job of ${study.id}; it is queued again`);
      continue;
    }
    const state = await job.getState();
    if (state === 'failed' && !(await readFailureRecord(ctx.outDir, study.id, ctx.version.id))) {
      await recordFailedJob(ctx, study, job);
    } else if (state === 'completed' && (await studyState(ctx.outDir, study.id, ctx.version.id)) === 'pending') {
      await job.remove();
      await queue.add('study', jobData(ctx, study), { ...options, jobId });
      ctx.requeued++;
    }
  }
}

const LIVE_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'] as const;

async function runQueued(ctx: BatchContext, target: RedisTarget, embedded: RedisServer | undefined): Promise<void> {
  const { options, tracker } = ctx;
  const signal = options.signal;
  let server = embedded;
  let restarts = 0;
  const connection = queueConnection(target);
  const name = queueName(ctx.version.id);
  const queue = new Queue<BatchJobData>(name, { connection });
  let lastProblem = '';
  queue.on('error', (error) => {
    const text = describeError(error);
    if (text !== lastProblem) ctx.status.message(`batch: Redis problem: ${text}`);
    lastProblem = text;
  });
  const localCount = options.workers ?? 1;
  const workers = new LocalWorkers(localCount, target, ctx);
  // If this process exits without cleaning up (an uncaught error, a second Ctrl-C), take the children along.
  const onExit = (): void => {
    workers.killNow();
    if (server?.running) void server.stop();
  };
  process.once('exit', onExit);
  try {
    await persist('connecting to Redis', () => queue.waitUntilReady(), ctx);
    await enqueue(ctx, queue, [...tracker.remaining.values()], embedded === undefined);
    ctx.enqueuedAt = Date.now();
    workers.start();
    if (localCount === 0) {
      ctx.status.message(
        `batch: waiting for workers: run \`spinegrade worker --redis ${redisUrl(target)}\` (same models, ${ctx.version.short}; same paths) on any machine`,
      );
    }
    let lastReconcile = Date.now();
    let idleSince: number | undefined;
    let running: number | undefined;
    let connected: number | undefined;
    while (tracker.remaining.size > 0 && !signal?.aborted) {
      // Each look at the disk opens two small files per unsettled study: look less often in big cohorts.
      await pause(Math.min(30_000, Math.max(1000, tracker.remaining.size / 5)), signal);
      if (signal?.aborted) break;
      workers.check();
      if (server && !server.running) {
        if (restarts >= 3)
          throw new SpinegradeError(
            'UNREADABLE',
            `the batch's redis-server keeps stopping (see ${server.dir}/redis.log)`,
          );
        restarts++;
        ctx.status.message(
          `batch: the batch's redis-server stopped; restarting it on its append-only file (${restarts}/3)`,
        );
        server = await startRedisServer({ dir: server.dir, port: server.port, dieWithParent: true });
      }
      let live: number | undefined;
      try {
        const counts = await queue.getJobCounts(...LIVE_STATES);
        live = LIVE_STATES.reduce((n, state) => n + (counts[state] ?? 0), 0);
        running = counts.active;
        connected = await queue.getWorkersCount();
      } catch {
        live = undefined; // Redis away: keep watching the disk
      }
      await tracker.poll();
      showStatus(ctx, {
        ...(running !== undefined ? { running } : {}),
        ...(connected !== undefined ? { workers: connected } : {}),
      });
      if (live === 0 && tracker.remaining.size > 0) idleSince ??= Date.now();
      else idleSince = undefined;
      const idleLongEnough = idleSince !== undefined && Date.now() - idleSince > 2000;
      if (live !== undefined && tracker.remaining.size > 0 && (idleLongEnough || Date.now() - lastReconcile > 30_000)) {
        try {
          await reconcile(ctx, queue);
        } catch (error) {
          ctx.status.message(`batch: could not check the queue (${describeError(error)}); will try again`);
        }
        lastReconcile = Date.now();
        idleSince = undefined;
        await tracker.poll();
      }
    }
  } finally {
    await workers.stop(Math.max(30_000, ctx.tuning.lockDurationMs));
    process.removeListener('exit', onExit);
    await queue.close().catch(() => undefined);
    await closeRedis(connection);
    if (server) await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------------

async function prepareOutDir(outDir: string): Promise<void> {
  const existing = await stat(outDir).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new SpinegradeError('OUTPUT_ERROR', 'output exists and is not a folder', outDir);
  }
  try {
    await mkdir(join(outDir, 'studies'), { recursive: true });
    await mkdir(join(outDir, 'log'), { recursive: true });
  } catch (error) {
    throw new SpinegradeError('OUTPUT_ERROR', `cannot create the output folder (${describeError(error)})`, outDir);
  }
}

function wholeNumber(value: number | undefined, name: string, minimum: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= minimum)) {
    throw new SpinegradeError('USAGE', `${name} wants a whole number ≥ ${minimum}, got ${value}`);
  }
}

/** Runs the states of many studies' records, a few at a time. */
async function statesOf(studies: readonly BatchStudy[], outDir: string, version: string): Promise<string[]> {
  const states: string[] = new Array(studies.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < studies.length) {
        const n = next++;
        states[n] = await studyState(outDir, (studies[n] as BatchStudy).id, version);
      }
    }),
  );
  return states;
}

function meanStages(records: readonly DoneRecord[]): Record<string, number> | null {
  if (records.length === 0) return null;
  const sums: Record<string, number> = {};
  for (const record of records) {
    for (const [stage, ms] of Object.entries(record.timings)) sums[stage] = (sums[stage] ?? 0) + ms;
  }
  return Object.fromEntries(Object.entries(sums).map(([stage, sum]) => [stage, Math.round(sum / records.length)]));
}

function throughput(records: readonly DoneRecord[]): number | null {
  if (records.length === 0) return null;
  const start = Math.min(...records.map((r) => Date.parse(r.startedAt)));
  const end = Math.max(...records.map((r) => Date.parse(r.finishedAt)));
  return end > start ? (records.length / (end - start)) * 60_000 : null;
}

/**
 * Runs a batch (see the module comment) and returns what it did. Throws a {@link SpinegradeError} for
 * a bad input, output or Redis; a study that fails is a row of the cohort table, not an error.
 */
export async function runBatch(options: BatchOptions): Promise<BatchSummary> {
  const startedAt = new Date();
  const stderr = options.stderr ?? process.stderr;
  const status = new StatusLine(stderr, options.quiet === true);
  wholeNumber(options.workers, '--workers', 0);
  wholeNumber(options.concurrency, '--concurrency', 1);
  if (options.workers === 0 && options.redis === undefined) {
    throw new SpinegradeError('USAGE', '--workers 0 needs --redis <url> (workers elsewhere take the jobs)');
  }
  if (options.redis !== undefined && options.inProcess) {
    throw new SpinegradeError('USAGE', '--in-process and --redis contradict each other');
  }
  const target = options.redis === undefined ? undefined : parseRedisUrl(options.redis);
  const outDir = resolve(options.out);
  const tuning = batchTuning();
  const version = await modelVersion(options);
  const discovery = await discoverBatchStudies(options.input, {
    ...(options.pixelSpacing ? { pixelSpacing: options.pixelSpacing } : {}),
    exclude: [outDir],
  });
  await prepareOutDir(outDir);
  await cleanStaging(outDir);
  const { studies } = discovery;
  const skipped = [...discovery.skipped].map(([reason, n]) => `${n} ${reason}`).join('; ');
  status.message(
    `batch: ${studies.length} stud${studies.length === 1 ? 'y' : 'ies'} in ${options.input}${skipped ? ` (skipped: ${skipped})` : ''}`,
  );

  const states = await statesOf(studies, outDir, version.id);
  const pending: BatchStudy[] = [];
  let alreadyDone = 0;
  let alreadyFailed = 0;
  for (const [n, study] of studies.entries()) {
    const state = states[n];
    if (state === 'done') alreadyDone++;
    else if (state === 'failed' && !options.retryFailed) alreadyFailed++;
    else {
      if (state === 'failed') await rm(failureRecordPath(outDir, study.id), { force: true });
      pending.push(study);
    }
  }
  status.message(
    `batch: models ${version.short}: ${alreadyDone} already done, ${alreadyFailed} failed before${alreadyFailed > 0 ? ' (kept; --retry-failed tries them again)' : ''}, ${pending.length} to analyse`,
  );
  const ctx: BatchContext = {
    options,
    outDir,
    version,
    tuning,
    status,
    tracker: new Tracker(outDir, version.id, pending),
    total: studies.length,
    alreadyDone,
    alreadyFailed,
    enqueuedAt: Date.now(),
    requeued: 0,
  };

  let mode: BatchMode = 'nothing-to-do';
  if (pending.length > 0) {
    if (target) {
      mode = 'redis';
      await pingRedis(target);
      status.message(
        `batch: queue ${queueName(version.id)} on ${redisUrl(target)}, ${options.workers ?? 1} local worker(s)`,
      );
      await runQueued(ctx, target, undefined);
    } else {
      const binary = options.inProcess ? undefined : findRedisServer();
      if (!binary) {
        mode = 'in-process';
        status.message(
          options.inProcess
            ? 'batch: running in-process as asked: one study after another in this process (same outputs, retries and resume)'
            : 'batch: redis-server is not on PATH: running in-process instead, one study after another (same outputs, retries and resume; install redis-server for parallel workers)',
        );
        await runInProcess(ctx);
      } else {
        mode = 'embedded-redis';
        const dir = await mkdtemp(join(tmpdir(), 'spinegrade-redis-'));
        try {
          const server = await startRedisServer({ binary, dir, dieWithParent: true });
          status.message(
            `batch: started redis-server on ${server.url} (data in ${dir}), ${options.workers ?? 1} worker process(es)`,
          );
          await runQueued(ctx, server.target, server);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    }
    await ctx.tracker.poll();
    showStatus(ctx);
    status.finish();
  }

  await cleanStaging(outDir).catch(() => undefined);
  const { rows, counts } = await buildCohort(studies, outDir, version.id);
  const files = await writeCohort(rows, outDir);
  const cohortHtml = await writeCohortPage(rows, outDir, {
    createdAt: new Date().toISOString(),
    modelVersion: version.id,
  });
  const finishedAt = new Date();
  const records = ctx.tracker.doneThisRun;
  const settled = ctx.tracker.settled;
  const summary: BatchSummary = {
    schema: 'spinegrade/batch-run',
    version: 1,
    input: resolve(options.input),
    out: outDir,
    mode,
    modelVersion: version.id,
    software: version.software,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    interrupted: options.signal?.aborted === true && ctx.tracker.remaining.size > 0,
    workers: mode === 'in-process' ? 1 : mode === 'nothing-to-do' ? 0 : (options.workers ?? 1),
    concurrency: options.concurrency ?? 1,
    studies: {
      total: studies.length,
      alreadyDone,
      alreadyFailed,
      analysed: records.length,
      failed: ctx.tracker.failedThisRun,
      pending: ctx.tracker.remaining.size,
      requeued: ctx.requeued,
    },
    elapsedMs: finishedAt.getTime() - startedAt.getTime(),
    studiesPerMinute: settled > 0 ? (settled / Math.max(1, finishedAt.getTime() - ctx.enqueuedAt)) * 60_000 : null,
    throughputPerMinute: throughput(records),
    meanStageMs: meanStages(records),
    files: {
      cohortCsv: files.csv,
      cohortJsonl: files.jsonl,
      cohortHtml,
      summary: join(outDir, 'batch-run.json'),
    },
    cohort: counts,
    skippedFiles: Object.fromEntries(discovery.skipped),
  };
  await writeFileAtomic(
    summary.files.summary,
    `${JSON.stringify({ ...summary, coordinator: thisWorker() }, null, 2)}\n`,
    {
      overwrite: true,
    },
  );
  return summary;
}
