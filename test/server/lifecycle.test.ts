/**
 * The server's lifecycle and limits: a study with a job cannot be deleted, the queue and the study
 * count are bounded, closing ends the jobs and deletes the files, and a token guards the routes a
 * browser fetches by itself. Every step waits on an observed state (an analysis reaching the gate, a
 * job's status), never on time.
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { AnalysisInput, AnalysisResult, AnalyzeOptions, Analyzer } from '../../src/analyze/analyze.js';
import { SpinegradeError } from '../../src/errors.js';
import { type RunningServer, type ServerOptions, startServer } from '../../src/server/app.js';
import { tempFolder } from '../helpers/tmp.js';
import { assertError, call, filesUnder, form, sharedAnalyzer, stallingPacs, tinyPng, waitJob } from './helpers.js';

const TOKEN = 'correct-horse-battery';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** An analysis held at the gate: the test lets it run (the real analyzer) or makes it fail. */
interface HeldAnalysis {
  /** The folder analysed (a study's files folder). */
  input: string;
  run(): void;
  fail(error: Error): void;
}

/**
 * The bundled analyzer behind a gate: each analysis waits until the test lets it through, so a job
 * stays `running` exactly as long as the test needs. An analysis aborted at the gate (the server
 * closing) ends with the abort's reason, as the real analyzer does between series.
 */
