/**
 * The studies a server holds and everything done to them — upload and DICOMweb import, analysis
 * jobs, corrections, exports, storing to the PACS — independent of the HTTP framework. `app.ts` maps
 * it onto routes.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AnalysisResult, AnalysisStage, Analyzer } from '../analyze/analyze.js';
import { OUTPUT_FILES, writeAnalysisOutputs } from '../analyze/outputs.js';
import { isSpinegradeError } from '../errors.js';
import type { LevelOverride } from '../localize/override.js';
import { type DicomwebClient, DicomwebError, isDicomUid } from '../pacs/client.js';
import { decodePart10 } from '../report/dicomCodes.js';
import type { FindingsDocument } from '../report/findings.js';
import { SEGMENTATION_STORAGE } from '../report/seg.js';
import { COMPREHENSIVE_3D_SR_STORAGE } from '../report/sr.js';
import {
  applyGradeCorrections,
  type Correction,
  type CorrectionRequest,
  correctionId,
  currentValue,
  type GradeCorrection,
  type LevelsCorrection,
} from './corrections.js';
import { HttpError, scrub, toHttpError } from './errors.js';
import { acceptFile, fileStem, type StoredFile, type UploadLimits } from './files.js';
import { type LoadedSeries, loadSeries, type SeriesInfo } from './images.js';
import { type JobContext, JobQueue, type JobView } from './queue.js';

/** Where a study is. */
export type StudyStatus = 'importing' | 'ready' | 'failed';

/** The analysis state of a study as the API shows it. */
export type AnalysisStatus = 'none' | 'queued' | 'running' | 'done' | 'failed';

/** A study held by the server (internal). */
export interface StudyRecord {
  id: string;
  dir: string;
  filesDir: string;
  source: 'upload' | 'dicomweb';
  status: StudyStatus;
  error: { code: string; message: string } | null;
  createdAt: string;
  studyInstanceUid: string | null;
  files: StoredFile[];
  bytes: number;
  pixelSpacing: [number, number] | undefined;
  importAbort: AbortController | undefined;
  lastJobId: string | null;
  lastJobStatus: AnalysisStatus;
  revision: number;
  /** Counts analysis results (an analysis or a level correction); artefacts are cached per generation. */
  generation: number;
  analyzedAt: string | null;
  original: FindingsDocument | null;
  /** The latest analysis result (with the level override), before grade overrides. */
  base: FindingsDocument | null;
  /** `base` with the applied grade overrides: what the API and the exports show. */
  current: FindingsDocument | null;
  levelOverride: LevelOverride | null;
  corrections: Correction[];
  /** Stored file id of a series' first file → index into `findings.studies[0].series`. */
  findingsSeriesByFile: Map<string, number>;
  outputs: Outputs | null;
  rendering: { revision: number; promise: Promise<Outputs> } | null;
}

/** The export files written for one findings revision. */
export interface Outputs {
  revision: number;
  dir: string;
  notes: string[];
}

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

/** What `GET …/findings` returns. */
export interface FindingsView {
  studyId: string;
  revision: number;
  findings: FindingsDocument;
  original: FindingsDocument;
  levelOverride: LevelOverride | null;
  corrections: Correction[];
}

/** One instance stored to the PACS. */
export interface StoredInstanceRef {
  kind: 'sr' | 'seg';
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
}

/** Options of a {@link StudyService}. */
export interface StudyServiceOptions {
  /** Folder the studies are kept in (one sub-folder each). */
  workDir: string;
  /** The models, loaded on first use. */
  analyzer: () => Promise<Analyzer>;
  dicomweb?: DicomwebClient;
  limits: UploadLimits;
  /** Most studies held at once. */
  maxStudies: number;
  concurrency: number;
  maxQueued: number;
  /** One log line (ids and codes only). */
  log: (line: string) => void;
}

const STUDY_ID = /^s-[0-9a-f]{12}$/;

/** The studies of one server and the work on them. */
export class StudyService {
  readonly queue: JobQueue;
  readonly limits: UploadLimits;
  readonly dicomweb: DicomwebClient | undefined;
  private readonly studies = new Map<string, StudyRecord>();
  private readonly options: StudyServiceOptions;
  /** The latest analysis result of a few studies, for re-rendering after a grade override. */
  private readonly results = new Map<string, { generation: number; result: AnalysisResult }>();
  /** The loaded series (with volumes) of a few studies, for the image routes. */
  private readonly loaded = new Map<string, Promise<LoadedSeries[]>>();
  private static readonly RESULTS_KEPT = 2;
  private static readonly SERIES_KEPT = 3;

