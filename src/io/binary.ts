/** Byte-level helpers shared by the file readers: exact reads, byte swapping, error mapping. */
import { constants, type Stats } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { createUnzip } from 'node:zlib';
import { corruptData, describeError, SpinegradeError } from '../errors.js';

/** The `code` of a Node system or zlib error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** True for errors zlib raises on a corrupt or cut-off stream. */
export function isZlibError(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && (code.startsWith('Z_') || code.startsWith('ERR_ZLIB'));
}

/** A failure while inflating `what` (a zlib error is `TRUNCATED`, anything else a file-system problem). */
export function decompressionError(error: unknown, path: string, what: string): SpinegradeError {
  if (error instanceof SpinegradeError) return error;
  if (isZlibError(error)) return corruptData(what, path, error);
  return fileSystemError(error, path);
}

/** A file-system error as the {@link SpinegradeError} a user should see (a SpinegradeError passes through). */
export function fileSystemError(error: unknown, path: string): SpinegradeError {
  if (error instanceof SpinegradeError) return error;
  switch (errorCode(error)) {
    case 'ENOENT':
      return new SpinegradeError('NOT_FOUND', 'no such file or folder', path, { cause: error });
    case 'ENOTDIR':
      return new SpinegradeError('NOT_FOUND', 'a part of the path is not a folder', path, { cause: error });
    case 'ELOOP':
      return new SpinegradeError('SYMLINK_LOOP', 'symbolic links loop back on themselves', path, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new SpinegradeError('UNREADABLE', 'permission denied', path, { cause: error });
    case 'EISDIR':
      return new SpinegradeError('UNREADABLE', 'is a folder, expected a file', path, { cause: error });
    default:
      return new SpinegradeError('UNREADABLE', `cannot read (${describeError(error)})`, path, { cause: error });
  }
}

/** What kind of special file `info` describes; undefined for a regular file or a folder. */
export function specialFileKind(info: Stats): string | undefined {
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return undefined;
}

/** The error for a special file given where an image file is expected. */
export function specialFileError(kind: string, path: string): SpinegradeError {
  return new SpinegradeError('UNREADABLE', `is ${kind}, not a regular file; spinegrade reads regular files only`, path);
}

/**
 * Opens a regular file for reading. A FIFO, socket or device is refused by type, from `stat`, and
 * never opened (opening one has effects: a FIFO's writer is let go, a tape rewinds). Should a file be
 * swapped for one between the `stat` and the `open`, the open does not block (a FIFO without a
 * writer would wait forever) and the handle's own type is checked before anything is read.
 */
export async function openRegularFile(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    const special = specialFileKind(await stat(path));
    if (special !== undefined) throw specialFileError(special, path);
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (errorCode(error) === 'ENXIO') throw specialFileError('a socket or a device with nothing behind it', path);
    throw fileSystemError(error, path);
  }
  try {
    const info = await handle.stat();
    const special = specialFileKind(info);
    if (special !== undefined) throw specialFileError(special, path);
    if (info.isDirectory()) throw new SpinegradeError('UNREADABLE', 'is a folder, expected a file', path);
    return handle;
  } catch (error) {
    await handle.close();
    throw fileSystemError(error, path);
  }
}

/** The whole of a regular file (see {@link openRegularFile}); file-system errors as {@link SpinegradeError}s. */
export async function readRegularFile(path: string): Promise<Buffer> {
  const handle = await openRegularFile(path);
  try {
    return await handle.readFile();
  } catch (error) {
    throw fileSystemError(error, path);
  } finally {
    await handle.close();
  }
}

/** Reads exactly `length` bytes at `position`; a file that ends first is `TRUNCATED`. */
export async function readExactly(
  handle: FileHandle,
  position: number,
  length: number,
  path: string,
): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let done = 0;
  try {
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } catch (error) {
    throw fileSystemError(error, path);
  }
  if (done < length) {
    throw new SpinegradeError('TRUNCATED', `the file ended while reading ${length} bytes at offset ${position}`, path);
  }
  return buffer;
}

/** Reverses the byte order of each `width`-byte word in place. */
export function swapBytes(bytes: Uint8Array, width: number): void {
  for (let n = 0; n + width <= bytes.length; n += width) {
    for (let lo = n, hi = n + width - 1; lo < hi; lo++, hi--) {
      const t = bytes[lo] as number;
      bytes[lo] = bytes[hi] as number;
      bytes[hi] = t;
    }
  }
}

/**
 * Inflates the zlib or gzip stream at `[start, end]` of a file (to its end when `end` is absent) and
 * hands each inflated chunk to `onChunk`; a corrupt stream or read error becomes a {@link SpinegradeError} about `what`.
 */
export async function forEachInflatedChunk(
  handle: FileHandle,
  range: { readonly start: number; readonly end?: number },
  onChunk: (chunk: Buffer) => void,
  what: string,
  path: string,
): Promise<void> {
  const source = handle.createReadStream({ ...range, autoClose: false });
  const unzip = createUnzip();
  source.on('error', (error) => unzip.destroy(error));
  source.pipe(unzip);
  try {
    for await (const chunk of unzip as AsyncIterable<Buffer>) onChunk(chunk);
  } catch (error) {
    throw decompressionError(error, path, what);
  } finally {
    source.unpipe(unzip);
    source.destroy();
    unzip.destroy();
  }
}
