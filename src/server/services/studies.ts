/**
 * The studies a server holds: creating them (from an upload's parts or for a PACS import), looking
 * them up, their API view, the checks other services make (ready, analysed) and deleting them with
 * their files. Knows nothing of HTTP: it throws {@link ServiceError}s.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { syncFolder } from '../../io/atomic.js';
import { ServiceError, toServiceError } from '../errors.js';
import {
  acceptFile,
  byteLimiter,
  displayName,
  fileStem,
  isCompanionName,
  type StoredFile,
  type UploadLimits,
  writeStream,
} from '../files.js';
import type { JobQueue, JobView } from '../queue.js';
import type { AnalysisStatus, StudyFindings, StudyRecord, StudyRepository, StudyStatus } from './repository.js';

/** A study as the API shows it. */
export interface StudyView {
  id: string;
  status: StudyStatus;
  source: 'upload' | 'dicomweb';
  studyInstanceUid: string | null;
  createdAt: string;
  files: number;
  bytes: number;
  error: { code: string; message: string } | null;
  analysis: {
    status: AnalysisStatus;
    jobId: string | null;
    revision: number;
    analyzedAt: string | null;
    corrections: number;
  };
}

/** One part of an upload, whatever the transport: a text field or a file's bytes. */
export type UploadPart =
  | { kind: 'field'; name: string; value: string }
  | {
      kind: 'file';
      /** The name the client gave (used only to recognise `.nii.gz` and in messages). */
      name: string | undefined;
      stream: NodeJS.ReadableStream;
      /** True when the transport cut the file at the per-file limit. */
      truncated(): boolean;
    };

/** What an upload created. */
export interface UploadResult {
  id: string;
  status: StudyStatus;
  files: number;
  bytes: number;
  kinds: Record<string, number>;
  skipped: { name: string; reason: string }[];
}

/** Options of a {@link StudyService}. */
export interface StudyServiceOptions {
  repository: StudyRepository;
  /** Folder the studies are kept in (one sub-folder each). */
  workDir: string;
  limits: UploadLimits;
  /** Most studies held at once. */
  maxStudies: number;
  queue: JobQueue;
  /** One log line (ids and codes only). */
  log: (line: string) => void;
}

const STUDY_ID = /^s-[0-9a-f]{12}$/;

/** Bytes an upload may declare beyond the limit (the multipart framing) before it is refused unread. */
const FRAMING_ALLOWANCE = 1024 * 1024;

/** Parses a pixel spacing given as `[x, y]`, `"x,y"` or one number (mm); undefined when absent. */
export function parsePixelSpacing(value: unknown): [number, number] | undefined {
  if (value === undefined || value === null) return undefined;
  const parts = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value.split(',').map((p) => Number(p.trim()))
      : [];
  const [x, y = x] = parts as number[];
  if (
    parts.length < 1 ||
    parts.length > 2 ||
    !(typeof x === 'number' && x > 0 && Number.isFinite(x)) ||
    !(typeof y === 'number' && y > 0 && Number.isFinite(y))
  ) {
    throw new ServiceError('BAD_REQUEST', 'pixelSpacing must be [x, y] (or "x,y") in mm, both positive');
  }
  return [x, y];
}

/** The studies of one server. */
export class StudyService {
  readonly limits: UploadLimits;
  private readonly options: StudyServiceOptions;
  private readonly repository: StudyRepository;
  /** What other services drop when a study is deleted (their caches). */
  private readonly forgetters: ((id: string) => void)[] = [];
  /** Aborts of the PACS imports in progress. */
  private readonly imports = new Map<string, AbortController>();
  /** Studies made by {@link create} and not yet registered or discarded: they count toward the limit. */
  private readonly unlisted = new Set<string>();

  constructor(options: StudyServiceOptions) {
    this.options = options;
    this.repository = options.repository;
    this.limits = options.limits;
  }

  /** Calls `forget` with the id of every study deleted. */
  onRemove(forget: (id: string) => void): void {
    this.forgetters.push(forget);
  }

  /** The study with this id; throws `NOT_FOUND`. */
  get(id: string): StudyRecord {
    const study = STUDY_ID.test(id) ? this.repository.get(id) : undefined;
    if (!study) throw new ServiceError('NOT_FOUND', `no study ${id.slice(0, 40)} (unknown or deleted)`);
    return study;
  }

