/**
 * The HTTP errors of the server API: every error reaches the client as
 * `{ "error": { "code", "message" } }` with a 4xx/5xx status (docs/api.md lists the codes).
 */
import { describeError, isSpinegradeError, type ProblemKind } from '../errors.js';
import { DicomwebError } from '../pacs/client.js';

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** An error with its HTTP status and API code; thrown by handlers, turned into JSON by the server. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  /** Extra response headers (e.g. `Allow`). */
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  /** The JSON body of this error. */
  body(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** HTTP status of each analysis problem kind, when it reaches the API. */
const STATUS_OF_KIND: Record<ProblemKind, number> = {
  INTERNAL: 500,
  USAGE: 400,
  NOT_FOUND: 404,
  NO_IMAGES: 422,
  NOT_AN_IMAGE: 422,
  TRUNCATED: 422,
  NO_PIXEL_DATA: 422,
  INCONSISTENT_SERIES: 422,
  DUPLICATE_SLICES: 422,
  NO_USABLE_SERIES: 422,
  INVALID_HEADER: 422,
  TOO_LARGE: 422,
  UNSUPPORTED: 422,
  SYMLINK_LOOP: 422,
  UNREADABLE: 422,
  OUTPUT_ERROR: 500,
};

/**
 * Any thrown value as an {@link HttpError}. Messages of analysis errors name server paths; those are
 * replaced by `path` (the study's own file names are opaque ids, never client names).
 */
export function toHttpError(error: unknown, hidePath?: string): HttpError {
  if (error instanceof HttpError) return error;
  if (isSpinegradeError(error)) {
    const code = error.kind === 'USAGE' ? 'BAD_REQUEST' : error.kind;
    return new HttpError(STATUS_OF_KIND[error.kind], code, scrub(describeError(error), hidePath));
  }
  if (error instanceof DicomwebError) {
    return new HttpError(502, 'PACS_ERROR', `the DICOMweb server failed: ${describeError(error)}`);
  }
  return new HttpError(500, 'INTERNAL', `internal error: ${scrub(describeError(error), hidePath)}`);
}

/** `text` with every occurrence of the folder `path` (a server path) cut down to the file name after it. */
export function scrub(text: string, path?: string): string {
  if (!path) return text;
  return text.split(`${path}/`).join('').split(path).join('<study>');
}
