/**
 * Pixel data decoding for the DICOM transfer syntaxes spinegrade reads: native (uncompressed),
 * RLE Lossless (decoded here, PS3.5 Annex G), JPEG Baseline (jpeg-js), JPEG Lossless
 * (jpeg-lossless-decoder-js), JPEG-LS (CharLS, WebAssembly) and JPEG 2000 (OpenJPEG, WebAssembly).
 * Every other syntax is refused by name. Decoded frames hold stored values (before the modality
 * rescale), masked to BitsStored and sign-extended when PixelRepresentation is 1.
 */
import { createRequire } from 'node:module';
import { decode as decodeJpegBaseline } from 'jpeg-js';
import { Decoder as JpegLosslessDecoder } from 'jpeg-lossless-decoder-js';
import { SpinegradeError } from '../../errors.js';

/** Pixel format facts needed to decode one frame. */
export interface FrameFormat {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: 0 | 1;
  samplesPerPixel: number;
}

/** Stored pixel values of one frame, typed by BitsAllocated and PixelRepresentation. */
export type StoredPixels = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

/** How the pixel data of a transfer syntax is decoded; `none` means it is refused. */
type Codec = 'native' | 'rle' | 'jpeg-baseline' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000' | 'none';

interface SyntaxFacts {
  readonly name: string;
  readonly codec: Codec;
  readonly encapsulated: boolean;
}

const NATIVE_SYNTAXES: ReadonlyArray<readonly [string, string, Codec]> = [
  ['1.2.840.10008.1.2', 'Implicit VR Little Endian', 'native'],
  ['1.2.840.10008.1.2.1', 'Explicit VR Little Endian', 'native'],
  // dcmjs inflates a deflated dataset while reading it, so its pixel data arrive native.
  ['1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian', 'native'],
  ['1.2.840.10008.1.2.2', 'Explicit VR Big Endian (retired)', 'none'],
  ['1.2.840.113619.5.2', 'GE Private Implicit VR Big Endian', 'none'],
];

