/**
 * Walks the paths a user gives, follows symbolic links safely and sorts every file by what its
 * bytes say it is (never by its name alone). Files that are clearly not images are skipped with a
 * reason; a file whose name claims an image format its bytes deny is an error.
 */
import type { Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { SpinegradeError } from '../errors.js';
import { fileSystemError, openRegularFile, specialFileError, specialFileKind } from './binary.js';
import { isDicomSignature } from './dicom/read.js';
import { isJpegSignature, isPngSignature } from './png.js';

/** What a file's bytes say it is. */
export type FileKind = 'dicom' | 'nifti' | 'metaimage' | 'png' | 'jpeg';

/** A file that will be read as an image. */
export interface FoundFile {
  readonly path: string;
  readonly kind: FileKind;
  /** True when the user named this file itself rather than a folder holding it. */
  readonly explicit: boolean;
}

/** A file left out of a folder walk, with the reason. */
export interface SkippedFile {
  readonly path: string;
  readonly reason: string;
}

/** The result of walking the input paths. */
export interface Discovery {
  readonly files: FoundFile[];
  readonly skipped: SkippedFile[];
}

const CLAIMED_KINDS: Record<string, FileKind> = {
  '.dcm': 'dicom',
  '.dicom': 'dicom',
  '.nii': 'nifti',
  '.mha': 'metaimage',
  '.mhd': 'metaimage',
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
};

/** Names of files that sit beside images and are never images themselves. */
export const COMPANION_EXTENSIONS: ReadonlySet<string> = new Set([
  '.raw',
  '.zraw',
  '.img',
  '.json',
  '.txt',
  '.csv',
  '.md',
  '.xml',
  '.html',
  '.log',
]);

/**
 * Finds every image file under the given paths (files or folders, recursively). Throws when a path
 * does not exist, a link loops, or a file claims a format it is not.
 */
export async function discoverFiles(paths: readonly string[]): Promise<Discovery> {
  const files: FoundFile[] = [];
  const skipped: SkippedFile[] = [];
  const visitedFolders = new Set<string>();
  for (const path of paths) {
    const info = await statOrThrow(path);
    const special = specialFileKind(info);
    if (special !== undefined) throw specialFileError(special, path);
    if (info.isDirectory()) {
      await walkFolder(path, files, skipped, visitedFolders);
    } else {
      const kind = await sniff(path);
      if (!kind) throw notAnImage(path);
      files.push({ path, kind, explicit: true });
    }
  }
  return { files, skipped };
}

/**
 * The entry names of `folder`, sorted, and the folder marked as walked; undefined when its real path
 * was walked already (a link back to it) or is `excluded`. Unreadable folders are file-system errors.
 */
export async function unvisitedFolderNames(
  folder: string,
  visited: Set<string>,
  excluded: ReadonlySet<string> = new Set(),
): Promise<string[] | undefined> {
  const real = await realpath(folder).catch((error: unknown) => {
    throw fileSystemError(error, folder);
  });
  if (visited.has(real) || excluded.has(real)) return undefined;
  visited.add(real);
  try {
    return (await readdir(folder)).sort();
  } catch (error) {
    throw fileSystemError(error, folder);
  }
}

async function walkFolder(
  folder: string,
  files: FoundFile[],
  skipped: SkippedFile[],
  visited: Set<string>,
): Promise<void> {
  const names = await unvisitedFolderNames(folder, visited);
  for (const name of names ?? []) {
    const path = join(folder, name);
    const info = await statOrThrow(path);
    if (info.isDirectory()) {
      await walkFolder(path, files, skipped, visited);
      continue;
    }
    if (!info.isFile()) {
      skipped.push({ path, reason: `${specialFileKind(info) ?? 'not a regular file'}, not read` });
      continue;
    }
    const extension = extname(name).toLowerCase();
    if (name.startsWith('.')) {
      skipped.push({ path, reason: 'hidden file' });
      continue;
    }
    if (COMPANION_EXTENSIONS.has(extension)) {
      skipped.push({ path, reason: `${extension} file (not an image on its own)` });
      continue;
    }
    const kind = await sniff(path);
    if (kind) {
      files.push({ path, kind, explicit: false });
    } else if (claimedKind(path)) {
      throw notAnImage(path);
    } else if (name === 'DICOMDIR') {
      skipped.push({ path, reason: 'DICOMDIR index (the images it lists are read directly)' });
    } else {
      skipped.push({ path, reason: 'not an image format spinegrade reads' });
    }
  }
}

async function statOrThrow(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (error) {
    throw fileSystemError(error, path);
  }
}

function claimedKind(path: string): FileKind | undefined {
  return path.toLowerCase().endsWith('.nii.gz') ? 'nifti' : CLAIMED_KINDS[extname(path).toLowerCase()];
}

function notAnImage(path: string): SpinegradeError {
  const claimed = claimedKind(path);
  const message = claimed
    ? `named like a ${claimed === 'metaimage' ? 'MetaImage' : claimed.toUpperCase()} file but its contents are not one`
    : 'not an image format spinegrade reads (DICOM, NIfTI, MetaImage, PNG, JPEG)';
  return new SpinegradeError('NOT_AN_IMAGE', message, path);
}

/** What a file is, from its first bytes; undefined when it is none of the formats spinegrade reads. */
export async function sniff(path: string): Promise<FileKind | undefined> {
  let head: Uint8Array;
  try {
    const handle = await openRegularFile(path);
    try {
      const buffer = new Uint8Array(512);
      const { bytesRead } = await handle.read(buffer, 0, 512, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw fileSystemError(error, path);
  }
  if (isDicomSignature(head)) return 'dicom';
  if (isPngSignature(head)) return 'png';
  if (isJpegSignature(head)) return 'jpeg';
  if (isNiftiHeader(head)) return 'nifti';
  if (head[0] === 0x1f && head[1] === 0x8b) {
    // gzip: a .nii.gz if the name says so (the NIfTI reader checks the header inside).
    return path.toLowerCase().endsWith('.nii.gz') ? 'nifti' : undefined;
  }
  if (isMetaImageHeader(head)) return 'metaimage';
  return undefined;
}

function isNiftiHeader(head: Uint8Array): boolean {
  if (head.length < 348) return false;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const size = view.getInt32(0, true);
  if (size !== 348 && view.getInt32(0, false) !== 348) return false;
  const magic = String.fromCharCode(head[344]!, head[345]!, head[346]!);
  return magic === 'n+1' || magic === 'ni1';
}

function isMetaImageHeader(head: Uint8Array): boolean {
  const text = new TextDecoder('latin1').decode(head.subarray(0, 256));
  return /^(ObjectType|NDims|Comment|TransformType)\s*=/m.test(text) && /(NDims|DimSize)\s*=/.test(text);
}
