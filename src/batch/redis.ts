/**
 * The Redis connection BullMQ runs on. BullMQ 6 talks to Redis through a driver adapter and ships
 * adapters for ioredis, node-redis and Bun's built-in client, none of which spinegrade installs; it
 * also ships the adapter for any client with Bun's small raw surface (`send(command, args)`,
 * `connect()`, `close()`, `duplicate()`, `onconnect`/`onclose`). {@link RespClient} is that client:
 * RESP2 over one TCP socket, pipelined, nothing else. BullMQ's own adapter
 * (`createBunRedisClient`) adds the Lua script cache, transactions and reconnection on top, so the
 * queue semantics (locks, stalled jobs, retries) are BullMQ's, unchanged.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { type BunRedisRawClient, createBunRedisClient, type IRedisClient, type RedisCommandArgument } from 'bullmq';
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

/** An error reply of the server (`-ERR …`), as opposed to a broken connection. */
export class RedisReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisReplyError';
  }
}

/** A decoded RESP2 reply; nested error replies (inside `EXEC`) stay {@link RedisReplyError}s. */
export type RedisReply = string | number | null | RedisReplyError | RedisReply[];

/** Decodes RESP2 replies from a byte stream, one complete reply at a time. */
class ReplyParser {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  /** The next complete reply, or undefined until more bytes arrive. Throws on bytes that are not RESP. */
  next(): { value: RedisReply } | undefined {
    const parsed = this.parse(0);
    if (!parsed) return undefined;
    this.buffer = this.buffer.subarray(parsed[1]);
    return { value: parsed[0] };
  }

  private parse(at: number): [RedisReply, number] | undefined {
    const buffer = this.buffer;
    if (at >= buffer.length) return undefined;
    const lineEnd = buffer.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const line = buffer.toString('utf8', at + 1, lineEnd);
    const after = lineEnd + 2;
    switch (buffer[at]) {
      case 0x2b: // +
        return [line, after];
      case 0x2d: // -
        return [new RedisReplyError(line), after];
      case 0x3a: // :
        return [Number(line), after];
      case 0x24: {
        // $
        const length = Number(line);
        if (length < 0) return [null, after];
        if (after + length + 2 > buffer.length) return undefined;
        return [buffer.toString('utf8', after, after + length), after + length + 2];
      }
      case 0x2a: {
        // *
        const count = Number(line);
        if (count < 0) return [null, after];
        const items: RedisReply[] = [];
        let next = after;
        for (let n = 0; n < count; n++) {
          const item = this.parse(next);
          if (!item) return undefined;
          items.push(item[0]);
          next = item[1];
        }
        return [items, next];
      }
      default:
        throw new Error(`Redis protocol error: unexpected reply type byte 0x${(buffer[at] ?? 0).toString(16)}`);
    }
  }
}

