/**
 * A local `redis-server` for one batch run (and for the tests): found on PATH, started on a free
 * loopback port in its own folder with the append-only file on, so a restart on the same folder
 * replays every acknowledged write.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, SpinegradeError } from '../errors.js';
import { freeLoopbackPort } from '../util/net.js';
import { pingRedis, type RedisTarget, redisUrl } from './redis.js';

/** The `redis-server` program on `PATH` (an executable file named so), or undefined. */
export function findRedisServer(path: string | undefined = process.env.PATH): string | undefined {
  for (const folder of (path ?? '').split(delimiter)) {
    if (folder === '') continue;
    const candidate = join(folder, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Runs `redis-server` (the arguments) under a small shell that stops it when this process's end of the
 * shell's stdin closes — that is, when this process ends in any way, SIGKILL included — and passes on
 * SIGTERM/SIGINT. It exits with the server.
 */
const PARENT_GUARD = `exec 3<&0
"$@" </dev/null &
pid=$!
( read -r _ <&3; kill -TERM "$pid" 2>/dev/null ) &
guard=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
status=0
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; status=$?; done
kill "$guard" 2>/dev/null
exit "$status"`;

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** The `redis-server` program (default: the one on PATH). */
  binary?: string;
  /** Data folder (append-only file, log); created if missing. */
  dir: string;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** `appendfsync` policy (default `always`: every acknowledged write survives even SIGKILL). */
  appendfsync?: 'always' | 'everysec';
  /** Give up when the server does not answer within this many milliseconds (default 15 000). */
  startTimeoutMs?: number;
  /** Stop the server when this process ends, however it ends (default false: it outlives this process). */
  dieWithParent?: boolean;
}

/** A running `redis-server` started by {@link startRedisServer}. */
export interface RedisServer {
  readonly target: RedisTarget;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly dir: string;
  readonly port: number;
  /** The process: the server, or the shell guarding it (`dieWithParent`). */
  readonly process: ChildProcess;
  /** Resolves with the exit code or signal when the server process ends. */
  readonly exited: Promise<number | string>;
  /** False once the server process has ended. */
  readonly running: boolean;
  /**
   * Sends `signal` to the server (default SIGTERM: it saves and exits) and waits for the exit (SIGKILL
   * after 10 s).
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The last lines of the server's log, for error messages. */
async function logTail(dir: string): Promise<string> {
  const text = await readFile(join(dir, 'redis.log'), 'utf8').catch(() => '');
  return text
    .trim()
    .split('\n')
    .slice(-3)
    .map((line) => line.replace(/^\d+:[A-Z] [^*#.-]*[*#.-] /, ''))
    .join(' / ');
}

/**
 * Starts `redis-server` on 127.0.0.1 with its data in `dir` (`appendonly yes`, no RDB snapshots,
 * protected mode) and waits until it answers. A port picked here that another process takes first
 * is retried with a new one. Throws `UNREADABLE` when the server cannot start.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const binary = options.binary ?? findRedisServer();
  if (!binary) throw new SpinegradeError('NOT_FOUND', 'redis-server is not on PATH');
  await mkdir(options.dir, { recursive: true });
  let lastProblem = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freeLoopbackPort());
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'yes',
      '--dir',
      options.dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      options.appendfsync ?? 'always',
      '--save',
      '',
      '--daemonize',
      'no',
      '--logfile',
      'redis.log',
    ];
    // In its own process group, so that stop() reaches the server (and its guard) whatever this process does.
    const child = options.dieWithParent
      ? spawn('/bin/sh', ['-c', PARENT_GUARD, 'spinegrade-redis', binary, ...args], {
          stdio: ['pipe', 'ignore', 'ignore'],
          detached: true,
        })
      : spawn(binary, args, { stdio: 'ignore', detached: true });
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      child.once('error', (error) => resolve(describeError(error)));
    });
    const target: RedisTarget = { host: '127.0.0.1', port, db: 0 };
    const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
    let exitedEarly: number | string | undefined;
    void exited.then((code) => {
      exitedEarly = code;
    });
    while (exitedEarly === undefined && Date.now() < deadline) {
      try {
        await pingRedis(target, 1000);
        return serverHandle(target, options.dir, port, child, exited);
      } catch {
        await sleep(50);
      }
    }
    if (exitedEarly === undefined) {
      killGroup(child, 'SIGKILL');
      throw new SpinegradeError(
        'UNREADABLE',
        `redis-server did not answer on port ${port} within ${options.startTimeoutMs ?? 15_000} ms (${await logTail(options.dir)})`,
        options.dir,
      );
    }
    lastProblem = `exited with ${exitedEarly}: ${await logTail(options.dir)}`;
    if (options.port !== undefined || !/address already in use/i.test(lastProblem)) break;
  }
  throw new SpinegradeError('UNREADABLE', `redis-server could not start (${lastProblem})`, options.dir);
}

/** Signals the process group of a child started with `detached: true` (the server and any guard). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

function serverHandle(
  target: RedisTarget,
  dir: string,
  port: number,
  child: ChildProcess,
  exited: Promise<number | string>,
): RedisServer {
  let finished = false;
  void exited.then(() => {
    finished = true;
  });
  return {
    target,
    url: redisUrl(target),
    dir,
    port,
    process: child,
    exited,
    get running() {
      return !finished;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (finished) return;
      killGroup(child, signal);
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
