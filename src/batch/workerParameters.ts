/**
 * What a batch worker process is told to do: one typed definition, built by `spinegrade worker` from
 * its flags and by `batch` for the workers it starts, and sent to a started worker as one IPC message
 * (so a Redis password never shows in a process list).
 */
import { SpinegradeError } from '../errors.js';
import type { ModelChoice } from './job.js';
import { parseRedisUrl, type RedisTarget, redisUrl } from './redis.js';

/** The parameters of one worker process. */
export interface WorkerParameters extends Readonly<ModelChoice> {
  readonly redis: RedisTarget;
  /** Jobs the process works on at once (≥ 1). */
  readonly concurrency: number;
  /** Log each job, not only problems. */
  readonly verbose: boolean;
}

/** {@link WorkerParameters} as the plain JSON message sent to a worker process. */
export interface WorkerParametersMessage {
  readonly kind: 'spinegrade-worker-parameters';
  /** The Redis URL, password included. */
  readonly redisUrl: string;
  readonly concurrency: number;
  readonly model?: string;
  readonly localizer?: string;
  readonly verbose: boolean;
}

/** The message that carries `parameters` to a worker process. */
export function workerParametersMessage(parameters: WorkerParameters): WorkerParametersMessage {
  return {
    kind: 'spinegrade-worker-parameters',
    redisUrl: redisUrl(parameters.redis, true),
    concurrency: parameters.concurrency,
    ...(parameters.model !== undefined ? { model: parameters.model } : {}),
    ...(parameters.localizer !== undefined ? { localizer: parameters.localizer } : {}),
    verbose: parameters.verbose,
  };
}

/** Checks a message received by a worker process and returns its parameters; `INTERNAL` when it is malformed. */
export function parseWorkerParametersMessage(message: unknown): WorkerParameters {
  const bad = (what: string): SpinegradeError =>
    new SpinegradeError('INTERNAL', `the worker process got malformed parameters from batch: ${what}`);
  if (typeof message !== 'object' || message === null) throw bad('not an object');
  const m = message as Record<string, unknown>;
  if (m.kind !== 'spinegrade-worker-parameters') throw bad('not a parameters message');
  if (typeof m.redisUrl !== 'string') throw bad('no Redis URL');
  if (typeof m.concurrency !== 'number' || !Number.isInteger(m.concurrency) || m.concurrency < 1) {
    throw bad('concurrency is not a whole number ≥ 1');
  }
  if (typeof m.verbose !== 'boolean') throw bad('verbose is not true or false');
  for (const key of ['model', 'localizer'] as const) {
    if (m[key] !== undefined && typeof m[key] !== 'string') throw bad(`${key} is not a folder path`);
  }
  return {
    redis: parseRedisUrl(m.redisUrl),
    concurrency: m.concurrency,
    ...(typeof m.model === 'string' ? { model: m.model } : {}),
    ...(typeof m.localizer === 'string' ? { localizer: m.localizer } : {}),
    verbose: m.verbose,
  };
}
