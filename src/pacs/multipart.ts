/**
 * `multipart/related` bodies as DICOMweb uses them (RFC 2387, PS3.18 §8.6): building one for STOW-RS
 * and reading one from WADO-RS as a stream, part by part, so a whole study never sits in memory.
 */
import { randomBytes } from 'node:crypto';

/** One part to send: its bytes and content type. */
export interface OutgoingPart {
  /** Content-Type of the part, e.g. `application/dicom`. */
  contentType: string;
  data: Uint8Array;
}

/** A `multipart/related` body ready to send. */
export interface MultipartBody {
  /** The whole body. */
  body: Buffer;
  /** The request's Content-Type, with the boundary and the root type. */
  contentType: string;
  boundary: string;
}

/** Builds a `multipart/related; type="<type>"` body of the given parts (CRLF line ends, a fresh boundary). */
export function buildMultipartRelated(parts: readonly OutgoingPart[], type = 'application/dicom'): MultipartBody {
  let boundary = `spinegrade-${randomBytes(16).toString('hex')}`;
  // A boundary must not occur inside a part; with 128 random bits this loop practically never repeats.
  while (parts.some((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).includes(boundary))) {
    boundary = `spinegrade-${randomBytes(16).toString('hex')}`;
  }
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Type: ${part.contentType}\r\nContent-Length: ${part.data.byteLength}\r\n\r\n`,
      ),
    );
    chunks.push(Buffer.from(part.data.buffer, part.data.byteOffset, part.data.byteLength));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    body: Buffer.concat(chunks),
    contentType: `multipart/related; type="${type}"; boundary=${boundary}`,
    boundary,
  };
}

/** A parsed media type: `type/subtype` in lower case and its parameters (names in lower case, quotes removed). */
export interface MediaType {
  type: string;
  parameters: Record<string, string>;
}

/** Parses a Content-Type header value. */
export function parseMediaType(value: string): MediaType {
  const [head = '', ...rest] = splitOutsideQuotes(value, ';');
  const parameters: Record<string, string> = {};
  for (const item of rest) {
    const equals = item.indexOf('=');
    if (equals <= 0) continue;
    const name = item.slice(0, equals).trim().toLowerCase();
    let v = item.slice(equals + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    parameters[name] = v;
  }
  return { type: head.trim().toLowerCase(), parameters };
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (c === separator && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

/** The boundary of a `multipart/*` Content-Type; throws when it is not multipart or has none. */
export function multipartBoundary(contentType: string | null | undefined): string {
  const media = parseMediaType(contentType ?? '');
  if (!media.type.startsWith('multipart/')) {
    throw new MultipartError(`expected a multipart response, got "${media.type || 'no content type'}"`);
  }
  const boundary = media.parameters.boundary;
  if (!boundary || boundary.length > 200) throw new MultipartError('the multipart content type has no valid boundary');
  return boundary;
}

/** A malformed multipart body, or one over its limits. */
export class MultipartError extends Error {
  /** True when a limit (bytes, parts) was exceeded rather than the body being malformed. */
  readonly limit: boolean;

  constructor(message: string, limit = false) {
    super(message);
    this.name = 'MultipartError';
    this.limit = limit;
  }
}

/** Where the bytes of one incoming part go. */
export interface PartSink {
  write(chunk: Uint8Array): void | Promise<void>;
  end(): void | Promise<void>;
}

/** Limits while reading a multipart body. */
export interface MultipartLimits {
  /** Most bytes of all parts' bodies together. */
  maxBytes?: number;
  /** Most bytes of one part. */
  maxPartBytes?: number;
  /** Most parts. */
  maxParts?: number;
}

type State = 'preamble' | 'after-boundary' | 'headers' | 'body' | 'done';

/** Header lines of one part, names in lower case. */
export type PartHeaders = Record<string, string>;

const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Reads a multipart body from `source` (any async iterable of byte chunks, e.g. a fetch response
 * body) and streams each part's body to the sink `onPart` returns for its headers. Resolves with the
 * number of parts. Throws {@link MultipartError} on a malformed body or when a limit is exceeded
 * (after ending the current sink).
 */
export async function readMultipart(
  source: AsyncIterable<Uint8Array>,
  boundary: string,
  onPart: (headers: PartHeaders, index: number) => PartSink | Promise<PartSink>,
  limits: MultipartLimits = {},
): Promise<number> {
  const dashBoundary = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const headerEnd = Buffer.from('\r\n\r\n');
  let buffer: Buffer = Buffer.alloc(0);
  let state = 'preamble' as State;
  let sink: PartSink | undefined;
  let parts = 0;
  let total = 0;
  let partBytes = 0;

  const emit = async (bytes: Buffer): Promise<void> => {
    if (bytes.length === 0 || !sink) return;
    total += bytes.length;
    partBytes += bytes.length;
    if (limits.maxBytes !== undefined && total > limits.maxBytes) {
      throw new MultipartError(`the parts exceed ${limits.maxBytes} bytes`, true);
    }
    if (limits.maxPartBytes !== undefined && partBytes > limits.maxPartBytes) {
      throw new MultipartError(`part ${parts} exceeds ${limits.maxPartBytes} bytes`, true);
    }
    await sink.write(bytes);
  };

  /** Processes as much of `buffer` as possible; false when more input is needed. */
  const step = async (): Promise<boolean> => {
    switch (state) {
      case 'preamble': {
        // The first boundary may sit at the very start (no CRLF before it) or after a preamble.
        const at = buffer.indexOf(dashBoundary);
        if (at < 0) {
          if (buffer.length > MAX_HEADER_BYTES) throw new MultipartError('no multipart boundary found');
          return false;
        }
        if (at > 0 && !(at >= 2 && buffer[at - 2] === 0x0d && buffer[at - 1] === 0x0a)) {
          throw new MultipartError('the first multipart boundary is not at a line start');
        }
        buffer = buffer.subarray(at + dashBoundary.length);
        state = 'after-boundary';
        return true;
      }
      case 'after-boundary': {
        if (buffer.length < 2) return false;
        if (buffer[0] === 0x2d && buffer[1] === 0x2d) {
          state = 'done';
          return false;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) {
          if (buffer.length > 256) throw new MultipartError('malformed multipart boundary line');
          return false;
        }
        if (buffer.subarray(0, eol).toString('latin1').trim() !== '') {
          throw new MultipartError('malformed multipart boundary line');
        }
        buffer = buffer.subarray(eol + 2);
        state = 'headers';
        return true;
      }
      case 'headers': {
        // A part may have no headers at all: then the blank line follows at once.
        let end: number;
        let skip: number;
        if (buffer.length >= 2 && buffer[0] === 0x0d && buffer[1] === 0x0a) {
          end = 0;
          skip = 2;
        } else {
          end = buffer.indexOf(headerEnd);
          skip = 4;
        }
        if (end < 0) {
          if (buffer.length > MAX_HEADER_BYTES) throw new MultipartError('multipart part headers too long');
          return false;
        }
        const headers: PartHeaders = {};
        for (const line of buffer.subarray(0, end).toString('latin1').split('\r\n')) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        buffer = buffer.subarray(end + skip);
        if (limits.maxParts !== undefined && parts >= limits.maxParts) {
          throw new MultipartError(`more than ${limits.maxParts} parts`, true);
        }
        partBytes = 0;
        sink = await onPart(headers, parts);
        parts++;
        state = 'body';
        return true;
      }
      case 'body': {
        const at = buffer.indexOf(delimiter);
        if (at < 0) {
          // Keep a tail that could be the start of the delimiter.
          const keep = Math.min(buffer.length, delimiter.length - 1);
          await emit(buffer.subarray(0, buffer.length - keep));
          buffer = Buffer.from(buffer.subarray(buffer.length - keep));
          return false;
        }
        await emit(buffer.subarray(0, at));
        const done = sink;
        sink = undefined;
        await done?.end();
        buffer = buffer.subarray(at + delimiter.length);
        state = 'after-boundary';
        return true;
      }
      case 'done':
        return false;
    }
  };

  try {
    for await (const chunk of source) {
      if ((state as State) === 'done') continue; // drain the epilogue
      buffer = buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([buffer, chunk]);
      while (await step()) {
        // keep going while progress is made
      }
    }
  } catch (error) {
    const open = sink;
    sink = undefined;
    await open?.end();
    throw error;
  }
  if ((state as State) !== 'done') {
    const open = sink;
    sink = undefined;
    await open?.end();
    throw new MultipartError(
      (state as State) === 'preamble'
        ? 'the multipart body holds no boundary'
        : 'the multipart body ends before its closing boundary',
    );
  }
  return parts;
}