  constructor(options: StudyServiceOptions) {
    this.options = options;
    this.limits = options.limits;
    this.dicomweb = options.dicomweb;
    this.queue = new JobQueue({
      concurrency: options.concurrency,
      maxQueued: options.maxQueued,
      onFailure: (view) =>
        options.log(`job ${view.id} (${view.kind}, study ${view.studyId}) failed: ${view.error?.code}`),
    });
  }

  /** The study with this id; throws 404. */
  get(id: string): StudyRecord {
    const study = STUDY_ID.test(id) ? this.studies.get(id) : undefined;
    if (!study) throw new HttpError(404, 'NOT_FOUND', `no study ${id.slice(0, 40)} (unknown or deleted)`);
    return study;
  }

  /** Every study, oldest first. */
  list(): StudyRecord[] {
    return [...this.studies.values()];
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

  private analysisStatus(study: StudyRecord): AnalysisStatus {
    const job = study.lastJobId ? this.queue.get(study.lastJobId) : undefined;
    if (job && (job.status === 'queued' || job.status === 'running')) return job.status;
    return study.lastJobStatus;
  }

  /** Creates an empty study folder (not yet listed); throws 429 when the server holds too many studies. */
  async create(source: 'upload' | 'dicomweb'): Promise<StudyRecord> {
    if (this.studies.size >= this.options.maxStudies) {
      throw new HttpError(
        429,
        'TOO_MANY_STUDIES',
        `the server holds ${this.studies.size} studies, its limit; delete some (DELETE /api/studies/{id})`,
      );
    }
    const id = `s-${randomBytes(6).toString('hex')}`;
    const dir = join(this.options.workDir, id);
    const filesDir = join(dir, 'files');
    await mkdir(filesDir, { recursive: true, mode: 0o700 });
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
      importAbort: undefined,
      lastJobId: null,
      lastJobStatus: 'none',
      revision: 0,
      generation: 0,
      analyzedAt: null,
      original: null,
      base: null,
      current: null,
      levelOverride: null,
      corrections: [],
      findingsSeriesByFile: new Map(),
      outputs: null,
      rendering: null,
    };
  }

  /** Lists a study created with {@link create}. */
  register(study: StudyRecord): void {
    this.studies.set(study.id, study);
    this.options.log(`study ${study.id} created (${study.source}, ${study.files.length} files)`);
  }

  /** Removes a study's folder (it was never registered, or is being deleted). */
  async discard(study: StudyRecord): Promise<void> {
    await rm(study.dir, { recursive: true, force: true });
  }

  /** Forgets a study and deletes its files; 409 while a job of it waits or runs. */
  async remove(id: string): Promise<void> {
    const study = this.get(id);
    if (this.queue.busy(id)) throw new HttpError(409, 'STUDY_BUSY', `study ${id} has a job waiting or running`);
    study.importAbort?.abort();
    this.studies.delete(id);
    this.results.delete(id);
    this.loaded.delete(id);
    await this.discard(study);
    this.options.log(`study ${id} deleted`);
  }

  /** Starts a WADO-RS retrieval of a study into a new study; returns it at once (status `importing`). */
  async importFromDicomweb(studyInstanceUid: unknown): Promise<StudyRecord> {
    const client = this.requireDicomweb();
    if (!isDicomUid(studyInstanceUid)) {
      throw new HttpError(400, 'BAD_REQUEST', '"studyInstanceUid" must be a DICOM UID (digits and dots)');
    }
    const study = await this.create('dicomweb');
    study.studyInstanceUid = studyInstanceUid;
    const controller = new AbortController();
    study.importAbort = controller;
    this.register(study);
    void this.retrieve(study, client, studyInstanceUid, controller.signal).then(
      () => {
        study.status = 'ready';
        study.importAbort = undefined;
        this.options.log(`study ${study.id} imported (${study.files.length} files)`);
      },
      async (error: unknown) => {
        study.importAbort = undefined;
        const http = importError(error, studyInstanceUid, study.dir);
        study.status = 'failed';
        study.error = { code: http.code, message: http.message };
        this.options.log(`study ${study.id} import failed: ${http.code}`);
        await rm(study.filesDir, { recursive: true, force: true }).catch(() => undefined);
      },
    );
    return study;
  }

