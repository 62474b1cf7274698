/**
 * Every problem spinegrade reports to a user is a {@link SpinegradeError}: a one-line message that
 * names the problem and the file, and an exit code that names its kind. The table below is the
 * single source of the exit codes documented in the README.
 */

/** The kinds of problem spinegrade reports, each with its own process exit code. */
export const EXIT_CODES = {
  /** An unexpected internal error: a bug in spinegrade. */
  INTERNAL: 1,
  /** The command line is wrong (unknown command, missing or invalid option). */
  USAGE: 2,
  /** A path given on the command line does not exist. */
  NOT_FOUND: 3,
  /** A folder holds no file spinegrade can read as an image. */
  NO_IMAGES: 4,
  /** A file is not an image format spinegrade reads, or is not what its name claims. */
  NOT_AN_IMAGE: 5,
  /** A file ends before the data its header promises (truncated or corrupt). */
  TRUNCATED: 6,
  /** A DICOM file carries no pixel data. */
  NO_PIXEL_DATA: 7,
  /** The slices of one series disagree (matrix size, orientation, spacing, pixel format). */
  INCONSISTENT_SERIES: 8,
  /** Two slices of one series sit at the same position. */
  DUPLICATE_SLICES: 9,
  /** The input holds no series that spinegrade could grade (e.g. an axial-only study). */
  NO_USABLE_SERIES: 10,
  /** A header holds impossible values (non-positive sizes, spacings, or a singular orientation). */
  INVALID_HEADER: 11,
  /**
   * A header claims a volume larger than spinegrade will allocate, or a file's structure goes past
   * the bounds it parses (DICOM sequences nested too deep or holding too many items).
   */
  TOO_LARGE: 12,
  /** A valid file in a variant spinegrade does not read (transfer syntax, colour, data type). */
  UNSUPPORTED: 13,
  /** Following symbolic links leads in a circle. */
  SYMLINK_LOOP: 14,
  /** A file or folder exists but cannot be read (permissions, I/O error, a FIFO, socket or device). */
  UNREADABLE: 15,
  /** An output file cannot be written (exists, or its folder is missing or read-only). */
  OUTPUT_ERROR: 16,
} as const;

/** The name of a kind of problem, a key of {@link EXIT_CODES}. */
export type ProblemKind = keyof typeof EXIT_CODES;

/** A problem with the user's input or command, reported as one line and an exit code. */
export class SpinegradeError extends Error {
  /** The kind of problem; its exit code is `EXIT_CODES[kind]`. */
  readonly kind: ProblemKind;
  /** The file or folder the problem is about, when there is one. */
  readonly path: string | undefined;
  /** The problem without the path (`message` is `<path>: <detail>` when there is a path). */
  readonly detail: string;

  constructor(kind: ProblemKind, message: string, path?: string, options?: { cause?: unknown }) {
    super(path === undefined ? message : `${path}: ${message}`, options);
    this.name = 'SpinegradeError';
    this.kind = kind;
    this.path = path;
    this.detail = message;
  }

  /** The process exit code for this problem. */
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** True when `error` is a {@link SpinegradeError}. */
export function isSpinegradeError(error: unknown): error is SpinegradeError {
  return error instanceof SpinegradeError;
}

/** The message of any thrown value, as one line. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Text that only a JavaScript failure produces (a TypeError, a stack overflow, a missing value),
 * never a message about a file: it must not reach a user.
 */
export const JAVASCRIPT_ERROR_TEXT =
  /TypeError|ReferenceError|RangeError|SyntaxError|Cannot read propert|Cannot set propert|is not a function|is not iterable|is not defined|Maximum call stack|\bundefined\b|\bnull\b|\bNaN\b/;

/**
 * What a third-party reader or decoder said about a file, fit to show a user: its own message when
 * it raised a plain `Error` (or zlib's) about the data, nothing when it failed as JavaScript (a
 * TypeError, RangeError, stack overflow), whose text says nothing about the file.
 */
export function libraryDetail(error: unknown): string | undefined {
  if (!(error instanceof Error) || Object.getPrototypeOf(error) !== Error.prototype) return undefined;
  const text = describeError(error);
  if (text === '' || JAVASCRIPT_ERROR_TEXT.test(text)) return undefined;
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/**
 * The error for a file whose data a reader or decoder rejected (`TRUNCATED`): `what` names the data
 * (e.g. "DICOM file", "PNG data"); the library's own words follow when {@link libraryDetail} keeps them.
 */
export function corruptData(what: string, path: string | undefined, error?: unknown): SpinegradeError {
  if (error instanceof SpinegradeError) return error;
  const detail = error === undefined ? undefined : libraryDetail(error);
  return new SpinegradeError('TRUNCATED', `${what} is truncated or corrupt${detail ? ` (${detail})` : ''}`, path, {
    cause: error,
  });
}
