/**
 * The server's persistent store: a data folder with the studies' files (`studies/<id>/`) and an
 * SQLite database (`spinegrade.db`, through better-sqlite3) indexing the studies, their findings
 * (the model's and the current ones), the corrections with who, when and why, and the jobs' states.
 * Records are held in memory as well (the services change them in place) and written through, each
 * write one transaction, synchronous and durable (`synchronous = FULL`) before the caller answers.
 * The findings documents (~100 KB of JSON a study, three of them) are not: they are read from the
 * database when asked for, and only the last few studies' are kept, so memory does not grow with
 * the number of studies held.
 *
 * The schema has a version (`PRAGMA user_version`); {@link MIGRATIONS} takes a database of any older
 * version to the current one on open, in one transaction. A database newer than this program is refused.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describeError, SpinegradeError } from '../../errors.js';
import type { Correction } from '../corrections.js';
import type { JobView } from '../queue.js';
import { InMemoryStudyRepository, mergeFindings, type StudyFindings, type StudyRecord } from './repository.js';

/** The part of better-sqlite3's statement API used here. */
interface Statement {
  run(...parameters: unknown[]): { changes: number };
  get(...parameters: unknown[]): unknown;
  all(...parameters: unknown[]): unknown[];
}

/** The part of better-sqlite3's database API used here. */
interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(source: string, options?: { simple: boolean }): unknown;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
  close(): void;
}

const require = createRequire(import.meta.url);

/** The file name of the database in the data folder. */
export const DATABASE_FILE = 'spinegrade.db';

/** The folder of the studies' files in the data folder. */
export const STUDIES_FOLDER = 'studies';

/**
 * The schema, one migration per version: `MIGRATIONS[n]` takes version n to n + 1. Append only —
 * a released migration never changes; a new column or table is a new entry.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE studies (
     id TEXT PRIMARY KEY,
     seq INTEGER NOT NULL UNIQUE,
     created_at TEXT NOT NULL,
     status TEXT NOT NULL,
     study_instance_uid TEXT,
     revision INTEGER NOT NULL,
     record TEXT NOT NULL
   );
   CREATE TABLE findings (
     study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
     kind TEXT NOT NULL CHECK (kind IN ('original', 'base', 'current')),
     document TEXT NOT NULL,
     PRIMARY KEY (study_id, kind)
   );
   CREATE TABLE corrections (
     study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     id TEXT NOT NULL,
     type TEXT NOT NULL,
     status TEXT NOT NULL,
     made_by TEXT NOT NULL,
     made_at TEXT NOT NULL,
     reason TEXT,
     body TEXT NOT NULL,
     PRIMARY KEY (study_id, seq)
   );
   CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     study_id TEXT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
     kind TEXT NOT NULL,
     status TEXT NOT NULL,
     created_at TEXT NOT NULL,
     finished_at TEXT,
     view TEXT NOT NULL
   );
   CREATE INDEX jobs_by_study ON jobs (study_id);`,
];

/** The schema version this program writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

type StatementName =
  | 'insertStudy'
  | 'updateStudy'
  | 'deleteStudy'
  | 'upsertFindings'
  | 'upsertCorrection'
  | 'trimCorrections'
  | 'upsertJob'
  | 'job'
  | 'unfinishedJobs'
  | 'findings';

const FINDINGS_KINDS = ['original', 'base', 'current'] as const;

/** What was last written of a study's record and corrections, to write only what changed. */
interface Written {
  record: string;
  corrections: string[];
}

/** How many studies' findings documents are kept in memory (those read or written last). */
const FINDINGS_KEPT = 4;

/** The record without what has tables of its own and without the paths (derived from the data folder). */
function recordColumn(study: StudyRecord): string {
  const { corrections: _k, dir: _d, filesDir: _f, ...rest } = study;
  return JSON.stringify({ ...rest, outputs: study.outputs ? { ...study.outputs, dir: undefined } : null });
}

