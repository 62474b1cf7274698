/**
 * `spinegrade batch` and `spinegrade worker` for real: a small cohort built from the example study
 * (its DICOM series, copies of its MetaImage, one with altered intensities, one corrupt file), run
 * through a real redis-server and real worker processes, with workers and Redis killed mid-run.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { Queue } from 'bullmq';
import { batchJobId, modelVersion, queueName } from '../../src/batch/job.js';
import { closeRedis, queueConnection } from '../../src/batch/redis.js';
import { startRedisServer } from '../../src/batch/redis-server.js';
import { studyFolderId } from '../../src/batch/studies.js';
import { main } from '../../src/cli/main.js';
import { escapeHtml } from '../../src/report/html.js';
import { skipWhenMissing } from '../helpers/programs.js';
import { tempFolder } from '../helpers/tmp.js';
import {
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

const EXAMPLE_UID = '2.25.291233399420727069973475608700609479904';
let version: string;

before(async () => {
  version = (await modelVersion()).id;
});

/** Done-record modification times of every study folder (to prove nothing was rewritten). */
async function doneTimes(out: string): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  for (const id of await readdir(join(out, 'studies'))) {
    if (id.startsWith('.')) continue;
    times.set(id, (await stat(join(out, 'studies', id, 'batch.json'))).mtimeMs);
  }
  return times;
}