const ENCAPSULATED_SYNTAXES: ReadonlyArray<readonly [string, string, Codec]> = [
  ['1.2.840.10008.1.2.1.98', 'Encapsulated Uncompressed Explicit VR Little Endian', 'native'],
  ['1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', 'jpeg-baseline'],
  ['1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', 'none'],
  ['1.2.840.10008.1.2.4.52', 'JPEG Extended (Process 3 & 5) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.53', 'JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.54', 'JPEG Spectral Selection, Non-Hierarchical (Process 7 & 9) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.55', 'JPEG Full Progression, Non-Hierarchical (Process 10 & 12) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.56', 'JPEG Full Progression, Non-Hierarchical (Process 11 & 13) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)', 'jpeg-lossless'],
  ['1.2.840.10008.1.2.4.58', 'JPEG Lossless, Non-Hierarchical (Process 15) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.59', 'JPEG Extended, Hierarchical (Process 16 & 18) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.60', 'JPEG Extended, Hierarchical (Process 17 & 19) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.61', 'JPEG Spectral Selection, Hierarchical (Process 20 & 22) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.62', 'JPEG Spectral Selection, Hierarchical (Process 21 & 23) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.63', 'JPEG Full Progression, Hierarchical (Process 24 & 26) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.64', 'JPEG Full Progression, Hierarchical (Process 25 & 27) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.65', 'JPEG Lossless, Hierarchical (Process 28) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.66', 'JPEG Lossless, Hierarchical (Process 29) (retired)', 'none'],
  ['1.2.840.10008.1.2.4.70', 'JPEG Lossless, First-Order Prediction (Process 14, SV1)', 'jpeg-lossless'],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', 'jpeg-ls'],
  ['1.2.840.10008.1.2.4.81', 'JPEG-LS Near-Lossless', 'jpeg-ls'],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)', 'jpeg2000'],
  ['1.2.840.10008.1.2.4.91', 'JPEG 2000', 'jpeg2000'],
  ['1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component (Lossless Only)', 'none'],
  ['1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component', 'none'],
  ['1.2.840.10008.1.2.4.94', 'JPIP Referenced', 'none'],
  ['1.2.840.10008.1.2.4.95', 'JPIP Referenced Deflate', 'none'],
  ['1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level', 'none'],
  ['1.2.840.10008.1.2.4.100.1', 'Fragmentable MPEG2 Main Profile / Main Level', 'none'],
  ['1.2.840.10008.1.2.4.101', 'MPEG2 Main Profile / High Level', 'none'],
  ['1.2.840.10008.1.2.4.101.1', 'Fragmentable MPEG2 Main Profile / High Level', 'none'],
  ['1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264 High Profile / Level 4.1', 'none'],
  ['1.2.840.10008.1.2.4.102.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1', 'none'],
  ['1.2.840.10008.1.2.4.103', 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', 'none'],
  ['1.2.840.10008.1.2.4.103.1', 'Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', 'none'],
  ['1.2.840.10008.1.2.4.104', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video', 'none'],
  ['1.2.840.10008.1.2.4.104.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video', 'none'],
  ['1.2.840.10008.1.2.4.105', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video', 'none'],
  ['1.2.840.10008.1.2.4.105.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video', 'none'],
  ['1.2.840.10008.1.2.4.106', 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2', 'none'],
  ['1.2.840.10008.1.2.4.106.1', 'Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2', 'none'],
  ['1.2.840.10008.1.2.4.107', 'HEVC/H.265 Main Profile / Level 5.1', 'none'],
  ['1.2.840.10008.1.2.4.108', 'HEVC/H.265 Main 10 Profile / Level 5.1', 'none'],
  ['1.2.840.10008.1.2.4.110', 'JPEG XL Lossless', 'none'],
  ['1.2.840.10008.1.2.4.111', 'JPEG XL JPEG Recompression', 'none'],
  ['1.2.840.10008.1.2.4.112', 'JPEG XL', 'none'],
  ['1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 (Lossless Only)', 'none'],
  ['1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', 'none'],
  ['1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000', 'none'],
  ['1.2.840.10008.1.2.4.204', 'JPIP HTJ2K Referenced', 'none'],
  ['1.2.840.10008.1.2.4.205', 'JPIP HTJ2K Referenced Deflate', 'none'],
  ['1.2.840.10008.1.2.5', 'RLE Lossless', 'rle'],
  ['1.2.840.10008.1.2.6.1', 'RFC 2557 MIME Encapsulation (retired)', 'none'],
  ['1.2.840.10008.1.2.6.2', 'XML Encoding (retired)', 'none'],
  ['1.2.840.10008.1.2.7.1', 'SMPTE ST 2110-20 Uncompressed Progressive Active Video', 'none'],
  ['1.2.840.10008.1.2.7.2', 'SMPTE ST 2110-20 Uncompressed Interlaced Active Video', 'none'],
  ['1.2.840.10008.1.2.7.3', 'SMPTE ST 2110-30 PCM Digital Audio', 'none'],
];

const SYNTAXES: ReadonlyMap<string, SyntaxFacts> = new Map<string, SyntaxFacts>([
  ...NATIVE_SYNTAXES.map(([uid, name, codec]): [string, SyntaxFacts] => [uid, { name, codec, encapsulated: false }]),
  ...ENCAPSULATED_SYNTAXES.map(([uid, name, codec]): [string, SyntaxFacts] => [
    uid,
    { name, codec, encapsulated: true },
  ]),
]);

/** Codec names used in messages about corrupt streams. */
const CODEC_NAMES: Record<Exclude<Codec, 'native' | 'none'>, string> = {
  rle: 'RLE Lossless',
  'jpeg-baseline': 'JPEG Baseline',
  'jpeg-lossless': 'JPEG Lossless',
  'jpeg-ls': 'JPEG-LS',
  jpeg2000: 'JPEG 2000',
};

/** A UID as written in a header may carry trailing NUL or space padding. */
function cleanUid(uid: string): string {
  return uid.replace(/[\0\s]+$/g, '').trim();
}

/** Human name of a transfer syntax UID, e.g. 'JPEG-LS Lossless (1.2.840.10008.1.2.4.80)'. */
export function transferSyntaxName(uid: string): string {
  const clean = cleanUid(uid);
  const facts = SYNTAXES.get(clean);
  return facts ? `${facts.name} (${clean})` : `an unknown transfer syntax (${clean === '' ? 'empty UID' : clean})`;
}

/**
 * True for transfer syntaxes whose pixel data is encapsulated (compressed). Unknown UIDs count as
 * encapsulated: every syntax defined after the four native ones is.
 */
export function isEncapsulatedSyntax(uid: string): boolean {
  return SYNTAXES.get(cleanUid(uid))?.encapsulated ?? true;
}

/**
 * Decodes one frame (all fragments of it already concatenated) to stored values, rows*columns
 * long, typed by bitsAllocated & pixelRepresentation. Throws a {@link SpinegradeError}: UNSUPPORTED
 * for a syntax, colour or bit depth spinegrade does not decode, TRUNCATED for short or corrupt data,
 * INVALID_HEADER for impossible formats or a stream whose size disagrees with the header.
 */
export async function decodeFrame(
  transferSyntaxUid: string,
  frame: Uint8Array,
  format: FrameFormat,
  path: string,
): Promise<StoredPixels> {
  const codec = SYNTAXES.get(cleanUid(transferSyntaxUid))?.codec ?? 'none';
  if (codec === 'none') {
    throw new SpinegradeError(
      'UNSUPPORTED',
      `pixel data in ${transferSyntaxName(transferSyntaxUid)} cannot be decoded by spinegrade; convert it first (e.g. dcmdjpeg/gdcmconv --raw)`,
      path,
    );
  }
  checkFormat(format, path);
  switch (codec) {
    case 'native':
      return decodeNative(frame, format, path);
    case 'rle':
      return decodeRle(frame, format, path);
    case 'jpeg-baseline':
      return decodeBaseline(frame, format, path);
    case 'jpeg-lossless':
      return decodeLossless(frame, format, path);
    case 'jpeg-ls':
      return decodeJpegLs(frame, format, path);
    case 'jpeg2000':
      return decodeJpeg2000(frame, format, path);
  }
}

function checkFormat(format: FrameFormat, path: string): void {
  const { rows, columns, bitsAllocated, bitsStored, samplesPerPixel } = format;
  if (samplesPerPixel !== 1) {
    throw new SpinegradeError(
      'UNSUPPORTED',
      `colour pixel data (SamplesPerPixel ${samplesPerPixel}) is not supported; spinegrade reads greyscale images only`,
      path,
    );
  }
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 1 || columns < 1) {
    throw new SpinegradeError('INVALID_HEADER', `impossible image size ${columns}×${rows}`, path);
  }
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    throw new SpinegradeError(
      'UNSUPPORTED',
      `BitsAllocated ${bitsAllocated} is not supported (only 8, 16 or 32)`,
      path,
    );
  }
  if (!Number.isInteger(bitsStored) || bitsStored < 1 || bitsStored > bitsAllocated) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      `BitsStored ${bitsStored} does not fit BitsAllocated ${bitsAllocated}`,
      path,
    );
  }
}

