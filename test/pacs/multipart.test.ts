import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  buildMultipartRelated,
  MultipartError,
  multipartBoundary,
  type PartHeaders,
  parseMediaType,
  readMultipart,
} from '../../src/pacs/multipart.js';

async function* chunked(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(
  data: Buffer,
  boundary: string,
  size: number,
  limits = {},
): Promise<{ headers: PartHeaders; body: Buffer }[]> {
  const parts: { headers: PartHeaders; chunks: Buffer[]; ended: boolean }[] = [];
  await readMultipart(
    chunked(data, size),
    boundary,
    (headers) => {
      const part = { headers, chunks: [] as Buffer[], ended: false };
      parts.push(part);
      return {
        write: (chunk) => {
          part.chunks.push(Buffer.from(chunk));
        },
        end: () => {
          part.ended = true;
        },
      };
    },
    limits,
  );
  assert.ok(
    parts.every((p) => p.ended),
    'every part sink is ended',
  );
  return parts.map((p) => ({ headers: p.headers, body: Buffer.concat(p.chunks) }));
}

test('a built multipart/related body reads back part by part, whatever the chunking', async () => {
  // Bodies that contain CRLFs, dashes and a near-boundary, to trip a naive parser.
  const bodies = [
    randomBytes(5000),
    Buffer.from('\r\n--\r\n--spinegrade-\r\n\r\n'),
    Buffer.alloc(0),
    Buffer.concat([randomBytes(100), Buffer.from('\r\n-'), randomBytes(100)]),
  ];
  const built = buildMultipartRelated(bodies.map((data) => ({ contentType: 'application/dicom', data })));
  assert.match(built.contentType, /^multipart\/related; type="application\/dicom"; boundary=spinegrade-[0-9a-f]{32}$/);
  assert.equal(multipartBoundary(built.contentType), built.boundary);
  for (const size of [1, 2, 3, 7, 64, 1000, built.body.length]) {
    const parts = await collect(built.body, built.boundary, size);
    assert.equal(parts.length, bodies.length, `chunk size ${size}`);
    parts.forEach((p, n) => {
      assert.ok(p.body.equals(bodies[n] as Buffer), `part ${n} with chunk size ${size}`);
      assert.equal(p.headers['content-type'], 'application/dicom');
      assert.equal(p.headers['content-length'], String((bodies[n] as Buffer).length));
    });
  }
});

test('a preamble, transport padding and a part without headers are read; the epilogue is ignored', async () => {
  const body = Buffer.from(
    'preamble text\r\n--b1  \r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1\r\n\r\nno headers\r\n--b1--\r\nepilogue',
  );
  const parts = await collect(body, 'b1', 4);
  assert.deepEqual(
    parts.map((p) => [p.headers['content-type'], p.body.toString()]),
    [
      ['text/plain', 'hello'],
      [undefined, 'no headers'],
    ],
  );
});

test('media types: quoted parameters, case, and what is not multipart', () => {
  const media = parseMediaType('Multipart/Related; type="application/dicom"; boundary="a;b=c"; transfer-syntax=*');
  assert.equal(media.type, 'multipart/related');
  assert.deepEqual(media.parameters, { type: 'application/dicom', boundary: 'a;b=c', 'transfer-syntax': '*' });
  assert.throws(() => multipartBoundary('application/json'), MultipartError);
  assert.throws(() => multipartBoundary('multipart/related; type="application/dicom"'), /no valid boundary/);
  assert.throws(() => multipartBoundary(null), /no content type/);
});

test('malformed bodies and exceeded limits are errors that say so', async () => {
  const built = buildMultipartRelated([
    { contentType: 'application/dicom', data: randomBytes(300) },
    { contentType: 'application/dicom', data: randomBytes(300) },
  ]);
  const truncated = built.body.subarray(0, built.body.length - 10);
  await assert.rejects(collect(truncated, built.boundary, 50), /ends before its closing boundary/);
  await assert.rejects(collect(Buffer.from('no boundary here'), 'xyz', 5), /holds no boundary/);
  await assert.rejects(collect(built.body, built.boundary, 50, { maxParts: 1 }), (error: unknown) => {
    assert.ok(error instanceof MultipartError && error.limit);
    assert.match(error.message, /more than 1 parts/);
    return true;
  });
  await assert.rejects(collect(built.body, built.boundary, 50, { maxBytes: 500 }), /exceed 500 bytes/);
  await assert.rejects(collect(built.body, built.boundary, 50, { maxPartBytes: 299 }), /part 1 exceeds 299 bytes/);
  const ok = await collect(built.body, built.boundary, 50, { maxBytes: 600, maxParts: 2, maxPartBytes: 300 });
  assert.equal(ok.length, 2);
});
