/**
 * The one place where errors become HTTP answers: each error code's status, Fastify's and the
 * multipart plugin's own errors in the API's shape, and the error handler that sends
 * `{ "error": { "code", "message" } }` (docs/api.md, "Error codes").
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, JobFailedError, ServiceError, toServiceError } from '../errors.js';

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** HTTP status of each error code. */
export const STATUS_OF_CODE: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  BAD_OVERRIDE: 400,
  BAD_CORRECTION: 400,
  EMPTY_UPLOAD: 400,
  NOT_FOUND: 404,
  NOT_DICOM: 404,
  EXPORT_UNAVAILABLE: 404,
  STUDY_NOT_READY: 409,
  STUDY_BUSY: 409,
  NOT_ANALYZED: 409,
  UPLOAD_TOO_LARGE: 413,
  TOO_MANY_FILES: 413,
  FILE_TOO_LARGE: 413,
  UNSUPPORTED_FILE: 415,
  UNREADABLE_STUDY: 422,
  TOO_MANY_STUDIES: 429,
  QUEUE_FULL: 429,
  PACS_ERROR: 502,
  NO_DICOMWEB: 503,
  SHUTTING_DOWN: 503,
  STORAGE_ERROR: 500,
  STORAGE_FULL: 507,
  INTERNAL: 500,
  // Analysis problems (src/errors.ts) that reach the API.
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

/** An error of the HTTP layer itself (authentication, methods, content types), with its status. */
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

/** A service's error as an HTTP answer. */
function fromServiceError(error: ServiceError): HttpError {
  // A background job the request waited for failed: the server's failure, whatever the job's code.
  const status = error instanceof JobFailedError ? 500 : STATUS_OF_CODE[error.code];
  return new HttpError(status, error.code, error.message);
}

/** Any error thrown while answering a request as an {@link HttpError}. */
export function httpErrorOf(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ServiceError) return fromServiceError(error);
  const code = (error as Partial<FastifyError>).code;
  const message = (error as Error).message ?? String(error);
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        `unsupported Content-Type: ${message.replace(/^Unsupported Media Type:?\s*/i, '')}`.trim(),
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'BODY_TOO_LARGE', 'the JSON body is too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpError(400, 'BAD_JSON', `the body is not valid JSON (${message})`);
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new HttpError(413, 'TOO_MANY_FILES', 'too many files in one upload');
    case 'FST_FIELDS_LIMIT':
      return new HttpError(413, 'TOO_MANY_FILES', 'too many form fields in the upload');
    case 'FST_REQ_FILE_TOO_LARGE':
      return new HttpError(413, 'FILE_TOO_LARGE', 'a file is larger than the per-file limit');
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'upload the files as multipart/form-data');
    case 'FST_PROTO_VIOLATION':
      return new HttpError(400, 'BAD_REQUEST', message);
    case 'FST_MP_PREMATURE_CLOSE':
    case 'ECONNRESET':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return new HttpError(400, 'UPLOAD_ABORTED', 'the upload ended before it was complete; nothing was kept');
  }
  if (
    /^(Unexpected end of (form|multipart data)|Part terminated early|Malformed (part header|urlencoded form))/i.test(
      message,
    )
  ) {
    return new HttpError(400, 'MALFORMED_UPLOAD', `the multipart body is malformed (${message}); nothing was kept`);
  }
  if (message === 'aborted') {
    return new HttpError(400, 'UPLOAD_ABORTED', 'the upload ended before it was complete; nothing was kept');
  }
  const status = (error as Partial<FastifyError>).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpError(status, 'BAD_REQUEST', message);
  }
  return fromServiceError(toServiceError(error));
}

/**
 * Fastify error handler: every error as the API's JSON error body, and a log line with its status and
 * code (never the message: it may quote a client's input). When the request's body was not read to
 * its end (a limit refused it while it streamed), the answer closes the connection, so the client
 * hears the refusal at once instead of after sending the rest.
 */
export function errorHandler(log: (line: string) => void) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const http = httpErrorOf(error);
    log(`error ${http.status} ${http.code} (${request.method} ${request.url.split('?')[0] ?? ''})`);
    const unread = !request.raw.complete && !request.raw.destroyed;
    if (unread) {
      reply.raw.once('finish', () => lingerAndClose(request.raw.socket));
    }
    void reply
      .code(http.status)
      .headers(unread ? { ...http.headers, connection: 'close' } : http.headers)
      .type('application/json; charset=utf-8')
      .send(http.body());
  };
}

/** How long a refused request's remaining body is read and dropped before the connection is cut. */
const LINGER_MS = 2000;

/**
 * Ends a connection whose request body is still arriving: the answer has been written; the rest of
 * the body is read and dropped for a moment (closing at once would reset the connection and the
 * client could lose the answer), then the socket is destroyed.
 */
function lingerAndClose(socket: Socket | null): void {
  if (!socket || socket.destroyed) return;
  socket.end();
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/** The messages of the HTTP parser's errors (llhttp codes), as the API's error. */
function clientHttpError(error: Error & { code?: string }): HttpError {
  switch (error.code) {
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return new HttpError(400, 'BAD_CONTENT_LENGTH', 'the Content-Length header is not one whole number of bytes');
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_STRICT':
      return new HttpError(400, 'MALFORMED_BODY', 'the request body or its chunked framing is malformed');
    case 'HPE_HEADER_OVERFLOW':
      return new HttpError(431, 'HEADERS_TOO_LARGE', 'the request headers are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError(408, 'REQUEST_TIMEOUT', 'the request took too long to arrive');
    default:
      return new HttpError(400, 'BAD_REQUEST', 'the request is not valid HTTP');
  }
}

/**
 * Fastify's `clientErrorHandler`: a request the HTTP parser refuses (malformed or duplicated
 * Content-Length, bad chunking, oversized headers) gets the API's JSON error and a log line with
 * its code, then the connection is closed.
 */
export function clientErrorHandler(log: (line: string) => void) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || error.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
      log(`client error ${error.code ?? 'UNKNOWN'}: the client closed the connection before the request was complete`);
      socket.destroy();
      return;
    }
    const http = clientHttpError(error);
    log(`client error ${http.status} ${http.code} (${error.code ?? 'unknown'})`);
    const body = JSON.stringify(http.body());
    socket.end(
      `HTTP/1.1 ${http.status} ${http.status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}
