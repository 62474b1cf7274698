import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FindingsDocument } from '../../src/report/findings.js';
import { startServer } from '../../src/server/app.js';
import type { StudyRecord } from '../../src/server/services/repository.js';
import { SCHEMA_VERSION, SqliteStudyRepository } from '../../src/server/services/sqliteRepository.js';
import { assertError, call, sharedAnalyzer, uploadExample, waitJob } from './helpers.js';

const require = createRequire(import.meta.url);
const Sqlite = require('better-sqlite3') as new (
  path: string,
) => { pragma(s: string, o?: { simple: boolean }): unknown; close(): void };

async function dataFolder(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spinegrade-data-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a restart on the same data folder brings back every study, its findings, corrections and jobs', async (t) => {
  const dataDir = await dataFolder(t);
  const analyzer = await sharedAnalyzer();
  let server = await startServer({ port: 0, dataDir, analyzer, log: () => undefined });
  let base = server.url;
  const id = await uploadExample(base);
  const analysis = await call(base, `/api/studies/${id}/analyze`, { method: 'POST' });
  const jobId = analysis.json.jobId as string;
  assert.equal((await waitJob(base, jobId)).status, 'done');
  const level = (await call(base, `/api/studies/${id}/findings`)).json.findings.studies[0].levels.at(-1);
  const override = await call(base, `/api/studies/${id}/corrections`, {
    method: 'POST',
    body: {
      type: 'grade',
      level: level.level,
      finding: 'modic',
      value: level.modic.grade === 0 ? 1 : 0,
      reason: 'endplate oedema on STIR',
      by: 'AB',
    },
  });
  assert.equal(override.status, 201, override.text);
  const before = {
    study: (await call(base, `/api/studies/${id}`)).json,
    findings: (await call(base, `/api/studies/${id}/findings`)).json,
    series: (await call(base, `/api/studies/${id}/series`)).json,
  };
  await server.close();

  server = await startServer({ port: 0, dataDir, analyzer, log: () => undefined });
  t.after(() => server.close());
  base = server.url;
  assert.deepEqual((await call(base, '/api/studies')).json.studies, [before.study]);
  assert.deepEqual((await call(base, `/api/studies/${id}/findings`)).json, before.findings);
  assert.deepEqual((await call(base, `/api/studies/${id}/series`)).json, before.series);
  const corrections = (await call(base, `/api/studies/${id}/corrections`)).json.corrections;
  assert.equal(corrections.length, 1);
  assert.equal(corrections[0].by, 'AB');
  assert.equal(corrections[0].reason, 'endplate oedema on STIR');
  assert.equal(typeof corrections[0].at, 'string');
  const job = await call(base, `/api/jobs/${jobId}`);
  assert.equal(job.status, 200, job.text);
  assert.equal(job.json.status, 'done');
  const report = await call(base, `/api/studies/${id}/report.html`);
  assert.equal(report.status, 200);

  // Deleting removes the files and the rows.
  assert.equal((await call(base, `/api/studies/${id}`, { method: 'DELETE' })).status, 204);
  assert.deepEqual(await readdir(join(dataDir, 'studies')), []);
  assertError(await call(base, `/api/jobs/${jobId}`), 404, 'NOT_FOUND');
  await server.close();
  const store = new SqliteStudyRepository(dataDir);
  assert.equal(store.count(), 0);
  assert.equal(store.job(jobId), undefined);
  store.close();
});

test('on start, a job the process died with is marked failed with the reason, and unfinished folders go', async (t) => {
  const dataDir = await dataFolder(t);
  const analyzer = await sharedAnalyzer();
  let server = await startServer({ port: 0, dataDir, analyzer, log: () => undefined });
  const id = await uploadExample(server.url);
  await server.close();

  // What a process killed during an analysis leaves: the job written as running, the study's status
  // queued, a half-written export folder, a half-uploaded study folder without a row.
  const store = new SqliteStudyRepository(dataDir);
  const study = store.get(id);
  assert.ok(study);
  const now = new Date().toISOString();
  const view = {
    id: 'j-0123456789abcdef',
    studyId: id,
    kind: 'analyze' as const,
    status: 'running' as const,
    position: 0,
    stage: 'grade' as const,
    done: 3,
    total: 7,
    createdAt: now,
    startedAt: now,
    finishedAt: null,
    revision: null,
    error: null,
  };
  store.saveJob(view);
  study.lastJobId = view.id;
  study.lastJobStatus = 'queued';
  store.save(study);
  store.close();
  await mkdir(join(dataDir, 'studies', id, 'out', '.r1.abc.partial'), { recursive: true });
  await mkdir(join(dataDir, 'studies', 's-00000000beef', 'files'), { recursive: true });
  await writeFile(join(dataDir, 'studies', 's-00000000beef', 'files', '.f0001.part'), 'half');

  const lines: string[] = [];
  server = await startServer({ port: 0, dataDir, analyzer, log: (line) => lines.push(line) });
  t.after(() => server.close());
  const base = server.url;
  const shown = (await call(base, `/api/studies/${id}`)).json;
  assert.equal(shown.analysis.status, 'failed');
  const job = (await call(base, `/api/jobs/${view.id}`)).json;
  assert.equal(job.status, 'failed');
  assert.equal(job.error.code, 'INTERRUPTED');
  assert.match(job.error.message, /server stopped/);
  assert.deepEqual(await readdir(join(dataDir, 'studies')), [id]);
  assert.deepEqual(await readdir(join(dataDir, 'studies', id, 'out')), []);
  assert.ok(
    lines.some((l) => /1 interrupted jobs marked failed, 1 unfinished study folders removed/.test(l)),
    lines.join('\n'),
  );
  // It can be analysed again.
  const again = await call(base, `/api/studies/${id}/analyze`, { method: 'POST' });
  assert.equal((await waitJob(base, again.json.jobId)).status, 'done');
});

