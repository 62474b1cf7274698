import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Analyzer } from '../../src/analyze/analyze.js';
import { type RunningServer, startServer } from '../../src/server/app.js';
import { tempFolder } from '../helpers/tmp.js';
import { assertError, call, EXAMPLE, filesUnder, form, type Reply, stallingPacs, tinyPng } from './helpers.js';

const TOKEN = 'correct-horse-battery';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** An analyzer that must never be reached by a bad request. */
const unusedAnalyzer = async (): Promise<Analyzer> => {
  throw new Error('the analyzer was asked for by a request that should have been refused');
};

test('bad-request corpus: every bad request gets a 4xx with a JSON message', async (t) => {
  // The work folder sits a few levels down a folder of the test's own, so a file written along a
  // client's "../" names (up to five levels) would land where the check below sees it.
  const root = await tempFolder(t);
  const work = join(root, 'a', 'b', 'work');
  const pacs = await stallingPacs(t);
  const log: string[] = [];
  const server: RunningServer = await startServer({
    port: 0,
    workDir: work,
    dicomweb: pacs,
    analyzer: unusedAnalyzer,
    limits: { maxFiles: 3, maxFileBytes: 400_000, maxUploadBytes: 900_000 },
    log: (l) => log.push(l),
  });
  t.after(() => server.close());
  const base = server.url;
  const examples = (await readdir(EXAMPLE)).sort().slice(0, 3);
  const dicom = await Promise.all(examples.map((n) => readFile(join(EXAMPLE, n))));

  // A valid study (three PNG slices) to aim the other bad requests at.
  const ok = await call(base, '/api/studies', {
    method: 'POST',
    raw: form([{ data: tinyPng, name: '../../../../../x.png' }], { pixelSpacing: '0.5,0.5' }),
  });
  assert.equal(ok.status, 201, ok.text);
  assert.deepEqual(ok.json.kinds, { png: 1 });
  const id = ok.json.id as string;
  const fileId = (await call(base, `/api/studies/${id}/series/0/instances`)).status === 404 ? 'f0001.png' : '';
  assert.equal(fileId, 'f0001.png', 'a PNG series has no DICOM instance list');

  const cases: { name: string; request: () => Promise<Reply>; status: number; code: string; message?: RegExp }[] = [
    {
      name: 'unknown study id',
      request: () => call(base, '/api/studies/s-000000000000'),
      status: 404,
      code: 'NOT_FOUND',
      message: /no study/,
    },
    {
      name: 'malformed study id',
      request: () => call(base, '/api/studies/..%2F..%2Fetc/findings'),
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'unknown job id',
      request: () => call(base, '/api/jobs/j-0000000000000000'),
      status: 404,
      code: 'NOT_FOUND',
      message: /no job/,
    },
    {
      name: 'bad JSON',
      request: () =>
        call(base, `/api/studies/${id}/analyze`, {
          method: 'POST',
          raw: '{"levelOverride": ',
          headers: { 'content-type': 'application/json' },
        }),
      status: 400,
      code: 'BAD_JSON',
      message: /not valid JSON/,
    },
    {
      name: 'JSON body that is not an object',
      request: () => call(base, `/api/studies/${id}/analyze`, { method: 'POST', body: [1, 2] }),
      status: 400,
      code: 'BAD_REQUEST',
      message: /JSON object/,
    },
    {
      name: 'wrong content type for an upload',
      request: () => call(base, '/api/studies', { method: 'POST', body: { files: [] } }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: /multipart\/form-data/,
    },
    {
      name: 'wrong content type for a JSON route',
      request: () =>
        call(base, `/api/studies/${id}/analyze`, {
          method: 'POST',
          raw: 'shift=1',
          headers: { 'content-type': 'text/plain' },
        }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'too many files',
      request: () =>
        call(base, '/api/studies', {
          method: 'POST',
          raw: form([1, 2, 3, 4].map((n) => ({ data: tinyPng, name: `s${n}.png` }))),
        }),
      status: 413,
      code: 'TOO_MANY_FILES',
    },
    {
      name: 'upload too big in total',
      request: () =>
        call(base, '/api/studies', {
          method: 'POST',
          raw: form(dicom.map((data, n) => ({ data, name: `IM${n}.dcm` }))),
        }),
      status: 413,
      code: 'UPLOAD_TOO_LARGE',
      message: /900000 bytes/,
    },
    {
      name: 'one file too big',
      request: () =>
        call(base, '/api/studies', {
          method: 'POST',
          raw: form([{ data: Buffer.alloc(500_000, 1), name: 'big.dcm' }]),
        }),
      status: 413,
      code: 'FILE_TOO_LARGE',
      message: /per-file limit of 400000 bytes/,
    },
    {
      name: 'traversal file name with non-image content',
      request: () =>
        call(base, '/api/studies', {
          method: 'POST',
          raw: form([{ data: 'root:x:0:0:root:/root:/bin/bash\n', name: '../../../../../etc/passwd' }]),
        }),
      status: 415,
      code: 'UNSUPPORTED_FILE',
      message: /file 1 \(passwd\): not DICOM, NIfTI, MetaImage \(\.mha\) or PNG/,
    },
    {
      name: 'non-image file',
      request: () =>
        call(base, '/api/studies', {
          method: 'POST',
          raw: form([
            { data: tinyPng, name: 'a.png' },
            { data: 'hello', name: 'notes.txt' },
          ]),
        }),
      status: 415,
      code: 'UNSUPPORTED_FILE',
      message: /file 2 \(notes\.txt\)/,
    },
    {
      name: 'a file named like DICOM that is not',
      request: () =>
        call(base, '/api/studies', { method: 'POST', raw: form([{ data: 'not dicom at all', name: 'IM0001.dcm' }]) }),
      status: 415,
      code: 'UNSUPPORTED_FILE',
    },
    {
      name: 'JPEG is refused',
      request: () =>
        call(base, '/api/studies', {
          method: 'POST',
          raw: form([{ data: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0]), name: 'x.jpg' }]),
        }),
      status: 415,
      code: 'UNSUPPORTED_FILE',
      message: /JPEG is not accepted/,
    },
    {
      name: 'empty file',
      request: () => call(base, '/api/studies', { method: 'POST', raw: form([{ data: '', name: 'empty.dcm' }]) }),
      status: 415,
      code: 'UNSUPPORTED_FILE',
      message: /empty/,
    },
    {
      name: 'empty upload',
      request: () => call(base, '/api/studies', { method: 'POST', raw: form([], { note: 'no files' }) }),
      status: 400,
      code: 'EMPTY_UPLOAD',
      message: /no file/,
    },
    {
      name: 'only skipped files',
      request: () =>
        call(base, '/api/studies', {
          method: 'POST',
          raw: form([
            { data: 'x', name: 'DICOMDIR' },
            { data: 'x', name: '.DS_Store' },
          ]),
        }),
      status: 400,
      code: 'EMPTY_UPLOAD',
      message: /only skipped/,
    },
    {
      name: 'bad override syntax (string form)',
      request: () => call(base, `/api/studies/${id}/analyze`, { method: 'POST', body: { levelOverride: 'shift=up' } }),
      status: 400,
      code: 'BAD_OVERRIDE',
      message: /not a whole number/,
    },
    {
      name: 'override shift out of range',
      request: () =>
        call(base, `/api/studies/${id}/analyze`, { method: 'POST', body: { levelOverride: { shift: 9 } } }),
      status: 400,
      code: 'BAD_OVERRIDE',
      message: /at most 5/,
    },
    {
      name: 'override anchor at an unknown level',
      request: () =>
        call(base, `/api/studies/${id}/corrections`, {
          method: 'POST',
          body: { type: 'levels', levelOverride: { anchor: { level: 'L9/L10', atPx: [1, 2] } } },
        }),
      status: 400,
      code: 'BAD_OVERRIDE',
      message: /not a disc level/,
    },
    {
      name: 'unknown field in analyze',
      request: () => call(base, `/api/studies/${id}/analyze`, { method: 'POST', body: { levelOveride: { shift: 1 } } }),
      status: 400,
      code: 'BAD_REQUEST',
      message: /unknown field/,
    },
    {
      name: 'unknown finding in a correction',
      request: () =>
        call(base, `/api/studies/${id}/corrections`, {
          method: 'POST',
          body: { type: 'grade', level: 'L4/L5', finding: 'stenosis', value: 1, reason: 'x' },
        }),
      status: 400,
      code: 'BAD_CORRECTION',
      message: /unknown finding "stenosis"/,
    },
    {
      name: 'unknown correction type',
      request: () => call(base, `/api/studies/${id}/corrections`, { method: 'POST', body: { type: 'delete' } }),
      status: 400,
      code: 'BAD_CORRECTION',
      message: /unknown correction type/,
    },
    {
      name: 'grade out of range',
      request: () =>
        call(base, `/api/studies/${id}/corrections`, {
          method: 'POST',
          body: { type: 'grade', level: 'L4/L5', finding: 'pfirrmann', value: 7, reason: 'x' },
        }),
      status: 400,
      code: 'BAD_CORRECTION',
      message: /1 to 5/,
    },
    {
      name: 'grade override without a reason',
      request: () =>
        call(base, `/api/studies/${id}/corrections`, {
          method: 'POST',
          body: { type: 'grade', level: 'L4/L5', finding: 'modic', value: 1 },
        }),
      status: 400,
      code: 'BAD_CORRECTION',
      message: /reason/,
    },
    {
      name: 'correction before any analysis',
      request: () =>
        call(base, `/api/studies/${id}/corrections`, {
          method: 'POST',
          body: { type: 'grade', level: 'L4/L5', finding: 'modic', value: 1, reason: 'x' },
        }),
      status: 409,
      code: 'NOT_ANALYZED',
    },
    {
      name: 'findings before analysis',
      request: () => call(base, `/api/studies/${id}/findings`),
      status: 409,
      code: 'NOT_ANALYZED',
      message: /analyze first/,
    },
    {
      name: 'export before analysis',
      request: () => call(base, `/api/studies/${id}/sr.dcm`),
      status: 409,
      code: 'NOT_ANALYZED',
    },
    {
      name: 'store before analysis',
      request: () => call(base, `/api/studies/${id}/store`, { method: 'POST' }),
      status: 409,
      code: 'NOT_ANALYZED',
    },
    {
      name: 'instances of a non-DICOM series',
      request: () => call(base, `/api/studies/${id}/series/0/instances`),
      status: 404,
      code: 'NOT_DICOM',
    },
    {
      name: 'series out of range',
      request: () => call(base, `/api/studies/${id}/series/7/slices/0.png`),
      status: 404,
      code: 'NOT_FOUND',
      message: /no series 7/,
    },
    {
      name: 'slice out of range',
      request: () => call(base, `/api/studies/${id}/series/0/slices/99.png`),
      status: 404,
      code: 'NOT_FOUND',
      message: /no sagittal slice 99/,
    },
    {
      name: 'bad window',
      request: () => call(base, `/api/studies/${id}/series/0/slices/0.png?window=abc`),
      status: 400,
      code: 'BAD_REQUEST',
      message: /window/,
    },
    {
      name: 'file outside the study (traversal in the URL)',
      request: () => call(base, `/api/studies/${id}/files/..%2F..%2F..%2Fetc%2Fpasswd`),
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'unknown file id',
      request: () => call(base, `/api/studies/${id}/files/f0099.dcm`),
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'import with a bad UID',
      request: () =>
        call(base, '/api/studies/from-dicomweb', { method: 'POST', body: { studyInstanceUid: '../../1' } }),
      status: 400,
      code: 'BAD_REQUEST',
      message: /DICOM UID/,
    },
    {
      name: 'unknown route',
      request: () => call(base, '/api/nothing/here'),
      status: 404,
      code: 'NOT_FOUND',
      message: /no route GET \/api\/nothing\/here/,
    },
    {
      name: 'method not allowed',
      request: () => call(base, `/api/studies/${id}/findings`, { method: 'PUT' }),
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
      message: /allowed: GET/,
    },
    {
      name: 'method not allowed on a collection',
      request: () => call(base, '/api/studies', { method: 'PATCH' }),
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
    },
  ];
  assert.ok(cases.length >= 15);
  for (const c of cases) {
    await t.test(c.name, async () => assertError(await c.request(), c.status, c.code, c.message));
  }

  await t.test('405 lists the allowed methods', async () => {
    const reply = await call(base, `/api/studies/${id}/analyze`, { method: 'GET' });
    assertError(reply, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(reply.headers.get('allow'), 'POST');
  });

  await t.test('analyze before the import is complete', async () => {
    const created = await call(base, '/api/studies/from-dicomweb', {
      method: 'POST',
      body: { studyInstanceUid: '1.2.3.4' },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.status, 'importing');
    assertError(
      await call(base, `/api/studies/${created.json.id}/analyze`, { method: 'POST' }),
      409,
      'STUDY_NOT_READY',
      /still being imported/,
    );
    assertError(await call(base, `/api/studies/${created.json.id}/series`), 409, 'STUDY_NOT_READY');
  });

  await t.test('nothing was written outside the work folder, and refused uploads leave no study behind', async () => {
    const studies = (await call(base, '/api/studies')).json.studies as { id: string; files: number }[];
    assert.equal(studies.length, 2, 'the PNG study and the import; no refused upload was kept');
    assert.deepEqual((await readdir(join(work, id, 'files'))).sort(), ['f0001.png']);
    assert.deepEqual((await readdir(work)).sort(), studies.map((s) => s.id).sort());
    // Every file under the test's folder is a stored file (or the stalled import's partial one) of a
    // listed study, under its opaque name: no client name was used as a path, however many "../".
    const ids = studies.map((s) => s.id);
    const written = await filesUnder(root);
    assert.ok(written.includes(`a/b/work/${id}/files/f0001.png`), written.join(', '));
    for (const path of written) {
      const [a, b, workName, study, files, name, ...rest] = path.split('/');
      assert.deepEqual([a, b, workName, files, rest.length], ['a', 'b', 'work', 'files', 0], `stray file ${path}`);
      assert.ok(ids.includes(study as string), `file of no study: ${path}`);
      assert.match(name as string, /^(f\d{4}\.(png|dcm)|\.f\d{4}\.part)$/, `not an opaque stored name: ${path}`);
    }
    const png = await call(base, `/api/studies/${id}/files/f0001.png`);
    assert.equal(png.status, 200);
    assert.ok(png.bytes.equals(tinyPng));
  });

  await t.test('the log holds no query strings and no file names sent by clients', () => {
    const text = log.join('\n');
    for (const name of ['notes.txt', 'x.png', 'big.dcm', 'DICOMDIR']) assert.ok(!text.includes(name), name);
    assert.ok(!text.includes('window=abc'));
    assert.match(text, /POST \/api\/studies 415/);
  });
});

test('a server without a PACS refuses the PACS routes; one with a token refuses requests without it', async (t) => {
  const server = await startServer({ port: 0, token: TOKEN, analyzer: unusedAnalyzer, log: () => undefined });
  t.after(() => server.close());
  const base = server.url;
  assertError(await call(base, '/api/health'), 401, 'UNAUTHORIZED', /needs a token/);
  assertError(
    await call(base, '/api/health', { headers: { authorization: 'Bearer wrong-token-here' } }),
    401,
    'UNAUTHORIZED',
    /not valid/,
  );
  assertError(await call(base, '/api/health', { headers: { authorization: `Basic ${TOKEN}` } }), 401, 'UNAUTHORIZED');
  assertError(
    await call(base, '/api/studies', { method: 'POST', raw: form([{ data: tinyPng, name: 'a.png' }]) }),
    401,
    'UNAUTHORIZED',
  );
  const health = await call(base, '/api/health', { headers: AUTH });
  assert.equal(health.status, 200);
  assert.equal(health.json.auth, true);
  assert.equal(health.json.dicomweb, false);
  assert.equal(
    (await call(base, `/api/health?access_token=${TOKEN}`)).status,
    200,
    'a GET may carry the token in the query',
  );
  assertError(
    await call(base, `/api/studies/from-dicomweb?access_token=${TOKEN}`, {
      method: 'POST',
      body: { studyInstanceUid: '1.2' },
    }),
    401,
    'UNAUTHORIZED',
  );
  assertError(await call(base, '/api/dicomweb/studies', { headers: AUTH }), 503, 'NO_DICOMWEB', /--dicomweb/);
  assertError(
    await call(base, '/api/studies/from-dicomweb', {
      method: 'POST',
      body: { studyInstanceUid: '1.2' },
      headers: AUTH,
    }),
    503,
    'NO_DICOMWEB',
  );
  // Static files need no token; the viewer asks for it.
  assert.equal((await call(base, '/')).status, 200);
});

test('the server refuses to listen beyond loopback without a token', async () => {
  const saved = process.env.SPINEGRADE_TOKEN;
  delete process.env.SPINEGRADE_TOKEN;
  try {
    await assert.rejects(
      startServer({ host: '0.0.0.0', port: 0, analyzer: unusedAnalyzer, workDir: tmpdir() }),
      /refusing to listen on 0\.0\.0\.0 without a token/,
    );
    await assert.rejects(
      startServer({ host: '127.0.0.1', port: 0, token: 'short', analyzer: unusedAnalyzer }),
      /at least 8 characters/,
    );
  } finally {
    if (saved !== undefined) process.env.SPINEGRADE_TOKEN = saved;
  }
});