function corrupt(codec: keyof typeof CODEC_NAMES, path: string, cause?: unknown): SpinegradeError {
  return new SpinegradeError(
    'TRUNCATED',
    `compressed pixel data is corrupt or truncated (${CODEC_NAMES[codec]})`,
    path,
    cause === undefined ? undefined : { cause },
  );
}

function sizeMismatch(
  codec: keyof typeof CODEC_NAMES,
  width: number,
  height: number,
  format: FrameFormat,
  path: string,
) {
  return new SpinegradeError(
    'INVALID_HEADER',
    `the ${CODEC_NAMES[codec]} stream holds a ${width}×${height} image but the header says ${format.columns}×${format.rows}`,
    path,
  );
}

type UnsignedRaw = Uint8Array | Uint16Array | Uint32Array;
type RawSamples = UnsignedRaw | Int8Array | Int16Array | Int32Array;

/** A view of a whole buffer as samples of `bytes` bytes each (platform byte order: little endian). */
function samplesView(buffer: ArrayBuffer, bytes: 1 | 2 | 4, signed: boolean): RawSamples {
  if (bytes === 1) return signed ? new Int8Array(buffer) : new Uint8Array(buffer);
  if (bytes === 2) return signed ? new Int16Array(buffer) : new Uint16Array(buffer);
  return signed ? new Int32Array(buffer) : new Uint32Array(buffer);
}