  /** True while `study` is held (not deleted meanwhile). */
  holds(study: StudyRecord): boolean {
    return this.repository.get(study.id) !== undefined;
  }

  /** Every study, oldest first. */
  list(): StudyRecord[] {
    return this.repository.list();
  }

  /** Writes the changes made to a study and, when given, its new findings documents. */
  save(study: StudyRecord, findings?: Partial<StudyFindings>): void {
    this.repository.save(study, findings);
  }

  /** A job as the store last wrote it (one of an earlier run of the server too), or undefined. */
  storedJob(id: string): JobView | undefined {
    return this.repository.job(id);
  }

  /** Writes a job's state to the store (the log has the code when that fails; the job goes on). */
  saveJob(view: JobView): void {
    try {
      this.repository.saveJob(view);
    } catch (error) {
      this.options.log(`job ${view.id}: its state could not be stored: ${toServiceError(error).code}`);
    }
  }

  /**
   * Brings the store back after a restart: a job the process died with is marked failed with the
   * reason (so is the study's analysis status, and a level correction it carried), an import in
   * progress is marked failed, and what is not a stored study in the studies folder — a study whose
   * upload never finished, or whose deletion was cut short, and half-written temporary files — is
   * removed. Returns what it did, for the start-up log.
   */
  async recover(): Promise<{ studies: number; interrupted: number; removed: number }> {
    const interrupted = {
      code: 'INTERRUPTED',
      message: 'the server stopped while this job was queued or running; start it again',
    };
    const now = new Date().toISOString();
    let count = 0;
    for (const job of this.repository.unfinishedJobs()) {
      const study = this.repository.get(job.studyId);
      const completed = study?.lastJobId === job.id && study.lastJobStatus === 'done';
      this.repository.saveJob(
        completed
          ? { ...job, status: 'done', stage: 'done', finishedAt: now, revision: study?.revision ?? null }
          : { ...job, status: 'failed', finishedAt: now, error: interrupted },
      );
      if (!completed) count++;
    }
    for (const study of this.repository.list()) {
      let changed = false;
      if (study.lastJobStatus === 'queued' || study.lastJobStatus === 'running') {
        study.lastJobStatus = 'failed';
        changed = true;
      }
      for (const correction of study.corrections) {
        if (correction.status === 'pending') {
          correction.status = 'failed';
          correction.error = interrupted;
          changed = true;
        }
      }
      if (study.status === 'importing') {
        study.status = 'failed';
        study.error = { code: 'INTERRUPTED', message: 'the server stopped during the import; import the study again' };
        changed = true;
      }
      if (changed) this.repository.save(study);
    }
    let removed = 0;
    const entries = await readdir(this.options.workDir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(this.options.workDir, entry.name);
      const study = this.repository.get(entry.name);
      if (!study) {
        await rm(path, { recursive: true, force: true });
        removed++;
        continue;
      }
      for (const sub of [study.filesDir, join(study.dir, 'out')]) {
        for (const name of await readdir(sub).catch(() => [] as string[])) {
          if (name.startsWith('.')) await rm(join(sub, name), { recursive: true, force: true });
        }
      }
    }
    return { studies: this.repository.count(), interrupted: count, removed };
  }

  /** The API view of a study. */
  view(study: StudyRecord): StudyView {
    return {
      id: study.id,
      status: study.status,
      source: study.source,
      studyInstanceUid: study.studyInstanceUid,
      createdAt: study.createdAt,
      files: study.files.length,
      bytes: study.bytes,
      error: study.error,
      analysis: {
        status: this.analysisStatus(study),
        jobId: study.lastJobId,
        revision: study.revision,
        analyzedAt: study.analyzedAt,
        corrections: study.corrections.length,
      },
    };
  }

  /** The analysis status: the latest job's while it waits or runs, else the recorded one. */
  analysisStatus(study: StudyRecord): AnalysisStatus {
    const job = study.lastJobId ? this.options.queue.get(study.lastJobId) : undefined;
    if (job && (job.status === 'queued' || job.status === 'running')) return job.status;
    return study.lastJobStatus;
  }

