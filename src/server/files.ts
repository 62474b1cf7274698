/**
 * Storing a study's files on the server: every file gets an opaque name (`f0001.dcm`, …) in the
 * study's own folder — a client's file name is never part of a path — and is accepted only when its
 * bytes are DICOM, NIfTI, MetaImage (`.mha`, data inside) or PNG.
 */
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSpinegradeError } from '../errors.js';
import { syncFile } from '../io/atomic.js';
import { type DicomFile, readDicomFile } from '../io/dicom/read.js';
import { type FileKind, sniff } from '../io/discover.js';
import { ServiceError } from './errors.js';

/** Kinds of file the server accepts. */
export type AcceptedKind = Exclude<FileKind, 'jpeg'>;

/** A stored file of a study. */
export interface StoredFile {
  /** The stored name (also its id in the API), e.g. `f0001.dcm`. */
  id: string;
  kind: AcceptedKind;
  bytes: number;
}

/** A file accepted by {@link acceptFile}, with the StudyInstanceUID a DICOM file names. */
export interface AcceptedFile {
  file: StoredFile;
  studyInstanceUid: string | undefined;
}

/** Upload limits. */
export interface UploadLimits {
  /** Most bytes of all files of one study. */
  maxUploadBytes: number;
  /** Most files of one study. */
  maxFiles: number;
  /** Most bytes of one file. */
  maxFileBytes: number;
}

const EXTENSIONS: Record<AcceptedKind, string> = {
  dicom: '.dcm',
  nifti: '.nii',
  metaimage: '.mha',
  png: '.png',
};

/** The stored name stem of the n-th file (1-based): `f0001`. */
export function fileStem(n: number): string {
  return `f${String(n).padStart(4, '0')}`;
}

/** Stored file ids: the stem and one of the extensions the server writes. */
export const FILE_ID_PATTERN = /^f\d{4,6}\.(dcm|nii|nii\.gz|mha|png)$/;

/** A client's file name made safe to echo back: last path component, printable, at most 120 characters. */
export function displayName(name: string | undefined): string {
  if (!name) return '(unnamed)';
  const last = name.replace(/\\/g, '/').split('/').filter(Boolean).pop() ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const clean = last.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 120);
  return clean === '' ? '(unnamed)' : clean;
}

/** True for names a folder drop brings along that are never images: `DICOMDIR`, hidden files. */
export function isCompanionName(name: string | undefined): boolean {
  const last = displayName(name);
  return last.toUpperCase() === 'DICOMDIR' || last.startsWith('.');
}

/**
 * Counts the bytes flowing through and fails as soon as they pass a limit, while the body streams:
 * `UPLOAD_TOO_LARGE` past `limit` (shared across the files of one upload by `counter`),
 * `FILE_TOO_LARGE` when this one file passes `fileLimit`.
 */
export function byteLimiter(
  counter: { bytes: number },
  limit: number,
  fileLimit = Number.POSITIVE_INFINITY,
  label = 'a file',
): Transform {
  let fileBytes = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      counter.bytes += chunk.length;
      fileBytes += chunk.length;
      if (counter.bytes > limit) {
        callback(new ServiceError('UPLOAD_TOO_LARGE', `the study is larger than the limit of ${limit} bytes`));
        return;
      }
      if (fileBytes > fileLimit) {
        callback(
          new ServiceError('FILE_TOO_LARGE', `${label} is larger than the per-file limit of ${fileLimit} bytes`),
        );
        return;
      }
      callback(null, chunk);
    },
  });
}

/**
 * Writes `source` to `path` (which must not exist), through `limiter` when given, and flushes it to
 * the disk; `signal` aborts the copy.
 */
export async function writeStream(
  source: NodeJS.ReadableStream | AsyncIterable<Uint8Array>,
  path: string,
  limiter?: Transform,
  signal?: AbortSignal,
): Promise<void> {
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  const options = signal ? { signal } : {};
  if (limiter) await pipeline(source, limiter, out, options);
  else await pipeline(source, out, options);
  await syncFile(path);
}

async function isSelfContainedMetaImage(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(8192);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const match = /^\s*ElementDataFile\s*=\s*(\S+)/m.exec(buffer.subarray(0, bytesRead).toString('latin1'));
    return match?.[1] === 'LOCAL';
  } finally {
    await handle.close();
  }
}

/**
 * Why a DICOM file cannot be analysed, read as the analysis reads it (header, and for an image the
 * pixel data's presence and length), or undefined when it can: a truncated file is refused at upload.
 */
async function dicomProblem(path: string): Promise<{ problem?: string; studyInstanceUid?: string }> {
  let file: DicomFile;
  try {
    file = await readDicomFile(path);
  } catch (error) {
    if (isSpinegradeError(error)) return { problem: error.detail };
    throw error;
  }
  if (file.isImage && file.dataset.PixelData === undefined) {
    return { problem: 'DICOM image without pixel data (the file is truncated or incomplete)' };
  }
  return file.studyInstanceUid === 'unknown-study' ? {} : { studyInstanceUid: file.studyInstanceUid };
}

/**
 * Checks the file written at `temporary` and renames it to its stored name `<stem><ext>` in `dir`.
 * Throws `UNSUPPORTED_FILE` (after deleting it) when it is not an accepted image. `clientName` is
 * only used to recognise `.nii.gz` and in messages.
 */
export async function acceptFile(
  dir: string,
  temporary: string,
  stem: string,
  clientName: string | undefined,
  bytes: number,
  label: string,
): Promise<AcceptedFile> {
  const refuse = async (why: string): Promise<never> => {
    await rm(temporary, { force: true });
    throw new ServiceError('UNSUPPORTED_FILE', `${label} (${displayName(clientName)}): ${why}`);
  };
  if (bytes === 0) return refuse('the file is empty');
  let kind = await sniff(temporary);
  let extension: string | undefined;
  if (kind === undefined && clientName?.toLowerCase().endsWith('.nii.gz')) {
    // sniff recognises gzip as NIfTI only by the name; give the temporary file that name and look again.
    const named = `${temporary}.nii.gz`;
    await rename(temporary, named);
    temporary = named;
    kind = await sniff(named);
    extension = '.nii.gz';
  }
  if (kind === undefined) return refuse('not DICOM, NIfTI, MetaImage (.mha) or PNG');
  if (kind === 'jpeg') return refuse('JPEG is not accepted (upload DICOM, NIfTI, MetaImage .mha or PNG)');
  let studyInstanceUid: string | undefined;
  if (kind === 'dicom') {
    const checked = await dicomProblem(temporary);
    if (checked.problem) return refuse(checked.problem);
    studyInstanceUid = checked.studyInstanceUid;
  }
  if (kind === 'metaimage' && !(await isSelfContainedMetaImage(temporary))) {
    return refuse('a MetaImage header with a separate data file (.mhd + .raw) is not accepted; upload a .mha');
  }
  const id = `${stem}${extension ?? EXTENSIONS[kind]}`;
  await rename(temporary, join(dir, id));
  return { file: { id, kind, bytes }, studyInstanceUid };
}