/** Encodes one command as a RESP array of bulk strings. */
function encodeCommand(command: string, args: readonly RedisCommandArgument[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length + 1}\r\n$${Buffer.byteLength(command)}\r\n${command}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Options of a {@link RespClient}. */
export interface RespClientOptions {
  /** Give up connecting after this many milliseconds (default 10 000). */
  connectTimeoutMs?: number;
}

/** The clients made from one {@link bullmqConnection} (its duplicates too), closed together. */
interface ClientFamily {
  closed: boolean;
  readonly clients: Set<RespClient>;
}

interface PendingReply {
  resolve(value: RedisReply): void;
  reject(error: Error): void;
}

/**
 * One Redis connection speaking RESP2, shaped like Bun's `RedisClient` so BullMQ's adapter can drive
 * it (see the module comment). Replies arrive in request order, so commands may be pipelined. When
 * the socket drops, every pending command rejects with an error whose message starts with
 * `Connection closed` and `onclose` is called with it; reconnecting is the adapter's job (it makes a
 * fresh client with {@link RespClient.duplicate}).
 */
export class RespClient implements BunRedisRawClient {
  connected = false;
  onconnect: (() => void) | null = null;
  onclose: ((error?: Error) => void) | null = null;
  onerror: ((error: Error) => void) | null = null;
  readonly url: string;
  private socket: Socket | undefined;
  private connecting: Promise<void> | undefined;
  private closedByUser = false;
  private readonly pending: PendingReply[] = [];
  private parser = new ReplyParser();

  constructor(
    readonly target: RedisTarget,
    private readonly options: RespClientOptions = {},
    private readonly family: ClientFamily = { closed: false, clients: new Set() },
  ) {
    this.url = redisUrl(target);
    family.clients.add(this);
  }

  /** Opens the socket, logs in and selects the database; resolves once commands may be sent. */
  connect(): Promise<void> {
    if (this.family.closed) return Promise.reject(new Error('Connection closed (the connection was shut down)'));
    if (this.connected) return Promise.resolve();
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private open(): Promise<void> {
    this.closedByUser = false;
    this.parser = new ReplyParser();
    return new Promise<void>((resolve, reject) => {
      const socket = connectTcp({ host: this.target.host, port: this.target.port });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      this.socket = socket;
      let opened = false;
      let lastError: Error | undefined;
      const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
      const timer = setTimeout(
        () => socket.destroy(new Error(`no answer from ${this.url} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.on('data', (chunk: Buffer) => this.receive(chunk));
      socket.on('error', (error) => {
        lastError = error;
      });
      socket.on('connect', () => {
        clearTimeout(timer);
        this.login().then(
          () => {
            if (this.family.closed) {
              socket.destroy();
              return;
            }
            opened = true;
            this.connected = true;
            this.onconnect?.();
            resolve();
          },
          (error: unknown) => {
            lastError = error instanceof Error ? error : new Error(String(error));
            socket.destroy();
          },
        );
      });
      socket.on('close', () => {
        clearTimeout(timer);
        this.family.clients.delete(this);
        if (this.socket === socket) this.socket = undefined;
        this.connected = false;
        const error = new Error(`Connection closed${lastError ? ` (${lastError.message})` : ''}`);
        this.failPending(error);
        if (!opened) {
          reject(lastError ?? error);
          return;
        }
        const handler = this.onclose;
        if (this.closedByUser) handler?.();
        else handler?.(error);
      });
    });
  }

  private async login(): Promise<void> {
    const { username, password, db } = this.target;
    if (password !== undefined) {
      await this.write('AUTH', username === undefined ? [password] : [username, password]);
    }
    if (db !== 0) await this.write('SELECT', [String(db)]);
  }

  private receive(chunk: Buffer): void {
    this.parser.push(chunk);
    for (;;) {
      let reply: { value: RedisReply } | undefined;
      try {
        reply = this.parser.next();
      } catch (error) {
        this.socket?.destroy(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (!reply) return;
      const waiting = this.pending.shift();
      if (!waiting) continue; // a reply nobody waits for (cannot happen with RESP2 request/response)
      if (reply.value instanceof RedisReplyError) waiting.reject(reply.value);
      else waiting.resolve(reply.value);
    }
  }

  private failPending(error: Error): void {
    for (const waiting of this.pending.splice(0)) waiting.reject(error);
  }

  private write(command: string, args: readonly RedisCommandArgument[]): Promise<RedisReply> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return Promise.reject(new Error('Connection closed'));
    return new Promise<RedisReply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      socket.write(encodeCommand(command, args));
    });
  }

  /** Sends one command; rejects with the server's error reply, or `Connection closed …`. */
  send<T = RedisReply>(command: string, args: RedisCommandArgument[]): Promise<T> {
    if (!this.connected) return Promise.reject(new Error('Connection closed'));
    return this.write(command, args) as Promise<T>;
  }

  /** Closes the socket at once; pending commands (a blocking `BZPOPMIN` too) reject. */
  close(): void {
    this.closedByUser = true;
    this.connected = false;
    this.socket?.destroy();
  }

  /** A new, unconnected client for the same server (closed with this one by {@link closeBullmqConnection}). */
  duplicate(): Promise<this> {
    return Promise.resolve(new RespClient(this.target, this.options, this.family) as this);
  }

  /** Closes this client and every client duplicated from it, for good: none of them connects again. */
  closeFamily(): void {
    this.family.closed = true;
    for (const client of [...this.family.clients]) client.close();
  }

  get(key: string): Promise<string | null> {
    return this.send<string | null>('GET', [key]);
  }

  smembers(key: string): Promise<string[]> {
    return this.send<string[]>('SMEMBERS', [key]);
  }

  incr(key: string): Promise<number> {
    return this.send<number>('INCR', [key]);
  }
}

const rawClients = new WeakMap<IRedisClient, RespClient>();

/**
 * A BullMQ connection (pass it as `connection` to a Queue or Worker). BullMQ duplicates it for the
 * connections it owns; close it with {@link closeBullmqConnection} once the Queue or Worker is closed.
 */
export function bullmqConnection(target: RedisTarget, options: RespClientOptions = {}): IRedisClient {
  const raw = new RespClient(target, options);
  const client = createBunRedisClient(raw);
  rawClients.set(client, raw);
  return client;
}

/**
 * Closes a connection made by {@link bullmqConnection} and every duplicate of it for good. (BullMQ's
 * adapter ignores `quit()` while it is reconnecting after a lost connection and would go on trying
 * forever; marking it ended and refusing new sockets stops that.)
 */
export async function closeBullmqConnection(client: IRedisClient): Promise<void> {
  await client.quit().catch(() => undefined);
  client.status = 'end';
  rawClients.get(client)?.closeFamily();
}

/**
 * Checks that a Redis server answers `PING` at `target`; throws `UNREADABLE` naming the address
 * and the reason otherwise.
 */
export async function pingRedis(target: RedisTarget, timeoutMs = 5000): Promise<void> {
  const client = new RespClient(target, { connectTimeoutMs: timeoutMs });
  try {
    await client.connect();
    const reply = await client.send('PING', []);
    if (reply !== 'PONG') throw new Error(`unexpected answer to PING: ${JSON.stringify(reply)}`);
  } catch (error) {
    throw new SpinegradeError(
      'UNREADABLE',
      `cannot use Redis at ${redisUrl(target)} (${describeError(error)}); is redis-server running there?`,
    );
  } finally {
    client.close();
  }
}
