/** Writes that never leave a half-written file behind. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { describeError, SpinegradeError } from '../errors.js';

/** Options for {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Replace an existing file (default false: an existing file is an `OUTPUT_ERROR`). */
  overwrite?: boolean;
}

/** Flushes a file's bytes to the disk (fsync). */
export async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes a folder's entries (the names created, renamed or removed in it) to the disk. Some file
 * systems cannot fsync a folder (EINVAL, EISDIR, EPERM on a few): there the rename is as durable as it gets.
 */
export async function syncFolder(path: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    await handle.close();
  }
}

/** Flushes every file and folder under `folder` (and `folder` itself) to the disk. */
export async function syncTree(folder: string): Promise<void> {
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) await syncTree(path);
    else if (entry.isFile()) await syncFile(path);
  }
  await syncFolder(folder);
}

/**
 * Writes `data` to a temporary file beside `path`, flushes it to the disk, then renames it into
 * place and flushes the folder, so readers — and a restart after a crash or power loss — see either
 * no file (or the old one) or the whole new file. The temporary file is removed if anything fails.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await assertWritableTarget(path, options.overwrite ?? false);
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`);
  try {
    const handle = await open(temporary, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await syncFolder(dirname(path));
  } catch (error) {
    await rm(temporary, { force: true });
    throw new SpinegradeError('OUTPUT_ERROR', `cannot write: ${describeError(error)}`, path, { cause: error });
  }
}

/** Throws an `OUTPUT_ERROR` unless `path` may be written: its folder exists and, unless overwriting, it does not. */
export async function assertWritableTarget(path: string, overwrite: boolean): Promise<void> {
  const folder = dirname(path);
  const folderStat = await stat(folder).catch(() => undefined);
  if (!folderStat?.isDirectory()) {
    throw new SpinegradeError('OUTPUT_ERROR', `output folder ${folder} does not exist`, path);
  }
  const existing = await stat(path).catch(() => undefined);
  if (existing && !overwrite) {
    throw new SpinegradeError('OUTPUT_ERROR', 'output already exists (pass --overwrite to replace it)', path);
  }
  if (existing?.isDirectory()) {
    throw new SpinegradeError('OUTPUT_ERROR', 'output is a folder, expected a file path', path);
  }
}

/**
 * Writes a set of files into a new folder atomically: they are written into a temporary sibling
 * folder that is renamed to `folder` only when every file is complete.
 */
export async function writeFolderAtomic(
  folder: string,
  files: ReadonlyArray<{ name: string; data: Uint8Array | string }>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const parent = dirname(folder);
  const parentStat = await stat(parent).catch(() => undefined);
  if (!parentStat?.isDirectory()) {
    throw new SpinegradeError('OUTPUT_ERROR', `output folder ${parent} does not exist`, folder);
  }
  const existing = await stat(folder).catch(() => undefined);
  if (existing && !(options.overwrite ?? false)) {
    throw new SpinegradeError('OUTPUT_ERROR', 'output already exists (pass --overwrite to replace it)', folder);
  }
  await buildFolderAtomic(folder, async (dir) => {
    for (const file of files) await writeFile(join(dir, file.name), file.data);
  });
}

/**
 * Builds a folder atomically: `fill` writes into a hidden sibling, whose files are then flushed to the
 * disk, `beforeSwap` (if given) checks the target once more, then an existing folder is moved aside, the new one renamed into place and the
 * old one removed — or, if anything fails, the sibling is removed and the old folder put back.
 * Errors other than spinegrade's own become `OUTPUT_ERROR`.
 */
export async function buildFolderAtomic(
  folder: string,
  fill: (dir: string) => Promise<void>,
  beforeSwap?: () => Promise<void>,
): Promise<void> {
  const parent = dirname(folder);
  const tag = randomBytes(6).toString('hex');
  const temporary = join(parent, `.${basename(folder)}.${tag}.partial`);
  const aside = join(parent, `.${basename(folder)}.${tag}.old`);
  let moved = false;
  try {
    await mkdir(temporary);
    await fill(temporary);
    await syncTree(temporary);
    await beforeSwap?.();
    if (await stat(folder).catch(() => undefined)) {
      await rename(folder, aside);
      moved = true;
    }
    await rename(temporary, folder);
    await syncFolder(parent);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    if (moved) await rename(aside, folder).catch(() => undefined);
    if (error instanceof SpinegradeError) throw error;
    throw new SpinegradeError('OUTPUT_ERROR', `cannot write: ${describeError(error)}`, folder, { cause: error });
  }
  if (moved) await rm(aside, { recursive: true, force: true });
}
