/**
 * `spinegrade serve`: the Fastify server with the JSON API under `/api` (docs/api.md) and the viewer's
 * static files at `/`. Safe by default: loopback unless a token is set, bearer-token check on `/api`,
 * upload limits, content-sniffed files under opaque names, JSON errors for everything, and a log that
 * holds methods, paths, statuses and ids — never a query string or a patient's name or ID.
 *
 * This module wires the HTTP layer (body parsing, the token check, the log, errors, 404/405) and
 * registers one route plugin per resource (`routes/`) over the services (`services/`).
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Analyzer } from '../analyze/analyze.js';
import { SpinegradeError } from '../errors.js';
import { DicomwebClient } from '../pacs/client.js';
import { packageRoot } from '../util/package.js';
import { type AnalysisRunner, InThreadRunner, onceAnalyzer } from './analysisEngine.js';
import { WorkerPoolRunner } from './analysisPool.js';
import { TOKEN_VARIABLE } from './constants.js';
import type { UploadLimits } from './files.js';
import { bearerTokenCheck } from './http/auth.js';
import { clientErrorHandler, errorHandler, HttpError } from './http/errors.js';
import { analysisRoutes } from './routes/analysis.js';
import { compareRoutes } from './routes/compare.js';
import { exportRoutes } from './routes/exports.js';
import { findingsRoutes } from './routes/findings.js';
import { healthRoutes } from './routes/health.js';
import { imageRoutes } from './routes/images.js';
import { pacsRoutes } from './routes/pacs.js';
import { serveStatic } from './routes/static.js';
import { studyRoutes } from './routes/studies.js';
import { createServices, type ServerServices } from './services/index.js';
import type { StudyRepository } from './services/repository.js';
import { SqliteStudyRepository } from './services/sqliteRepository.js';

/** Options of the server. */
export interface ServerOptions {
  /** Address to bind (default 127.0.0.1). Anything but loopback needs `token`. */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** Bearer token required on `/api` (default: none, loopback only). */
  token?: string;
  /** DICOMweb base URL (or a client) of the PACS. */
  dicomweb?: string | DicomwebClient;
  /**
   * Data folder of a persistent store (SQLite database and the studies' files, kept across restarts;
   * docs/api.md, "Data folder"). Without it the studies live in memory for as long as the server runs.
   */
  dataDir?: string;
  /** Folder for the studies' files of the in-memory store (default: a fresh temporary folder, removed on close). */
  workDir?: string;
  /**
   * The models: an analyzer, or a function making one, used in this thread (the caller disposes it).
   * Default: the bundled models (or `model`/`localizer`), loaded once per worker thread of the
   * analysis pool (`concurrency` workers), so analyses never hold up the HTTP thread.
   */
  analyzer?: Analyzer | (() => Promise<Analyzer>);
  /** Grader folder for the default analyzer. */
  model?: string;
  /** Localiser folder for the default analyzer. */
  localizer?: string;
  /** Analyses running at once (default 1). */
  concurrency?: number;
  /** Most jobs waiting (default 500). */
  maxQueued?: number;
  /** Upload limits (defaults: 512 MiB, 2000 files, 256 MiB a file). */
  limits?: Partial<UploadLimits>;
  /** Most studies held (default 100). */
  maxStudies?: number;
  /** Where the studies are kept (default: `dataDir`'s store, else in memory); with it, `workDir` is the folder of their files. */
  repository?: StudyRepository;
  /** Folder of the built viewer (default `<package>/dist/viewer`). */
  viewerDir?: string;
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
}

/** A listening server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  host: string;
  port: number;
  app: FastifyInstance;
  services: ServerServices;
  /** Stops accepting requests, ends running jobs, frees the models and removes a temporary work folder. */
  close(): Promise<void>;
}

/** Default upload limits. */
export const DEFAULT_LIMITS: UploadLimits = {
  maxUploadBytes: 512 * 1024 * 1024,
  maxFiles: 2000,
  maxFileBytes: 256 * 1024 * 1024,
};

export { TOKEN_VARIABLE } from './constants.js';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** One route of the table used to answer 405 with the methods a path has. */
interface RouteEntry {
  method: string;
  pattern: RegExp;
}

