/**
 * Hostile DICOM Part 10 files made at test time (too large, or too odd, to keep in git): sequences
 * nested thousands of levels deep, sequences with a great many items, a deflated data set that
 * does not inflate.
 */
import { deflateRawSync } from 'node:zlib';

const EXPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const DEFLATED = '1.2.840.10008.1.2.1.99';

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** An explicit VR little endian element with a short (2-byte) length. */
function shortElement(group: number, element: number, vr: string, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + value.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, group, true);
  view.setUint16(2, element, true);
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  view.setUint16(6, value.length, true);
  out.set(value, 8);
  return out;
}

/** A UI value, padded with NUL to an even length. */
function uid(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text.length % 2 === 0 ? text : `${text}\0`);
  return bytes;
}

/** Preamble, "DICM", a file meta group naming `transferSyntax`, then `dataSet` as given. */
export function part10(dataSet: Uint8Array, transferSyntax = EXPLICIT_LITTLE_ENDIAN): Uint8Array {
  const metaElements = concat([
    shortElement(0x0002, 0x0002, 'UI', uid('1.2.840.10008.5.1.4.1.1.4')),
    shortElement(0x0002, 0x0003, 'UI', uid('1.2.826.0.1.3680043.8.498.1')),
    shortElement(0x0002, 0x0010, 'UI', uid(transferSyntax)),
  ]);
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, metaElements.length, true);
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  return concat([preamble, shortElement(0x0002, 0x0000, 'UL', groupLength), metaElements, dataSet]);
}

function tagWithLength(group: number, element: number, length: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint16(0, group, true);
  view.setUint16(2, element, true);
  view.setUint32(4, length, true);
  return out;
}

const SQ_OPEN = (() => {
  // (0008,1115) Referenced Series Sequence, SQ, undefined length.
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0x0008, true);
  view.setUint16(2, 0x1115, true);
  out[4] = 0x53;
  out[5] = 0x51;
  view.setUint32(8, 0xffffffff, true);
  return out;
})();
const ITEM_OPEN = tagWithLength(0xfffe, 0xe000, 0xffffffff);
const ITEM_CLOSE = tagWithLength(0xfffe, 0xe00d, 0);
const SEQUENCE_CLOSE = tagWithLength(0xfffe, 0xe0dd, 0);

/** A DICOM file whose sequences nest `depth` levels deep (undefined lengths, one item each). */
export function deeplyNestedDicom(depth: number): Uint8Array {
  const open = concat([SQ_OPEN, ITEM_OPEN]);
  const close = concat([ITEM_CLOSE, SEQUENCE_CLOSE]);
  const body = new Uint8Array(depth * (open.length + close.length));
  for (let n = 0; n < depth; n++) body.set(open, n * open.length);
  for (let n = 0; n < depth; n++) body.set(close, depth * open.length + n * close.length);
  return part10(body);
}

/** A DICOM file with one sequence of `count` empty items. */
export function manyItemsDicom(count: number): Uint8Array {
  const item = concat([ITEM_OPEN, ITEM_CLOSE]);
  const items = new Uint8Array(count * item.length);
  for (let n = 0; n < count; n++) items.set(item, n * item.length);
  return part10(concat([SQ_OPEN, items, SEQUENCE_CLOSE]));
}

/** A deflated DICOM file whose deflate stream is corrupt after its first bytes. */
export function corruptDeflatedDicom(): Uint8Array {
  const dataSet = concat([
    shortElement(0x0008, 0x0060, 'CS', new TextEncoder().encode('MR')),
    shortElement(0x0010, 0x0010, 'PN', new TextEncoder().encode('HOSTILE^DEFLATE ')),
    shortElement(0x0028, 0x0010, 'US', new Uint8Array([16, 0])),
    shortElement(0x0028, 0x0011, 'US', new Uint8Array([16, 0])),
  ]);
  const deflated = deflateRawSync(dataSet);
  // Keep the first bytes, then bytes no deflate stream holds (a reserved block type).
  const corrupt = concat([deflated.subarray(0, 4), new Uint8Array(64).fill(0xff)]);
  return part10(corrupt, DEFLATED);
}

/**
 * An implicit VR file whose sequences nest `depth` levels deep with defined lengths: nothing in it
 * says SQ (only the dictionary does), so a structure check must recognise sequences by their items.
 */
export function deeplyNestedImplicitDicom(depth: number): Uint8Array {
  let inner: Uint8Array = new Uint8Array(0);
  for (let n = 0; n < depth; n++) {
    const item = concat([tagWithLength(0xfffe, 0xe000, inner.length), inner]);
    inner = concat([tagWithLength(0x0008, 0x1115, item.length), item]);
  }
  return part10(inner, '1.2.840.10008.1.2');
}
