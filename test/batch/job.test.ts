import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Queue, Worker } from 'bullmq';
import type { Analyzer } from '../../src/analyze/analyze.js';
import {
  type BatchJobData,
  batchJobId,
  DONE_RECORD,
  type DoneRecord,
  failureRecordPath,
  isRetryable,
  modelVersion,
  processStudy,
  queueName,
  readFailureRecord,
  StudyFailure,
  studyOutputDir,
  studyState,
} from '../../src/batch/job.js';
import { closeRedis, queueConnection, workerConnection } from '../../src/batch/redis.js';
import { startRedisServer } from '../../src/batch/redis-server.js';
import { batchJobOptions, batchTuning, DEFAULT_TUNING, studyProcessor } from '../../src/batch/worker.js';
import { SpinegradeError } from '../../src/errors.js';
import { skipWhenMissing } from '../helpers/programs.js';
import { tempFolder } from '../helpers/tmp.js';
import { NO_REDIS, readJournal, waitUntil } from './helpers.js';

/** An analyzer whose every analysis throws `error` (counting the calls). */
function failingAnalyzer(error: () => Error): Analyzer & { calls: number } {
  const stub = {
    calls: 0,
    analyze() {
      stub.calls++;
      return Promise.reject(error());
    },
    dispose() {},
  };
  return stub as unknown as Analyzer & { calls: number };
}

function jobData(outDir: string, version: string, studyId = 'S1'): BatchJobData {
  return { studyKey: `key-${studyId}`, studyId, inputs: ['/nowhere/s.mha'], outDir, modelVersion: version };
}

test('the model version hashes the model files, not their paths, and names the queue and job ids', async () => {
  const a = await modelVersion();
  const b = await modelVersion({});
  assert.equal(a.id, b.id);
  assert.match(a.id, /^[0-9a-f]{64}$/);
  assert.equal(a.short, a.id.slice(0, 12));
  assert.match(queueName(a.id), /^spinegrade-batch-[0-9a-f]{16}$/);
  assert.equal(batchJobId('study', a.id), batchJobId('study', a.id));
  assert.notEqual(batchJobId('study', a.id), batchJobId('study', `${a.id}x`), 'new models, new job');
  assert.notEqual(batchJobId('study-1', a.id), batchJobId('study-2', a.id));
  assert.doesNotMatch(batchJobId('a:b', a.id), /:/, 'BullMQ job ids must not hold a colon');
  await assert.rejects(modelVersion({ model: '/no/such/model' }), (e: unknown) => e instanceof SpinegradeError);
});

test('input problems are final at once; other failures are retried, and the last attempt records why', async (t) => {
  const out = await tempFolder(t);
  const version = 'v'.repeat(64);
  assert.equal(isRetryable(new SpinegradeError('NOT_AN_IMAGE', 'x')), false);
  assert.equal(isRetryable(new SpinegradeError('NO_USABLE_SERIES', 'x')), false);
  assert.equal(isRetryable(new SpinegradeError('UNREADABLE', 'x')), true);
  assert.equal(isRetryable(new Error('out of memory')), true);

  const bad = failingAnalyzer(() => new SpinegradeError('TRUNCATED', 'ends early', '/nowhere/s.mha'));
  await assert.rejects(
    processStudy(bad, jobData(out, version), { attempt: 1, maxAttempts: 3 }),
    (e: unknown) => e instanceof StudyFailure && !e.retryable && e.final && e.kind === 'TRUNCATED',
  );
  const record = await readFailureRecord(out, 'S1', version);
  assert.equal(record?.kind, 'TRUNCATED');
  assert.match(record?.reason ?? '', /ends early/);
  assert.equal(await studyState(out, 'S1', version), 'failed');
  assert.equal(await studyState(out, 'S1', `${version}x`), 'pending', 'a failure with other models does not count');

  const flaky = failingAnalyzer(() => new Error('worker ran out of memory'));
  await assert.rejects(
    processStudy(flaky, jobData(out, version, 'S2'), { attempt: 1, maxAttempts: 3 }),
    (e: unknown) => e instanceof StudyFailure && e.retryable && !e.final,
  );
  assert.equal(await studyState(out, 'S2', version), 'pending', 'no record before the last attempt');
  await assert.rejects(processStudy(flaky, jobData(out, version, 'S2'), { attempt: 3, maxAttempts: 3 }));
  assert.equal((await readFailureRecord(out, 'S2', version))?.attempts, 3);
  const journal = await readJournal(out);
  assert.deepEqual(
    journal.map((l) => `${l.event} ${l.studyId} ${l.attempt}`),
    ['start S1 1', 'fail S1 1', 'start S2 1', 'fail S2 1', 'start S2 3', 'fail S2 3'],
  );
});