  private async retrieve(study: StudyRecord, client: DicomwebClient, uid: string, signal: AbortSignal): Promise<void> {
    const { maxUploadBytes, maxFiles, maxFileBytes } = this.limits;
    const received: { stem: string; temporary: string; bytes: number }[] = [];
    await client.retrieveInstances(
      uid,
      undefined,
      (_headers, index) => {
        const stem = fileStem(index + 1);
        const temporary = join(study.filesDir, `.${stem}.part`);
        const entry = { stem, temporary, bytes: 0 };
        received.push(entry);
        const out = createWriteStream(temporary, { flags: 'wx', mode: 0o600 });
        return {
          write: (chunk) =>
            new Promise<void>((resolve, reject) => {
              entry.bytes += chunk.length;
              out.write(chunk, (error) => (error ? reject(error) : resolve()));
            }),
          end: () => new Promise<void>((resolve) => out.end(() => resolve())),
        };
      },
      { maxBytes: maxUploadBytes, maxParts: maxFiles, maxPartBytes: maxFileBytes },
      signal,
    );
    if (received.length === 0) throw new HttpError(404, 'NOT_FOUND', `the PACS returned no instances of study ${uid}`);
    for (const [n, part] of received.entries()) {
      const file = await acceptFile(
        study.filesDir,
        part.temporary,
        part.stem,
        undefined,
        part.bytes,
        `instance ${n + 1}`,
      );
      if (file.kind !== 'dicom') throw new HttpError(502, 'PACS_ERROR', `instance ${n + 1} from the PACS is not DICOM`);
      study.files.push(file);
      study.bytes += file.bytes;
    }
  }

  private requireDicomweb(): DicomwebClient {
    if (!this.dicomweb) {
      throw new HttpError(
        503,
        'NO_DICOMWEB',
        'this server has no DICOMweb server configured (start it with --dicomweb <url>)',
      );
    }
    return this.dicomweb;
  }

  private requireReady(study: StudyRecord): void {
    if (study.status === 'importing') {
      throw new HttpError(
        409,
        'STUDY_NOT_READY',
        `study ${study.id} is still being imported; wait until its status is "ready"`,
      );
    }
    if (study.status === 'failed') {
      throw new HttpError(
        409,
        'STUDY_NOT_READY',
        `study ${study.id} failed to import: ${study.error?.message ?? 'unknown'}`,
      );
    }
  }

  // ---- images ----

  /** The study's series as read (cached; the volumes of a few studies stay in memory). */
  async series(study: StudyRecord): Promise<{ info: SeriesInfo; loaded: LoadedSeries }[]> {
    this.requireReady(study);
    let entry = this.loaded.get(study.id);
    if (entry) {
      this.loaded.delete(study.id);
    } else {
      entry = loadSeries(study.filesDir, study.pixelSpacing).catch((error: unknown) => {
        this.loaded.delete(study.id);
        const http = toHttpError(error, study.filesDir);
        throw new HttpError(422, 'UNREADABLE_STUDY', `the study's files cannot be read: ${http.message}`);
      });
    }
    this.loaded.set(study.id, entry);
    while (this.loaded.size > StudyService.SERIES_KEPT) this.loaded.delete(this.loaded.keys().next().value as string);
    const loaded = await entry;
    if (study.studyInstanceUid === null) study.studyInstanceUid = loaded[0]?.volume.metadata.studyInstanceUid ?? null;
    return loaded.map((l) => ({
      info: { ...l.info, findingsSeries: study.findingsSeriesByFile.get(l.fileIds[0] ?? '') ?? null },
      loaded: l,
    }));
  }

  /** Series `n` of a study; 404 when out of range. */
  async oneSeries(study: StudyRecord, n: string): Promise<{ info: SeriesInfo; loaded: LoadedSeries }> {
    const all = await this.series(study);
    const index = /^\d{1,4}$/.test(n) ? Number(n) : -1;
    const found = all[index];
    if (!found)
      throw new HttpError(
        404,
        'NOT_FOUND',
        `no series ${n.slice(0, 20)} (the study has ${all.length}: 0 to ${all.length - 1})`,
      );
    return found;
  }

