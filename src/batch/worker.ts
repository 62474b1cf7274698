/**
 * The BullMQ side of batch grading: the queue's job options and the worker loop that
 * `spinegrade worker` runs (on any number of machines against one Redis).
 *
 * Failure handling is BullMQ's own: a job that throws is retried with exponential backoff up to
 * `attempts` times, then stays in the queue's failed set with its reason; an input problem is an
 * `UnrecoverableError` (no retry). A worker that dies mid-job (SIGKILL, out of memory, machine lost)
 * stops renewing the job's lock; another worker's stalled-job check moves the job back to waiting
 * after `lockDuration`, at most `maxStalledCount` times before the job is failed — bounded, never
 * lost. The job itself is idempotent (see `job.ts`), so a job run twice is written once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, type JobsOptions, UnrecoverableError, Worker } from 'bullmq';
import type { Analyzer } from '../analyze/analyze.js';
import { describeError, SpinegradeError } from '../errors.js';
import {
  type BatchJobData,
  type ModelVersion,
  processStudy,
  queueName,
  StudyFailure,
  type StudyOutcome,
} from './job.js';
import { closeRedis, pingRedis, type RedisTarget, redisUrl, workerConnection } from './redis.js';

/** Timing of the queue: lock, stalled-job check, retries. */
export interface BatchTuning {
  /** How long a job's lock lasts without renewal (renewed every half of it while the worker lives). */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock expired. */
  stalledIntervalMs: number;
  /** How many times a job may be recovered from a dead worker before it is failed. */
  maxStalledCount: number;
  /** Attempts of a job that throws (the first included). */
  attempts: number;
  /** First retry delay; doubled for each further attempt. */
  backoffMs: number;
}

/** The defaults: a two-minute lock (an analysis may hold the event loop for seconds), checked every 30 s. */
export const DEFAULT_TUNING: Readonly<BatchTuning> = {
  lockDurationMs: 120_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 2,
  attempts: 3,
  backoffMs: 5_000,
};

const TUNING_ENV: Readonly<Record<keyof BatchTuning, string>> = {
  lockDurationMs: 'SPINEGRADE_BATCH_LOCK_MS',
  stalledIntervalMs: 'SPINEGRADE_BATCH_STALLED_MS',
  maxStalledCount: 'SPINEGRADE_BATCH_MAX_STALLED',
  attempts: 'SPINEGRADE_BATCH_ATTEMPTS',
  backoffMs: 'SPINEGRADE_BATCH_BACKOFF_MS',
};

/**
 * {@link DEFAULT_TUNING} with overrides from the environment (`SPINEGRADE_BATCH_LOCK_MS`,
 * `SPINEGRADE_BATCH_STALLED_MS`, `SPINEGRADE_BATCH_MAX_STALLED`, `SPINEGRADE_BATCH_ATTEMPTS`,
 * `SPINEGRADE_BATCH_BACKOFF_MS`); throws `USAGE` for a value that is not a whole number in range.
 */
export function batchTuning(env: NodeJS.ProcessEnv = process.env): BatchTuning {
  const tuning: BatchTuning = { ...DEFAULT_TUNING };
  for (const key of Object.keys(TUNING_ENV) as (keyof BatchTuning)[]) {
    const text = env[TUNING_ENV[key]];
    if (text === undefined || text === '') continue;
    const value = Number(text);
    const minimum = key === 'maxStalledCount' ? 0 : 1;
    if (!Number.isInteger(value) || value < minimum) {
      throw new SpinegradeError('USAGE', `${TUNING_ENV[key]} wants a whole number ≥ ${minimum}, got "${text}"`);
    }
    tuning[key] = value;
  }
  return tuning;
}

/** The options every batch job is added with. */
export function batchJobOptions(tuning: BatchTuning): JobsOptions {
  return {
    attempts: tuning.attempts,
    backoff: { type: 'exponential', delay: tuning.backoffMs },
    // A finished job's result is on disk; keeping it in Redis would stop a re-run from recomputing a
    // study whose outputs were deleted. Failed jobs stay, with their reason.
    removeOnComplete: true,
    removeOnFail: false,
  };
}

/** Options of {@link runWorker}. */
export interface WorkerRunOptions {
  redis: RedisTarget;
  /** Jobs one process works on at once (default 1; analyses are CPU-bound, so run one worker per core). */
  concurrency?: number;
  /** Loaded once, reused for every job. */
  analyzer: Analyzer;
  version: ModelVersion;
  tuning?: BatchTuning;
  /** One line per event (ready, each job, problems). */
  log?: (line: string) => void;
  /** Also log each finished job (default true). */
  verbose?: boolean;
  /** Resolves when the worker should stop: it finishes the jobs in hand, then returns. */
  stop: Promise<unknown>;
}

