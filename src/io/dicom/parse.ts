/**
 * The one way spinegrade parses a DICOM Part 10 file with dcmjs. dcmjs recurses once per nested
 * sequence and inflates a deflated data set without checking the result, so before it runs, the
 * element structure is walked here without recursion: sequences nested deeper than
 * {@link MAX_SEQUENCE_DEPTH} or holding more than {@link MAX_SEQUENCE_ITEMS} items in all are
 * refused (`TOO_LARGE`), and a deflated data set that does not inflate is `TRUNCATED`. Whatever
 * dcmjs still throws becomes a message about the file, never its JavaScript error text.
 */
import { constants, inflateRawSync } from 'node:zlib';
import dcmjs, { type DenaturalizedDataset } from 'dcmjs';
import { corruptData, SpinegradeError } from '../../errors.js';
import { errorCode, isZlibError } from '../binary.js';
import type { NaturalDataset } from './dataset.js';

/** Sequences nested deeper than this are refused; real objects nest a handful of levels. */
export const MAX_SEQUENCE_DEPTH = 32;
/** More sequence items than this in one file are refused (an enhanced MR object of 1,000 frames holds ~20,000). */
export const MAX_SEQUENCE_ITEMS = 200_000;
/** A deflated data set that inflates past this many bytes is refused. */
const MAX_INFLATED_BYTES = 2 ** 30;

const DEFLATED_SYNTAX = '1.2.840.10008.1.2.1.99';
const IMPLICIT_SYNTAX = '1.2.840.10008.1.2';
const BIG_ENDIAN_SYNTAX = '1.2.840.10008.1.2.2';
const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITER = 0xfffee00d;
const SEQUENCE_DELIMITER = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
/** Explicit VRs whose length takes 4 bytes after 2 reserved ones. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** Options of {@link parsePart10}. */
export interface ParseOptions {
  /** Stop before the pixel data (a header read). */
  untilPixelData?: boolean;
  /** False when `bytes` is only the start of the file (a header read of the first KiB). */
  complete?: boolean;
}

/** A parsed Part 10 file: its file meta information and its data set, in DICOM JSON form. */
export interface Part10 {
  meta: DenaturalizedDataset;
  dict: DenaturalizedDataset;
}

/**
 * Parses a DICOM Part 10 file (preamble and "DICM" marker included). Throws a
 * {@link SpinegradeError} naming `path`: `TOO_LARGE` past the structure bounds, `TRUNCATED` for a
 * file dcmjs cannot read.
 */
export function parsePart10(bytes: Uint8Array, path: string | undefined, options: ParseOptions = {}): Part10 {
  const complete = options.complete ?? true;
  const meta = readMetaGroup(bytes);
  if (meta) {
    if (meta.transferSyntaxUid === DEFLATED_SYNTAX) {
      const inflated = inflateDataSet(bytes.subarray(meta.dataSetStart), complete, path);
      checkStructure(inflated, false, true, path);
    } else {
      checkStructure(
        bytes.subarray(meta.dataSetStart),
        meta.transferSyntaxUid === IMPLICIT_SYNTAX,
        meta.transferSyntaxUid !== BIG_ENDIAN_SYNTAX,
        path,
      );
    }
  }
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const dict = dcmjs.data.DicomMessage.readFile(
      buffer,
      options.untilPixelData ? { untilTag: '7FE00010', includeUntilTagValue: false } : undefined,
    );
    return { meta: dict.meta, dict: dict.dict };
  } catch (error) {
    throw corruptData('DICOM file', path, error);
  }
}

/** Where the data set starts and its transfer syntax, from the file meta group; undefined when unreadable. */
function readMetaGroup(bytes: Uint8Array): { dataSetStart: number; transferSyntaxUid: string } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // (0002,0000) UL 4 <group length>, as dcmjs requires.
  if (bytes.length < 144 || view.getUint32(132, true) !== 0x00000002 || view.getUint16(136, true) !== 0x4c55) {
    return undefined;
  }
  const dataSetStart = 144 + view.getUint32(140, true);
  let transferSyntaxUid = IMPLICIT_SYNTAX;
  let at = 144;
  while (at + 8 <= Math.min(dataSetStart, bytes.length)) {
    const tag = ((view.getUint16(at, true) << 16) | view.getUint16(at + 2, true)) >>> 0;
    const vr = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!);
    const long = LONG_VRS.has(vr);
    if (long && at + 12 > bytes.length) return undefined;
    const length = long ? view.getUint32(at + 8, true) : view.getUint16(at + 6, true);
    const valueStart = at + (long ? 12 : 8);
    if (length === UNDEFINED_LENGTH || valueStart + length > bytes.length) return undefined;
    if (tag === 0x00020010) {
      transferSyntaxUid = new TextDecoder('latin1')
        .decode(bytes.subarray(valueStart, valueStart + length))
        .replace(/[\0\s]+$/, '');
    }
    at = valueStart + length;
  }
  return dataSetStart <= bytes.length ? { dataSetStart, transferSyntaxUid } : undefined;
}