function bytesForBits(bits: number): 1 | 2 | 4 {
  return bits <= 8 ? 1 : bits <= 16 ? 2 : 4;
}

function allocate(format: FrameFormat, count: number): StoredPixels {
  const signed = format.pixelRepresentation === 1;
  if (format.bitsAllocated === 8) return signed ? new Int8Array(count) : new Uint8Array(count);
  if (format.bitsAllocated === 16) return signed ? new Int16Array(count) : new Uint16Array(count);
  return signed ? new Int32Array(count) : new Uint32Array(count);
}

/**
 * Turns decoded samples (at least rows*columns of them, signed or unsigned, any width) into stored
 * values of the frame's type: masked to BitsStored and, for signed data, sign-extended from it.
 */
function toStored(raw: RawSamples, format: FrameFormat): StoredPixels {
  const count = format.rows * format.columns;
  const signed = format.pixelRepresentation === 1;
  const bits = format.bitsStored;
  if (bits === format.bitsAllocated && raw.BYTES_PER_ELEMENT * 8 === bits) {
    // Same width and no spare bits: the bit pattern is already right, only its type may differ.
    const bytes = raw.BYTES_PER_ELEMENT as 1 | 2 | 4;
    const view = samplesView(raw.buffer as ArrayBuffer, bytes, signed);
    const start = raw.byteOffset / bytes;
    return view.subarray(start, start + count);
  }
  const out = allocate(format, count);
  if (bits === 32) {
    // Typed-array stores wrap modulo 2^32, which is the reinterpretation wanted here.
    for (let i = 0; i < count; i++) out[i] = raw[i] as number;
    return out;
  }
  const mask = 2 ** bits - 1;
  const half = 2 ** (bits - 1);
  const range = 2 ** bits;
  for (let i = 0; i < count; i++) {
    const v = (raw[i] as number) & mask;
    out[i] = signed && v >= half ? v - range : v;
  }
  return out;
}

function decodeNative(frame: Uint8Array, format: FrameFormat, path: string): StoredPixels {
  const bytes = (format.bitsAllocated / 8) as 1 | 2 | 4;
  const needed = format.rows * format.columns * bytes;
  if (frame.byteLength < needed) {
    throw new SpinegradeError(
      'TRUNCATED',
      `pixel data ends early: ${frame.byteLength} bytes for a ${format.columns}×${format.rows} frame of ${format.bitsAllocated}-bit samples that needs ${needed}`,
      path,
    );
  }
  // Copy into a buffer of its own: aligned for a typed view, and detached from the file's buffer.
  const copy = frame.slice(0, needed);
  return toStored(samplesView(copy.buffer, bytes, false), format);
}

/**
 * RLE Lossless (PS3.5 Annex G): a 64-byte header (segment count, then up to 15 segment offsets),
 * then one PackBits segment per byte of each sample, most significant byte first.
 */
function decodeRle(frame: Uint8Array, format: FrameFormat, path: string): StoredPixels {
  if (frame.byteLength < 64) throw corrupt('rle', path);
  const header = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const bytes = (format.bitsAllocated / 8) as 1 | 2 | 4;
  const segments = header.getUint32(0, true);
  if (segments !== bytes * format.samplesPerPixel) throw corrupt('rle', path);
  const count = format.rows * format.columns;
  const out = new Uint8Array(count * bytes);
  for (let s = 0; s < segments; s++) {
    const start = header.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? header.getUint32(8 + 4 * s, true) : frame.byteLength;
    if (start < 64 || end > frame.byteLength || start >= end) throw corrupt('rle', path);
    // Segment 0 holds the most significant byte; samples are assembled little endian.
    const filled = unpackBits(frame, start, end, out, bytes - 1 - s, bytes, count);
    if (filled < count) throw corrupt('rle', path);
  }
  return toStored(samplesView(out.buffer, bytes, false), format);
}

