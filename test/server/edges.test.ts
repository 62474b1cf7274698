import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Analyzer } from '../../src/analyze/analyze.js';
import { type RunningServer, startServer } from '../../src/server/app.js';
import { tempFolder } from '../helpers/tmp.js';
import { assertError, call, EXAMPLE, EXAMPLE_PHI, form } from './helpers.js';

const unusedAnalyzer = async (): Promise<Analyzer> => {
  throw new Error('the analyzer was asked for by a request that should have been refused');
};

const LIMITS = { maxUploadBytes: 1_000_000, maxFileBytes: 900_000, maxFiles: 5 };

async function edgeServer(
  t: Parameters<typeof tempFolder>[0],
): Promise<{ server: RunningServer; work: string; log: string[] }> {
  const work = await tempFolder(t);
  const log: string[] = [];
  const server = await startServer({
    port: 0,
    workDir: work,
    analyzer: unusedAnalyzer,
    limits: LIMITS,
    log: (line) => log.push(line),
  });
  t.after(() => server.close());
  return { server, work, log };
}

/** Sends raw bytes on a fresh connection; resolves with all it got back when the server closes it. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => {
      answer += d;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer));
    socket.write(text);
  });
}

/** The JSON error body of a raw HTTP answer. */
function errorOf(answer: string): { status: number; code: string; message: string } {
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1]);
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
  return { status, ...body.error };
}

test('malformed Content-Length headers get the API error shape and a log line with the code', async (t) => {
  const { server, log } = await edgeServer(t);
  for (const length of ['1e20', '-5', 'abc', '5\r\nContent-Length: 6', '99999999999999999999999']) {
    const answer = await rawRequest(
      server.port,
      `POST /api/studies HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{}`,
    );
    const error = errorOf(answer);
    assert.equal(error.status, 400, `${JSON.stringify(length)}: ${answer}`);
    assert.equal(error.code, 'BAD_CONTENT_LENGTH');
  }
  assert.equal(log.filter((l) => /client error 400 BAD_CONTENT_LENGTH/.test(l)).length, 5, log.join('\n'));
});

test('an upload larger than the limit is refused while it streams, and nothing of it is kept', async (t) => {
  const { server, work, log } = await edgeServer(t);
  const total = 64 * 1024 * 1024;
  const { answer, sent } = await new Promise<{ answer: string; sent: number }>((resolve) => {
    const socket = connect(server.port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    let sentAtAnswer = -1;
    socket.on('data', (d) => {
      if (sentAtAnswer < 0) sentAtAnswer = sent;
      answer += d;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ answer, sent: sentAtAnswer }));
    const head = '--B\r\nContent-Disposition: form-data; name="file"; filename="big.dcm"\r\n\r\n';
    socket.write(
      'POST /api/studies HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nTransfer-Encoding: chunked\r\n\r\n' +
        `${Buffer.byteLength(head).toString(16)}\r\n${head}\r\n`,
    );
    const chunk = Buffer.alloc(65536, 7);
    const pump = (): void => {
      while (sent < total && sentAtAnswer < 0 && !socket.destroyed) {
        sent += chunk.length;
        socket.write(`${chunk.length.toString(16)}\r\n`);
        const more = socket.write(chunk);
        socket.write('\r\n');
        if (!more) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!socket.destroyed && sentAtAnswer < 0) socket.end('0\r\n\r\n');
    };
    pump();
  });
  const error = errorOf(answer);
  assert.equal(error.status, 413, answer);
  assert.equal(error.code, 'FILE_TOO_LARGE');
  assert.ok(sent >= 0 && sent < total / 4, `the answer came after ${sent} of ${total} bytes`);
  assert.deepEqual(await readdir(work), []);
  assert.ok(
    log.some((l) => /error 413 FILE_TOO_LARGE/.test(l)),
    log.join('\n'),
  );
});

test('aborted and malformed uploads leave nothing behind and are logged as such', async (t) => {
  const { server, work, log } = await edgeServer(t);
  const dicom = await readFile(
    join(EXAMPLE, (await readdir(EXAMPLE)).filter((n) => n.endsWith('.dcm')).sort()[0] as string),
  );
  // The client goes away half-way through a file.
  await new Promise<void>((resolve) => {
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    const head = '--B\r\nContent-Disposition: form-data; name="file"; filename="a.dcm"\r\n\r\n';
    socket.write(
      `POST /api/studies HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: ${dicom.length * 2}\r\n\r\n${head}`,
    );
    socket.write(dicom.subarray(0, dicom.length / 2), () => {
      // Wait until the server has started the study, then cut the connection.
      const poll = async (): Promise<void> => {
        if ((await readdir(work)).length === 0) {
          setImmediate(() => void poll());
          return;
        }
        socket.destroy();
      };
      void poll();
    });
  });
  // A chunked body whose framing breaks half-way.
  const answer = await rawRequest(
    server.port,
    'POST /api/studies HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '20\r\n--B\r\nContent-Disposition: form-da\r\nzz\r\n',
  );
  assert.equal(errorOf(answer).code, 'MALFORMED_BODY', answer);
  // A multipart body that ends inside a part.
  const cut = await call(server.url, '/api/studies', {
    method: 'POST',
    raw: '--B\r\nContent-Disposition: form-data; name="file"; filename="a.dcm"\r\n\r\nDICM',
    headers: { 'content-type': 'multipart/form-data; boundary=B' },
  });
  assertError(cut, 400, 'MALFORMED_UPLOAD');
  for (let n = 0; n < 100 && (await readdir(work)).length > 0; n++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await readdir(work), []);
  const text = log.join('\n');
  assert.match(text, /UPLOAD_ABORTED/);
  assert.match(text, /client error 400 MALFORMED_BODY/);
  assert.match(text, /error 400 MALFORMED_UPLOAD/);
  assert.doesNotMatch(text, /INTERNAL/);
  for (const phi of EXAMPLE_PHI) assert.ok(!text.includes(phi));
});

test('a truncated DICOM file is refused at upload with the reason', async (t) => {
  const { server, work } = await edgeServer(t);
  const dicom = await readFile(
    join(EXAMPLE, (await readdir(EXAMPLE)).filter((n) => n.endsWith('.dcm')).sort()[0] as string),
  );
  for (const bytes of [400, Math.floor(dicom.length * 0.9)]) {
    const reply = await call(server.url, '/api/studies', {
      method: 'POST',
      raw: form([{ data: dicom.subarray(0, bytes), name: 'IM0001.dcm' }]),
    });
    assertError(reply, 415, 'UNSUPPORTED_FILE', /IM0001\.dcm.*(truncated|corrupt|pixel data)/);
    assert.doesNotMatch(reply.json.error.message, new RegExp(work));
  }
  assert.deepEqual(await readdir(work), []);
});
