/**
 * The batch's recovery paths, each driven to the state it recovers from and observed there (jobs in
 * the queue, a worker holding a job's lock, a study started), never after a fixed delay: jobs lost
 * with a Redis restarted without its append-only file, a study whose workers keep dying (STALLED),
 * `--retry-failed`, and Ctrl-C.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { Queue } from 'bullmq';
import { batchJobId, failureRecordPath, modelVersion, queueName } from '../../src/batch/job.js';
import { closeRedis, queueConnection } from '../../src/batch/redis.js';
import { startRedisServer } from '../../src/batch/redis-server.js';
import { skipWhenMissing } from '../helpers/programs.js';
import { tempFolder } from '../helpers/tmp.js';
import {
  type CliProcess,
  countEvents,
  duplicateRows,
  FAST_QUEUE_ENV,
  makeCohort,
  NO_REDIS,
  readCohortRows,
  readJournal,
  startCli,
  startRedisFront,
  waitForLock,
  waitUntil,
} from './helpers.js';

let version: string;

before(async () => {
  version = (await modelVersion()).id;
});

test('jobs lost with a Redis restarted without its append-only file are queued again, and each study is analysed once', async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const root = await tempFolder(t, 'spinegrade-batch-');
  const cohort = join(root, 'cohort');
  const out = join(root, 'out');
  await makeCohort(cohort, ['a.mha', 'sub/b.mha']);
  const front = await startRedisFront();
  let server = await startRedisServer({ dir: join(root, 'redis-1') });
  front.point(server.port);
  const workers: CliProcess[] = [];
  const batch = startCli(['batch', cohort, '--out', out, '--redis', front.url, '--workers', '0'], FAST_QUEUE_ENV);
  t.after(async () => {
    batch.child.kill('SIGKILL');
    for (const worker of workers) worker.child.kill('SIGKILL');
    await server.stop('SIGKILL');
    await front.close();
  });
  // Both jobs are in the queue (and no worker has taken one) ...
  await batch.waitForLine(/^batch: waiting for workers/);
  const look = queueConnection(server.target);
  const queue = new Queue(queueName(version), { connection: look });
  assert.equal(await queue.getWaitingCount(), 2);
  await queue.close();
  await closeRedis(look);
  // ... when Redis dies and comes back empty: a new data folder, so no append-only file to replay.
  await server.stop('SIGKILL');
  front.point(undefined);
  server = await startRedisServer({ dir: join(root, 'redis-2') });
  front.point(server.port);
  workers.push(startCli(['worker', '--redis', front.url], FAST_QUEUE_ENV));

  const result = await batch.done;
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /2 studies: 2 done \(2 analysed now, 0 done before\), 0 failed, 0 not finished/);
  assert.match(result.stderr, /the queue had lost the job of a\.mha; it is queued again/);
  const summary = JSON.parse(await readFile(join(out, 'batch-run.json'), 'utf8')) as { studies: { requeued: number } };
  assert.equal(summary.studies.requeued, 2, 'both lost jobs were queued again');
  const done = countEvents(await readJournal(out), 'done');
  assert.deepEqual([...done.values()], [1, 1], 'each study analysed once');
  assert.deepEqual(duplicateRows(await readCohortRows(out)), []);
});

test('a study whose worker dies on it again and again fails as STALLED; it is kept until --retry-failed', {
  timeout: 300_000,
}, async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const root = await tempFolder(t, 'spinegrade-batch-');
  const cohort = join(root, 'cohort');
  const out = join(root, 'out');
  await makeCohort(cohort, ['a.mha']);
  const server = await startRedisServer({ dir: join(root, 'redis') });
  const env = { ...FAST_QUEUE_ENV, SPINEGRADE_BATCH_MAX_STALLED: '1' };
  const connection = queueConnection(server.target);
  const workers: CliProcess[] = [];
  const batch = startCli(['batch', cohort, '--out', out, '--redis', server.url, '--workers', '0'], env);
  t.after(async () => {
    batch.child.kill('SIGKILL');
    for (const worker of workers) worker.child.kill('SIGKILL');
    await closeRedis(connection);
    await server.stop('SIGKILL');
  });
  await batch.waitForLine(/^batch: waiting for workers/);
  const jobId = batchJobId('a.mha', version);
  // Two workers in turn die while analysing it (killed once they hold its lock); the second death is
  // one more than SPINEGRADE_BATCH_MAX_STALLED allows.
  for (const turn of [1, 2]) {
    const worker = startCli(['worker', '--redis', server.url], env);
    workers.push(worker);
    await worker.waitForLine(/^worker: start a\.mha/, 120_000);
    await waitForLock(connection, queueName(version), jobId);
    worker.child.kill('SIGKILL');
    await worker.done;
    if (turn === 1) assert.equal((await readJournal(out)).filter((l) => l.event === 'done').length, 0);
  }
  // A third worker finds the job stalled once too often and fails it.
  const watcher = startCli(['worker', '--redis', server.url], env);
  workers.push(watcher);
  const result = await batch.done;
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /1 studies: 0 done \(0 analysed now, 0 done before\), 1 failed/);
  const failure = JSON.parse(await readFile(failureRecordPath(out, 'a.mha'), 'utf8')) as Record<string, unknown>;
  assert.equal(failure.kind, 'STALLED');
  assert.match(String(failure.reason), /^the worker analysing it died 2 time\(s\): .*stalled more than/i);
  const row = (await readCohortRows(out)).find((r) => r.study_id === 'a.mha');
  assert.equal(row?.status, 'failed');
  assert.equal(row?.error_kind, 'STALLED');

  // Run again: the failure is kept, nothing is queued or analysed.
  const kept = await startCli(['batch', cohort, '--out', out, '--redis', server.url, '--workers', '0'], env).done;
  assert.equal(kept.status, 0, kept.stderr);
  assert.match(kept.stderr, /0 already done, 1 failed before \(kept; --retry-failed tries them again\), 0 to analyse/);
  assert.match(kept.stdout, /0 analysed now, 0 done before\), 1 failed/);

  // --retry-failed: the failed job is replaced and the worker still running analyses it.
  const retried = await startCli(
    ['batch', cohort, '--out', out, '--redis', server.url, '--workers', '0', '--retry-failed'],
    env,
  ).done;
  assert.equal(retried.status, 0, retried.stderr);
  assert.match(retried.stderr, /0 already done, 0 failed before, 1 to analyse/);
  assert.match(retried.stdout, /1 studies: 1 done \(1 analysed now, 0 done before\), 0 failed/);
  await assert.rejects(stat(failureRecordPath(out, 'a.mha')), 'the old failure record is gone');
  const journal = await readJournal(out);
  assert.deepEqual(
    journal.filter((l) => l.event === 'done').map((l) => l.pid),
    [watcher.child.pid],
  );
  assert.ok((await readCohortRows(out)).every((r) => r.study_id === 'a.mha' && r.status === 'ok'));
});

test('Ctrl-C (SIGINT) stops a batch with exit code 130 and the same command resumes it', {
  timeout: 300_000,
}, async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const root = await tempFolder(t, 'spinegrade-batch-');
  const cohort = join(root, 'cohort');
  const out = join(root, 'out');
  await makeCohort(cohort, ['a.mha', 'sub/b.mha', 'c-altered.mha']);
  const args = ['batch', cohort, '--out', out, '--workers', '1'];
  const batch = startCli(args, FAST_QUEUE_ENV);
  t.after(() => batch.child.kill('SIGKILL'));
  await waitUntil('a study to start', async () => (await readJournal(out)).some((l) => l.event === 'start'));
  batch.child.kill('SIGINT');
  const stopped = await batch.done;
  assert.equal(stopped.status, 130, stopped.stderr);
  assert.match(stopped.stdout, /interrupted: run the same command again to resume/);
  const summary = JSON.parse(await readFile(join(out, 'batch-run.json'), 'utf8')) as {
    interrupted: boolean;
    studies: { pending: number };
  };
  assert.equal(summary.interrupted, true);
  assert.ok(summary.studies.pending > 0, 'studies were left for the next run');

  const resumed = await startCli(args, FAST_QUEUE_ENV).done;
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /3 studies: 3 done \(\d analysed now, \d done before\), 0 failed, 0 not finished/);
  const done = countEvents(await readJournal(out), 'done');
  assert.equal(done.size, 3);
  assert.deepEqual([...done.values()], [1, 1, 1], 'no study analysed twice across the two runs');
});