test('a data folder written by a newer schema is refused with a clear message; an older one is migrated', async (t) => {
  const dataDir = await dataFolder(t);
  new SqliteStudyRepository(dataDir).close();
  const db = new Sqlite(join(dataDir, 'spinegrade.db'));
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(
    () => new SqliteStudyRepository(dataDir),
    (error: Error) => /schema version 2; this spinegrade knows up to 1/.test(error.message),
  );
  const empty = await dataFolder(t);
  const fresh = new Sqlite(join(empty, 'spinegrade.db'));
  assert.equal(fresh.pragma('user_version', { simple: true }), 0);
  fresh.close();
  const migrated = new SqliteStudyRepository(empty);
  assert.equal(migrated.count(), 0);
  migrated.close();
});

test('a data folder that cannot be made is a clear start-up error', async (t) => {
  const dir = await dataFolder(t);
  await writeFile(join(dir, 'a-file'), 'x');
  await assert.rejects(
    startServer({
      port: 0,
      dataDir: join(dir, 'a-file', 'data'),
      analyzer: await sharedAnalyzer(),
      log: () => undefined,
    }),
    (error: Error) => /cannot open the data folder/.test(error.message) && !/\n\s+at /.test(error.message),
  );
});

test('the store reads findings from the database when asked, keeping only the last few studies in memory', async (t) => {
  const dataDir = await dataFolder(t);
  const record = (id: string): StudyRecord => ({
    id,
    dir: join(dataDir, 'studies', id),
    filesDir: join(dataDir, 'studies', id, 'files'),
    source: 'upload',
    status: 'ready',
    error: null,
    createdAt: new Date(0).toISOString(),
    studyInstanceUid: null,
    files: [],
    bytes: 0,
    pixelSpacing: undefined,
    lastJobId: null,
    lastJobStatus: 'done',
    revision: 1,
    generation: 1,
    analyzedAt: new Date(0).toISOString(),
    levelOverride: null,
    corrections: [],
    heatmaps: [],
    findingsSeriesByFile: {},
    outputs: null,
  });
  // Stand-ins for findings documents: the store keeps them as JSON and does not look inside.
  const document = (id: string, kind: string): FindingsDocument => ({ id, kind }) as unknown as FindingsDocument;
  const ids = Array.from({ length: 10 }, (_, n) => `0000000${n}-s`);
  let store = new SqliteStudyRepository(dataDir);
  for (const id of ids) {
    const study = record(id);
    store.add(study);
    assert.equal(store.findings(id), undefined, 'no findings before the first are saved');
    store.save(study, {
      original: document(id, 'original'),
      base: document(id, 'base'),
      current: document(id, 'current'),
    });
  }
  const first = store.get(ids[0] as string) as StudyRecord;
  store.save(first, { current: document(first.id, 'corrected') });
  assert.deepEqual(store.findings(first.id), {
    original: document(first.id, 'original'),
    base: document(first.id, 'base'),
    current: document(first.id, 'corrected'),
  });
  const lone = record('00000099-s');
  store.add(lone);
  assert.throws(
    () => store.save(lone, { current: document(lone.id, 'current') }),
    /must give the original, base and current/,
  );
  assert.equal(store.findings(lone.id), undefined, 'a refused save writes nothing');
  store.delete(ids[1] as string);
  assert.equal(store.findings(ids[1] as string), undefined);
  store.close();

  store = new SqliteStudyRepository(dataDir);
  t.after(() => store.close());
  for (const id of ids.slice(2)) assert.deepEqual(store.findings(id)?.base, document(id, 'base'), `${id} read back`);
  assert.deepEqual(store.findings(first.id)?.current, document(first.id, 'corrected'));
  assert.equal(store.findings(ids[1] as string), undefined);
});