/** Opens (creating if needed) the database in `dataDir` and brings its schema to {@link SCHEMA_VERSION}. */
function openDatabase(dataDir: string): Database {
  const open = require('better-sqlite3') as new (path: string) => Database;
  let db: Database;
  try {
    mkdirSync(join(dataDir, STUDIES_FOLDER), { recursive: true, mode: 0o700 });
    db = new open(join(dataDir, DATABASE_FILE));
    db.pragma('journal_mode = WAL');
  } catch (error) {
    throw new SpinegradeError('OUTPUT_ERROR', `cannot open the data folder: ${describeError(error)}`, dataDir, {
      cause: error,
    });
  }
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new SpinegradeError(
      'USAGE',
      `the data folder's database has schema version ${version}; this spinegrade knows up to ${SCHEMA_VERSION} (use a newer spinegrade, or another --data-dir)`,
      dataDir,
    );
  }
  db.transaction(() => {
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
  return db;
}

/** The studies in a data folder, indexed by SQLite; the records are held in memory (the in-memory store's map) and written through. */
export class SqliteStudyRepository extends InMemoryStudyRepository {
  override readonly persistent: boolean = true;
  /** The data folder. */
  readonly dataDir: string;
  /** The folder of the studies' files. */
  readonly studiesDir: string;
  private readonly db: Database;
  private readonly written = new Map<string, Written>();
  /** The findings of the studies read or written last, most recent last. */
  private readonly recentFindings = new Map<string, StudyFindings>();
  private nextSeq = 1;
  /** Set by {@link close}: later writes (of work ending after the store closed) are dropped; the next start recovers. */
  private closed = false;
  private readonly statements: Record<StatementName, Statement>;

  /** Opens the store in `dataDir` (created if needed) and loads every study. */
  constructor(dataDir: string) {
    super();
    this.dataDir = dataDir;
    this.studiesDir = join(dataDir, STUDIES_FOLDER);
    this.db = openDatabase(dataDir);
    const sql = (text: string): Statement => this.db.prepare(text);
    this.statements = {
      insertStudy: sql(
        'INSERT INTO studies (id, seq, created_at, status, study_instance_uid, revision, record) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      updateStudy: sql('UPDATE studies SET status = ?, study_instance_uid = ?, revision = ?, record = ? WHERE id = ?'),
      deleteStudy: sql('DELETE FROM studies WHERE id = ?'),
      upsertFindings: sql(
        'INSERT INTO findings (study_id, kind, document) VALUES (?, ?, ?) ON CONFLICT (study_id, kind) DO UPDATE SET document = excluded.document',
      ),
      upsertCorrection: sql(
        `INSERT INTO corrections (study_id, seq, id, type, status, made_by, made_at, reason, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (study_id, seq) DO UPDATE SET id = excluded.id, type = excluded.type, status = excluded.status,
         made_by = excluded.made_by, made_at = excluded.made_at, reason = excluded.reason, body = excluded.body`,
      ),
      trimCorrections: sql('DELETE FROM corrections WHERE study_id = ? AND seq >= ?'),
      upsertJob: sql(
        `INSERT INTO jobs (id, study_id, kind, status, created_at, finished_at, view)
         SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM studies WHERE id = ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, view = excluded.view`,
      ),
      job: sql('SELECT view FROM jobs WHERE id = ?'),
      unfinishedJobs: sql("SELECT view FROM jobs WHERE status IN ('queued', 'running')"),
      findings: sql('SELECT kind, document FROM findings WHERE study_id = ?'),
    };
    this.load();
  }

  private load(): void {
    const rows = this.db.prepare('SELECT id, seq, record FROM studies ORDER BY seq').all() as {
      id: string;
      seq: number;
      record: string;
    }[];
    const corrections = this.db.prepare('SELECT study_id, body FROM corrections ORDER BY study_id, seq').all() as {
      study_id: string;
      body: string;
    }[];
    for (const row of rows) {
      const dir = join(this.studiesDir, row.id);
      const stored = JSON.parse(row.record) as Omit<StudyRecord, 'dir' | 'filesDir'>;
      const study: StudyRecord = {
        ...stored,
        dir,
        filesDir: join(dir, 'files'),
        corrections: [],
        heatmaps: stored.heatmaps ?? [],
        outputs: stored.outputs ? { ...stored.outputs, dir: join(dir, 'out', `r${stored.outputs.revision}`) } : null,
      };
      super.add(study);
      this.nextSeq = Math.max(this.nextSeq, row.seq + 1);
    }
    for (const row of corrections) this.get(row.study_id)?.corrections.push(JSON.parse(row.body) as Correction);
    for (const study of this.list()) this.written.set(study.id, this.snapshot(study));
  }

  private snapshot(study: StudyRecord): Written {
    return {
      record: recordColumn(study),
      corrections: study.corrections.map((c) => JSON.stringify(c)),
    };
  }

  override add(study: StudyRecord): void {
    if (this.closed) return;
    const seq = this.nextSeq++;
    this.db.transaction(() => {
      this.statements.insertStudy.run(
        study.id,
        seq,
        study.createdAt,
        study.status,
        study.studyInstanceUid,
        study.revision,
        recordColumn(study),
      );
      this.writeCorrections(study, undefined);
    })();
    super.add(study);
    this.written.set(study.id, this.snapshot(study));
  }

  override save(study: StudyRecord, findings?: Partial<StudyFindings>): void {
    if (this.closed || this.get(study.id) !== study) return;
    const before = this.written.get(study.id);
    const after = this.snapshot(study);
    const merged = findings ? mergeFindings(study.id, this.findings(study.id), findings) : undefined;
    this.db.transaction(() => {
      if (before?.record !== after.record) {
        this.statements.updateStudy.run(study.status, study.studyInstanceUid, study.revision, after.record, study.id);
      }
      for (const kind of FINDINGS_KINDS) {
        const document = findings?.[kind];
        if (document) this.statements.upsertFindings.run(study.id, kind, JSON.stringify(document));
      }
      this.writeCorrections(study, before, after);
    })();
    this.written.set(study.id, after);
    if (merged) this.remember(study.id, merged);
  }

  override findings(id: string): StudyFindings | undefined {
    const kept = this.recentFindings.get(id);
    if (kept) {
      this.remember(id, kept);
      return kept;
    }
    if (this.closed || !this.get(id)) return undefined;
    const rows = this.statements.findings.all(id) as { kind: (typeof FINDINGS_KINDS)[number]; document: string }[];
    const documents = Object.fromEntries(
      rows.map((row) => [row.kind, JSON.parse(row.document)]),
    ) as Partial<StudyFindings>;
    if (!documents.original || !documents.base || !documents.current) return undefined;
    const read = { original: documents.original, base: documents.base, current: documents.current };
    this.remember(id, read);
    return read;
  }

  /** Keeps a study's findings as the most recent, forgetting the oldest beyond {@link FINDINGS_KEPT}. */
  private remember(id: string, findings: StudyFindings): void {
    this.recentFindings.delete(id);
    this.recentFindings.set(id, findings);
    while (this.recentFindings.size > FINDINGS_KEPT) {
      this.recentFindings.delete(this.recentFindings.keys().next().value as string);
    }
  }

  /** Writes the corrections that differ from `before` (all of them without it). */
  private writeCorrections(study: StudyRecord, before: Written | undefined, after = this.snapshot(study)): void {
    after.corrections.forEach((text, seq) => {
      if (before?.corrections[seq] === text) return;
      const c = study.corrections[seq] as Correction;
      this.statements.upsertCorrection.run(
        study.id,
        seq,
        c.id,
        c.type,
        c.status,
        c.by,
        c.at,
        c.type === 'grade' ? c.reason : null,
        text,
      );
    });
    if ((before?.corrections.length ?? 0) > after.corrections.length) {
      this.statements.trimCorrections.run(study.id, after.corrections.length);
    }
  }

  override delete(id: string): void {
    if (this.closed) return;
    this.statements.deleteStudy.run(id);
    super.delete(id);
    this.written.delete(id);
    this.recentFindings.delete(id);
  }

  override saveJob(view: JobView): void {
    if (this.closed) return;
    const { position: _position, ...stored } = view;
    this.statements.upsertJob.run(
      view.id,
      view.studyId,
      view.kind,
      view.status,
      view.createdAt,
      view.finishedAt,
      JSON.stringify({ ...stored, position: 0 }),
      view.studyId,
    );
  }

  override job(id: string): JobView | undefined {
    const row = this.statements.job.get(id) as { view: string } | undefined;
    return row ? (JSON.parse(row.view) as JobView) : undefined;
  }

  override unfinishedJobs(): JobView[] {
    return (this.statements.unfinishedJobs.all() as { view: string }[]).map((r) => JSON.parse(r.view) as JobView);
  }

  override close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