/**
 * Decodes one PackBits segment `source[start, end)` into every `stride`-th byte of `target` from
 * `offset`, stopping after `count` bytes; returns how many bytes it produced.
 */
function unpackBits(
  source: Uint8Array,
  start: number,
  end: number,
  target: Uint8Array,
  offset: number,
  stride: number,
  count: number,
): number {
  let i = start;
  let n = 0;
  while (n < count && i < end) {
    const control = source[i++] as number;
    if (control < 128) {
      // Literal run of control + 1 bytes.
      const length = control + 1;
      if (i + length > end) return n;
      for (let k = 0; k < length && n < count; k++) target[offset + stride * n++] = source[i + k] as number;
      i += length;
    } else if (control > 128) {
      // Replicate run: the next byte, 257 - control times.
      if (i >= end) return n;
      const value = source[i++] as number;
      for (let k = 257 - control; k > 0 && n < count; k--) target[offset + stride * n++] = value;
    }
    // control === 128 (-128) is a no-op.
  }
  return n;
}

/**
 * True when a JPEG-family stream ends with its end marker (EOI / EOC, FF D9), allowing for the
 * even-length padding DICOM adds. Entropy-coded data never holds FF D9, so a stream cut short
 * lacks it; decoders that tolerate truncation would otherwise return a partial image.
 */
function hasEndMarker(frame: Uint8Array): boolean {
  const from = Math.max(0, frame.byteLength - 16);
  for (let i = frame.byteLength - 2; i >= from; i--) {
    if (frame[i] === 0xff && frame[i + 1] === 0xd9) return true;
  }
  return false;
}

function decodeBaseline(frame: Uint8Array, format: FrameFormat, path: string): StoredPixels {
  if (!hasEndMarker(frame)) throw corrupt('jpeg-baseline', path);
  let image: { width: number; height: number; data: Uint8Array };
  try {
    image = decodeJpegBaseline(frame, { useTArray: true, formatAsRGBA: false, colorTransform: false });
  } catch (error) {
    throw corrupt('jpeg-baseline', path, error);
  }
  if (image.width !== format.columns || image.height !== format.rows) {
    throw sizeMismatch('jpeg-baseline', image.width, image.height, format, path);
  }
  // jpeg-js always returns three channels; a greyscale image has Y in each.
  const count = format.rows * format.columns;
  if (image.data.length < count * 3) throw corrupt('jpeg-baseline', path);
  const grey = new Uint8Array(count);
  for (let i = 0; i < count; i++) grey[i] = image.data[3 * i] as number;
  return toStored(grey, format);
}

function decodeLossless(frame: Uint8Array, format: FrameFormat, path: string): StoredPixels {
  if (!hasEndMarker(frame)) throw corrupt('jpeg-lossless', path);
  const decoder = new JpegLosslessDecoder();
  let samples: Uint8Array | Uint16Array;
  try {
    const own = frame.slice();
    samples = decoder.decode(own.buffer, 0, own.byteLength);
  } catch (error) {
    throw corrupt('jpeg-lossless', path, error);
  }
  if (decoder.numComp !== 1) throw corrupt('jpeg-lossless', path);
  if (decoder.xDim !== format.columns || decoder.yDim !== format.rows) {
    throw sizeMismatch('jpeg-lossless', decoder.xDim, decoder.yDim, format, path);
  }
  if (samples.length < format.rows * format.columns) throw corrupt('jpeg-lossless', path);
  return toStored(samples, format);
}

/** What the CharLS and OpenJPEG decoders report about a decoded frame. */
interface WasmFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  /** OpenJPEG only. */
  isSigned?: boolean;
}

/** The common shape of the CharLS JpegLSDecoder and the OpenJPEG J2KDecoder (Emscripten objects). */
interface WasmDecoder {
  /** A view into WebAssembly memory, `length` bytes long, to copy the encoded stream into. */
  getEncodedBuffer(length: number): Uint8Array;
  /** A view into WebAssembly memory of the decoded samples (little endian); valid until `delete`. */
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): WasmFrameInfo;
  decode(): void;
  /** Frees the decoder's WebAssembly memory. */
  delete(): void;
}

interface CharlsModule {
  JpegLSDecoder: new () => WasmDecoder;
}

