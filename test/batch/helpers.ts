/** Shared pieces of the batch tests: the CLI as a child process, journals, cohort files, a cohort on disk. */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { RedisTarget } from '../../src/batch/redis.js';
import { findRedisServer } from '../../src/batch/redis-server.js';
import { readMetaImage, writeMetaImage } from '../../src/io/metaimage.js';
import { REPO_ROOT } from '../helpers/cli.js';

/** The example study. */
export const EXAMPLE_DICOM = join(REPO_ROOT, 'examples/spider-98-t2space/dicom');
export const EXAMPLE_MHA = join(REPO_ROOT, 'examples/spider-98-t2space/spider-98-t2space.mha');

/** Why the Redis tests are skipped, or false when redis-server is there. */
export const NO_REDIS: string | false = findRedisServer()
  ? false
  : 'redis-server is not on PATH (apt-get install redis-server)';

/** Short queue timings so a killed worker's job is recovered within seconds. */
export const FAST_QUEUE_ENV: Record<string, string> = {
  SPINEGRADE_BATCH_LOCK_MS: '10000',
  SPINEGRADE_BATCH_STALLED_MS: '1000',
  SPINEGRADE_BATCH_BACKOFF_MS: '200',
};

/** A running `spinegrade` command. */
export interface CliProcess {
  child: ChildProcess;
  /** stderr so far. */
  stderr(): string;
  /** Resolves when it exits. */
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves with the first stderr line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Starts `bin/spinegrade.js` with the arguments (stdin ignored, output collected). */
export function startCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, ['bin/spinegrade.js', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, SPINEGRADE_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    for (const waiter of [...waiters]) {
      const line = stderr.split('\n').find((l) => waiter.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => {
      child.once('exit', (status, signal) => {
        // let the pipes drain
        setImmediate(() => resolve({ status, signal, stdout, stderr }));
      });
    },
  );
  return {
    child,
    stderr: () => stderr,
    done,
    waitForLine(pattern, timeoutMs = 60_000) {
      const line = stderr.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no stderr line matching ${pattern} within ${timeoutMs} ms; stderr:\n${stderr}`)),
          timeoutMs,
        );
        timer.unref();
        waiters.push({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

/** One line of a process journal (`out/log/*.jsonl`). */
export interface JournalLine {
  time: string;
  host: string;
  pid: number;
  event: 'start' | 'done' | 'skip' | 'fail';
  studyId: string;
  attempt: number;
  reason?: string;
  final?: boolean;
}

/** Every journal line of a batch output folder. */
export async function readJournal(outDir: string): Promise<JournalLine[]> {
  const folder = join(outDir, 'log');
  const names = (await readdir(folder).catch(() => [] as string[])).filter((n) => n.endsWith('.jsonl'));
  const lines: JournalLine[] = [];
  for (const name of names) {
    for (const line of (await readFile(join(folder, name), 'utf8')).split('\n')) {
      if (line.trim() !== '') lines.push(JSON.parse(line) as JournalLine);
    }
  }
  return lines.sort((a, b) => a.time.localeCompare(b.time));
}

/** How many journal lines of `event` each study has. */
export function countEvents(lines: readonly JournalLine[], event: JournalLine['event']): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) if (line.event === event) counts.set(line.studyId, (counts.get(line.studyId) ?? 0) + 1);
  return counts;
}

/** Waits until `check` returns true (polling every 100 ms). */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Waits until a worker holds the lock of job `jobId` of queue `queue` (BullMQ's `bull:<queue>:<id>:lock`
 * key, read through `redis`): the job is being analysed, and a worker killed now leaves a stalled job.
 */
export async function waitForLock(redis: Redis, queue: string, jobId: string): Promise<void> {
  const key = `bull:${queue}:${jobId}:lock`;
  await waitUntil(`a worker to hold ${key}`, async () => (await redis.exists(key)) === 1, 30_000);
}

/** The rows of `cohort.jsonl`. */
export async function readCohortRows(outDir: string): Promise<Record<string, string | number | boolean | null>[]> {
  const text = await readFile(join(outDir, 'cohort.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, string | number | boolean | null>);
}

/** Study ids of a cohort that appear with the same level more than once (should be none). */
export function duplicateRows(rows: readonly Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const row of rows) {
    const key = `${row.study_id}\u0000${row.study_instance_uid}\u0000${row.level}`;
    if (seen.has(key)) duplicates.push(key);
    seen.add(key);
  }
  return duplicates;
}

/**
 * A cohort folder: `names` picks from `dicom` (the example's DICOM study), `a.mha` and `sub/b.mha` (copies
 * of the example), `c-altered.mha` (the example with its intensities changed) and `corrupt.mha` (random
 * bytes named like a MetaImage).
 */
export async function makeCohort(folder: string, names: readonly string[]): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (const name of names) {
    const path = join(folder, name);
    await mkdir(join(path, '..'), { recursive: true });
    if (name === 'dicom') {
      await cp(EXAMPLE_DICOM, path, { recursive: true });
    } else if (name === 'corrupt.mha') {
      const bytes = Buffer.alloc(4096);
      for (let n = 0; n < bytes.length; n++) bytes[n] = (n * 7919 + 13) % 251;
      await writeFile(path, bytes);
    } else if (name.includes('altered')) {
      const volume = await readMetaImage(EXAMPLE_MHA);
      const voxels = volume.voxels.map((v, n) => Math.round(v * 0.8 + ((n * 31) % 7)));
      await writeMetaImage({ ...volume, voxels }, path);
    } else {
      await copyFile(EXAMPLE_MHA, path);
    }
  }
}

/**
 * A loopback port of the test's own that forwards each connection to the Redis of the moment: the
 * address the clients were given stays the same while Redis itself is restarted on a fresh port
 * (never on a port it gave up, which another process may have taken meanwhile). While it points
 * nowhere, connections are accepted and closed at once, as a stopped Redis would refuse them.
 */
export interface RedisFront {
  /** `redis://127.0.0.1:<port>` of the front. */
  url: string;
  target: RedisTarget;
  /** Sends new connections to `port` (undefined: nowhere) and closes those to the previous Redis. */
  point(port: number | undefined): void;
  close(): Promise<void>;
}

/** Starts a {@link RedisFront} on a free loopback port. */
export async function startRedisFront(): Promise<RedisFront> {
  let upstream: number | undefined;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (upstream === undefined) {
      client.destroy();
      return;
    }
    const redis = tcpConnect(upstream, '127.0.0.1');
    const pair = [client, redis];
    for (const socket of pair) {
      open.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        open.delete(socket);
        for (const other of pair) other.destroy();
      });
    }
    client.pipe(redis).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the Redis front has no port');
  const target: RedisTarget = { host: '127.0.0.1', port: address.port, db: 0 };
  return {
    url: `redis://127.0.0.1:${address.port}`,
    target,
    point(port) {
      upstream = port;
      for (const socket of [...open]) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        upstream = undefined;
        for (const socket of [...open]) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
