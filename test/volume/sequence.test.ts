import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifySequence } from '../../src/volume/sequence.js';

test('SPIDER series descriptions name their sequence', () => {
  assert.equal(classifySequence({ seriesDescription: 't1_tse_sag' }).sequence, 'T1');
  assert.equal(classifySequence({ seriesDescription: 't2_tse_sag' }).sequence, 'T2');
  assert.equal(classifySequence({ seriesDescription: 'T2_space_sag_c4' }).sequence, 'T2');
  assert.equal(classifySequence({ seriesDescription: 'sag T2W TSE' }).sequence, 'T2');
  assert.equal(classifySequence({ seriesDescription: '98_t2_SPACE' }).sequence, 'T2');
});

test('STIR and fat-suppressed series are recognised before the T2 in their names', () => {
  assert.equal(classifySequence({ seriesDescription: 't2_tirm_sag' }).sequence, 'STIR');
  assert.equal(classifySequence({ seriesDescription: 'SAG STIR' }).sequence, 'STIR');
  assert.equal(classifySequence({ seriesDescription: 'T2 FS sag' }).sequence, 'STIR');
  assert.equal(classifySequence({ seriesDescription: 'sag T2 SPAIR' }).sequence, 'STIR');
});

test('without names, timing decides: long TE is T2 (also 3D SPACE at TR 1000), short TR and TE is T1', () => {
  // Timings of SPIDER series without descriptions (overview.csv, Philips Ingenia).
  assert.equal(classifySequence({ repetitionTime: 716.2, echoTime: 13.8 }).sequence, 'T1');
  assert.equal(classifySequence({ repetitionTime: 3563, echoTime: 120 }).sequence, 'T2');
  assert.equal(classifySequence({ repetitionTime: 1000, echoTime: 124 }).sequence, 'T2');
  assert.equal(classifySequence({ repetitionTime: 4000, echoTime: 40, inversionTime: 160 }).sequence, 'STIR');
  assert.equal(classifySequence({ repetitionTime: 2000, echoTime: 40 }).sequence, 'other');
  assert.equal(classifySequence({}).sequence, 'other');
});

test('the reason names the evidence that decided', () => {
  assert.match(classifySequence({ seriesDescription: 't1_tse_sag' }).reason, /description "t1_tse_sag" names T1/);
  assert.match(classifySequence({ repetitionTime: 1000, echoTime: 124 }).reason, /TE 124 ms/);
});

test('a protocol name is used when the description says nothing', () => {
  assert.equal(classifySequence({ seriesDescription: 'LSPINE sag', protocolName: 'T1W_TSE' }).sequence, 'T1');
});