test("(a, b) batch over a folder: per-study outputs, a cohort with the corrupt study's reason; a re-run recomputes nothing", async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const root = await tempFolder(t, 'spinegrade-batch-');
  const cohort = join(root, 'cohort');
  const out = join(root, 'out');
  await makeCohort(cohort, ['dicom', 'a.mha', 'sub/b.mha', 'corrupt.mha']);
  const run = startCli(['batch', cohort, '--out', out, '--workers', '2'], FAST_QUEUE_ENV);
  const first = await run.done;
  assert.equal(first.status, 0, first.stderr);
  assert.match(
    first.stderr,
    /started redis-server on redis:\/\/127\.0\.0\.1:\d+ \(data in ([^)]+)\), 2 worker process\(es\)/,
  );
  const redisDir = /data in ([^)]+)\)/.exec(first.stderr)?.[1] as string;
  await assert.rejects(stat(redisDir), 'the private Redis folder is removed');
  assert.match(first.stdout, /4 studies: 3 done \(3 analysed now, 0 done before\), 1 failed, 0 not finished/);

  const ids = ['a.mha', studyFolderId('sub/b.mha'), EXAMPLE_UID];
  for (const id of ids) {
    const folder = join(out, 'studies', id);
    const findings = JSON.parse(await readFile(join(folder, 'findings.json'), 'utf8')) as { studies: unknown[] };
    assert.equal(findings.studies.length, 1, id);
    const record = JSON.parse(await readFile(join(folder, 'batch.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(record.modelVersion, version);
    assert.equal(record.attempt, 1);
  }
  assert.deepEqual(
    (await readdir(join(out, 'studies'))).filter((n) => n.startsWith('.')),
    ['.tmp'],
  );
  assert.deepEqual(await readdir(join(out, 'studies', '.tmp')), [], 'no half-written folder is left');

  const rows = await readCohortRows(out);
  assert.deepEqual(duplicateRows(rows), []);
  const corrupt = rows.filter((r) => r.study_id === 'corrupt.mha');
  assert.equal(corrupt.length, 1);
  assert.equal(corrupt[0]?.status, 'failed');
  assert.equal(corrupt[0]?.error_kind, 'NOT_AN_IMAGE');
  assert.match(String(corrupt[0]?.reason), /corrupt\.mha: named like a MetaImage file but its contents are not one/);
  for (const id of ids) {
    const mine = rows.filter((r) => r.study_id === id);
    assert.ok(mine.length >= 5, `${id}: a row per level`);
    assert.ok(
      mine.every((r) => r.status === 'ok' && typeof r.pfirrmann_grade === 'number'),
      id,
    );
    assert.ok(
      mine.some((r) => r.level === 'L4/L5'),
      id,
    );
  }
  assert.equal(rows.find((r) => r.study_id === EXAMPLE_UID)?.source_format, 'dicom');
  const csvLines = (await readFile(join(out, 'cohort.csv'), 'utf8')).trimEnd().split('\n');
  assert.equal(csvLines.length, rows.length + 1);
  // The cohort page beside the table: the same counts, the corrupt study's reason among the failures.
  const page = await readFile(join(out, 'cohort.html'), 'utf8');
  assert.ok(page.includes('data-count="ok">3<') && page.includes('data-count="failed">1<'), 'page counts');
  assert.ok(page.includes(escapeHtml(String(corrupt[0]?.reason))), 'the failure and its reason are on the page');
  const journal = await readJournal(out);
  assert.deepEqual([...countEvents(journal, 'done').values()], [1, 1, 1], 'each study analysed once');
  const summary = JSON.parse(await readFile(join(out, 'batch-run.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(summary.mode, 'embedded-redis');
  assert.deepEqual(summary.studies, {
    total: 4,
    alreadyDone: 0,
    alreadyFailed: 0,
    analysed: 3,
    failed: 1,
    pending: 0,
    requeued: 0,
  });

  // (b) The same command again: everything is found done on disk; no job, no worker, no analysis.
  const times = await doneTimes(out);
  const cohortBefore = await readFile(join(out, 'cohort.csv'), 'utf8');
  const rerun = startCli(['batch', cohort, '--out', out, '--workers', '2'], FAST_QUEUE_ENV);
  const second = await rerun.done;
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stderr, /3 already done, 1 failed before/);
  assert.doesNotMatch(second.stderr, /redis-server|worker/);
  assert.match(second.stdout, /0 analysed now, 3 done before\), 1 failed/);
  assert.deepEqual(await doneTimes(out), times, 'no output rewritten');
  assert.equal((await readJournal(out)).length, journal.length, 'no job started');
  assert.equal(await readFile(join(out, 'cohort.csv'), 'utf8'), cohortBefore);
});

test('(c) a worker SIGKILLed mid-job: the job is picked up again, finishes once, the cohort has no duplicates', async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const root = await tempFolder(t, 'spinegrade-batch-');
  const cohort = join(root, 'cohort');
  const out = join(root, 'out');
  await makeCohort(cohort, ['a.mha', 'sub/b.mha', 'c-altered.mha', 'corrupt.mha']);
  const server = await startRedisServer({ dir: join(root, 'redis') });
  const workers = [
    startCli(['worker', '--redis', server.url], FAST_QUEUE_ENV),
    startCli(['worker', '--redis', server.url], FAST_QUEUE_ENV),
  ];
  const connection = queueConnection(server.target);
  const queue = new Queue(queueName(version), { connection });
  t.after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await queue.close();
    await closeRedis(connection);
    await server.stop();
  });
  await Promise.all(workers.map((w) => w.waitForLine(/^worker: ready on/)));
  const batch = startCli(['batch', cohort, '--out', out, '--redis', server.url, '--workers', '0'], FAST_QUEUE_ENV);
  // Kill the first worker that starts an analysis once it is observed analysing: its start is in
  // the journal and it holds the job's lock in Redis (not after a delay a fast machine could outrun).
  const started = workers.map((w) =>
    w.waitForLine(/^worker: start (?!corrupt)/, 120_000).then((line) => ({ worker: w, line })),
  );
  for (const start of started) start.catch(() => undefined); // the other worker's wait may time out
  const victim = await Promise.race(started);
  const killedStudy = /start (\S+)/.exec(victim.line)?.[1] as string;
  await waitUntil('the journal to show the start', async () =>
    (await readJournal(out)).some(
      (l) => l.event === 'start' && l.studyId === killedStudy && l.pid === victim.worker.child.pid,
    ),
  );
  await waitForLock(connection, queueName(version), batchJobId(killedStudy, version));
  victim.worker.child.kill('SIGKILL');
  const survivor = workers.find((w) => w !== victim.worker) as (typeof workers)[number];
  const result = await batch.done;
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /4 studies: 3 done \(3 analysed now, 0 done before\), 1 failed/);
  assert.match(survivor.stderr(), /stalled/, 'the survivor recovered the stalled job');

  const journal = await readJournal(out);
  const killedPid = victim.worker.child.pid;
  const starts = journal.filter((l) => l.event === 'start' && l.studyId === killedStudy);
  assert.deepEqual(
    starts.map((l) => l.pid === killedPid),
    [true, false],
    'started by the killed worker, then once more by the survivor',
  );
  const done = countEvents(journal, 'done');
  assert.deepEqual([...done.keys()].sort(), ['a.mha', 'c-altered.mha', studyFolderId('sub/b.mha')].sort());
  assert.ok(
    [...done.values()].every((n) => n === 1),
    'every study finished exactly once',
  );
  const record = JSON.parse(await readFile(join(out, 'studies', killedStudy, 'batch.json'), 'utf8')) as {
    worker: { pid: number };
    attempt: number;
  };
  assert.equal(record.worker.pid, survivor.child.pid);
  assert.equal(record.attempt, 1, 'a crash is not a failed attempt');
  const rows = await readCohortRows(out);
  assert.deepEqual(duplicateRows(rows), []);
  assert.equal(new Set(rows.filter((r) => r.status === 'ok').map((r) => r.study_id)).size, 3);

  // BullMQ's side: nothing left running; the corrupt study parked in the failed set with its reason.
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
  assert.deepEqual(counts, { waiting: 0, active: 0, delayed: 0, failed: 1, completed: 0 });
  const failed = await queue.getJob(batchJobId('corrupt.mha', version));
  assert.match(failed?.failedReason ?? '', /^NOT_AN_IMAGE: .*named like a MetaImage/);
  assert.equal(failed?.attemptsMade, 1, 'an input problem is not retried');

  survivor.child.kill('SIGTERM');
  const stopped = await survivor.done;
  assert.equal(stopped.status, 0, 'a worker stops cleanly on SIGTERM');
  assert.match(stopped.stderr, /worker: stopped \(\d+ analysed/);
});

