/**
 * Files of a dropped or chosen study: folders dropped are walked (the File and Directory Entries API),
 * chosen folders come with their relative paths. Hidden files are left out here already (the server
 * skips them too).
 */
import type { UploadFile } from './api.js';

const hidden = (name: string): boolean => name.startsWith('.') || name === 'Thumbs.db' || name === 'desktop.ini';

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

function entryFile(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function walk(entry: FileSystemEntry, out: UploadFile[]): Promise<void> {
  if (hidden(entry.name)) return;
  if (entry.isFile) {
    out.push({ file: await entryFile(entry as FileSystemFileEntry), path: entry.fullPath.replace(/^\//, '') });
    return;
  }
  if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries answers in batches until it answers an empty one.
    for (let batch = await readEntries(reader); batch.length; batch = await readEntries(reader)) {
      for (const child of batch) await walk(child, out);
    }
  }
}

/** Every file of a drop, folders walked. */
export async function filesFromDrop(data: DataTransfer): Promise<UploadFile[]> {
  const out: UploadFile[] = [];
  const entries = [...data.items]
    .filter((item) => item.kind === 'file')
    .map((item) => item.webkitGetAsEntry?.())
    .filter((entry): entry is FileSystemEntry => Boolean(entry));
  if (entries.length) {
    for (const entry of entries) await walk(entry, out);
    return out;
  }
  return filesFromList(data.files);
}

/** Every file of a file input (with its folder path when a folder was chosen). */
export function filesFromList(list: FileList | null): UploadFile[] {
  return [...(list ?? [])]
    .filter((file) => !hidden(file.name))
    .map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/** A short name for what was dropped: its top folder, or the first file and a count. */
export function describeFiles(files: readonly UploadFile[]): string {
  const first = files[0];
  if (!first) return 'empty';
  const top = first.path.includes('/') ? first.path.split('/')[0] : null;
  if (top && files.every((f) => f.path.startsWith(`${top}/`))) return `${top} (${files.length} files)`;
  return files.length === 1 ? first.path : `${first.path} + ${files.length - 1} more`;
}