  /** The stored file `fileId` of a study; 404 when unknown. */
  file(study: StudyRecord, fileId: string): { path: string; file: StoredFile } {
    this.requireReady(study);
    const file = study.files.find((f) => f.id === fileId);
    if (!file) throw new HttpError(404, 'NOT_FOUND', `no file ${fileId.slice(0, 40)} in study ${study.id}`);
    return { path: join(study.filesDir, file.id), file };
  }

  // ---- analysis ----

  /** Queues an analysis; the study starts afresh when it is done. */
  analyze(study: StudyRecord, levelOverride: LevelOverride | undefined, pixelSpacing?: [number, number]): JobView {
    this.requireReady(study);
    if (pixelSpacing) study.pixelSpacing = pixelSpacing;
    const job = this.queue.add(study.id, 'analyze', (context) =>
      this.runAnalysis(study, context, 'analyze', levelOverride),
    );
    study.lastJobId = job.id;
    this.options.log(`study ${study.id}: analysis queued as ${job.id}`);
    return job;
  }

  private async analyzeFiles(
    study: StudyRecord,
    context: JobContext,
    override: LevelOverride | undefined,
  ): Promise<AnalysisResult> {
    const analyzer = await this.options.analyzer();
    try {
      return await analyzer.analyze([study.filesDir], {
        ...(override ? { levelOverride: override } : {}),
        ...(study.pixelSpacing ? { pixelSpacing: study.pixelSpacing } : {}),
        onProgress: (stage: AnalysisStage, done: number, total: number) => context.progress(stage, done, total),
        signal: context.signal,
      });
    } catch (error) {
      if (error instanceof HttpError) throw error;
      const http = toHttpError(error, study.filesDir);
      if (isSpinegradeError(error) && error.kind === 'USAGE' && /level override|--levels/.test(error.message)) {
        throw new HttpError(400, 'BAD_OVERRIDE', http.message);
      }
      throw http;
    }
  }

  private async runAnalysis(
    study: StudyRecord,
    context: JobContext,
    kind: 'analyze' | 'levels',
    override: LevelOverride | undefined,
    correction?: LevelsCorrection,
  ): Promise<number> {
    let result: AnalysisResult;
    try {
      result = await this.analyzeFiles(study, context, override);
    } catch (error) {
      study.lastJobStatus = 'failed';
      if (correction) {
        const http = toHttpError(error);
        correction.status = 'failed';
        correction.error = { code: http.code, message: http.message };
      }
      throw error;
    }
    if (this.studies.get(study.id) !== study) throw new HttpError(404, 'NOT_FOUND', `study ${study.id} was deleted`);
    study.generation++;
    study.revision++;
    if (kind === 'analyze') {
      study.original = result.findings;
      study.corrections = [];
      study.levelOverride = override ?? null;
    } else {
      for (const c of study.corrections) {
        if (c.type === 'grade' && c.status === 'applied') c.status = 'superseded';
      }
      if (correction) correction.status = 'applied';
      study.levelOverride = override ?? null;
    }
    study.base = result.findings;
    study.current = applyGradeCorrections(result.findings, study.corrections);
    study.analyzedAt = new Date().toISOString();
    study.lastJobStatus = 'done';
    study.studyInstanceUid ??= result.findings.studies[0]?.studyInstanceUid ?? null;
    study.findingsSeriesByFile = new Map(
      (result.artefacts[0]?.series ?? []).map((s, n) => [basename(s.volume.metadata.sourcePaths[0] ?? ''), n]),
    );
    this.keepResult(study, result);
    const revision = study.revision;
    context.progress('outputs', 0, 1);
    await this.render(study, result);
    context.progress('outputs', 1, 1);
    return revision;
  }

  private keepResult(study: StudyRecord, result: AnalysisResult): void {
    this.results.delete(study.id);
    this.results.set(study.id, { generation: study.generation, result });
    while (this.results.size > StudyService.RESULTS_KEPT)
      this.results.delete(this.results.keys().next().value as string);
  }

