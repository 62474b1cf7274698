/** The viewer's static files at `/` (from the built `dist/viewer/`), or a short page when it is not built. */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { FastifyReply } from 'fastify';
import { HttpError } from '../http/errors.js';

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

/** Answers `GET path` with the file of the viewer folder it names (never one outside it). */
export async function serveStatic(viewerDir: string, path: string, reply: FastifyReply): Promise<FastifyReply> {
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