async function gatedAnalyzer(): Promise<{ analyzer: Analyzer; next(): Promise<HeldAnalysis> }> {
  const real = await sharedAnalyzer();
  const arrived: HeldAnalysis[] = [];
  const waiting: ((held: HeldAnalysis) => void)[] = [];
  const analyze = (inputs: AnalysisInput, options: AnalyzeOptions = {}): Promise<AnalysisResult> =>
    new Promise((resolve, reject) => {
      const held: HeldAnalysis = {
        input: String((inputs as readonly unknown[])[0]),
        run: () => void real.analyze(inputs, options).then(resolve, reject),
        fail: reject,
      };
      options.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true });
      const taker = waiting.shift();
      if (taker) taker(held);
      else arrived.push(held);
    });
  return {
    analyzer: { ...real, analyze, dispose: () => undefined },
    next: () => {
      const held = arrived.shift();
      return held ? Promise.resolve(held) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

const noSeries = (): SpinegradeError => new SpinegradeError('NO_USABLE_SERIES', 'no series the test wants graded');

async function serve(t: TestContext, options: ServerOptions): Promise<RunningServer> {
  const server = await startServer({ port: 0, log: () => undefined, ...options });
  t.after(() => server.close());
  return server;
}

/** Uploads one PNG slice as a study; returns its id. */
async function uploadPng(base: string, headers: Record<string, string> = {}): Promise<string> {
  const reply = await call(base, '/api/studies', {
    method: 'POST',
    raw: form([{ data: tinyPng, name: 'slice.png' }], { pixelSpacing: '0.5,0.5' }),
    headers,
  });
  assert.equal(reply.status, 201, reply.text);
  return reply.json.id as string;
}

async function analyze(base: string, id: string, headers: Record<string, string> = {}): Promise<string> {
  const reply = await call(base, `/api/studies/${id}/analyze`, { method: 'POST', headers });
  assert.equal(reply.status, 202, reply.text);
  return reply.json.jobId as string;
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

test('a study whose job waits or runs cannot be deleted (409 STUDY_BUSY); once the job has ended it can', async (t) => {
  const work = await tempFolder(t);
  const gate = await gatedAnalyzer();
  const server = await serve(t, { workDir: work, analyzer: gate.analyzer, concurrency: 1 });
  const base = server.url;
  const [first, second] = [await uploadPng(base), await uploadPng(base)] as [string, string];

  const firstJob = await analyze(base, first);
  const firstHeld = await gate.next();
  assert.equal(firstHeld.input, join(work, first, 'files'));
  const secondJob = await analyze(base, second);
  const queued = (await call(base, `/api/jobs/${secondJob}`)).json;
  assert.deepEqual([queued.status, queued.position], ['queued', 1]);

  assertError(
    await call(base, `/api/studies/${first}`, { method: 'DELETE' }),
    409,
    'STUDY_BUSY',
    /has a job waiting or running/,
  );
  assertError(
    await call(base, `/api/studies/${second}`, { method: 'DELETE' }),
    409,
    'STUDY_BUSY',
    /has a job waiting or running/,
  );
  assert.deepEqual(await readdir(join(work, first, 'files')), ['f0001.png'], 'a refused delete keeps the files');
  assert.equal((await call(base, `/api/studies/${second}`)).json.analysis.status, 'queued');

  firstHeld.fail(noSeries());
  const failed = await waitJob(base, firstJob);
  assert.equal(failed.error.code, 'NO_USABLE_SERIES');
  const secondHeld = await gate.next();
  assert.equal(secondHeld.input, join(work, second, 'files'));
  assertError(await call(base, `/api/studies/${second}`, { method: 'DELETE' }), 409, 'STUDY_BUSY');

  assert.equal((await call(base, `/api/studies/${first}`, { method: 'DELETE' })).status, 204);
  assertError(await call(base, `/api/studies/${first}`), 404, 'NOT_FOUND');
  assert.equal(await exists(join(work, first)), false, 'its folder is gone');
  secondHeld.fail(noSeries());
  await waitJob(base, secondJob);
  assert.equal((await call(base, `/api/studies/${second}`, { method: 'DELETE' })).status, 204);
  assert.deepEqual(await readdir(work), []);
});

test('the queue refuses jobs beyond --max-queue (429 QUEUE_FULL) and takes them again when one starts', async (t) => {
  const gate = await gatedAnalyzer();
  const server = await serve(t, { analyzer: gate.analyzer, concurrency: 1, maxQueued: 1 });
  const base = server.url;
  const ids = [await uploadPng(base), await uploadPng(base), await uploadPng(base)] as [string, string, string];

  const running = await analyze(base, ids[0]);
  const held = await gate.next();
  await analyze(base, ids[1]);
  assert.deepEqual((await call(base, '/api/health')).json.queue, { running: 1, queued: 1, concurrency: 1 });
  assertError(
    await call(base, `/api/studies/${ids[2]}/analyze`, { method: 'POST' }),
    429,
    'QUEUE_FULL',
    /1 jobs are waiting/,
  );
  assert.equal((await call(base, `/api/studies/${ids[2]}`)).json.analysis.status, 'none', 'the refusal left no job');

  held.fail(noSeries());
  await waitJob(base, running);
  await gate.next(); // the waiting job has started: there is room again
  assert.deepEqual((await call(base, '/api/health')).json.queue, { running: 1, queued: 0, concurrency: 1 });
  await analyze(base, ids[2]);
});

test('the server holds at most --max-studies (429 TOO_MANY_STUDIES); a refusal leaves nothing, a delete makes room', async (t) => {
  const work = await tempFolder(t);
  const pacs = await stallingPacs(t);
  const server = await serve(t, {
    workDir: work,
    maxStudies: 2,
    dicomweb: pacs,
    analyzer: async () => assert.fail('no analysis is asked for'),
  });
  const base = server.url;
  const kept = [await uploadPng(base), await uploadPng(base)];

  const refused = await call(base, '/api/studies', {
    method: 'POST',
    raw: form([{ data: tinyPng, name: 'third.png' }], { pixelSpacing: '0.5,0.5' }),
  });
  assertError(refused, 429, 'TOO_MANY_STUDIES', /holds 2 studies, its limit/);
  assertError(
    await call(base, '/api/studies/from-dicomweb', { method: 'POST', body: { studyInstanceUid: '1.2.3.4' } }),
    429,
    'TOO_MANY_STUDIES',
  );
  assert.deepEqual((await readdir(work)).sort(), [...kept].sort(), 'no folder for a refused study');
  assert.equal((await call(base, '/api/studies')).json.studies.length, 2);

  assert.equal((await call(base, `/api/studies/${kept[0]}`, { method: 'DELETE' })).status, 204);
  const third = await uploadPng(base);
  assert.deepEqual((await readdir(work)).sort(), [kept[1], third].sort());

  // Uploads at once cannot pass the limit together: with one place left, one of three gets it.
  assert.equal((await call(base, `/api/studies/${third}`, { method: 'DELETE' })).status, 204);
  const together = await Promise.all(
    [1, 2, 3].map(() =>
      call(base, '/api/studies', {
        method: 'POST',
        raw: form([{ data: tinyPng, name: 'together.png' }], { pixelSpacing: '0.5,0.5' }),
      }),
    ),
  );
  assert.deepEqual(together.map((r) => r.status).sort(), [201, 429, 429], together.map((r) => r.text).join('\n'));
  assert.equal((await call(base, '/api/studies')).json.studies.length, 2);
});

test('closing the server ends its jobs and imports and deletes every study file (and a folder it made)', async (t) => {
  const gate = await gatedAnalyzer();
  const pacs = await stallingPacs(t);
  const server = await startServer({
    port: 0,
    analyzer: gate.analyzer,
    dicomweb: pacs,
    concurrency: 1,
    log: () => undefined,
  });
  let closed = false;
  t.after(() => (closed ? undefined : server.close()));
  const base = server.url;
  const [first, second] = [await uploadPng(base), await uploadPng(base)] as [string, string];
  const work = dirname(server.services.studies.get(first).dir);
  const runningJob = await analyze(base, first);
  await gate.next();
  const waitingJob = await analyze(base, second);
  const importing = await call(base, '/api/studies/from-dicomweb', {
    method: 'POST',
    body: { studyInstanceUid: '1.2.3.4' },
  });
  assert.equal(importing.json.status, 'importing');
  assert.deepEqual((await readdir(work)).sort(), [first, second, importing.json.id].sort());
  const ended = Promise.all([server.services.queue.wait(runningJob), server.services.queue.wait(waitingJob)]);

  await server.close();
  closed = true;
  const [running, waiting] = await ended;
  assert.deepEqual([running.status, running.error?.code], ['failed', 'SHUTTING_DOWN']);
  assert.deepEqual([waiting.status, waiting.error?.code], ['failed', 'SHUTTING_DOWN']);
  assert.match(waiting.error?.message ?? '', /before this job ran/);
  assert.equal(await exists(work), false, `the temporary work folder ${work} was removed`);
  await assert.rejects(fetch(`${base}/api/health`), 'the server no longer listens');
});

test('closing a server with a given work folder deletes the studies in it and keeps the folder', async (t) => {
  const work = await tempFolder(t);
  const server = await startServer({ port: 0, workDir: work, analyzer: sharedAnalyzer, log: () => undefined });
  await uploadPng(server.url);
  await uploadPng(server.url);
  assert.equal((await filesUnder(work)).length, 2);
  await server.close();
  assert.deepEqual(await readdir(work), []);
});

/** The first Server-Sent Event of `url` (the stream is then closed by the client). */
async function firstEvent(url: string): Promise<{ status: number; type: string; event: string }> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const type = response.headers.get('content-type') ?? '';
  if (response.status !== 200 || !response.body) {
    const event = await response.text();
    return { status: response.status, type, event };
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  controller.abort();
  return { status: response.status, type, event: text.split('\n\n')[0] as string };
}

test('with a token, the event stream and the file, slice and export routes need it too (header or ?access_token=)', async (t) => {
  const gate = await gatedAnalyzer();
  const server = await serve(t, { token: TOKEN, analyzer: gate.analyzer });
  const base = server.url;
  const id = await uploadPng(base, AUTH);
  const jobId = await analyze(base, id, AUTH);
  const held = await gate.next();

  const events = `${base}/api/jobs/${jobId}/events`;
  const refused = await firstEvent(events);
  assert.equal(refused.status, 401);
  assert.equal(JSON.parse(refused.event).error.code, 'UNAUTHORIZED');
  assert.equal((await firstEvent(`${events}?access_token=wrong-token-value`)).status, 401);
  const stream = await firstEvent(`${events}?access_token=${TOKEN}`);
  assert.equal(stream.status, 200);
  assert.match(stream.type, /^text\/event-stream/);
  const view = JSON.parse(stream.event.split('\ndata: ')[1] as string);
  assert.deepEqual([view.id, view.status], [jobId, 'running']);

  const file = `/api/studies/${id}/files/f0001.png`;
  assertError(await call(base, file), 401, 'UNAUTHORIZED', /needs a token/);
  assertError(await call(base, `${file}?access_token=wrong-token-value`), 401, 'UNAUTHORIZED', /not valid/);
  const bytes = await call(base, `${file}?access_token=${TOKEN}`);
  assert.equal(bytes.status, 200);
  assert.ok(bytes.bytes.equals(tinyPng));
  assert.ok((await call(base, file, { headers: AUTH })).bytes.equals(tinyPng));

  const slice = `/api/studies/${id}/series/0/slices/0.png`;
  assertError(await call(base, slice), 401, 'UNAUTHORIZED');
  const png = await call(base, `${slice}?access_token=${TOKEN}`);
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');

  assertError(await call(base, `/api/studies/${id}/report.html`), 401, 'UNAUTHORIZED');
  assertError(await call(base, `/api/studies/${id}/report.html?access_token=${TOKEN}`), 409, 'NOT_ANALYZED');
  assertError(
    await call(base, `/api/studies/${id}?access_token=${TOKEN}`, { method: 'DELETE' }),
    401,
    'UNAUTHORIZED',
    /needs a token/,
  );
  held.fail(noSeries());
  assert.equal((await waitJob(base, jobId, AUTH)).status, 'failed');
});
