import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import {
  closeRedis,
  parseRedisUrl,
  pingRedis,
  queueConnection,
  redisUrl,
  workerConnection,
} from '../../src/batch/redis.js';
import { startRedisServer } from '../../src/batch/redis-server.js';
import { SpinegradeError } from '../../src/errors.js';
import { freeLoopbackPort } from '../../src/util/net.js';
import { skipWhenMissing } from '../helpers/programs.js';
import { tempFolder } from '../helpers/tmp.js';
import { NO_REDIS, startRedisFront, waitUntil } from './helpers.js';

test('parseRedisUrl reads redis:// URLs, host:port and host, and refuses the rest with USAGE', () => {
  assert.deepEqual(parseRedisUrl('redis://10.0.0.5:6380/2'), { host: '10.0.0.5', port: 6380, db: 2 });
  assert.deepEqual(parseRedisUrl('localhost:7000'), { host: 'localhost', port: 7000, db: 0 });
  assert.deepEqual(parseRedisUrl('queue.example'), { host: 'queue.example', port: 6379, db: 0 });
  assert.deepEqual(parseRedisUrl('redis://:s%40cret@h:1'), { host: 'h', port: 1, db: 0, password: 's@cret' });
  assert.deepEqual(parseRedisUrl('redis://[::1]:6379'), { host: '::1', port: 6379, db: 0 });
  for (const bad of ['rediss://h:1', 'http://h:1', 'redis://h:0', 'redis://h:1/x', 'redis://']) {
    assert.throws(
      () => parseRedisUrl(bad),
      (e: unknown) => e instanceof SpinegradeError && e.kind === 'USAGE',
      bad,
    );
  }
  const target = parseRedisUrl('redis://user:pw@h:1/3');
  assert.equal(redisUrl(target), 'redis://user:***@h:1/3', 'the password is hidden');
  assert.equal(redisUrl(target, true), 'redis://user:pw@h:1/3');
});

test('pingRedis names the Redis it cannot use and why', async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const port = await freeLoopbackPort();
  const unreadable = (pattern: RegExp) => (e: unknown) =>
    e instanceof SpinegradeError && e.kind === 'UNREADABLE' && pattern.test(e.message);
  await assert.rejects(
    pingRedis({ host: '127.0.0.1', port, db: 0 }),
    unreadable(
      new RegExp(
        `^cannot use Redis at redis://127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED [^)]*\\); is redis-server running there\\?$`,
      ),
    ),
  );
  const server = await startRedisServer({ dir: await tempFolder(t, 'spinegrade-redis-') });
  t.after(() => server.stop());
  await pingRedis(server.target);
  await assert.rejects(
    pingRedis({ ...server.target, db: 99 }),
    unreadable(/\/99 \(ERR DB index is out of range\)/),
    'a database that cannot be selected is refused, not replaced by database 0',
  );
});

test('across a Redis restart a worker connection waits, a queue connection fails at once, and closing never waits', {
  timeout: 60_000,
}, async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const dir = join(await tempFolder(t, 'spinegrade-redis-'), 'data');
  // The clients keep one address (the front); each restart of Redis takes a fresh port behind it.
  const front = await startRedisFront();
  let server = await startRedisServer({ dir });
  front.point(server.port);
  t.after(async () => {
    await server.stop('SIGKILL');
    await front.close();
  });
  const worker = workerConnection(front.target);
  const queue = queueConnection(front.target);
  let attempts = 0;
  for (const client of [worker, queue]) {
    client.on('error', () => undefined); // each failed reconnection attempt while Redis is away
    client.on('connecting', () => attempts++);
    t.after(() => client.disconnect());
  }
  if (queue.status !== 'ready') await once(queue, 'ready');
  assert.equal(await queue.set('k', 'v'), 'OK');

  const away = async (): Promise<void> => {
    await server.stop('SIGKILL');
    front.point(undefined);
    await waitUntil('both to notice', async () => worker.status !== 'ready' && queue.status !== 'ready', 10_000);
  };
  const back = async (): Promise<void> => {
    server = await startRedisServer({ dir });
    front.point(server.port);
  };
  await away();
  // No Redis answers until back() below: a command that settles now did not wait for one.
  await assert.rejects(queue.get('k'), /enableOfflineQueue/, 'the queue connection does not wait for Redis');
  let settled = false;
  const waiting = worker.get('k').finally(() => {
    settled = true;
  });
  const attemptsWhileAway = attempts;
  await waitUntil('a reconnection attempt while Redis is away', async () => attempts > attemptsWhileAway, 10_000);
  assert.equal(settled, false, 'the worker connection holds its command while Redis is away');
  await back();
  assert.equal(await waiting, 'v', 'sent once Redis was back; the append-only file kept the key');
  await waitUntil('the queue connection to reconnect', async () => queue.status === 'ready', 10_000);
  assert.equal(await queue.get('k'), 'v');

  // Closed while Redis is away: it resolves with no Redis to answer, and no reconnection follows.
  await away();
  await Promise.all([closeRedis(worker), closeRedis(queue)]);
  const before = attempts;
  await back();
  await sleep(2500); // longer than ioredis's longest wait between attempts
  assert.equal(attempts, before);
});

test('a BullMQ queue on a queue connection adds a job id once, however often it is enqueued', async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const dir = await tempFolder(t, 'spinegrade-redis-');
  const server = await startRedisServer({ dir });
  const connection = queueConnection(server.target);
  const queue = new Queue('idempotent', { connection });
  t.after(async () => {
    await queue.close();
    await closeRedis(connection);
    await server.stop();
  });
  for (let n = 0; n < 3; n++) await queue.add('study', { n }, { jobId: 'same-study' });
  await queue.addBulk([{ name: 'study', data: { n: 9 }, opts: { jobId: 'same-study' } }]);
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
  assert.equal(counts.waiting, 1);
  assert.deepEqual((await queue.getJob('same-study'))?.data, { n: 0 }, 'the first one stays');
});

test('a private redis-server (dieWithParent) stops when the process that started it is SIGKILLed', async (t) => {
  if (skipWhenMissing(t, NO_REDIS)) return;
  const dir = await tempFolder(t, 'spinegrade-redis-');
  const module = fileURLToPath(new URL('../../src/batch/redis-server.js', import.meta.url));
  const script = `const { startRedisServer } = await import(${JSON.stringify(module)});
const server = await startRedisServer({ dir: ${JSON.stringify(dir)}, dieWithParent: true });
process.stdout.write(server.port + '\\n');
setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => parent.kill('SIGKILL'));
  const port = await new Promise<number>((resolve) => {
    parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  const target = { host: '127.0.0.1', port, db: 0 };
  await pingRedis(target);
  parent.kill('SIGKILL');
  const until = Date.now() + 10_000;
  let alive = true;
  while (alive && Date.now() < until) {
    alive = await pingRedis(target, 500).then(
      () => true,
      () => false,
    );
    if (alive) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(alive, false, 'the server went with its parent');
});
