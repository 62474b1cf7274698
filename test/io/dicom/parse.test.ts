import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { EXIT_CODES, SpinegradeError } from '../../../src/errors.js';
import { MAX_SEQUENCE_DEPTH, MAX_SEQUENCE_ITEMS, parsePart10 } from '../../../src/io/dicom/parse.js';
import {
  corruptDeflatedDicom,
  deeplyNestedDicom,
  deeplyNestedImplicitDicom,
  manyItemsDicom,
} from '../../helpers/hostileDicom.js';

function refusal(bytes: Uint8Array): SpinegradeError {
  try {
    parsePart10(bytes, 'x.dcm');
  } catch (error) {
    assert.ok(error instanceof SpinegradeError, String(error));
    return error;
  }
  assert.fail('parsed');
}

test('sequences nested to the bound parse; one level more is refused before dcmjs recurses', () => {
  assert.ok(parsePart10(deeplyNestedDicom(MAX_SEQUENCE_DEPTH), 'x.dcm').dict['00081115']);
  const error = refusal(deeplyNestedDicom(20_000));
  assert.equal(error.exitCode, EXIT_CODES.TOO_LARGE);
  assert.match(error.message, /^x\.dcm: DICOM sequences nest deeper than 32 levels/);
  assert.equal(refusal(deeplyNestedDicom(MAX_SEQUENCE_DEPTH + 1)).kind, 'TOO_LARGE');
});

test('implicit VR sequences of defined length are recognised by their items and bounded too', () => {
  assert.ok(parsePart10(deeplyNestedImplicitDicom(MAX_SEQUENCE_DEPTH), 'x.dcm').dict['00081115']);
  assert.equal(refusal(deeplyNestedImplicitDicom(MAX_SEQUENCE_DEPTH + 1)).kind, 'TOO_LARGE');
});

test('more sequence items than the bound are refused', () => {
  assert.match(refusal(manyItemsDicom(MAX_SEQUENCE_ITEMS + 1)).message, /hold more than 200000 items/);
});

test('a deflated data set that does not inflate is TRUNCATED, in zlib words, not JavaScript ones', () => {
  const error = refusal(corruptDeflatedDicom());
  assert.equal(error.kind, 'TRUNCATED');
  assert.match(error.message, /^x\.dcm: the deflated DICOM data set is truncated or corrupt \([a-z ]+\)$/);
});

test('real files of every transfer syntax pass the structure check', async () => {
  for (const name of ['native-16s.dcm', 'rle-16s.dcm', 'jpeg-lossless-sv6-16s.dcm', 'jpegls-16s.dcm', 'j2k-16s.dcm']) {
    const bytes = new Uint8Array(await readFile(`test/fixtures/dicom-codecs/${name}`));
    assert.ok(parsePart10(bytes, name).dict['7FE00010'], name);
  }
});
