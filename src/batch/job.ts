/**
 * The batch job: one study, analysed and written under `out/studies/<id>/`. The same function runs
 * in a BullMQ worker and in the in-process fallback, so both have the same semantics:
 *
 * - **Idempotent.** A study whose folder already holds a done record (`batch.json`) for the same
 *   model version is not analysed again; a job delivered twice (a worker killed after writing, a
 *   stalled job) finishes without recomputing.
 * - **Atomic.** The outputs and the done record are assembled in `out/studies/.tmp/` and renamed into
 *   place together, so `out/studies/<id>/` is either absent, the previous whole result, or the new
 *   whole result — never half-written, never two copies.
 * - **Failures on disk.** When a study fails for good (an input problem, which is never retried, or
 *   the last attempt), `out/failed/<id>.json` records why; a later success removes it.
 *
 * Each step is also appended to a journal, `out/log/<host>-<pid>.jsonl` (one file per process).
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { AnalysisTimings, Analyzer } from '../analyze/analyze.js';
import { writeAnalysisOutputs } from '../analyze/outputs.js';
import { describeError, type ProblemKind, SpinegradeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { DEFAULT_LOCALIZER_DIR, DEFAULT_MODEL_DIR } from '../store/store.js';
import { packageRoot } from '../util/package.js';

/** What a job carries (JSON in Redis): everything a worker on any machine needs. */
export interface BatchJobData {
  /** The study's key (see `BatchStudy.key`). */
  studyKey: string;
  /** Its folder name under `out/studies/`. */
  studyId: string;
  /** Absolute paths to analyse. */
  inputs: string[];
  /** In-plane spacing (mm) of PNG/JPEG slices. */
  pixelSpacing?: [number, number];
  /** The batch's output folder (absolute; the same path on every machine that runs workers). */
  outDir: string;
  /** {@link ModelVersion.id} of the models the job must be analysed with. */
  modelVersion: string;
}

/** Which models (and which spinegrade) produced a result: the key of resuming. */
export interface ModelVersion {
  /** SHA-256 (hex) over the spinegrade version and every file of the grader and localiser folders. */
  id: string;
  /** Its first 12 hex digits, for people. */
  short: string;
  /** spinegrade's version. */
  software: string;
  graderDir: string;
  localizerDir: string;
}

/** The model folders a batch or worker uses (default: the bundled models). */
export interface ModelChoice {
  model?: string;
  localizer?: string;
}

async function hashFolder(hash: ReturnType<typeof createHash>, label: string, folder: string): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(folder)).sort();
  } catch (error) {
    throw new SpinegradeError('NOT_FOUND', `model folder cannot be read (${describeError(error)})`, folder);
  }
  hash.update(`${label}\n`);
  for (const name of names) {
    if (name.startsWith('.') || name.toLowerCase().endsWith('.md')) continue; // cards and notes do not change results
    const path = join(folder, name);
    if (!(await stat(path)).isFile()) continue;
    hash.update(`${name}\n`);
    hash.update(
      createHash('sha256')
        .update(await readFile(path))
        .digest(),
    );
  }
}

/**
 * The version of the models a batch runs with: a hash of the spinegrade version and of the contents
 * (not the paths) of every file in the grader and localiser folders except Markdown, so two machines
 * with the same models agree and any retrained weight or calibration changes it.
 */