  /** Creates an empty study folder (not yet listed); throws `TOO_MANY_STUDIES` when the server holds its limit. */
  async create(source: 'upload' | 'dicomweb'): Promise<StudyRecord> {
    // Uploads in progress count, so concurrent uploads cannot pass the limit together.
    const held = this.repository.count() + this.unlisted.size;
    if (held >= this.options.maxStudies) {
      throw new ServiceError(
        'TOO_MANY_STUDIES',
        `the server holds ${held} studies, its limit; delete some (DELETE /api/studies/{id})`,
      );
    }
    const id = `s-${randomBytes(6).toString('hex')}`;
    const dir = join(this.options.workDir, id);
    const filesDir = join(dir, 'files');
    this.unlisted.add(id);
    try {
      await mkdir(filesDir, { recursive: true, mode: 0o700 });
    } catch (error) {
      this.unlisted.delete(id);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw toServiceError(error);
    }
    return {
      id,
      dir,
      filesDir,
      source,
      status: source === 'upload' ? 'ready' : 'importing',
      error: null,
      createdAt: new Date().toISOString(),
      studyInstanceUid: null,
      files: [],
      bytes: 0,
      pixelSpacing: undefined,
      lastJobId: null,
      lastJobStatus: 'none',
      revision: 0,
      generation: 0,
      analyzedAt: null,
      levelOverride: null,
      corrections: [],
      heatmaps: [],
      findingsSeriesByFile: {},
      outputs: null,
    };
  }

  /** Flushes a study's new folder and files to the disk before the store lists it. */
  async syncStudy(study: StudyRecord): Promise<void> {
    await syncFolder(study.filesDir);
    await syncFolder(study.dir);
    await syncFolder(this.options.workDir);
  }

  /** Lists a study made by {@link create}. */
  register(study: StudyRecord): void {
    this.unlisted.delete(study.id);
    this.repository.add(study);
    this.options.log(`study ${study.id} created (${study.source}, ${study.files.length} files)`);
  }

  /** Removes a study's folder (it was never registered, or is being deleted). */
  async discard(study: StudyRecord): Promise<void> {
    this.unlisted.delete(study.id);
    await rm(study.dir, { recursive: true, force: true });
  }

  /** Notes the abort of a PACS import in progress (undefined when it has ended). */
  trackImport(id: string, controller: AbortController | undefined): void {
    if (controller) this.imports.set(id, controller);
    else this.imports.delete(id);
  }

  /** Throws `UPLOAD_TOO_LARGE` when an upload declares more bytes than the limit allows (before reading it). */
  checkDeclaredUpload(bytes: number): void {
    const limit = this.limits.maxUploadBytes;
    if (Number.isFinite(bytes) && bytes > limit + FRAMING_ALLOWANCE) {
      throw new ServiceError('UPLOAD_TOO_LARGE', `the upload is larger than the limit of ${limit} bytes`);
    }
  }

