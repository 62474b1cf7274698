/**
 * The server's domain errors: what went wrong, as a stable code and one human-readable line, with no
 * HTTP status. Services throw {@link ServiceError}; `http/errors.ts` is the one place that maps a code
 * to a status and the `{ "error": { "code", "message" } }` body (docs/api.md lists the codes).
 */
import { describeError, isSpinegradeError, type ProblemKind } from '../errors.js';
import { DicomwebError } from '../pacs/client.js';

/** Codes the server's services throw (besides the analysis problem kinds, see {@link ErrorCode}). */
export const SERVICE_ERROR_CODES = [
  'BAD_REQUEST',
  'BAD_OVERRIDE',
  'BAD_CORRECTION',
  'EMPTY_UPLOAD',
  'NOT_FOUND',
  'NOT_DICOM',
  'EXPORT_UNAVAILABLE',
  'STUDY_NOT_READY',
  'STUDY_BUSY',
  'NOT_ANALYZED',
  'UPLOAD_TOO_LARGE',
  'TOO_MANY_FILES',
  'FILE_TOO_LARGE',
  'UNSUPPORTED_FILE',
  'UNREADABLE_STUDY',
  'TOO_MANY_STUDIES',
  'QUEUE_FULL',
  'PACS_ERROR',
  'NO_DICOMWEB',
  'SHUTTING_DOWN',
  'STORAGE_ERROR',
  'STORAGE_FULL',
  'INTERNAL',
] as const;

/** A code a service throws. */
export type ServiceErrorCode = (typeof SERVICE_ERROR_CODES)[number];

/** Every code an error of the server can carry: the service codes and the analysis problem kinds (`USAGE` reads `BAD_REQUEST`). */
export type ErrorCode = ServiceErrorCode | Exclude<ProblemKind, 'USAGE'>;

/** A failure of a server operation: a stable code and a message fit for the client. */
export class ServiceError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
  }
}

/**
 * A background job that a request waited for failed (e.g. re-making the exports): the request fails
 * with the job's code, as a failure of the server rather than of the request.
 */
export class JobFailedError extends ServiceError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'JobFailedError';
  }
}

/**
 * Any thrown value as a {@link ServiceError}. Messages of analysis errors name server paths; those are
 * replaced by `hidePath` cut away (the study's own file names are opaque ids, never client names).
 */
export function toServiceError(error: unknown, hidePath?: string): ServiceError {
  if (error instanceof ServiceError) return error;
  if (isSpinegradeError(error)) {
    return new ServiceError(error.kind === 'USAGE' ? 'BAD_REQUEST' : error.kind, scrub(describeError(error), hidePath));
  }
  const storage = storageError(error);
  if (storage) return storage;
  if (error instanceof DicomwebError) {
    return new ServiceError('PACS_ERROR', `the DICOMweb server failed: ${describeError(error)}`);
  }
  return new ServiceError('INTERNAL', `internal error: ${scrub(describeError(error), hidePath)}`);
}

/**
 * A failure of the server's own storage (a file-system call on the data folder, or the database) as
 * `STORAGE_FULL` or `STORAGE_ERROR`, naming the system's code but no path; undefined for other errors.
 */
export function storageError(error: unknown): ServiceError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  const fileSystem = typeof (error as { syscall?: unknown }).syscall === 'string';
  if (!fileSystem && !code.startsWith('SQLITE_')) return undefined;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') {
    return new ServiceError('STORAGE_FULL', `the server's data folder is full (${code}); nothing was kept`);
  }
  return new ServiceError(
    'STORAGE_ERROR',
    `the server cannot write or read its data folder (${code}); nothing was kept — the server's administrator should check it`,
  );
}

/** `text` with every occurrence of the folder `path` (a server path) cut down to the file name after it. */
export function scrub(text: string, path?: string): string {
  if (!path) return text;
  return text.split(`${path}/`).join('').split(path).join('<study>');
}
