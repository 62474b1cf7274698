import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtoWriter } from '../../../src/models/onnx/protobuf.js';

test('varints are written as protobuf encodes them (the spec example 150 → 08 96 01; -1 as ten bytes)', () => {
  assert.deepEqual([...new ProtoWriter().int(1, 150).finish()], [0x08, 0x96, 0x01]);
  assert.deepEqual(
    [...new ProtoWriter().int(2, -1).finish()],
    [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
  );
  assert.throws(() => new ProtoWriter().int(1, 1.5), RangeError);
});

test('strings, bytes and floats carry their wire types and lengths', () => {
  assert.deepEqual([...new ProtoWriter().string(2, 'testing').finish()], [0x12, 0x07, ...Buffer.from('testing')]);
  assert.deepEqual([...new ProtoWriter().bytes(9, Uint8Array.of(1, 2)).finish()], [0x4a, 0x02, 1, 2]);
  assert.deepEqual([...new ProtoWriter().float(2, 1).finish()], [0x15, 0x00, 0x00, 0x80, 0x3f]);
});