  /**
   * Makes a study of an upload's parts: every file is stored under an opaque name and accepted by its
   * content; `DICOMDIR` and hidden files are skipped; the field `pixelSpacing` sets the spacing of PNG
   * slices. On any refusal nothing is kept. `signal` aborts it (the client went away): the reason is thrown.
   */
  async upload(parts: AsyncIterable<UploadPart>, signal?: AbortSignal): Promise<UploadResult> {
    const { maxFiles, maxFileBytes, maxUploadBytes } = this.limits;
    const study = await this.create('upload');
    const counter = { bytes: 0 };
    const skipped: { name: string; reason: string }[] = [];
    const kinds: Record<string, number> = {};
    let part = 0;
    const iterator = parts[Symbol.asyncIterator]();
    let rejectAborted: (reason: unknown) => void = () => undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      rejectAborted = reject;
    });
    aborted.catch(() => undefined);
    const onAbort = (): void => rejectAborted(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), aborted]);
        if (next.done) break;
        const item = next.value;
        if (item.kind === 'field') {
          if (item.name === 'pixelSpacing') study.pixelSpacing = parsePixelSpacing(item.value);
          continue;
        }
        part++;
        if (isCompanionName(item.name)) {
          item.stream.resume();
          skipped.push({ name: displayName(item.name), reason: 'not an image (DICOMDIR index or hidden file)' });
          continue;
        }
        if (study.files.length >= maxFiles) {
          throw new ServiceError('TOO_MANY_FILES', `more than ${maxFiles} files in one upload`);
        }
        const stem = fileStem(study.files.length + 1);
        const temporary = join(study.filesDir, `.${stem}.part`);
        const before = counter.bytes;
        await writeStream(
          item.stream,
          temporary,
          byteLimiter(counter, maxUploadBytes, maxFileBytes, `file ${part}`),
          signal,
        );
        if (item.truncated()) {
          throw new ServiceError(
            'FILE_TOO_LARGE',
            `file ${part} is larger than the per-file limit of ${maxFileBytes} bytes`,
          );
        }
        const { file, studyInstanceUid } = await acceptFile(
          study.filesDir,
          temporary,
          stem,
          item.name,
          counter.bytes - before,
          `file ${part}`,
        );
        this.addFile(study, file);
        // Known from the upload's first DICOM file, so the study list can name it before it is opened or analysed.
        study.studyInstanceUid ??= studyInstanceUid ?? null;
        kinds[file.kind] = (kinds[file.kind] ?? 0) + 1;
      }
      if (study.files.length === 0) {
        throw new ServiceError(
          'EMPTY_UPLOAD',
          skipped.length > 0 ? 'the upload holds no image file (only skipped files)' : 'the upload holds no file',
        );
      }
      if (this.repository.persistent) await this.syncStudy(study);
      this.register(study);
    } catch (error) {
      void iterator.return?.().catch(() => undefined);
      await this.discard(study);
      throw signal?.aborted ? signal.reason : error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return { id: study.id, status: study.status, files: study.files.length, bytes: study.bytes, kinds, skipped };
  }

  /** Adds a stored file to a study. */
  addFile(study: StudyRecord, file: StoredFile): void {
    study.files.push(file);
    study.bytes += file.bytes;
  }

  /** Forgets a study and deletes its files; throws `STUDY_BUSY` while a job of it waits or runs. */
  async remove(id: string): Promise<void> {
    const study = this.get(id);
    if (this.options.queue.busy(id)) throw new ServiceError('STUDY_BUSY', `study ${id} has a job waiting or running`);
    this.imports.get(id)?.abort();
    this.imports.delete(id);
    this.repository.delete(id);
    for (const forget of this.forgetters) forget(id);
    await this.discard(study);
    this.options.log(`study ${id} deleted`);
  }

  /** Throws `STUDY_NOT_READY` while a study is importing or when its import failed. */
  requireReady(study: StudyRecord): void {
    if (study.status === 'importing') {
      throw new ServiceError(
        'STUDY_NOT_READY',
        `study ${study.id} is still being imported; wait until its status is "ready"`,
      );
    }
    if (study.status === 'failed') {
      throw new ServiceError(
        'STUDY_NOT_READY',
        `study ${study.id} failed to import: ${study.error?.message ?? 'unknown'}`,
      );
    }
  }

  /** The study's findings; throws `NOT_ANALYZED` (with what to do) before its first analysis has finished. */
  requireAnalyzed(study: StudyRecord): StudyFindings {
    const findings = this.repository.findings(study.id);
    if (findings) return findings;
    const status = this.analysisStatus(study);
    const hint =
      status === 'queued' || status === 'running'
        ? `its analysis is ${status} (job ${study.lastJobId})`
        : status === 'failed'
          ? `its analysis failed (job ${study.lastJobId})`
          : 'POST /api/studies/{id}/analyze first';
    throw new ServiceError('NOT_ANALYZED', `study ${study.id} has no findings yet: ${hint}`);
  }

  /** Aborts every PACS import in progress. */
  abortImports(): void {
    for (const controller of this.imports.values()) controller.abort();
    this.imports.clear();
  }

  /**
   * Aborts the imports and closes the store (close the queue first); a store that does not outlive
   * the process has its studies' files deleted.
   */
  async close(): Promise<void> {
    this.abortImports();
    if (this.repository.persistent) {
      this.repository.close();
      return;
    }
    for (const study of this.repository.list()) {
      await this.discard(study);
      this.repository.delete(study.id);
      for (const forget of this.forgetters) forget(study.id);
    }
  }
}