function routePattern(url: string): RegExp {
  const segments = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('/')}$`);
}

/** Builds the Fastify app (not listening); the caller closes `services` and the app. */
export async function buildApp(
  services: ServerServices,
  options: { token?: string; viewerDir: string; log: (line: string) => void; version: string },
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    clientErrorHandler: clientErrorHandler(options.log),
  });
  const routes: RouteEntry[] = [];
  const { limits } = services.studies;

  // JSON bodies: an empty body is no body; invalid JSON is a 400 with our error shape.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(new HttpError(400, 'BAD_JSON', `the body is not valid JSON (${(error as Error).message})`), undefined);
    }
  });
  await app.register(multipart, {
    throwFileSizeLimit: true,
    limits: {
      // One byte over, so that the upload's own limiter (which refuses while the body streams) sees the excess.
      fileSize: limits.maxFileBytes + 1,
      files: limits.maxFiles,
      parts: limits.maxFiles + 10,
      fields: 10,
      fieldSize: 1000,
      headerPairs: 100,
    },
  });

  // Minimal request log: method, path without the query, status, time.
  app.addHook('onResponse', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    options.log(`${request.method} ${path} ${reply.statusCode} ${Math.round(reply.elapsedTime)}ms`);
  });
  if (options.token) app.addHook('onRequest', bearerTokenCheck(options.token));
  app.setErrorHandler(errorHandler(options.log));

  // The route table for 405 answers (the HEAD routes Fastify adds to each GET are implied by GET).
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, pattern: routePattern(route.url) });
    }
  });
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      if (allowed.includes('GET')) allowed.push('HEAD');
      throw new HttpError(
        405,
        'METHOD_NOT_ALLOWED',
        `${request.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`,
        { Allow: allowed.join(', ') },
      );
    }
    if (path === '/api' || path.startsWith('/api/')) {
      throw new HttpError(404, 'NOT_FOUND', `no route ${request.method} ${path}`);
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}`, {
        Allow: 'GET, HEAD',
      });
    }
    return serveStatic(options.viewerDir, path, reply);
  });

  const plugin = { services };
  await app.register(healthRoutes, { ...plugin, version: options.version, auth: options.token !== undefined });
  await app.register(studyRoutes, plugin);
  await app.register(imageRoutes, plugin);
  await app.register(analysisRoutes, plugin);
  await app.register(findingsRoutes, plugin);
  await app.register(exportRoutes, plugin);
  await app.register(compareRoutes, plugin);
  await app.register(pacsRoutes, plugin);
  return app;
}

/**
 * Starts the server: checks the bind address against the token rule, makes the work folder and the
 * DICOMweb client, and listens. Throws `USAGE` when asked to bind beyond loopback without a token.
 */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  const token = options.token ?? (process.env[TOKEN_VARIABLE] || undefined);
  if (!isLoopback(host) && !token) {
    throw new SpinegradeError(
      'USAGE',
      `refusing to listen on ${host} without a token: anyone who can reach it could read the studies; give --token <t> or set ${TOKEN_VARIABLE}`,
    );
  }
  if (token !== undefined && token.length < 8) {
    throw new SpinegradeError('USAGE', 'the token must be at least 8 characters');
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new SpinegradeError('USAGE', `port ${port} is not a port number`);
  let dicomweb: DicomwebClient | undefined;
  if (typeof options.dicomweb === 'string') {
    try {
      dicomweb = new DicomwebClient(options.dicomweb);
    } catch (error) {
      throw new SpinegradeError('USAGE', `--dicomweb: ${(error as Error).message}`);
    }
  } else dicomweb = options.dicomweb;

  const log = options.log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
  if (options.dataDir !== undefined && options.repository) {
    throw new SpinegradeError('USAGE', 'give the server a data folder or a repository, not both');
  }
  const store = options.dataDir !== undefined ? new SqliteStudyRepository(resolve(options.dataDir)) : undefined;
  const repository = store ?? options.repository;
  const ownWorkDir = store === undefined && options.workDir === undefined;
  const workDir = store?.studiesDir ?? options.workDir ?? (await mkdtemp(join(tmpdir(), 'spinegrade-serve-')));
  // Given models (tests, embedding) run in this thread; the bundled or named ones in worker threads.
  const runner: AnalysisRunner = options.analyzer
    ? new InThreadRunner(
        typeof options.analyzer === 'function'
          ? onceAnalyzer(options.analyzer)
          : async () => options.analyzer as Analyzer,
      )
    : new WorkerPoolRunner(
        options.concurrency ?? 1,
        {
          ...(options.model !== undefined ? { model: resolve(options.model) } : {}),
          ...(options.localizer !== undefined ? { localizer: resolve(options.localizer) } : {}),
        },
        log,
      );
  const services = createServices({
    workDir,
    runner,
    ...(dicomweb ? { dicomweb } : {}),
    limits: { ...DEFAULT_LIMITS, ...(options.limits ?? {}) },
    maxStudies: options.maxStudies ?? 100,
    concurrency: options.concurrency ?? 1,
    maxQueued: options.maxQueued ?? 500,
    ...(repository ? { repository } : {}),
    ...(options.localizer !== undefined ? { localizerDir: resolve(options.localizer) } : {}),
    log,
  });
  if (store) {
    const recovered = await services.studies.recover();
    log(
      `data folder ${store.dataDir}: ${recovered.studies} studies, ${recovered.interrupted} interrupted jobs marked failed, ${recovered.removed} unfinished study folders removed`,
    );
  }
  const version =
    (JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ??
    'unknown';
  const app = await buildApp(services, {
    ...(token ? { token } : {}),
    viewerDir: options.viewerDir ?? join(packageRoot(), 'dist', 'viewer'),
    log,
    version,
  });
  const close = async (): Promise<void> => {
    await app.close();
    await services.close();
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
  };
  try {
    await app.listen({ host, port });
  } catch (error) {
    await close();
    throw new SpinegradeError('USAGE', `cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  log(
    `spinegrade serve listening on http://${urlHost}:${actualPort}${token ? ' (token required)' : ''}${dicomweb ? ', DICOMweb configured' : ''}`,
  );
  return { url: `http://${urlHost}:${actualPort}`, host, port: actualPort, app, services, close };
}
