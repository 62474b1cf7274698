/**
 * The studies of a cohort, found once by the batch coordinator: either every study under a folder
 * tree (DICOM files grouped by Study Instance UID wherever they lie; each NIfTI or MetaImage file
 * a study; the PNG/JPEG slices of one folder a study, as `analyze` groups them, when a pixel spacing
 * is given) or the rows of a manifest CSV
 * (`study_id,path[,pixel_spacing]`).
 *
 * Discovery never gives up on one bad file: a file whose bytes are not what its name claims, or a
 * DICOM header that cannot be read, becomes a study of its own that the worker then fails with the
 * reader's reason, so the cohort table says why.
 */
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { readCsv } from '../datasets/csv.js';
import { describeError, SpinegradeError } from '../errors.js';
import { fileSystemError, openRegularFile } from '../io/binary.js';
import { parsePart10 } from '../io/dicom/parse.js';
import { COMPANION_EXTENSIONS, type FileKind, sniff, unvisitedFolderNames } from '../io/discover.js';
import { parsePixelSpacing } from '../io/pixelSpacing.js';

/** One study to analyse: the unit of work (one job) of a batch. */
export interface BatchStudy {
  /**
   * What identifies the study across runs: the Study Instance UID (DICOM), the file's path relative
   * to the input root (other formats), or the manifest's `study_id`.
   */
  readonly key: string;
  /** A file-system-safe name derived from the key: the study's folder under `out/studies/`. */
  readonly id: string;
  /** Absolute paths of the files (or, from a manifest, the file or folder) to analyse. */
  readonly inputs: readonly string[];
  /** Where the study is, for people: the folder(s) or file relative to the input root, or the manifest path. */
  readonly source: string;
  /** `dicom`, `nifti`, `metaimage`, `png`, `jpeg`, or `manifest` for a manifest row. */
  readonly format: FileKind | 'manifest';
  /** In-plane spacing (mm) for PNG/JPEG slices. */
  readonly pixelSpacing?: readonly [number, number];
}

/** What was found under the input. */
export interface BatchDiscovery {
  /** Sorted by key. */
  readonly studies: BatchStudy[];
  /** Files left out, with the reason, counted by reason. */
  readonly skipped: ReadonlyMap<string, number>;
}

/** Options of {@link discoverBatchStudies}. */
export interface BatchDiscoveryOptions {
  /** Spacing for PNG/JPEG slices found in a folder tree (without it they are skipped). */
  pixelSpacing?: readonly [number, number];
  /** Folders never walked (the batch's own output folder when it lies inside the input). */
  exclude?: readonly string[];
  /** How many DICOM headers are read at once (default 8). */
  parallel?: number;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

/**
 * The folder name of a study: the key itself when it is already safe (letters, digits, `.`, `_`,
 * `-`, at most 80 characters, not starting with a dot), else a readable, sanitised prefix plus 8 hex
 * digits of the key's SHA-256, so different keys never share a folder.
 */
export function studyFolderId(key: string): string {
  if (SAFE_ID.test(key)) return key;
  const readable = key
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._-]+/, '')
    .slice(0, 60);
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return `${readable === '' ? 'study' : readable}-${hash}`;
}

/** The format a file name claims. */
function claimedKind(path: string): FileKind | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.nii.gz') || lower.endsWith('.nii')) return 'nifti';
  const extension = extname(lower);
  if (extension === '.dcm' || extension === '.dicom') return 'dicom';
  if (extension === '.mha' || extension === '.mhd') return 'metaimage';
  if (extension === '.png') return 'png';
  if (extension === '.jpg' || extension === '.jpeg') return 'jpeg';
  return undefined;
}

/**
 * Finds the studies under a folder tree, a single image file, or in a manifest CSV (a path ending in
 * `.csv`). Throws `NOT_FOUND` for a missing input and `NO_IMAGES` when there is no study at all.
 */