test('a worker asked to stop while Redis is away stops all the same', {
  timeout: 90_000,
}, async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const root = await tempFolder(t, 'spinegrade-batch-');
  const server = await startRedisServer({ dir: join(root, 'redis') });
  const worker = startCli(['worker', '--redis', server.url], FAST_QUEUE_ENV);
  t.after(async () => {
    worker.child.kill('SIGKILL');
    await server.stop('SIGKILL');
  });
  await worker.waitForLine(/^worker: ready on/);
  await server.stop('SIGKILL');
  await worker.waitForLine(/^worker: Redis problem: /);
  worker.child.kill('SIGTERM');
  const stopped = await worker.done;
  assert.equal(stopped.status, 0, stopped.stderr);
  assert.match(stopped.stderr, /worker: stopped \(0 analysed/);
});

test('(d) Redis stopped (SIGTERM) and killed (SIGKILL) mid-run, restarted on its append-only file: no job lost or duplicated', async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const root = await tempFolder(t, 'spinegrade-batch-');
  const cohort = join(root, 'cohort');
  const out = join(root, 'out');
  const names = ['a.mha', 'sub/b.mha', 'c-altered.mha'];
  await makeCohort(cohort, names);
  const dir = join(root, 'redis');
  await mkdir(dir);
  // The batch keeps the front's address; each restart of Redis takes a fresh port behind it.
  const front = await startRedisFront();
  let server = await startRedisServer({ dir });
  front.point(server.port);
  const batch = startCli(['batch', cohort, '--out', out, '--redis', front.url, '--workers', '1'], FAST_QUEUE_ENV);
  t.after(async () => {
    batch.child.kill('SIGKILL');
    await server.stop('SIGKILL');
    await front.close();
  });
  const doneCount = async (): Promise<number> => (await readJournal(out)).filter((l) => l.event === 'done').length;
  for (const [n, signal] of [
    [1, 'SIGTERM'],
    [2, 'SIGKILL'],
  ] as const) {
    await waitUntil(`study ${n} done`, async () => (await doneCount()) >= n);
    await server.stop(signal);
    front.point(undefined);
    server = await startRedisServer({ dir });
    front.point(server.port);
  }
  const result = await batch.done;
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /3 studies: 3 done \(3 analysed now, 0 done before\), 0 failed, 0 not finished/);
  const done = countEvents(await readJournal(out), 'done');
  assert.equal(done.size, 3);
  assert.ok(
    [...done.values()].every((n) => n === 1),
    `each study analysed once: ${JSON.stringify([...done])}`,
  );
  const rows = await readCohortRows(out);
  assert.deepEqual(duplicateRows(rows), []);
  assert.deepEqual(new Set(rows.map((r) => r.status)), new Set(['ok']));
  assert.equal(new Set(rows.map((r) => r.study_id)).size, 3);
  const summary = JSON.parse(await readFile(join(out, 'batch-run.json'), 'utf8')) as { studies: { requeued: number } };
  assert.equal(summary.studies.requeued, 0, 'the append-only file kept every job: none had to be enqueued again');
});

