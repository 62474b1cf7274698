/**
 * `spinegrade serve`: the Fastify server with the JSON API under `/api` (docs/api.md) and the viewer's
 * static files at `/`. Safe by default: loopback unless a token is set, bearer-token check on `/api`,
 * upload limits, content-sniffed files under opaque names, JSON errors for everything, and a log that
 * holds methods, paths, statuses and ids — never a query string or a patient's name or ID.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type Analyzer, createAnalyzer } from '../analyze/analyze.js';
import { findingsJson, OUTPUT_FILES } from '../analyze/outputs.js';
import { SpinegradeError } from '../errors.js';
import { DicomwebClient, type QidoQuery } from '../pacs/client.js';
import { jsonNumber, jsonString, jsonStrings, TAGS } from '../pacs/dicomJson.js';
import { packageRoot } from '../util/package.js';
import { TOKEN_VARIABLE } from './constants.js';
import { parseCorrectionRequest, parseLevelOverrideInput } from './corrections.js';
import { HttpError, toHttpError } from './errors.js';
import {
  acceptFile,
  byteLimiter,
  displayName,
  FILE_ID_PATTERN,
  fileStem,
  isCompanionName,
  type UploadLimits,
  writeStream,
} from './files.js';
import { parseWindow, slicePng } from './images.js';
import type { JobView } from './queue.js';
import { StudyService } from './service.js';

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
  /** Folder for the studies (default: a fresh temporary folder, removed on close). */
  workDir?: string;
  /** The models: an analyzer, or a function making one (default: the bundled models, loaded on first use). */
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
  service: StudyService;
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

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>spinegrade</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>spinegrade</h1>
<p>The viewer is not built (no <code>dist/viewer/index.html</code>). The JSON API runs under
<a href="/api/health"><code>/api</code></a>; see docs/api.md.</p>
<p>Research use only; not a medical device.</p>
</body></html>
`;

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

function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'BAD_REQUEST', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function parsePixelSpacingInput(value: unknown): [number, number] | undefined {
  if (value === undefined || value === null) return undefined;
  const parts = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value.split(',').map((p) => Number(p.trim()))
      : [];
  const [x, y = x] = parts as number[];
  if (
    parts.length < 1 ||
    parts.length > 2 ||
    !(typeof x === 'number' && x > 0 && Number.isFinite(x)) ||
    !(typeof y === 'number' && y > 0 && Number.isFinite(y))
  ) {
    throw new HttpError(400, 'BAD_REQUEST', 'pixelSpacing must be [x, y] (or "x,y") in mm, both positive');
  }
  return [x, y];
}

/** Builds the Fastify app (not listening); the caller closes `service` and the app. */
export async function buildApp(
  service: StudyService,
  options: { token?: string; viewerDir: string; log: (line: string) => void; version: string },
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, forceCloseConnections: true });
  const routes: RouteEntry[] = [];
  const expected = options.token ? tokenDigest(options.token) : undefined;
  const { limits } = service;

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
      fileSize: limits.maxFileBytes,
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

  // Bearer token on /api.
  app.addHook('onRequest', async (request) => {
    if (!expected || !request.url.startsWith('/api')) return;
    const header = request.headers.authorization;
    let given: string | undefined;
    if (typeof header === 'string' && /^Bearer\s+/i.test(header)) given = header.replace(/^Bearer\s+/i, '').trim();
    else if (request.method === 'GET' || request.method === 'HEAD') {
      const query = request.query as Record<string, unknown> | undefined;
      if (typeof query?.access_token === 'string') given = query.access_token;
    }
    if (given === undefined || given === '') {
      throw new HttpError(401, 'UNAUTHORIZED', 'this server needs a token: send "Authorization: Bearer <token>"', {
        'WWW-Authenticate': 'Bearer',
      });
    }
    if (!timingSafeEqual(tokenDigest(given), expected)) {
      throw new HttpError(401, 'UNAUTHORIZED', 'the token is not valid', {
        'WWW-Authenticate': 'Bearer error="invalid_token"',
      });
    }
  });

  app.setErrorHandler((error: unknown, _request: FastifyRequest, reply: FastifyReply) => {
    const http = fastifyError(error);
    if (http.status >= 500) options.log(`error ${http.code}`);
    void reply.code(http.status).headers(http.headers).type('application/json; charset=utf-8').send(http.body());
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
        {
          Allow: allowed.join(', '),
        },
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

  type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  const route = (method: 'GET' | 'POST' | 'DELETE', url: string, handler: Handler): void => {
    routes.push({ method, pattern: routePattern(url) });
    app.route({ method, url, handler });
  };
  const params = (request: FastifyRequest): Record<string, string> => request.params as Record<string, string>;
  const json = (request: FastifyRequest): Record<string, unknown> => {
    const type = request.headers['content-type'];
    if (request.body !== undefined && type !== undefined && !/^application\/json\b/i.test(type)) {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    }
    return bodyObject(request.body);
  };

  route('GET', '/api/health', async () => ({
    ok: true,
    version: options.version,
    dicomweb: service.dicomweb !== undefined,
    auth: expected !== undefined,
    queue: service.queue.stats(),
    limits,
  }));

  route('GET', '/api/studies', async () => ({ studies: service.list().map((s) => service.view(s)) }));

  route('POST', '/api/studies', async (request, reply) => {
    if (!request.isMultipart()) {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'upload the files as multipart/form-data (one part per file)');
    }
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.maxUploadBytes + 1024 * 1024) {
      throw new HttpError(
        413,
        'UPLOAD_TOO_LARGE',
        `the upload is larger than the limit of ${limits.maxUploadBytes} bytes`,
      );
    }
    const study = await service.create('upload');
    const counter = { bytes: 0 };
    const skipped: { name: string; reason: string }[] = [];
    const kinds: Record<string, number> = {};
    let part = 0;
    try {
      for await (const item of request.parts()) {
        if (item.type === 'field') {
          if (item.fieldname === 'pixelSpacing') study.pixelSpacing = parsePixelSpacingInput(String(item.value));
          continue;
        }
        part++;
        if (isCompanionName(item.filename)) {
          item.file.resume();
          skipped.push({ name: displayName(item.filename), reason: 'not an image (DICOMDIR index or hidden file)' });
          continue;
        }
        if (study.files.length >= limits.maxFiles) {
          throw new HttpError(413, 'TOO_MANY_FILES', `more than ${limits.maxFiles} files in one upload`);
        }
        const stem = fileStem(study.files.length + 1);
        const temporary = join(study.filesDir, `.${stem}.part`);
        const before = counter.bytes;
        await writeStream(item.file, temporary, byteLimiter(counter, limits.maxUploadBytes));
        if (item.file.truncated) {
          throw new HttpError(
            413,
            'FILE_TOO_LARGE',
            `file ${part} is larger than the per-file limit of ${limits.maxFileBytes} bytes`,
          );
        }
        const file = await acceptFile(
          study.filesDir,
          temporary,
          stem,
          item.filename,
          counter.bytes - before,
          `file ${part}`,
        );
        study.files.push(file);
        study.bytes += file.bytes;
        kinds[file.kind] = (kinds[file.kind] ?? 0) + 1;
      }
      if (study.files.length === 0) {
        throw new HttpError(
          400,
          'EMPTY_UPLOAD',
          skipped.length > 0 ? 'the upload holds no image file (only skipped files)' : 'the upload holds no file',
        );
      }
    } catch (error) {
      await service.discard(study);
      throw error;
    }
    service.register(study);
    reply.code(201);
    return { id: study.id, status: study.status, files: study.files.length, bytes: study.bytes, kinds, skipped };
  });

  route('POST', '/api/studies/from-dicomweb', async (request, reply) => {
    const body = json(request);
    const study = await service.importFromDicomweb(body.studyInstanceUid);
    reply.code(201);
    return { id: study.id, status: study.status };
  });

  route('GET', '/api/studies/:id', async (request) => service.view(service.get(params(request).id as string)));

  route('DELETE', '/api/studies/:id', async (request, reply) => {
    await service.remove(params(request).id as string);
    reply.code(204);
    return reply.send();
  });

  route('GET', '/api/studies/:id/series', async (request) => {
    const study = service.get(params(request).id as string);
    return { series: (await service.series(study)).map((s) => s.info) };
  });

  route('GET', '/api/studies/:id/series/:n/instances', async (request) => {
    const { id, n } = params(request) as { id: string; n: string };
    const study = service.get(id);
    const { info, loaded } = await service.oneSeries(study, n);
    if (info.format !== 'dicom') {
      throw new HttpError(404, 'NOT_DICOM', `series ${info.index} is ${info.format}, not DICOM: use …/slices/{k}.png`);
    }
    return {
      series: info.index,
      instances: loaded.fileIds.map((fileId, k) => ({
        sliceIndex: k,
        fileId,
        sopInstanceUid: loaded.sopInstanceUids[k] ?? null,
        url: `/api/studies/${study.id}/files/${fileId}`,
      })),
    };
  });

  route('GET', '/api/studies/:id/series/:n/slices/:slice', async (request, reply) => {
    const { id, n, slice } = params(request) as { id: string; n: string; slice: string };
    const match = /^(\d{1,5})\.png$/.exec(slice);
    if (!match) throw new HttpError(404, 'NOT_FOUND', `no slice ${slice.slice(0, 20)} (use slices/<k>.png)`);
    const window = parseWindow((request.query as Record<string, unknown>).window);
    const study = service.get(id);
    const { loaded } = await service.oneSeries(study, n);
    const png = slicePng(loaded.volume, Number(match[1]), window);
    return reply.type('image/png').header('Cache-Control', 'private, max-age=3600').send(Buffer.from(png));
  });

  route('GET', '/api/studies/:id/files/:fileId', async (request, reply) => {
    const { id, fileId } = params(request) as { id: string; fileId: string };
    const study = service.get(id);
    if (!FILE_ID_PATTERN.test(fileId))
      throw new HttpError(404, 'NOT_FOUND', `no file ${fileId.slice(0, 40)} in study ${id}`);
    const { path, file } = service.file(study, fileId);
    const data = await readFile(path);
    return reply
      .type(file.kind === 'dicom' ? 'application/dicom' : 'application/octet-stream')
      .header('Cache-Control', 'private, max-age=3600')
      .send(data);
  });

  route('POST', '/api/studies/:id/analyze', async (request, reply) => {
    const study = service.get(params(request).id as string);
    const body = json(request);
    const known = new Set(['levelOverride', 'pixelSpacing']);
    const unknown = Object.keys(body).filter((k) => !known.has(k));
    if (unknown.length > 0)
      throw new HttpError(
        400,
        'BAD_REQUEST',
        `unknown field(s) ${unknown.join(', ')} (allowed: levelOverride, pixelSpacing)`,
      );
    const levelOverride =
      body.levelOverride === undefined || body.levelOverride === null
        ? undefined
        : parseLevelOverrideInput(body.levelOverride);
    const job = service.analyze(study, levelOverride, parsePixelSpacingInput(body.pixelSpacing));
    reply.code(202);
    return { jobId: job.id, job };
  });

  route('GET', '/api/jobs', async () => ({ jobs: service.queue.list() }));

  const jobOf = (id: string): JobView => {
    const job = /^j-[0-9a-f]{16}$/.test(id) ? service.queue.get(id) : undefined;
    if (!job)
      throw new HttpError(404, 'NOT_FOUND', `no job ${id.slice(0, 40)} (unknown, or finished more than an hour ago)`);
    return job;
  };

  route('GET', '/api/jobs/:jobId', async (request) => jobOf(params(request).jobId as string));

  route('GET', '/api/jobs/:jobId/events', async (request, reply) => {
    const job = jobOf(params(request).jobId as string);
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
    });
    const send = (view: JobView): void => {
      out.write(`event: job\ndata: ${JSON.stringify(view)}\n\n`);
    };
    send(job);
    if (job.status === 'done' || job.status === 'failed') {
      out.end();
      return;
    }
    const unsubscribe = service.queue.subscribe(job.id, (view) => {
      send(view);
      if (view.status === 'done' || view.status === 'failed') {
        unsubscribe();
        out.end();
      }
    });
    request.raw.on('close', unsubscribe);
  });

  route('GET', '/api/studies/:id/findings', async (request) =>
    service.findings(service.get(params(request).id as string)),
  );

  route('GET', '/api/studies/:id/corrections', async (request) => ({
    corrections: service.get(params(request).id as string).corrections,
  }));

  route('POST', '/api/studies/:id/corrections', async (request, reply) => {
    const study = service.get(params(request).id as string);
    const correction = parseCorrectionRequest(json(request));
    const result = service.correct(study, correction);
    if (result.job) {
      reply.code(202);
      return { jobId: result.job.id, correction: result.correction };
    }
    reply.code(201);
    return { correction: result.correction, revision: result.revision };
  });

  route('GET', '/api/studies/:id/findings.json', async (request, reply) => {
    const study = service.get(params(request).id as string);
    const { findings } = service.findings(study);
    return reply
      .type('application/json; charset=utf-8')
      .header('Content-Disposition', `attachment; filename="${study.id}-findings.json"`)
      .send(findingsJson(findings));
  });

  const exports: {
    url: string;
    name: (typeof OUTPUT_FILES)[keyof typeof OUTPUT_FILES];
    type: string;
    inline: boolean;
  }[] = [
    { url: 'report.html', name: OUTPUT_FILES.report, type: 'text/html; charset=utf-8', inline: true },
    { url: 'overlay.png', name: OUTPUT_FILES.overlay, type: 'image/png', inline: true },
    { url: 'sr.dcm', name: OUTPUT_FILES.sr, type: 'application/dicom', inline: false },
    { url: 'seg.dcm', name: OUTPUT_FILES.seg, type: 'application/dicom', inline: false },
  ];
  for (const spec of exports) {
    route('GET', `/api/studies/:id/${spec.url}`, async (request, reply) => {
      const study = service.get(params(request).id as string);
      const data = await service.exportFile(study, spec.name);
      const download = (request.query as Record<string, unknown>).download !== undefined;
      reply
        .type(spec.type)
        .header(
          'Content-Disposition',
          `${spec.inline && !download ? 'inline' : 'attachment'}; filename="${study.id}-${spec.url}"`,
        );
      // The HTML report is self-contained; it must not run scripts or fetch anything on this origin.
      if (spec.name === OUTPUT_FILES.report) {
        reply.header(
          'Content-Security-Policy',
          "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
        );
      }
      return reply.send(Buffer.from(data));
    });
  }

  route('POST', '/api/studies/:id/store', async (request) => {
    const study = service.get(params(request).id as string);
    json(request);
    return { stored: await service.store(study) };
  });

  route('GET', '/api/dicomweb/studies', async (request) => {
    const client = service.dicomweb;
    if (!client)
      throw new HttpError(
        503,
        'NO_DICOMWEB',
        'this server has no DICOMweb server configured (start it with --dicomweb <url>)',
      );
    const query = request.query as Record<string, unknown>;
    const passed = [
      'PatientName',
      'PatientID',
      'StudyDate',
      'AccessionNumber',
      'StudyInstanceUID',
      'ModalitiesInStudy',
      'StudyDescription',
      'fuzzymatching',
      'offset',
    ];
    const qido: QidoQuery = {};
    for (const key of passed) {
      const value = query[key];
      if (value === undefined) continue;
      if (typeof value !== 'string' || value.length > 200)
        throw new HttpError(400, 'BAD_REQUEST', `${key} must be one string of at most 200 characters`);
      qido[key] = value;
    }
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000))
      throw new HttpError(400, 'BAD_REQUEST', 'limit must be a whole number from 1 to 1000');
    qido.limit = limit;
    qido.includefield = [
      'StudyDescription',
      'ModalitiesInStudy',
      'NumberOfStudyRelatedSeries',
      'NumberOfStudyRelatedInstances',
    ];
    let results: Awaited<ReturnType<DicomwebClient['searchStudies']>>;
    try {
      results = await client.searchStudies(qido);
    } catch (error) {
      throw toHttpError(error);
    }
    return {
      studies: results.map((s) => ({
        studyInstanceUid: jsonString(s, TAGS.StudyInstanceUID) ?? null,
        studyDate: jsonString(s, TAGS.StudyDate) ?? null,
        studyTime: jsonString(s, TAGS.StudyTime) ?? null,
        studyDescription: jsonString(s, TAGS.StudyDescription) ?? null,
        accessionNumber: jsonString(s, TAGS.AccessionNumber) ?? null,
        modalities: jsonStrings(s, TAGS.ModalitiesInStudy),
        patientName: jsonString(s, TAGS.PatientName) ?? null,
        patientId: jsonString(s, TAGS.PatientID) ?? null,
        series: jsonNumber(s, TAGS.NumberOfStudyRelatedSeries) ?? null,
        instances: jsonNumber(s, TAGS.NumberOfStudyRelatedInstances) ?? null,
      })),
    };
  });

  return app;
}

/** Fastify's and the multipart plugin's errors in the API's shape. */
function fastifyError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? String(error);
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        `unsupported Content-Type: ${message.replace(/^Unsupported Media Type:?\s*/i, '')}`.trim(),
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'BODY_TOO_LARGE', 'the JSON body is too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpError(400, 'BAD_JSON', `the body is not valid JSON (${message})`);
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new HttpError(413, 'TOO_MANY_FILES', 'too many files in one upload');
    case 'FST_FIELDS_LIMIT':
      return new HttpError(413, 'TOO_MANY_FILES', 'too many form fields in the upload');
    case 'FST_REQ_FILE_TOO_LARGE':
      return new HttpError(413, 'FILE_TOO_LARGE', 'a file is larger than the per-file limit');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'upload the files as multipart/form-data');
    case 'FST_PROTO_VIOLATION':
      return new HttpError(400, 'BAD_REQUEST', message);
    case 'FST_MP_PREMATURE_CLOSE':
      return new HttpError(400, 'BAD_REQUEST', 'the upload ended before it was complete');
  }
  const status = (error as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpError(status, 'BAD_REQUEST', message);
  }
  return toHttpError(error);
}

async function serveStatic(viewerDir: string, path: string, reply: FastifyReply): Promise<FastifyReply> {
  const root = resolve(viewerDir);
  const index = join(root, 'index.html');
  const built = (await stat(index).catch(() => undefined))?.isFile() === true;
  if (!built) {
    if (path === '/' || path === '/index.html') return reply.type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    throw new HttpError(404, 'NOT_FOUND', `no file ${path.slice(0, 200)} (the viewer is not built)`);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'malformed path');
  }
  if (decoded.includes('\0')) throw new HttpError(400, 'BAD_REQUEST', 'malformed path');
  const relative = normalize(decoded).replace(/^([/\\])+/, '');
  const target = relative === '' ? index : resolve(root, relative);
  if (target !== root && !target.startsWith(`${root}${sep}`)) throw new HttpError(404, 'NOT_FOUND', 'no such file');
  const info = await stat(target).catch(() => undefined);
  const file = info?.isDirectory() ? join(target, 'index.html') : target;
  const data = await readFile(file).catch(() => undefined);
  if (!data) throw new HttpError(404, 'NOT_FOUND', `no file ${path.slice(0, 200)}`);
  return reply
    .type(CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream')
    .header('Cache-Control', file === index ? 'no-cache' : 'public, max-age=300')
    .send(data);
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

  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'spinegrade-serve-')));
  const log = options.log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
  let analyzerPromise: Promise<Analyzer> | undefined;
  let ownAnalyzer = false;
  const getAnalyzer = (): Promise<Analyzer> => {
    if (!analyzerPromise) {
      const given = options.analyzer;
      if (typeof given === 'function') analyzerPromise = given();
      else if (given) analyzerPromise = Promise.resolve(given);
      else {
        ownAnalyzer = true;
        analyzerPromise = createAnalyzer({
          ...(options.model !== undefined ? { model: options.model } : {}),
          ...(options.localizer !== undefined ? { localizer: options.localizer } : {}),
        });
      }
      analyzerPromise.catch(() => {
        analyzerPromise = undefined;
      });
    }
    return analyzerPromise;
  };
  const service = new StudyService({
    workDir,
    analyzer: getAnalyzer,
    ...(dicomweb ? { dicomweb } : {}),
    limits: { ...DEFAULT_LIMITS, ...(options.limits ?? {}) },
    maxStudies: options.maxStudies ?? 100,
    concurrency: options.concurrency ?? 1,
    maxQueued: options.maxQueued ?? 500,
    log,
  });
  const version =
    (JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ??
    'unknown';
  const app = await buildApp(service, {
    ...(token ? { token } : {}),
    viewerDir: options.viewerDir ?? join(packageRoot(), 'dist', 'viewer'),
    log,
    version,
  });
  const close = async (): Promise<void> => {
    await app.close();
    await service.close();
    if (ownAnalyzer && analyzerPromise) (await analyzerPromise.catch(() => undefined))?.dispose();
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
  return { url: `http://${urlHost}:${actualPort}`, host, port: actualPort, app, service, close };
}