function inflateDataSet(deflated: Uint8Array, complete: boolean, path: string | undefined): Uint8Array {
  try {
    return inflateRawSync(deflated, {
      maxOutputLength: MAX_INFLATED_BYTES,
      // A header read holds only the start of the stream: take what inflates so far.
      ...(complete ? {} : { finishFlush: constants.Z_SYNC_FLUSH }),
    });
  } catch (error) {
    if (errorCode(error) === 'ERR_BUFFER_TOO_LARGE') {
      throw new SpinegradeError(
        'TOO_LARGE',
        `the deflated data set inflates past ${MAX_INFLATED_BYTES} bytes, the most spinegrade reads`,
        path,
        { cause: error },
      );
    }
    if (isZlibError(error)) throw corruptData('the deflated DICOM data set', path, error);
    throw error;
  }
}

function pastBound(what: string, path: string | undefined): SpinegradeError {
  return new SpinegradeError('TOO_LARGE', `DICOM sequences ${what}, the most spinegrade reads`, path);
}

/** An open sequence, item or encapsulated pixel data, while walking the elements. */
interface Container {
  readonly kind: 'sequence' | 'item' | 'fragments';
  /** Offset where it ends, or undefined for an undefined length (ended by a delimiter). */
  readonly end: number | undefined;
  /** Whether its elements use implicit VR (a UN sequence does, whatever the file's syntax). */
  readonly implicit: boolean;
}

/**
 * Walks the elements of a data set with an explicit stack, counting sequence depth and items.
 * Throws `TOO_LARGE` past the bounds; anything else malformed ends the walk quietly, for dcmjs to
 * report.
 */
function checkStructure(data: Uint8Array, implicit: boolean, littleEndian: boolean, path: string | undefined): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const u16 = (at: number): number => view.getUint16(at, littleEndian);
  const u32 = (at: number): number => view.getUint32(at, littleEndian);
  const stack: Container[] = [];
  let depth = 0;
  let items = 0;
  let at = 0;
  const pop = (): void => {
    if (stack.pop()?.kind === 'sequence') depth--;
  };
  while (true) {
    while (stack.length > 0 && stack[stack.length - 1]!.end !== undefined && at >= stack[stack.length - 1]!.end!) pop();
    if (at + 8 > data.length) return;
    const top = stack[stack.length - 1];
    const tag = ((u16(at) << 16) | u16(at + 2)) >>> 0;
    if (tag === ITEM) {
      const length = u32(at + 4);
      at += 8;
      if (top?.kind === 'fragments') {
        if (length === UNDEFINED_LENGTH) return;
        at += length;
      } else if (top?.kind === 'sequence') {
        if (++items > MAX_SEQUENCE_ITEMS) throw pastBound(`hold more than ${MAX_SEQUENCE_ITEMS} items`, path);
        stack.push({
          kind: 'item',
          end: length === UNDEFINED_LENGTH ? undefined : at + length,
          implicit: top.implicit,
        });
      } else {
        return;
      }
      continue;
    }
    if (tag === ITEM_DELIMITER || tag === SEQUENCE_DELIMITER) {
      at += 8;
      const expected = tag === ITEM_DELIMITER ? 'item' : top?.kind === 'fragments' ? 'fragments' : 'sequence';
      if (top?.kind !== expected || top.end !== undefined) return;
      pop();
      continue;
    }
    const elementImplicit = top?.implicit ?? implicit;
    let vr: string | undefined;
    let length: number;
    let valueStart: number;
    if (elementImplicit) {
      length = u32(at + 4);
      valueStart = at + 8;
    } else {
      vr = String.fromCharCode(data[at + 4]!, data[at + 5]!);
      if (LONG_VRS.has(vr)) {
        if (at + 12 > data.length) return;
        length = u32(at + 8);
        valueStart = at + 12;
      } else {
        length = u16(at + 6);
        valueStart = at + 8;
      }
    }
    const undefinedLength = length === UNDEFINED_LENGTH;
    const isSequence =
      vr === 'SQ' ||
      (undefinedLength && tag !== PIXEL_DATA && (vr === undefined || vr === 'UN')) ||
      // Implicit VR (or UN) does not say SQ; a value that opens with an item tag is one.
      ((vr === undefined || vr === 'UN') &&
        tag !== PIXEL_DATA &&
        !undefinedLength &&
        length >= 8 &&
        valueStart + 4 <= data.length &&
        ((u16(valueStart) << 16) | u16(valueStart + 2)) >>> 0 === ITEM);
    if (isSequence) {
      if (++depth > MAX_SEQUENCE_DEPTH) throw pastBound(`nest deeper than ${MAX_SEQUENCE_DEPTH} levels`, path);
      stack.push({
        kind: 'sequence',
        end: undefinedLength ? undefined : valueStart + length,
        implicit: elementImplicit || vr === 'UN',
      });
      at = valueStart;
    } else if (undefinedLength) {
      // Encapsulated pixel data: fragments up to a sequence delimiter.
      stack.push({ kind: 'fragments', end: undefined, implicit: elementImplicit });
      at = valueStart;
    } else {
      at = valueStart + length;
    }
  }
}

/** A parsed data set keyed by keyword (see `naturalizeDataset`); a failure is a message about the file. */
export function naturalize(dict: DenaturalizedDataset, path: string | undefined): NaturalDataset {
  try {
    return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) as NaturalDataset;
  } catch (error) {
    throw corruptData('DICOM file', path, error);
  }
}