  /** Writes the exports of the current findings (revision as now) with the artefacts of `result`. */
  private async render(study: StudyRecord, result: AnalysisResult): Promise<Outputs> {
    const revision = study.revision;
    const findings = study.current as FindingsDocument;
    const outDir = join(study.dir, 'out');
    const dir = join(outDir, `r${revision}`);
    await mkdir(outDir, { recursive: true });
    await rm(dir, { recursive: true, force: true });
    let notes: string[];
    try {
      ({ notes } = await writeAnalysisOutputs(
        { ...result, findings },
        { kind: 'folder', path: dir },
        { overwrite: true },
      ));
    } catch (error) {
      throw toHttpError(error, study.dir);
    }
    const outputs: Outputs = { revision, dir, notes };
    const previous = study.outputs;
    if (!previous || previous.revision < revision) {
      study.outputs = outputs;
      // Keep the previous revision's folder a little (a download may be reading it); remove older ones.
      if (previous) {
        const stale = previous.revision - 1;
        if (stale > 0) await rm(join(outDir, `r${stale}`), { recursive: true, force: true });
      }
    }
    return outputs;
  }

  /** The exports of the current findings, made first when they are out of date. */
  async outputs(study: StudyRecord): Promise<Outputs> {
    this.requireAnalyzed(study);
    if (study.outputs?.revision === study.revision) return study.outputs;
    if (study.rendering?.revision === study.revision) return study.rendering.promise;
    const revision = study.revision;
    const kept = this.results.get(study.id);
    let promise: Promise<Outputs>;
    if (kept && kept.generation === study.generation) {
      promise = this.render(study, kept.result);
    } else {
      // The artefacts are gone: analyse again (same override) at the front of the queue.
      const job = this.queue.add(
        study.id,
        'render',
        async (context) => {
          if (study.outputs?.revision === study.revision) return study.revision;
          const result = await this.analyzeFiles(study, context, study.levelOverride ?? undefined);
          this.keepResult(study, result);
          context.progress('outputs', 0, 1);
          await this.render(study, result);
          return study.revision;
        },
        { front: true },
      );
      promise = this.queue.wait(job.id).then((view) => {
        if (view.status === 'failed' || !study.outputs) {
          throw new HttpError(
            500,
            view.error?.code ?? 'INTERNAL',
            view.error?.message ?? 'the exports could not be made',
          );
        }
        return study.outputs;
      });
    }
    const rendering = { revision, promise };
    study.rendering = rendering;
    promise
      .finally(() => {
        if (study.rendering === rendering) study.rendering = null;
      })
      .catch(() => undefined);
    return promise;
  }

  /** One export file's bytes; 404 `EXPORT_UNAVAILABLE` with the reason when it was not made. */
  async exportFile(study: StudyRecord, name: (typeof OUTPUT_FILES)[keyof typeof OUTPUT_FILES]): Promise<Uint8Array> {
    const outputs = await this.outputs(study);
    const path = join(outputs.dir, name);
    if (!(await stat(path).catch(() => undefined))?.isFile()) {
      const relevant = outputs.notes.filter((n) => n.includes(name));
      const why = relevant.length > 0 ? relevant.join('; ') : 'it was not written for this study';
      throw new HttpError(404, 'EXPORT_UNAVAILABLE', `${name} is not available: ${scrub(why, study.dir)}`);
    }
    return readFile(path);
  }

  private requireAnalyzed(study: StudyRecord): void {
    if (!study.current) {
      const status = this.analysisStatus(study);
      const hint =
        status === 'queued' || status === 'running'
          ? `its analysis is ${status} (job ${study.lastJobId})`
          : status === 'failed'
            ? `its analysis failed (job ${study.lastJobId})`
            : 'POST /api/studies/{id}/analyze first';
      throw new HttpError(409, 'NOT_ANALYZED', `study ${study.id} has no findings yet: ${hint}`);
    }
  }

  /** The current findings with the original and the corrections. */
  findings(study: StudyRecord): FindingsView {
    this.requireAnalyzed(study);
    return {
      studyId: study.id,
      revision: study.revision,
      findings: study.current as FindingsDocument,
      original: study.original as FindingsDocument,
      levelOverride: study.levelOverride,
      corrections: study.corrections,
    };
  }