export async function discoverBatchStudies(
  input: string,
  options: BatchDiscoveryOptions = {},
): Promise<BatchDiscovery> {
  const root = resolve(input);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(root);
  } catch (error) {
    throw fileSystemError(error, input);
  }
  const discovery =
    info.isFile() && root.toLowerCase().endsWith('.csv')
      ? await readManifest(root, options.pixelSpacing)
      : await walkInput(root, info.isDirectory(), options);
  if (discovery.studies.length === 0) {
    const skipped = [...discovery.skipped].map(([reason, n]) => `${n} ${reason}`).join('; ');
    throw new SpinegradeError('NO_IMAGES', `no study found${skipped === '' ? '' : ` (skipped: ${skipped})`}`, input);
  }
  const byId = new Map<string, string>();
  for (const study of discovery.studies) {
    const clash = byId.get(study.id.toLowerCase());
    if (clash !== undefined) {
      throw new SpinegradeError(
        'USAGE',
        `studies "${clash}" and "${study.key}" would share the output folder "${study.id}" (names differ only in case)`,
        input,
      );
    }
    byId.set(study.id.toLowerCase(), study.key);
  }
  return discovery;
}

/**
 * Reads `study_id,path[,pixel_spacing]`; paths are relative to the manifest's folder; a row without
 * a pixel spacing takes `defaultSpacing` (from `--pixel-spacing`).
 */
async function readManifest(manifest: string, defaultSpacing?: readonly [number, number]): Promise<BatchDiscovery> {
  const table = await readCsv(manifest, { required: ['study_id', 'path'] });
  const folder = dirname(manifest);
  const seen = new Map<string, number>();
  const studies: BatchStudy[] = [];
  table.rows.forEach((row, n) => {
    const line = table.lines[n] ?? n + 2;
    const key = (row.study_id ?? '').trim();
    const path = (row.path ?? '').trim();
    if (key === '' || path === '') {
      throw new SpinegradeError('INVALID_HEADER', `line ${line}: study_id and path must not be empty`, manifest);
    }
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `line ${line}: study_id "${key}" was already given on line ${earlier}`,
        manifest,
      );
    }
    seen.set(key, line);
    const spacingText = (row.pixel_spacing ?? '').trim();
    let pixelSpacing: readonly [number, number] | undefined = defaultSpacing;
    try {
      if (spacingText !== '') pixelSpacing = parsePixelSpacing(spacingText.replace(/[;x\s]+/g, ','));
    } catch (error) {
      throw new SpinegradeError('INVALID_HEADER', `line ${line}: pixel_spacing: ${describeError(error)}`, manifest);
    }
    const absolute = isAbsolute(path) ? path : resolve(folder, path);
    studies.push({
      key,
      id: studyFolderId(key),
      inputs: [absolute],
      source: path,
      format: 'manifest',
      ...(pixelSpacing ? { pixelSpacing } : {}),
    });
  });
  studies.sort((a, b) => compareKeys(a.key, b.key));
  return { studies, skipped: new Map() };
}

const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A DICOM file's study, from its header (Study Instance UID; whether it holds an image). */
interface DicomHeader {
  studyInstanceUid: string | undefined;
  isImage: boolean;
}

/** Reads the header of a DICOM file up to the pixel data: the first 16 KiB, else the whole file. */
async function readDicomHeader(path: string): Promise<DicomHeader> {
  const size = (await stat(path)).size;
  for (const length of [16 * 1024, 256 * 1024, size]) {
    const bytes = Buffer.alloc(Math.min(length, size));
    const handle = await openRegularFile(path);
    try {
      await handle.read(bytes, 0, bytes.length, 0);
    } finally {
      await handle.close();
    }
    const whole = bytes.length >= size;
    let dict: Record<string, { Value?: unknown[] }>;
    try {
      dict = parsePart10(bytes, path, { untilPixelData: true, complete: whole }).dict as Record<
        string,
        { Value?: unknown[] }
      >;
    } catch (error) {
      if (whole) throw error;
      continue;
    }
    if (!whole && !('7FE00010' in dict)) continue; // the header may go on past what was read
    const uid = dict['0020000D']?.Value?.[0];
    return {
      studyInstanceUid:
        typeof uid === 'string' && uid.replace(/\0/g, '').trim() !== '' ? uid.replace(/\0/g, '').trim() : undefined,
      isImage: dict['00280010'] !== undefined && dict['00280011'] !== undefined,
    };
  }
  throw new Error('unreachable');
}