export async function modelVersion(choice: ModelChoice = {}): Promise<ModelVersion> {
  const graderDir = resolve(choice.model ?? DEFAULT_MODEL_DIR);
  const localizerDir = resolve(choice.localizer ?? DEFAULT_LOCALIZER_DIR);
  const software =
    (JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ??
    'unknown';
  const hash = createHash('sha256').update(`spinegrade ${software}\n`);
  await hashFolder(hash, 'grader', graderDir);
  await hashFolder(hash, 'localizer', localizerDir);
  const id = hash.digest('hex');
  return { id, short: id.slice(0, 12), software, graderDir, localizerDir };
}

/** The BullMQ queue of one model version: workers only ever take jobs made for their own models. */
export function queueName(version: string): string {
  return `spinegrade-batch-${version.slice(0, 16)}`;
}

/** The job id: a hash of the study key and the model version, so enqueueing twice adds one job. */
export function batchJobId(studyKey: string, version: string): string {
  return createHash('sha256').update(`${studyKey}\n${version}`).digest('hex').slice(0, 40);
}

/** `out/studies/<id>/`: the study's outputs (findings.json, report files) and its done record. */
export function studyOutputDir(outDir: string, studyId: string): string {
  return join(outDir, 'studies', studyId);
}

/** The done record's file name inside a study's output folder. */
export const DONE_RECORD = 'batch.json';

/** `out/failed/<id>.json`. */
export function failureRecordPath(outDir: string, studyId: string): string {
  return join(outDir, 'failed', `${studyId}.json`);
}

/** Who ran a job. */
export interface WorkerIdentity {
  host: string;
  pid: number;
}

/** The identity of this process. */
export function thisWorker(): WorkerIdentity {
  return { host: hostname(), pid: process.pid };
}

/** `batch.json` in a study's output folder: the proof that it finished, with what and when. */
export interface DoneRecord {
  schema: 'spinegrade/batch-study';
  version: 1;
  studyKey: string;
  studyId: string;
  inputs: string[];
  modelVersion: string;
  software: string;
  /** Which attempt of the job produced it (1 = first). */
  attempt: number;
  worker: WorkerIdentity;
  startedAt: string;
  finishedAt: string;
  /** Milliseconds: analysis stages (read, localize, grade, …) and writing the outputs. */
  timings: AnalysisTimings & { write: number };
  /** Files of the report folder, relative to it. */
  files: string[];
  /** Notes of the output writer (files it could not make, and why). */
  notes: string[];
}

/** `out/failed/<id>.json`: why a study could not be analysed. */
export interface FailureRecord {
  schema: 'spinegrade/batch-failure';
  version: 1;
  studyKey: string;
  studyId: string;
  inputs: string[];
  modelVersion: string;
  /** One line. */
  reason: string;
  /** The kind of problem (a SpinegradeError kind such as `NOT_AN_IMAGE`, `INTERNAL`, or `STALLED`). */
  kind: string;
  attempts: number;
  worker: WorkerIdentity | null;
  failedAt: string;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The done record of a study, when it finished with this model version. */
export async function readDoneRecord(
  outDir: string,
  studyId: string,
  version: string,
): Promise<DoneRecord | undefined> {
  const record = await readJson<DoneRecord>(join(studyOutputDir(outDir, studyId), DONE_RECORD));
  return record?.schema === 'spinegrade/batch-study' && record.modelVersion === version ? record : undefined;
}

/** The failure record of a study, when it failed with this model version. */
export async function readFailureRecord(
  outDir: string,
  studyId: string,
  version: string,
): Promise<FailureRecord | undefined> {
  const record = await readJson<FailureRecord>(failureRecordPath(outDir, studyId));
  return record?.schema === 'spinegrade/batch-failure' && record.modelVersion === version ? record : undefined;
}

/** Where a study stands on disk for a model version: a done record wins over a failure record. */
export async function studyState(
  outDir: string,
  studyId: string,
  version: string,
): Promise<'done' | 'failed' | 'pending'> {
  if (await readDoneRecord(outDir, studyId, version)) return 'done';
  if (await readFailureRecord(outDir, studyId, version)) return 'failed';
  return 'pending';
}

/** Writes (replaces) a study's failure record atomically. */
export async function writeFailureRecord(outDir: string, record: FailureRecord): Promise<void> {
  await mkdir(join(outDir, 'failed'), { recursive: true });
  await writeFileAtomic(failureRecordPath(outDir, record.studyId), `${JSON.stringify(record, null, 2)}\n`, {
    overwrite: true,
  });
}

/** Input problems: the same bytes fail the same way every time, so they are never retried. */
const PERMANENT_KINDS: ReadonlySet<ProblemKind> = new Set<ProblemKind>([
  'USAGE',
  'NOT_FOUND',
  'NO_IMAGES',
  'NOT_AN_IMAGE',
  'TRUNCATED',
  'NO_PIXEL_DATA',
  'INCONSISTENT_SERIES',
  'DUPLICATE_SLICES',
  'NO_USABLE_SERIES',
  'INVALID_HEADER',
  'TOO_LARGE',
  'UNSUPPORTED',
  'SYMLINK_LOOP',
]);

/** False for problems with the study's files (retrying cannot help); true for anything else. */
export function isRetryable(error: unknown): boolean {
  return !(error instanceof SpinegradeError && PERMANENT_KINDS.has(error.kind));
}

/** The kind recorded for a failure. */
export function failureKind(error: unknown): string {
  return error instanceof SpinegradeError ? error.kind : 'INTERNAL';
}

/** One line of a process's journal. */
export interface JournalEntry {
  /** `start`: analysis begins; `done`: outputs committed; `skip`: already done, nothing computed; `fail`: attempt failed. */
  event: 'start' | 'done' | 'skip' | 'fail';
  studyId: string;
  attempt: number;
  ms?: number;
  reason?: string;
  final?: boolean;
}

/** Appends one entry to `out/log/<host>-<pid>.jsonl` (best effort: a journal problem never fails a job). */
export async function journal(outDir: string, entry: JournalEntry): Promise<void> {
  const me = thisWorker();
  const line = `${JSON.stringify({ time: new Date().toISOString(), host: me.host, pid: me.pid, ...entry })}\n`;
  try {
    await mkdir(join(outDir, 'log'), { recursive: true });
    await appendFile(join(outDir, 'log', `${me.host}-${me.pid}.jsonl`), line);
  } catch {
    // the journal is an audit trail, not the result
  }
}

/** A study that failed; `final` when it will not be tried again (its failure record is written). */
export class StudyFailure extends Error {
  constructor(
    message: string,
    readonly kind: string,
    readonly retryable: boolean,
    readonly final: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StudyFailure';
  }
}

/** How one run of the job is going. */
export interface StudyAttempt {
  /** 1-based attempt number. */
  attempt: number;
  /** Attempts allowed in all. */
  maxAttempts: number;
  /** Aborts the analysis (between series). */
  signal?: AbortSignal;
}

/** What the job did: analysed and committed the study, or found it already done. */
export type StudyOutcome = { status: 'done'; record: DoneRecord } | { status: 'already-done'; record: DoneRecord };

/** Moves a freshly written folder into place, replacing an older one whole. */
async function commitFolder(temporary: string, final: string, aside: string): Promise<void> {
  let moved = false;
  try {
    await rename(final, aside);
    moved = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    await rename(temporary, final);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Another run of the same job committed in between: its result is the same study with the same
    // models, so keep it and drop ours.
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    await rm(temporary, { recursive: true, force: true });
  }
  if (moved) await rm(aside, { recursive: true, force: true });
}

/**
 * Runs the job: analyses `data.inputs` with `analyzer` and commits the outputs under
 * `out/studies/<id>/` (see the module comment). Throws a {@link StudyFailure}; when it is final the
 * failure record is already written.
 */
export async function processStudy(
  analyzer: Analyzer,
  data: BatchJobData,
  attempt: StudyAttempt,
): Promise<StudyOutcome> {
  const { outDir, studyId } = data;
  const existing = await readDoneRecord(outDir, studyId, data.modelVersion);
  if (existing) {
    await journal(outDir, { event: 'skip', studyId, attempt: attempt.attempt });
    return { status: 'already-done', record: existing };
  }
  const started = new Date();
  await journal(outDir, { event: 'start', studyId, attempt: attempt.attempt });
  const staging = join(outDir, 'studies', '.tmp');
  const tag = `${studyId}.${randomBytes(6).toString('hex')}`;
  const temporary = join(staging, tag);
  try {
    await mkdir(staging, { recursive: true });
    const result = await analyzer.analyze(data.inputs, {
      ...(data.pixelSpacing ? { pixelSpacing: data.pixelSpacing } : {}),
      ...(attempt.signal ? { signal: attempt.signal } : {}),
    });
    const writeStarted = performance.now();
    const written = await writeAnalysisOutputs(result, { kind: 'folder', path: temporary });
    const record: DoneRecord = {
      schema: 'spinegrade/batch-study',
      version: 1,
      studyKey: data.studyKey,
      studyId,
      inputs: data.inputs,
      modelVersion: data.modelVersion,
      software: result.findings.software.version,
      attempt: attempt.attempt,
      worker: thisWorker(),
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      timings: { ...result.timings, write: performance.now() - writeStarted },
      files: written.files.map((file) => file.slice(temporary.length + 1)),
      notes: written.notes,
    };
    await writeFileAtomic(join(temporary, DONE_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    await commitFolder(temporary, studyOutputDir(outDir, studyId), join(staging, `${tag}.old`));
    await rm(failureRecordPath(outDir, studyId), { force: true });
    await journal(outDir, { event: 'done', studyId, attempt: attempt.attempt, ms: Date.now() - started.getTime() });
    return { status: 'done', record };
  } catch (error) {
    await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
    const reason = describeError(error);
    const retryable = isRetryable(error) && !attempt.signal?.aborted;
    const final = !retryable || attempt.attempt >= attempt.maxAttempts;
    const kind = failureKind(error);
    if (final && !attempt.signal?.aborted) {
      await writeFailureRecord(outDir, {
        schema: 'spinegrade/batch-failure',
        version: 1,
        studyKey: data.studyKey,
        studyId,
        inputs: data.inputs,
        modelVersion: data.modelVersion,
        reason,
        kind,
        attempts: attempt.attempt,
        worker: thisWorker(),
        failedAt: new Date().toISOString(),
      });
    }
    await journal(outDir, { event: 'fail', studyId, attempt: attempt.attempt, reason, final });
    throw new StudyFailure(reason, kind, retryable, final, { cause: error });
  }
}

/** Removes leftovers of killed runs from `out/studies/.tmp/` older than `maxAgeMs` (default one hour). */
export async function cleanStaging(outDir: string, maxAgeMs = 3_600_000): Promise<void> {
  const staging = join(outDir, 'studies', '.tmp');
  const names = await readdir(staging).catch(() => [] as string[]);
  const now = Date.now();
  for (const name of names) {
    const path = join(staging, name);
    const info = await stat(path).catch(() => undefined);
    if (info && now - info.mtimeMs > maxAgeMs) await rm(path, { recursive: true, force: true });
  }
}