interface OpenJpegModule {
  J2KDecoder: new () => WasmDecoder;
}

type EmscriptenFactory<M> = (options?: {
  print?: (text: string) => void;
  printErr?: (text: string) => void;
}) => Promise<M>;

const requireCjs = createRequire(import.meta.url);
let charls: Promise<CharlsModule> | undefined;
let openjpeg: Promise<OpenJpegModule> | undefined;

/** Instantiates an Emscripten module, with its console chatter (OpenJPEG's [INFO] lines) silenced. */
function instantiate<M>(id: string): Promise<M> {
  const factory = requireCjs(id) as EmscriptenFactory<M>;
  const quiet = (): void => {};
  return factory({ print: quiet, printErr: quiet });
}

function loadCharls(): Promise<CharlsModule> {
  charls ??= instantiate<CharlsModule>('@cornerstonejs/codec-charls/decodewasmjs').catch((error: unknown) => {
    charls = undefined;
    throw error;
  });
  return charls;
}

function loadOpenJpeg(): Promise<OpenJpegModule> {
  openjpeg ??= instantiate<OpenJpegModule>('@cornerstonejs/codec-openjpeg/decodewasmjs').catch((error: unknown) => {
    openjpeg = undefined;
    throw error;
  });
  return openjpeg;
}

/** Runs a WebAssembly decoder over one frame; returns its frame info and a copy of its output. */
function runWasmDecoder(
  decoder: WasmDecoder,
  frame: Uint8Array,
  codec: 'jpeg-ls' | 'jpeg2000',
  path: string,
): { info: WasmFrameInfo; decoded: Uint8Array } {
  try {
    decoder.getEncodedBuffer(frame.byteLength).set(frame);
    decoder.decode();
    const info = decoder.getFrameInfo();
    return { info: { ...info }, decoded: decoder.getDecodedBuffer().slice() };
  } catch (error) {
    // Emscripten throws C++ exceptions as bare numbers.
    throw corrupt(codec, path, error);
  } finally {
    decoder.delete();
  }
}

function wasmSamples(
  info: WasmFrameInfo,
  decoded: Uint8Array,
  codec: 'jpeg-ls' | 'jpeg2000',
  format: FrameFormat,
  path: string,
): StoredPixels {
  if (info.width === 0 || info.height === 0 || info.bitsPerSample < 1) throw corrupt(codec, path);
  if (info.componentCount !== 1) {
    throw new SpinegradeError(
      'UNSUPPORTED',
      `the ${CODEC_NAMES[codec]} stream holds ${info.componentCount} components; spinegrade reads greyscale images only`,
      path,
    );
  }
  if (info.width !== format.columns || info.height !== format.rows) {
    throw sizeMismatch(codec, info.width, info.height, format, path);
  }
  const bytes = bytesForBits(info.bitsPerSample);
  const needed = format.rows * format.columns * bytes;
  if (decoded.byteLength < needed) throw corrupt(codec, path);
  // `decoded` is already a copy out of WebAssembly memory, starting at offset 0 of its own buffer.
  const exact = decoded.byteLength === needed ? decoded : decoded.slice(0, needed);
  return toStored(samplesView(exact.buffer as ArrayBuffer, bytes, info.isSigned === true), format);
}

async function decodeJpegLs(frame: Uint8Array, format: FrameFormat, path: string): Promise<StoredPixels> {
  if (!hasEndMarker(frame)) throw corrupt('jpeg-ls', path);
  const wasm = await loadCharls();
  const { info, decoded } = runWasmDecoder(new wasm.JpegLSDecoder(), frame, 'jpeg-ls', path);
  return wasmSamples(info, decoded, 'jpeg-ls', format, path);
}

async function decodeJpeg2000(frame: Uint8Array, format: FrameFormat, path: string): Promise<StoredPixels> {
  if (!hasEndMarker(frame)) throw corrupt('jpeg2000', path);
  const wasm = await loadOpenJpeg();
  const { info, decoded } = runWasmDecoder(new wasm.J2KDecoder(), frame, 'jpeg2000', path);
  return wasmSamples(info, decoded, 'jpeg2000', format, path);
}
