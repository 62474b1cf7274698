import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import {
  bullmqConnection,
  closeBullmqConnection,
  parseRedisUrl,
  pingRedis,
  RedisReplyError,
  RespClient,
  redisUrl,
} from '../../src/batch/redis.js';
import { startRedisServer } from '../../src/batch/redis-server.js';
import { SpinegradeError } from '../../src/errors.js';
import { tempFolder } from '../helpers/tmp.js';
import { NO_REDIS } from './helpers.js';

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

test('RespClient speaks RESP2 to a real redis-server: pipelining, errors, transactions, binary, reconnect', {
  skip: NO_REDIS,
}, async (t) => {
  const dir = await tempFolder(t, 'spinegrade-redis-');
  const server = await startRedisServer({ dir: join(dir, 'data') });
  t.after(() => server.stop('SIGKILL'));
  const client = new RespClient(server.target);
  await client.connect();
  t.after(() => client.close());
  assert.equal(await client.send('PING', []), 'PONG');
  assert.equal(await client.send('SET', ['k', 'v']), 'OK');
  assert.equal(await client.get('k'), 'v');
  assert.equal(await client.get('missing'), null);
  const counts = await Promise.all(Array.from({ length: 50 }, () => client.incr('n')));
  assert.deepEqual(
    counts,
    Array.from({ length: 50 }, (_, n) => n + 1),
    'pipelined replies come back in order',
  );
  const big = 'x'.repeat(3_000_000);
  await client.send('SET', ['big', Buffer.from(big)]);
  assert.equal((await client.get('big'))?.length, big.length, 'a reply split over many TCP chunks');
  await assert.rejects(client.send('INCR', ['k']), RedisReplyError);
  assert.equal(await client.send('PING', []), 'PONG', 'still usable after an error reply');
  const [multi, queued, exec] = await Promise.all([
    client.send('MULTI', []),
    client.send('INCR', ['k']),
    client.send<unknown[]>('EXEC', []),
  ]);
  assert.equal(multi, 'OK');
  assert.equal(queued, 'QUEUED');
  assert.ok(exec[0] instanceof RedisReplyError, 'an error inside EXEC stays an element');
  // A blocking command pending when the server goes away rejects, and onclose says why.
  const blocked = assert.rejects(client.send('BZPOPMIN', ['nothing', '0']), /^Error: Connection closed/);
  const closed = new Promise<Error | undefined>((resolve) => {
    client.onclose = resolve;
  });
  await server.stop('SIGKILL');
  await blocked;
  assert.match(String((await closed)?.message), /^Connection closed/);
  assert.equal(client.connected, false);
  await assert.rejects(client.send('PING', []), /Connection closed/);
  // Restarted on the same data: a fresh client reconnects and the append-only file kept the data.
  const again = await startRedisServer({ dir: join(dir, 'data'), port: server.port });
  t.after(() => again.stop('SIGKILL'));
  const fresh = await client.duplicate();
  await fresh.connect();
  t.after(() => fresh.close());
  assert.equal(await fresh.get('n'), '50');
});

test('a BullMQ queue on this connection adds a job id once, however often it is enqueued', {
  skip: NO_REDIS,
}, async (t) => {
  const dir = await tempFolder(t, 'spinegrade-redis-');
  const server = await startRedisServer({ dir });
  const connection = bullmqConnection(server.target);
  const queue = new Queue('idempotent', { connection });
  t.after(async () => {
    await queue.close();
    await closeBullmqConnection(connection);
    await server.stop();
  });
  for (let n = 0; n < 3; n++) await queue.add('study', { n }, { jobId: 'same-study' });
  await queue.addBulk([{ name: 'study', data: { n: 9 }, opts: { jobId: 'same-study' } }]);
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
  assert.equal(counts.waiting, 1);
  assert.deepEqual((await queue.getJob('same-study'))?.data, { n: 0 }, 'the first one stays');
});

test('a private redis-server (dieWithParent) stops when the process that started it is SIGKILLed', {
  skip: NO_REDIS,
}, async (t) => {
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
