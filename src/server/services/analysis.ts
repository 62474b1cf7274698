/**
 * Analyses of the studies as queued jobs: a first analysis, a level correction's re-labelling and
 * re-grading, and re-making the exports after a grade override. The work itself runs in an
 * {@link AnalysisRunner} (worker threads for `serve`), which keeps the latest results of a few
 * studies for re-making exports; this service only schedules it and records what it gave.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isSpinegradeError } from '../../errors.js';
import type { LevelOverride } from '../../localize/override.js';
import type { AnalysisInputs, AnalysisRunner, AnalyzedStudy } from '../analysisEngine.js';
import { applyGradeCorrections, type LevelsCorrection, parseLevelOverrideInput } from '../corrections.js';
import { JobFailedError, ServiceError, toServiceError } from '../errors.js';
import type { JobContext, JobQueue, JobView } from '../queue.js';
import type { Outputs, StudyRecord } from './repository.js';
import { parsePixelSpacing, type StudyService } from './studies.js';

/** A validated analysis request. */
export interface AnalyzeRequest {
  levelOverride: LevelOverride | undefined;
  pixelSpacing: [number, number] | undefined;
}

const ANALYZE_FIELDS = ['levelOverride', 'pixelSpacing'];

/** Validates the body of an analysis request (`levelOverride`, `pixelSpacing`, both optional). */
export function parseAnalyzeRequest(body: Record<string, unknown>): AnalyzeRequest {
  const unknown = Object.keys(body).filter((k) => !ANALYZE_FIELDS.includes(k));
  if (unknown.length > 0) {
    throw new ServiceError(
      'BAD_REQUEST',
      `unknown field(s) ${unknown.join(', ')} (allowed: ${ANALYZE_FIELDS.join(', ')})`,
    );
  }
  const levelOverride =
    body.levelOverride === undefined || body.levelOverride === null
      ? undefined
      : parseLevelOverrideInput(body.levelOverride);
  return { levelOverride, pixelSpacing: parsePixelSpacing(body.pixelSpacing) };
}

/** The analysis jobs of a server. */
export class AnalysisService {
  readonly queue: JobQueue;
  private readonly studies: StudyService;
  private readonly runner: AnalysisRunner;
  private readonly log: (line: string) => void;

  constructor(options: {
    studies: StudyService;
    queue: JobQueue;
    runner: AnalysisRunner;
    log: (line: string) => void;
  }) {
    this.studies = options.studies;
    this.queue = options.queue;
    this.runner = options.runner;
    this.log = options.log;
  }

  /** A job's view (from the queue, or as the store last wrote it); `NOT_FOUND` when unknown or pruned. */
  job(id: string): JobView {
    const job = /^j-[0-9a-f]{16}$/.test(id) ? (this.queue.get(id) ?? this.studies.storedJob(id)) : undefined;
    if (!job)
      throw new ServiceError('NOT_FOUND', `no job ${id.slice(0, 40)} (unknown, or finished more than an hour ago)`);
    return job;
  }

  /** Queues an analysis; the study starts afresh (earlier corrections dropped) when it is done. */
  analyze(study: StudyRecord, request: AnalyzeRequest): JobView {
    this.studies.requireReady(study);
    if (request.pixelSpacing) study.pixelSpacing = request.pixelSpacing;
    const job = this.queue.add(study.id, 'analyze', (context) =>
      this.runAnalysis(study, context, 'analyze', request.levelOverride),
    );
    study.lastJobId = job.id;
    study.lastJobStatus = 'queued';
    this.studies.save(study);
    this.log(`study ${study.id}: analysis queued as ${job.id}`);
    return job;
  }

  /** Queues the re-labelling and re-grading of a level correction (already in the study's list). */
  relabel(study: StudyRecord, correction: LevelsCorrection): JobView {
    const job = this.queue.add(study.id, 'levels', (context) =>
      this.runAnalysis(study, context, 'levels', correction.levelOverride, correction),
    );
    correction.jobId = job.id;
    study.lastJobId = job.id;
    study.lastJobStatus = 'queued';
    this.studies.save(study);
    return job;
  }

  /**
   * Writes the exports of the study's current findings, in a job at the front of the queue: from the
   * analysis result the runner holds or, when it is gone, by analysing again (same override).
   */
  renderCurrent(study: StudyRecord): Promise<Outputs> {
    const job = this.queue.add(
      study.id,
      'render',
      async (context) => {
        if (study.outputs?.revision === study.revision) return study.revision;
        await this.render(study, context);
        return study.revision;
      },
      { front: true },
    );
    return this.queue.wait(job.id).then((view) => {
      if (view.status === 'failed' || !study.outputs) {
        throw new JobFailedError(
          (view.error?.code as ServiceError['code'] | undefined) ?? 'INTERNAL',
          view.error?.message ?? 'the exports could not be made',
        );
      }
      return study.outputs;
    });
  }

