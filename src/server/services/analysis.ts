/**
 * Analyses of the studies as queued jobs: a first analysis, a level correction's re-labelling and
 * re-grading, and re-making the exports when the analysis artefacts are no longer held. The latest
 * results of a few studies stay in memory for re-making exports after a grade override.
 */
import { mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AnalysisResult, AnalysisStage, Analyzer } from '../../analyze/analyze.js';
import { writeAnalysisOutputs } from '../../analyze/outputs.js';
import { isSpinegradeError } from '../../errors.js';
import type { LevelOverride } from '../../localize/override.js';
import type { FindingsDocument } from '../../report/findings.js';
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
  private readonly analyzer: () => Promise<Analyzer>;
  private readonly log: (line: string) => void;
  /** The latest analysis result of a few studies, for re-making exports after a grade override. */
  private readonly results = new Map<string, { generation: number; result: AnalysisResult }>();
  private static readonly RESULTS_KEPT = 2;

  constructor(options: {
    studies: StudyService;
    queue: JobQueue;
    analyzer: () => Promise<Analyzer>;
    log: (line: string) => void;
  }) {
    this.studies = options.studies;
    this.queue = options.queue;
    this.analyzer = options.analyzer;
    this.log = options.log;
    this.studies.onRemove((id) => this.results.delete(id));
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
   * Writes the exports of the study's current findings: from the analysis result held in memory, or,
   * when it is gone, by analysing again (same override) in a job at the front of the queue.
   */
  renderCurrent(study: StudyRecord): Promise<Outputs> {
    const kept = this.results.get(study.id);
    if (kept && kept.generation === study.generation) return this.render(study, kept.result);
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

  private async analyzeFiles(
    study: StudyRecord,
    context: JobContext,
    override: LevelOverride | undefined,
  ): Promise<AnalysisResult> {
    const analyzer = await this.analyzer();
    try {
      return await analyzer.analyze([study.filesDir], {
        ...(override ? { levelOverride: override } : {}),
        ...(study.pixelSpacing ? { pixelSpacing: study.pixelSpacing } : {}),
        onProgress: (stage: AnalysisStage, done: number, total: number) => context.progress(stage, done, total),
        signal: context.signal,
      });
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      const failure = toServiceError(error, study.filesDir);
      if (isSpinegradeError(error) && error.kind === 'USAGE' && /level override|--levels/.test(error.message)) {
        throw new ServiceError('BAD_OVERRIDE', failure.message);
      }
      throw failure;
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
        const failure = toServiceError(error);
        correction.status = 'failed';
        correction.error = { code: failure.code, message: failure.message };
      }
      this.studies.save(study);
      throw error;
    }
    if (!this.studies.holds(study)) throw new ServiceError('NOT_FOUND', `study ${study.id} was deleted`);
    study.generation++;
    study.revision++;
    if (kind === 'analyze') {
      study.original = result.findings;
      study.corrections = [];
    } else {
      for (const c of study.corrections) {
        if (c.type === 'grade' && c.status === 'applied') c.status = 'superseded';
      }
      if (correction) correction.status = 'applied';
    }
    study.levelOverride = override ?? null;
    study.base = result.findings;
    study.current = applyGradeCorrections(result.findings, study.corrections);
    study.analyzedAt = new Date().toISOString();
    study.lastJobStatus = 'done';
    study.studyInstanceUid ??= result.findings.studies[0]?.studyInstanceUid ?? null;
    study.findingsSeriesByFile = Object.fromEntries(
      (result.artefacts[0]?.series ?? []).map((s, n) => [basename(s.volume.metadata.sourcePaths[0] ?? ''), n]),
    );
    this.studies.save(study);
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
    while (this.results.size > AnalysisService.RESULTS_KEPT) {
      this.results.delete(this.results.keys().next().value as string);
    }
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
      throw toServiceError(error, study.dir);
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
