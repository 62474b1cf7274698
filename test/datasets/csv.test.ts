import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSpiderPixelSpacing } from '../../src/datasets/common.js';
import { parseCsv, readCsv } from '../../src/datasets/csv.js';
import { SpinegradeError } from '../../src/errors.js';
import { tempFolder } from '../helpers/tmp.js';

function assertCsvError(text: string, pattern: RegExp, required?: string[]): void {
  assert.throws(
    () => parseCsv(text, { source: 'table.csv', ...(required ? { required } : {}) }),
    (error: unknown) =>
      error instanceof SpinegradeError &&
      error.kind === 'INVALID_HEADER' &&
      error.path === 'table.csv' &&
      pattern.test(error.message),
  );
}

test('CSV rows come back keyed by the trimmed header names', () => {
  const table = parseCsv('a, b ,c\n1,2,3\n4,5,6\n');
  assert.deepEqual(table.columns, ['a', 'b', 'c']);
  assert.deepEqual(table.rows, [
    { a: '1', b: '2', c: '3' },
    { a: '4', b: '5', c: '6' },
  ]);
  assert.deepEqual(table.lines, [2, 3]);
});

test('CRLF line ends, a byte-order mark and a missing final line end are all read', () => {
  const table = parseCsv('\ufeffPatient,IVD label\r\n1,2\r\n3,4');
  assert.deepEqual(table.columns, ['Patient', 'IVD label']);
  assert.deepEqual(table.rows, [
    { Patient: '1', 'IVD label': '2' },
    { Patient: '3', 'IVD label': '4' },
  ]);
});

test('quoted fields keep embedded commas, doubled quotes and line breaks', () => {
  const text =
    'id,spacing,versions,note\r\n1_t1,"[0.625, 0.625]","[\'5.6.1\', \'5.6.1.2\']","say ""hi""\r\nthere"\r\n2_t1,,"",x\r\n';
  const table = parseCsv(text);
  assert.deepEqual(table.rows[0], {
    id: '1_t1',
    spacing: '[0.625, 0.625]',
    versions: "['5.6.1', '5.6.1.2']",
    note: 'say "hi"\r\nthere',
  });
  assert.deepEqual(table.rows[1], { id: '2_t1', spacing: '', versions: '', note: 'x' });
  // The second row starts on line 4 because the quoted field spans two lines.
  assert.deepEqual(table.lines, [2, 4]);
});

test('blank lines are skipped and empty trailing fields are kept', () => {
  const table = parseCsv('a,b\n\n1,\n\n');
  assert.deepEqual(table.rows, [{ a: '1', b: '' }]);
});

test('a header alone gives no rows', () => {
  assert.deepEqual(parseCsv('a,b\r\n').rows, []);
});

test('malformed CSV is an INVALID_HEADER error naming the file and line', () => {
  assertCsvError('a,b\n1,"open\n', /line 2: a quoted field is never closed/);
  assertCsvError('a,b\n1,"x"y\n', /line 2: text after the closing quote/);
  assertCsvError('a,b\n1,x"y\n', /line 2: a quote inside an unquoted field/);
  assertCsvError('a,b\n1,2\n1,2,3\n', /line 3: 3 fields, but the header has 2 columns/);
  assertCsvError('a,b\n1\n', /line 2: 1 field, but the header has 2 columns/);
  assertCsvError('a,a\n1,2\n', /line 1: column "a" appears twice/);
  assertCsvError('', /empty/);
});

test('a missing required column is named with the columns that are there', () => {
  assertCsvError('Patient,Modic\n1,0\n', /missing column "IVD label" \(the header has "Patient", "Modic"\)/, [
    'Patient',
    'IVD label',
  ]);
});

test('readCsv names the file in its errors, and a missing file is NOT_FOUND', async (t) => {
  const folder = await tempFolder(t);
  const path = join(folder, 'bad.csv');
  await writeFile(path, 'x,y\n1,2,3\n');
  await assert.rejects(readCsv(path), (error: unknown) => error instanceof SpinegradeError && error.path === path);
  await assert.rejects(
    readCsv(join(folder, 'none.csv')),
    (error: unknown) => error instanceof SpinegradeError && error.kind === 'NOT_FOUND',
  );
});

test("SPIDER's PixelSpacing text parses in DICOM row, column order into [x, y]", () => {
  assert.deepEqual(parseSpiderPixelSpacing('[.5859375, .5859375]'), [0.5859375, 0.5859375]);
  assert.deepEqual(parseSpiderPixelSpacing('[0.8, 0.4]'), [0.4, 0.8]);
  assert.deepEqual(parseSpiderPixelSpacing('[1, 1]'), [1, 1]);
  assert.deepEqual(parseSpiderPixelSpacing('0.5\\0.25'), [0.25, 0.5]);
  assert.equal(parseSpiderPixelSpacing('[0.5]'), undefined);
  assert.equal(parseSpiderPixelSpacing('[0, 0.5]'), undefined);
  assert.equal(parseSpiderPixelSpacing('[a, b]'), undefined);
  assert.equal(parseSpiderPixelSpacing(''), undefined);
});
