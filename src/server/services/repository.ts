/**
 * Where the server keeps its studies. The services read and change {@link StudyRecord}s through a
 * {@link StudyRepository} and call `save` after every change, so a persistent store can replace the
 * in-memory one: a record is plain data (JSON-serialisable); what only lives while the process runs
 * (import aborts, renders in progress, analysis results, loaded volumes) stays in the services.
 */
import type { LevelOverride } from '../../localize/override.js';
import type { FindingsDocument } from '../../report/findings.js';
import type { Correction } from '../corrections.js';
import { ServiceError } from '../errors.js';
import type { StoredFile } from '../files.js';
import type { JobView } from '../queue.js';

/** Where a study is. */
export type StudyStatus = 'importing' | 'ready' | 'failed';

/** The analysis state of a study as the API shows it. */
export type AnalysisStatus = 'none' | 'queued' | 'running' | 'done' | 'failed';

/** The export files written for one findings revision. */
export interface Outputs {
  revision: number;
  dir: string;
  notes: string[];
}

/** A study held by the server: plain data, everything a persistent store would keep. */
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
  lastJobId: string | null;
  /** The analysis status once the latest job has ended (while it waits or runs, the queue knows). */
  lastJobStatus: AnalysisStatus;
  revision: number;
  /** Counts analysis results (an analysis or a level correction); artefacts are cached per generation. */
  generation: number;
  analyzedAt: string | null;
  levelOverride: LevelOverride | null;
  corrections: Correction[];
  /** Per findings series: the levels with a Grad-CAM map (in `heat/g<generation>/<series>/`). */
  heatmaps: string[][];
  /** Stored file id of a series' first file → index into `findings.studies[0].series`. */
  findingsSeriesByFile: Record<string, number>;
  /** The exports written for the latest revision that has them. */
  outputs: Outputs | null;
}

/**
 * A study's findings documents, kept beside its record (they are large: a persistent store reads them
 * when asked instead of holding every study's in memory).
 */
export interface StudyFindings {
  /** The first analysis's result, as the model gave it. */
  original: FindingsDocument;
  /** The latest analysis result (with the level override), before grade overrides. */
  base: FindingsDocument;
  /** `base` with the applied grade overrides: what the API and the exports show. */
  current: FindingsDocument;
}

/**
 * The store of a server's studies. Synchronous, as an embedded database's driver is. The services
 * keep the records they are given and change them in place (a running job holds its study), so `get`
 * returns the same object for an id while it is held — a persistent store keeps its records in
 * memory as well and writes them through on `add`, `save` and `delete`. `save` is called after every
 * change (the in-memory store holds the objects themselves, so it has nothing to do).
 */
export interface StudyRepository {
  /** True when the studies outlive the process (their files are kept on close). */
  readonly persistent: boolean;
  /** The study with this id, or undefined. */
  get(id: string): StudyRecord | undefined;
  /** Every study, oldest first. */
  list(): StudyRecord[];
  /** How many studies are held. */
  count(): number;
  /** Adds a new study. */
  add(study: StudyRecord): void;
  /**
   * Writes the changes made to a study and, when given, its new findings documents (those given
   * replace the stored ones; a study's first findings must give all three), in one write.
   */
  save(study: StudyRecord, findings?: Partial<StudyFindings>): void;
  /** The study's findings documents, or undefined before its first analysis has finished. */
  findings(id: string): StudyFindings | undefined;
  /** Forgets a study (and its jobs). */
  delete(id: string): void;
  /** Writes a job's state (on each change of status; a job of a study no longer held is not written). */
  saveJob(view: JobView): void;
  /** A job written by {@link saveJob} (also one of an earlier run of the server), or undefined. */
  job(id: string): JobView | undefined;
  /** The jobs written as queued or running: after a restart, those the process died with. */
  unfinishedJobs(): JobView[];
  /** Closes the store. */
  close(): void;
}

/** The studies in a map, for as long as the process runs. */
export class InMemoryStudyRepository implements StudyRepository {
  readonly persistent: boolean = false;
  private readonly studies = new Map<string, StudyRecord>();
  private readonly documents = new Map<string, StudyFindings>();

  get(id: string): StudyRecord | undefined {
    return this.studies.get(id);
  }

  list(): StudyRecord[] {
    return [...this.studies.values()];
  }

  count(): number {
    return this.studies.size;
  }

  add(study: StudyRecord): void {
    this.studies.set(study.id, study);
  }

  save(study: StudyRecord, findings?: Partial<StudyFindings>): void {
    // The records are the objects held here: only new findings are kept.
    if (findings) this.documents.set(study.id, mergeFindings(study.id, this.documents.get(study.id), findings));
  }

  findings(id: string): StudyFindings | undefined {
    return this.documents.get(id);
  }

  delete(id: string): void {
    this.studies.delete(id);
    this.documents.delete(id);
  }

  saveJob(_view: JobView): void {
    // The queue holds the jobs for as long as the process runs.
  }

  job(_id: string): JobView | undefined {
    return undefined;
  }

  unfinishedJobs(): JobView[] {
    return [];
  }

  close(): void {
    // Nothing is open.
  }
}

/** The findings `held` with those `given` in their place; throws when a study's first findings lack one. */
export function mergeFindings(
  id: string,
  held: StudyFindings | undefined,
  given: Partial<StudyFindings>,
): StudyFindings {
  const merged = { ...held, ...given };
  if (!merged.original || !merged.base || !merged.current) {
    throw new ServiceError(
      'INTERNAL',
      `study ${id}: its first findings must give the original, base and current documents`,
    );
  }
  return { original: merged.original, base: merged.base, current: merged.current };
}