  /** Records a correction: a level move queues a re-grading job; a grade override applies at once. */
  correct(study: StudyRecord, request: CorrectionRequest): { correction: Correction; job?: JobView; revision: number } {
    this.requireAnalyzed(study);
    const at = new Date().toISOString();
    if (request.type === 'levels') {
      const correction: LevelsCorrection = {
        id: correctionId(),
        type: 'levels',
        status: 'pending',
        by: request.by,
        at,
        levelOverride: request.levelOverride,
        jobId: null,
      };
      const job = this.queue.add(study.id, 'levels', (context) =>
        this.runAnalysis(study, context, 'levels', request.levelOverride, correction),
      );
      correction.jobId = job.id;
      study.corrections.push(correction);
      study.lastJobId = job.id;
      this.options.log(`study ${study.id}: level correction ${correction.id} queued as ${job.id}`);
      return { correction, job, revision: study.revision };
    }
    const previous = currentValue(
      study.current as FindingsDocument,
      request.level,
      request.finding,
      request.seriesIndex,
    );
    const correction: GradeCorrection = {
      id: correctionId(),
      type: 'grade',
      status: 'applied',
      by: request.by,
      at,
      level: request.level,
      finding: request.finding,
      value: request.value,
      previous,
      reason: request.reason,
      seriesIndex: request.seriesIndex,
    };
    for (const c of study.corrections) {
      if (
        c.type === 'grade' &&
        c.status === 'applied' &&
        c.level === request.level &&
        c.finding === request.finding &&
        c.seriesIndex === request.seriesIndex
      ) {
        c.status = 'replaced';
      }
    }
    study.corrections.push(correction);
    study.current = applyGradeCorrections(study.base as FindingsDocument, study.corrections);
    study.revision++;
    this.options.log(`study ${study.id}: grade override ${correction.id} applied (revision ${study.revision})`);
    return { correction, revision: study.revision };
  }

  /** STOW-RS of the SR and SEG of the current findings to the PACS. */
  async store(study: StudyRecord): Promise<StoredInstanceRef[]> {
    const client = this.requireDicomweb();
    this.requireAnalyzed(study);
    const sr = await this.exportFile(study, OUTPUT_FILES.sr);
    const seg = await this.exportFile(study, OUTPUT_FILES.seg);
    const refs = [
      { kind: 'sr' as const, data: sr },
      { kind: 'seg' as const, data: seg },
    ].map(({ kind, data }) => {
      const header = decodePart10(data, true);
      return {
        kind,
        sopClassUid: String(header.SOPClassUID ?? (kind === 'sr' ? COMPREHENSIVE_3D_SR_STORAGE : SEGMENTATION_STORAGE)),
        sopInstanceUid: String(header.SOPInstanceUID ?? ''),
        seriesInstanceUid: String(header.SeriesInstanceUID ?? ''),
      };
    });
    const studyUid = study.studyInstanceUid ?? undefined;
    let result: Awaited<ReturnType<DicomwebClient['store']>>;
    try {
      result = await client.store([sr, seg], studyUid);
    } catch (error) {
      throw toHttpError(error);
    }
    if (result.status === 409 || result.failed.length > 0) {
      const reasons = result.failed
        .map((f) => `${f.sopInstanceUid ?? '?'}: reason ${f.failureReason ?? '?'}`)
        .join('; ');
      throw new HttpError(
        502,
        'PACS_ERROR',
        `the PACS refused ${result.failed.length || 'the'} instance(s) (HTTP ${result.status}) ${reasons}`,
      );
    }
    this.options.log(`study ${study.id}: SR and SEG stored to the PACS`);
    return refs;
  }

  /** Stops the queue, aborts imports, waits for running jobs and deletes every study's files. */
  async close(): Promise<void> {
    for (const study of this.studies.values()) study.importAbort?.abort();
    await this.queue.close();
    for (const study of this.studies.values()) await this.discard(study);
    this.studies.clear();
    this.results.clear();
    this.loaded.clear();
  }
}

/** A failed DICOMweb import as an API error: a study the PACS does not have, limits exceeded, or a PACS failure. */
function importError(error: unknown, uid: string, hidePath: string): HttpError {
  if (error instanceof DicomwebError && error.status === 404) {
    return new HttpError(404, 'NOT_FOUND', `the PACS has no study ${uid}`);
  }
  if (error instanceof DicomwebError && error.status === 413) {
    return new HttpError(
      413,
      'UPLOAD_TOO_LARGE',
      `the study is larger than this server accepts (${error.message.replace(/^WADO-RS retrieval: /, '')})`,
    );
  }
  return toHttpError(error, hidePath);
}