/** What a worker did before it stopped. */
export interface WorkerSummary {
  analysed: number;
  alreadyDone: number;
  failed: number;
}

/** The job function of a BullMQ worker: {@link processStudy}, with failures mapped to BullMQ's terms. */
export function studyProcessor(
  analyzer: Analyzer,
  version: ModelVersion,
): (job: Job<BatchJobData, StudyOutcome['status']>) => Promise<StudyOutcome['status']> {
  return async (job) => {
    if (job.data.modelVersion !== version.id) {
      throw new UnrecoverableError(
        `the job was made for models ${job.data.modelVersion.slice(0, 12)} but this worker has ${version.short}`,
      );
    }
    try {
      const outcome = await processStudy(analyzer, job.data, {
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
      });
      return outcome.status;
    } catch (error) {
      if (error instanceof StudyFailure && !error.retryable)
        throw new UnrecoverableError(`${error.kind}: ${error.message}`);
      throw error instanceof StudyFailure ? new Error(`${error.kind}: ${error.message}`) : error;
    }
  };
}

/**
 * Runs a worker until `options.stop` resolves: takes jobs of the queue for its own model version
 * ({@link queueName}), analyses them, and on stop finishes the jobs in hand before closing.
 */
export async function runWorker(options: WorkerRunOptions): Promise<WorkerSummary> {
  const log = options.log ?? (() => undefined);
  const verbose = options.verbose ?? true;
  const tuning = options.tuning ?? batchTuning();
  await pingRedis(options.redis);
  const connection = workerConnection(options.redis);
  const summary: WorkerSummary = { analysed: 0, alreadyDone: 0, failed: 0 };
  const name = queueName(options.version.id);
  const processor = studyProcessor(options.analyzer, options.version);
  let analysing = 0;
  const worker = new Worker<BatchJobData, StudyOutcome['status']>(
    name,
    async (job) => {
      analysing++;
      try {
        return await processor(job);
      } finally {
        analysing--;
      }
    },
    {
      connection,
      concurrency: Math.max(1, options.concurrency ?? 1),
      lockDuration: tuning.lockDurationMs,
      stalledInterval: tuning.stalledIntervalMs,
      maxStalledCount: tuning.maxStalledCount,
      // Retry Redis operations 2 s after a connection loss (BullMQ's default waits 15 s).
      runRetryDelay: 2000,
      autorun: false,
    },
  );
  let lastProblem = '';
  let lastProblemAt = 0;
  worker.on('error', (error) => {
    // Connection losses repeat on every retry while Redis is away: say each distinct problem once per 10 s.
    const text = describeError(error);
    if (text !== lastProblem || Date.now() - lastProblemAt > 10_000) log(`worker: Redis problem: ${text}`);
    lastProblem = text;
    lastProblemAt = Date.now();
  });
  worker.on('active', (job) => {
    if (verbose) log(`worker: start ${job.data.studyId} (attempt ${job.attemptsMade + 1})`);
  });
  worker.on('completed', (job, status) => {
    if (status === 'already-done') summary.alreadyDone++;
    else summary.analysed++;
    if (verbose) {
      const seconds = job.finishedOn && job.processedOn ? ((job.finishedOn - job.processedOn) / 1000).toFixed(1) : '?';
      log(`worker: ${status === 'already-done' ? 'already done' : 'done'} ${job.data.studyId} (${seconds} s)`);
    }
  });
  worker.on('failed', (job, error) => {
    summary.failed++;
    if (!job) return;
    const attempts = job.opts.attempts ?? 1;
    const final = error.name === 'UnrecoverableError' || job.attemptsMade >= attempts;
    log(
      `worker: failed ${job.data.studyId} (attempt ${job.attemptsMade}/${attempts}${final ? ', final' : ', will retry'}): ${describeError(error)}`,
    );
  });
  worker.on('stalled', (jobId) => log(`worker: job ${jobId} stalled (its worker stopped); it is queued again`));
  void worker.run().catch(() => undefined); // its problems are 'error' events; it ends with close() below
  await worker.waitUntilReady();
  log(
    `worker: ready on ${redisUrl(options.redis)} queue ${name} (models ${options.version.short}, concurrency ${Math.max(1, options.concurrency ?? 1)}, pid ${process.pid})`,
  );
  await options.stop;
  log('worker: stopping after the jobs in hand');
  // Not a plain worker.close(): it first waits for its blocking connection to end, which never happens
  // while that connection is reconnecting (bullmq#4656), so a worker stopped while Redis is away would
  // never exit. Instead: take no more jobs, let the analyses in hand finish, then close without waiting.
  // (A result that could not be recorded because Redis was away is found on disk when BullMQ hands the
  // stalled job out again.)
  await worker.pause(true);
  while (analysing > 0) await sleep(100);
  await worker.close(true);
  await closeRedis(connection);
  return summary;
}