test('a study already done with the same models is not analysed again', async (t) => {
  const out = await tempFolder(t);
  const version = 'w'.repeat(64);
  const folder = studyOutputDir(out, 'S1');
  await mkdir(folder, { recursive: true });
  const done: Partial<DoneRecord> = {
    schema: 'spinegrade/batch-study',
    version: 1,
    studyId: 'S1',
    modelVersion: version,
  };
  await writeFile(join(folder, DONE_RECORD), JSON.stringify(done));
  const analyzer = failingAnalyzer(() => new Error('must not be called'));
  const outcome = await processStudy(analyzer, jobData(out, version), { attempt: 1, maxAttempts: 3 });
  assert.equal(outcome.status, 'already-done');
  assert.equal(analyzer.calls, 0);
  assert.deepEqual(
    (await readJournal(out)).map((l) => l.event),
    ['skip'],
  );
  // Other models: the old result does not count.
  await assert.rejects(processStudy(analyzer, jobData(out, `${version}x`), { attempt: 1, maxAttempts: 1 }));
  assert.equal(analyzer.calls, 1);
});

test('queue timings come from the environment and are checked', () => {
  assert.deepEqual(batchTuning({}), DEFAULT_TUNING);
  assert.equal(batchTuning({ SPINEGRADE_BATCH_LOCK_MS: '5000' }).lockDurationMs, 5000);
  assert.equal(batchTuning({ SPINEGRADE_BATCH_MAX_STALLED: '0' }).maxStalledCount, 0);
  assert.throws(() => batchTuning({ SPINEGRADE_BATCH_ATTEMPTS: '0' }), /SPINEGRADE_BATCH_ATTEMPTS/);
  assert.throws(() => batchTuning({ SPINEGRADE_BATCH_STALLED_MS: 'soon' }), /whole number/);
  const options = batchJobOptions(DEFAULT_TUNING);
  assert.equal(options.attempts, 3);
  assert.deepEqual(options.backoff, { type: 'exponential', delay: DEFAULT_TUNING.backoffMs });
  assert.equal(options.removeOnFail, false, 'failed jobs stay in the failed set');
});

test('BullMQ retries a failing study a bounded number of times, then parks it in the failed set with its reason', async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const dir = await tempFolder(t, 'spinegrade-redis-');
  const out = await tempFolder(t);
  const server = await startRedisServer({ dir });
  const version = await modelVersion();
  const tuning = { ...DEFAULT_TUNING, backoffMs: 50 };
  const connection = queueConnection(server.target);
  const workerRedis = workerConnection(server.target);
  const name = queueName(version.id);
  const queue = new Queue<BatchJobData>(name, { connection });
  const flaky = failingAnalyzer(() => new Error('segmentation fault in a codec'));
  const broken = failingAnalyzer(() => new SpinegradeError('NOT_AN_IMAGE', 'not an image', '/x.mha'));
  let current = flaky;
  const worker = new Worker<BatchJobData, 'done' | 'already-done'>(
    name,
    (job) => studyProcessor(current, version)(job),
    { connection: workerRedis, lockDuration: 5000, stalledInterval: 1000 },
  );
  worker.on('error', () => undefined);
  t.after(async () => {
    await worker.close();
    await queue.close();
    await Promise.all([closeRedis(workerRedis), closeRedis(connection)]);
    await server.stop();
  });
  await queue.add('study', jobData(out, version.id, 'flaky'), { ...batchJobOptions(tuning), jobId: 'flaky' });
  await waitUntil(
    'the flaky job to fail for good',
    async () => (await queue.getJobState('flaky')) === 'failed',
    30_000,
  );
  const job = await queue.getJob('flaky');
  assert.equal(job?.attemptsMade, 3, 'three attempts, then it stays failed');
  assert.match(job?.failedReason ?? '', /INTERNAL: segmentation fault/);
  assert.equal(flaky.calls, 3);
  assert.equal((await readFailureRecord(out, 'flaky', version.id))?.attempts, 3);

  current = broken;
  await queue.add('study', jobData(out, version.id, 'broken'), { ...batchJobOptions(tuning), jobId: 'broken' });
  await waitUntil('the broken job to fail', async () => (await queue.getJobState('broken')) === 'failed', 30_000);
  assert.equal(broken.calls, 1, 'an input problem is not retried');
  assert.match((await queue.getJob('broken'))?.failedReason ?? '', /^NOT_AN_IMAGE: /);
  assert.deepEqual(await queue.getFailedCount(), 2);
  assert.match(await readFile(failureRecordPath(out, 'broken'), 'utf8'), /"kind": "NOT_AN_IMAGE"/);

  // A job made for other models is refused, not analysed with the wrong ones.
  await queue.add('study', { ...jobData(out, version.id, 'other'), modelVersion: 'f'.repeat(64) }, { jobId: 'other' });
  await waitUntil('the foreign job to fail', async () => (await queue.getJobState('other')) === 'failed', 30_000);
  assert.match((await queue.getJob('other'))?.failedReason ?? '', /made for models ffffffffffff/);
  assert.equal(broken.calls, 1);
});
