import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SERVICE_ERROR_CODES, ServiceError } from '../../src/server/errors.js';
import { httpErrorOf, STATUS_OF_CODE } from '../../src/server/http/errors.js';

/** The rows of docs/api.md's "Error codes" table: code → status. */
async function documentedStatuses(): Promise<Map<string, number>> {
  const text = await readFile('docs/api.md', 'utf8');
  const table = text.slice(text.indexOf('## Error codes'));
  const statuses = new Map<string, number>();
  for (const row of table.matchAll(/^\| (\d{3}) \| ([^|]+) \|/gm)) {
    for (const code of (row[2] as string).matchAll(/`([A-Z_]+)`/g)) statuses.set(code[1] as string, Number(row[1]));
  }
  return statuses;
}

test('every code a service throws is in docs/api.md with the status the HTTP layer gives it', async () => {
  const documented = await documentedStatuses();
  assert.ok(documented.size >= 25, `read ${documented.size} codes from the table`);
  for (const code of SERVICE_ERROR_CODES) {
    assert.equal(documented.get(code), STATUS_OF_CODE[code], `${code}: docs/api.md vs STATUS_OF_CODE`);
    const http = httpErrorOf(new ServiceError(code, 'why'));
    assert.deepEqual([http.status, http.body()], [STATUS_OF_CODE[code], { error: { code, message: 'why' } }]);
  }
  assert.equal(documented.get('NO_USABLE_SERIES'), STATUS_OF_CODE.NO_USABLE_SERIES);
});

test('the services know nothing of HTTP: no Fastify, no HTTP layer, no status codes', async () => {
  const dir = 'src/server/services';
  const files = (await readdir(dir)).filter((name) => name.endsWith('.ts'));
  assert.ok(files.length >= 7, files.join(', '));
  for (const name of files) {
    const text = await readFile(join(dir, name), 'utf8');
    assert.doesNotMatch(text, /from '(fastify|@fastify\/[^']+|node:http|\.\.\/http\/[^']+)'/, `${name} imports HTTP`);
    assert.doesNotMatch(text, /\b(HttpError|reply\.|statusCode)\b/, `${name} speaks HTTP`);
  }
});