/** Runs `task` over `items`, at most `parallel` at a time, keeping the order of the results. */
async function mapParallel<T, R>(items: readonly T[], parallel: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, async () => {
    while (next < items.length) {
      const n = next++;
      results[n] = await task(items[n] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** A path relative to the root with `/` separators (the key of a non-DICOM study). */
function keyOf(root: string, path: string, rootIsFolder: boolean): string {
  const rel = rootIsFolder ? relative(root, path) : basename(path);
  return rel.split(sep).join('/');
}

async function walkInput(root: string, isFolder: boolean, options: BatchDiscoveryOptions): Promise<BatchDiscovery> {
  const skipped = new Map<string, number>();
  const skip = (reason: string): void => {
    skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
  };
  const files: { path: string; kind: FileKind | undefined; claimed: FileKind | undefined }[] = [];
  const excluded = new Set<string>();
  for (const folder of options.exclude ?? []) {
    excluded.add(await realpath(folder).catch(() => resolve(folder)));
  }
  const visited = new Set<string>();
  const walk = async (folder: string): Promise<void> => {
    const names = await unvisitedFolderNames(folder, visited, excluded);
    for (const name of names ?? []) {
      const path = join(folder, name);
      if (name.startsWith('.')) {
        skip('hidden file(s) or folder(s)');
        continue;
      }
      const entry = await stat(path).catch(() => undefined);
      if (!entry) {
        skip('unreadable entry(ies) or broken link(s)');
      } else if (entry.isDirectory()) {
        await walk(path);
      } else if (!entry.isFile()) {
        skip('special file(s)');
      } else if (COMPANION_EXTENSIONS.has(extname(name).toLowerCase()) || name === 'DICOMDIR') {
        skip('companion file(s) (.raw, .json, DICOMDIR, …)');
      } else {
        files.push({ path, kind: await sniff(path).catch(() => undefined), claimed: claimedKind(path) });
      }
    }
  };
  if (isFolder) await walk(root);
  else files.push({ path: root, kind: await sniff(root).catch(() => undefined), claimed: claimedKind(root) });

  const studies: BatchStudy[] = [];
  const single = (path: string, format: FileKind, pixelSpacing?: readonly [number, number]): void => {
    const key = keyOf(root, path, isFolder);
    studies.push({
      key,
      id: studyFolderId(key),
      inputs: [path],
      source: key,
      format,
      ...(pixelSpacing ? { pixelSpacing } : {}),
    });
  };
  const dicomFiles: string[] = [];
  // PNG/JPEG slices: one study per folder, as `analyze` groups them (its T1 and T2 slices fused).
  const picturesByFolder = new Map<string, { paths: string[]; kind: FileKind }>();
  for (const file of files) {
    const kind = file.kind ?? file.claimed;
    if (kind === undefined) skip('file(s) in no image format spinegrade reads');
    else if (kind === 'dicom') dicomFiles.push(file.path);
    else if (kind === 'png' || kind === 'jpeg') {
      if (!options.pixelSpacing) skip('PNG/JPEG slice(s) (they need --pixel-spacing)');
      else if (!isFolder) single(file.path, kind, options.pixelSpacing);
      else {
        const folder = dirname(file.path);
        const group = picturesByFolder.get(folder);
        if (group) group.paths.push(file.path);
        else picturesByFolder.set(folder, { paths: [file.path], kind });
      }
    } else single(file.path, kind);
  }
  for (const [folder, { paths, kind }] of picturesByFolder) {
    const key = keyOf(root, folder, isFolder) || basename(root);
    studies.push({
      key,
      id: studyFolderId(key),
      inputs: paths.sort(),
      source: key,
      format: kind,
      ...(options.pixelSpacing ? { pixelSpacing: options.pixelSpacing } : {}),
    });
  }

  // DICOM: one study per Study Instance UID, wherever its files lie.
  const headers = await mapParallel(dicomFiles, options.parallel ?? 8, async (path) => {
    try {
      return { path, header: await readDicomHeader(path) };
    } catch {
      return { path, header: undefined };
    }
  });
  const byUid = new Map<string, string[]>();
  for (const { path, header } of headers) {
    if (!header) {
      single(path, 'dicom'); // unreadable header: its own study, failed by the worker with the reason
    } else if (!header.isImage) {
      skip('DICOM object(s) without an image (SR, presentation state, …)');
    } else {
      const uid = header.studyInstanceUid ?? `no-study-uid:${keyOf(root, dirname(path), isFolder)}`;
      const group = byUid.get(uid);
      if (group) group.push(path);
      else byUid.set(uid, [path]);
    }
  }
  for (const [uid, paths] of byUid) {
    const folders = [...new Set(paths.map((p) => keyOf(root, dirname(p), isFolder) || '.'))].sort();
    studies.push({ key: uid, id: studyFolderId(uid), inputs: paths, source: folders.join(';'), format: 'dicom' });
  }
  studies.sort((a, b) => compareKeys(a.key, b.key));
  return { studies, skipped };
}