  /** The inputs of an analysis of the study that gives (or gave) generation `generation`. */
  private inputs(study: StudyRecord, generation: number, override: LevelOverride | undefined): AnalysisInputs {
    return {
      key: `${study.id}:${generation}`,
      filesDir: study.filesDir,
      ...(override ? { levelOverride: override } : {}),
      ...(study.pixelSpacing ? { pixelSpacing: study.pixelSpacing } : {}),
    };
  }

  /** An analysis problem as the service error the API shows (paths of the server cut away). */
  private failure(study: StudyRecord, error: unknown): ServiceError {
    if (error instanceof ServiceError) return error;
    const failure = toServiceError(error, study.dir);
    if (isSpinegradeError(error) && error.kind === 'USAGE' && /level override|--levels/.test(error.message)) {
      return new ServiceError('BAD_OVERRIDE', failure.message);
    }
    return failure;
  }

  private async runAnalysis(
    study: StudyRecord,
    context: JobContext,
    kind: 'analyze' | 'levels',
    override: LevelOverride | undefined,
    correction?: LevelsCorrection,
  ): Promise<number> {
    const generation = study.generation + 1;
    const heatRoot = join(study.dir, 'heat');
    let analyzed: AnalyzedStudy;
    try {
      await mkdir(heatRoot, { recursive: true });
      analyzed = await this.runner.analyze(
        { ...this.inputs(study, generation, override), heatDir: join(heatRoot, `g${generation}`) },
        (stage, done, total) => context.progress(stage, done, total),
        context.signal,
      );
    } catch (error) {
      const failure = this.failure(study, error);
      study.lastJobStatus = 'failed';
      if (correction) {
        correction.status = 'failed';
        correction.error = { code: failure.code, message: failure.message };
      }
      this.studies.save(study);
      throw failure;
    }
    if (!this.studies.holds(study)) throw new ServiceError('NOT_FOUND', `study ${study.id} was deleted`);
    study.generation = generation;
    study.revision++;
    if (kind === 'analyze') {
      study.corrections = [];
    } else {
      for (const c of study.corrections) {
        if (c.type === 'grade' && c.status === 'applied') c.status = 'superseded';
      }
      if (correction) correction.status = 'applied';
    }
    study.levelOverride = override ?? null;
    study.analyzedAt = new Date().toISOString();
    study.lastJobStatus = 'done';
    study.studyInstanceUid ??= analyzed.findings.studies[0]?.studyInstanceUid ?? null;
    study.findingsSeriesByFile = Object.fromEntries(analyzed.seriesFiles.map((file, n) => [file, n]));
    study.heatmaps = analyzed.heatmaps;
    this.studies.save(study, {
      ...(kind === 'analyze' ? { original: analyzed.findings } : {}),
      base: analyzed.findings,
      current: applyGradeCorrections(analyzed.findings, study.corrections),
    });
    // Heat maps of earlier generations are no longer shown.
    for (const name of await readdir(heatRoot).catch(() => [] as string[])) {
      if (name !== `g${generation}`) await rm(join(heatRoot, name), { recursive: true, force: true });
    }
    const revision = study.revision;
    await this.render(study, context);
    return revision;
  }

  /** Writes the exports of the current findings (revision as now). */
  private async render(study: StudyRecord, context: JobContext): Promise<Outputs> {
    const revision = study.revision;
    const findings = this.studies.requireAnalyzed(study).current;
    const outDir = join(study.dir, 'out');
    const dir = join(outDir, `r${revision}`);
    await mkdir(outDir, { recursive: true });
    let notes: string[];
    try {
      ({ notes } = await this.runner.render(
        { ...this.inputs(study, study.generation, study.levelOverride ?? undefined), findings, dir },
        (stage, done, total) => context.progress(stage, done, total),
        context.signal,
      ));
    } catch (error) {
      throw this.failure(study, error);
    }
    const outputs: Outputs = { revision, dir, notes };
    const previous = study.outputs;
    if (!previous || previous.revision < revision) {
      study.outputs = outputs;
      this.studies.save(study);
      // Keep the previous revision's folder a little (a download may be reading it); remove older ones.
      if (previous) {
        const stale = previous.revision - 1;
        if (stale > 0) await rm(join(outDir, `r${stale}`), { recursive: true, force: true });
      }
    }
    return outputs;
  }
}