test('(e) without redis-server: in-process, same outputs, same resume', async (t) => {
  const root = await tempFolder(t, 'spinegrade-batch-');
  const cohort = join(root, 'cohort');
  const out = join(root, 'out');
  const emptyPath = join(root, 'bin');
  await mkdir(emptyPath);
  await makeCohort(cohort, ['a.mha', 'corrupt.mha']);
  const first = await startCli(['batch', cohort, '--out', out], { PATH: emptyPath }).done;
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /redis-server is not on PATH: running in-process/);
  assert.match(first.stdout, /2 studies: 1 done \(1 analysed now, 0 done before\), 1 failed.*\[in-process/);
  const rows = await readCohortRows(out);
  assert.equal(rows.filter((r) => r.study_id === 'a.mha' && r.status === 'ok').length >= 5, true);
  assert.match(String(rows.find((r) => r.study_id === 'corrupt.mha')?.reason), /named like a MetaImage/);
  const journal = await readJournal(out);
  assert.deepEqual(
    journal.map((l) => `${l.event} ${l.studyId}`),
    ['start a.mha', 'done a.mha', 'start corrupt.mha', 'fail corrupt.mha'],
  );
  const times = await doneTimes(out);
  const again = await startCli(['batch', cohort, '--out', out], { PATH: emptyPath }).done;
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /0 analysed now, 1 done before\), 1 failed/);
  assert.equal((await readJournal(out)).length, journal.length, 'nothing recomputed');
  assert.deepEqual(await doneTimes(out), times);
});

test('batch and worker refuse bad options with a usage error', async () => {
  const cases: [string[], RegExp][] = [
    [['batch'], /exactly one input/],
    [['batch', 'x'], /needs --out/],
    [['batch', 'x', '--out', 'y', '--workers', 'two'], /--workers wants a whole number/],
    [['batch', 'x', '--out', 'y', '--workers', '0'], /--workers 0 needs --redis/],
    [['batch', 'x', '--out', 'y', '--redis', 'rediss://h'], /TLS/],
    [['batch', 'x', '--out', 'y', '--frobnicate'], /spinegrade batch has no option --frobnicate; it takes --out/],
    [['worker', 'x'], /worker takes no input paths/],
  ];
  // In this process (the usage checks come before any work); the command line itself is run above.
  const write = process.stderr.write;
  for (const [args, pattern] of cases) {
    let stderr = '';
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    }) as typeof process.stderr.write;
    let status: number;
    try {
      status = await main(args);
    } finally {
      process.stderr.write = write;
    }
    assert.equal(status, 2, args.join(' '));
    assert.match(stderr, pattern, args.join(' '));
  }
  const noUrl = await startCli(['worker'], { SPINEGRADE_REDIS_URL: '' }).done;
  assert.equal(noUrl.status, 2);
  assert.match(noUrl.stderr, /worker needs --redis <url> \(or SPINEGRADE_REDIS_URL\)/);
});
