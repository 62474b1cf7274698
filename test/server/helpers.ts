/** HTTP helpers for the server tests: JSON requests, uploads, job polling, one analyzer per test process. */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join, relative, sep } from 'node:path';
import { type Analyzer, createAnalyzer } from '../../src/analyze/analyze.js';
import { encodeGreyPng } from '../../src/io/png.js';

/** The bundled example study (11 DICOM instances, RLE Lossless). */
export const EXAMPLE = 'examples/spider-98-t2space/dicom';
/** Its Study Instance UID. */
export const EXAMPLE_STUDY_UID = '2.25.291233399420727069973475608700609479904';
/** Patient identifiers in the example: they must never reach a log. */
export const EXAMPLE_PHI = ['Example^SpiderT2Space', 'SpiderT2Space', 'SPINEGRADE-EXAMPLE-01'];

let analyzer: Promise<Analyzer> | undefined;

/** One analyzer (the bundled models) for the whole test file. */
export function sharedAnalyzer(): Promise<Analyzer> {
  analyzer ??= createAnalyzer();
  return analyzer;
}

/** A response, read whole. */
export interface Reply {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for JSON bodies
  json: any;
}

/** Sends a request; a plain object body is sent as JSON. */
export async function call(
  base: string,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; raw?: FormData | Buffer | string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: FormData | Buffer | string | undefined = init.raw;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  const text = bytes.toString('utf8');
  let json: unknown;
  if ((response.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(text);
  return { status: response.status, headers: response.headers, bytes, text, json };
}

/** Asserts an API error: status, code and a message matching `message`. */
export function assertError(reply: Reply, status: number, code: string, message?: RegExp): void {
  assert.equal(reply.status, status, `status of ${reply.text.slice(0, 300)}`);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(reply.json?.error?.code, code, reply.text);
  assert.equal(typeof reply.json.error.message, 'string');
  assert.ok(reply.json.error.message.length > 0);
  if (message) assert.match(reply.json.error.message, message);
}

/** The example's files as multipart form data. */
export async function exampleForm(names?: readonly string[]): Promise<FormData> {
  const files = (await readdir(EXAMPLE)).filter((n) => n.endsWith('.dcm')).sort();
  const form = new FormData();
  for (const name of names ?? files) form.append('files', new Blob([await readFile(join(EXAMPLE, name))]), name);
  return form;
}

/** Uploads the example; returns the study id. */
export async function uploadExample(base: string, headers: Record<string, string> = {}): Promise<string> {
  const reply = await call(base, '/api/studies', { method: 'POST', raw: await exampleForm(), headers });
  assert.equal(reply.status, 201, reply.text);
  return reply.json.id as string;
}

/** Polls a job until it ends; returns its final view. */
export async function waitJob(base: string, jobId: string, headers: Record<string, string> = {}, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await call(base, `/api/jobs/${jobId}`, { headers });
    assert.equal(reply.status, 200, reply.text);
    if (reply.json.status === 'done' || reply.json.status === 'failed') return reply.json;
    if (Date.now() > deadline) assert.fail(`job ${jobId} did not finish within ${timeoutMs} ms: ${reply.text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A DICOMweb server that accepts a retrieval and never finishes it (an import that stays in progress). */
export async function stallingPacs(t: { after: (fn: () => Promise<void> | void) => void }): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary=x' });
    response.write('--x\r\nContent-Type: application/dicom\r\n\r\n');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/dicom-web`;
}

/** A 64×64 grey PNG slice. */
export const tinyPng = Buffer.from(encodeGreyPng(new Uint8Array(64 * 64).fill(100), 64, 64));

/** Multipart form data of `files` (one part each) and text `fields`. */
export function form(
  files: { data: Uint8Array | string; name: string }[],
  fields: Record<string, string> = {},
): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  for (const file of files) f.append('file', new Blob([file.data]), file.name);
  return f;
}

/** Every file under `dir` (recursively, hidden ones too), as paths relative to it with `/`, sorted. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}
