/**
 * The Redis connections of batch grading: ioredis clients, the driver BullMQ is built on. spinegrade
 * makes each client itself, with the options its role needs, and passes it to a Queue or Worker as
 * `connection`. BullMQ duplicates it for the blocking connection it owns and closes that one itself;
 * the client passed in is closed with {@link closeRedis} once the Queue or Worker on it is closed.
 *
 * Workers and queues want different things from a lost connection (BullMQ's "Going to production"
 * guide): a worker waits while ioredis reconnects ({@link workerConnection}); the coordinator's queue
 * fails at once ({@link queueConnection}), so it goes on watching the disk and restarting its own
 * redis-server while Redis is away.
 */
import { Redis } from 'ioredis';
import { describeError, SpinegradeError } from '../errors.js';

/** Where a Redis server listens, and how to log in. */
export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  /** Database index (`SELECT`), 0 by default. */
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
}

/** The default Redis port. */
export const REDIS_DEFAULT_PORT = 6379;

/**
 * Parses `redis://[[user]:password@]host[:port][/db]`, `host:port` or `host`. Throws `USAGE` for
 * anything else (TLS, `rediss://`, is not supported).
 */
export function parseRedisUrl(text: string): RedisTarget {
  const trimmed = text.trim();
  if (/^rediss:\/\//i.test(trimmed)) {
    throw new SpinegradeError(
      'USAGE',
      `--redis: TLS (rediss://) is not supported; reach a remote Redis through a tunnel instead, got "${text}"`,
    );
  }
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `redis://${trimmed}`);
  } catch {
    throw new SpinegradeError('USAGE', `--redis wants redis://host:port[/db], got "${text}"`);
  }
  if (url.protocol !== 'redis:') {
    throw new SpinegradeError('USAGE', `--redis wants a redis:// URL, got "${text}"`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? REDIS_DEFAULT_PORT : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535 || !Number.isInteger(db) || db < 0) {
    throw new SpinegradeError('USAGE', `--redis wants redis://host:port[/db], got "${text}"`);
  }
  return {
    host,
    port,
    db,
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
  };
}

/** The target as a URL to show or pass on: the password is replaced by `***` unless `withPassword`. */
export function redisUrl(target: RedisTarget, withPassword = false): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const secret = target.password === undefined ? '' : withPassword ? encodeURIComponent(target.password) : '***';
  const user = target.username === undefined ? '' : encodeURIComponent(target.username);
  const login = secret === '' && user === '' ? '' : `${user}${secret === '' ? '' : `:${secret}`}@`;
  return `redis://${login}${host}:${target.port}${target.db === 0 ? '' : `/${target.db}`}`;
}

/**
 * A connection for a BullMQ Worker: a command waits as long as it takes while ioredis reconnects
 * (`maxRetriesPerRequest: null`, which BullMQ requires of a worker's connection), so a Redis restart
 * only pauses the worker.
 */
export function workerConnection(target: RedisTarget): Redis {
  return new Redis({ ...target, maxRetriesPerRequest: null });
}

/**
 * A connection for a BullMQ Queue: while Redis is away a command fails at once instead of waiting in
 * ioredis's offline queue (`enableOfflineQueue: false`, BullMQ's advice for producers); ioredis keeps
 * reconnecting in the background.
 */
export function queueConnection(target: RedisTarget): Redis {
  return new Redis({ ...target, enableOfflineQueue: false });
}

/**
 * Closes a connection made by {@link workerConnection} or {@link queueConnection} once the Queues and
 * Workers on it are closed: `QUIT` when connected; at once when Redis is away (a `QUIT` would wait for
 * a reconnection that may never come).
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else if (client.status !== 'end') client.disconnect();
}

/**
 * Checks that a Redis server answers `PING` at `target` within `timeoutMs`; throws `UNREADABLE`
 * naming the address and the reason otherwise.
 */
export async function pingRedis(target: RedisTarget, timeoutMs = 5000): Promise<void> {
  const client = new Redis({
    ...target,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null, // one try, no reconnecting
  });
  // The first error says why (connect() itself only says "Connection is closed.").
  let firstError: Error | undefined;
  client.on('error', (error: Error) => {
    firstError ??= error;
  });
  try {
    await client.connect();
    // ioredis reports a failed login step (a database index out of range) as an event, not as a failure.
    if (firstError !== undefined) throw firstError;
    const reply = await client.ping();
    if (reply !== 'PONG') throw new Error(`unexpected answer to PING: ${JSON.stringify(reply)}`);
  } catch (error) {
    throw new SpinegradeError(
      'UNREADABLE',
      `cannot use Redis at ${redisUrl(target)} (${describeError(firstError ?? error)}); is redis-server running there?`,
    );
  } finally {
    // (Not after a failed connect: ioredis would wait 2 s for the close of a socket already closed.)
    if (client.status !== 'end') client.disconnect();
  }
}
