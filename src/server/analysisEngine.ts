/**
 * What the server's analyses do with the models, wherever they run (in this thread for tests and
 * embedding, in worker threads for `serve`, see `analysisPool.ts`): analyse a study's files (with
 * Grad-CAM), write the per-disc heat maps, and write the exports of a findings document from the
 * analysis result behind it — kept for the last few results, else made again with the same inputs.
 * Only plain data goes in and out, so the same calls cross a thread boundary.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AnalysisResult, AnalysisStage, Analyzer } from '../analyze/analyze.js';
import { writeAnalysisOutputs } from '../analyze/outputs.js';
import { describeError, isSpinegradeError, type ProblemKind, SpinegradeError } from '../errors.js';
import { heatRgba } from '../explain/overlay.js';
import { buildFolderAtomic } from '../io/atomic.js';
import { encodeRgbaPng } from '../io/png.js';
import type { LevelOverride } from '../localize/override.js';
import type { FindingsDocument } from '../report/findings.js';
import { type ErrorCode, ServiceError } from './errors.js';

/** The inputs of one analysis of a study's files. */
export interface AnalysisInputs {
  /** Names the result: the study and the generation it will be (`s-…:3`). */
  key: string;
  filesDir: string;
  levelOverride?: LevelOverride;
  pixelSpacing?: [number, number];
}

/** What an analysis gives the server (plain data). */
export interface AnalyzedStudy {
  findings: FindingsDocument;
  /** Per findings series: the file name of its first source file (a stored file id). */
  seriesFiles: string[];
  /** Per findings series: the levels with a Grad-CAM map written under `heatDir`. */
  heatmaps: string[][];
}

/** Progress of a job: `done` of `total` items of a stage. */
export type ProgressReport = (stage: AnalysisStage | 'outputs', done: number, total: number) => void;

/** The analysis work the server schedules; in this thread or in a pool of workers. */
export interface AnalysisRunner {
  /** Analyses a study's files (with Grad-CAM) and writes the heat maps into `heatDir` (made atomically). */
  analyze(
    inputs: AnalysisInputs & { heatDir: string },
    progress: ProgressReport,
    signal: AbortSignal,
  ): Promise<AnalyzedStudy>;
  /**
   * Writes the exports of `findings` into the folder `dir` (replaced atomically) with the analysis
   * result of `inputs.key`, analysing again with the same inputs when that result is no longer held.
   */
  render(
    inputs: AnalysisInputs & { findings: FindingsDocument; dir: string },
    progress: ProgressReport,
    signal: AbortSignal,
  ): Promise<{ notes: string[] }>;
  /** Frees the models (and stops the workers). */
  close(): Promise<void>;
}

/** The file name of a level's heat map: `L4/L5` → `L4-L5.png`. */
export function heatFileName(level: string): string {
  return `${level.replace(/[^A-Za-z0-9]+/g, '-')}.png`;
}

/** How many analysis results an engine keeps for re-making exports (the pool routes re-renders by it). */
export const RESULTS_KEPT = 2;

/** `make` called once (again after a failure). */
export function onceAnalyzer(make: () => Promise<Analyzer>): () => Promise<Analyzer> {
  let made: Promise<Analyzer> | undefined;
  return () => {
    if (!made) {
      made = make();
      made.catch(() => {
        made = undefined;
      });
    }
    return made;
  };
}

/** The analysis work on one analyzer, with the last few results kept for re-making exports. */
export class AnalysisEngine {
  private readonly results = new Map<string, AnalysisResult>();

  constructor(private readonly analyzer: () => Promise<Analyzer>) {}

  /** See {@link AnalysisRunner.analyze}. */
  async analyze(
    inputs: AnalysisInputs & { heatDir: string },
    progress: ProgressReport,
    signal: AbortSignal,
  ): Promise<AnalyzedStudy> {
    const result = await this.run(inputs, progress, signal);
    const series = result.artefacts[0]?.series ?? [];
    const heatmaps: string[][] = series.map(() => []);
    await buildFolderAtomic(inputs.heatDir, async (dir) => {
      for (const [n, art] of series.entries()) {
        if (!art.heat || art.heat.length === 0) continue;
        await mkdir(join(dir, String(n)));
        for (const disc of art.heat) {
          const png = encodeRgbaPng(heatRgba(disc.heat.slice), art.slice.width, art.slice.height);
          await writeFile(join(dir, String(n), heatFileName(disc.level)), png);
          heatmaps[n]?.push(disc.level);
        }
      }
    });
    return {
      findings: result.findings,
      seriesFiles: series.map((s) => basename(s.volume.metadata.sourcePaths[0] ?? '')),
      heatmaps,
    };
  }

  /** See {@link AnalysisRunner.render}. */
  async render(
    inputs: AnalysisInputs & { findings: FindingsDocument; dir: string },
    progress: ProgressReport,
    signal: AbortSignal,
  ): Promise<{ notes: string[] }> {
    const result = this.results.get(inputs.key) ?? (await this.run(inputs, progress, signal));
    progress('outputs', 0, 1);
    const { notes } = await writeAnalysisOutputs(
      { ...result, findings: inputs.findings },
      { kind: 'folder', path: inputs.dir },
      { overwrite: true },
    );
    progress('outputs', 1, 1);
    return { notes };
  }

  private async run(inputs: AnalysisInputs, progress: ProgressReport, signal: AbortSignal): Promise<AnalysisResult> {
    const analyzer = await this.analyzer();
    const result = await analyzer.analyze([inputs.filesDir], {
      ...(inputs.levelOverride ? { levelOverride: inputs.levelOverride } : {}),
      ...(inputs.pixelSpacing ? { pixelSpacing: inputs.pixelSpacing } : {}),
      explain: true,
      onProgress: progress,
      signal,
    });
    this.results.delete(inputs.key);
    this.results.set(inputs.key, result);
    while (this.results.size > RESULTS_KEPT) {
      this.results.delete(this.results.keys().next().value as string);
    }
    return result;
  }
}

/** The analysis work in this thread (tests, embedding): the models share the event loop. */
export class InThreadRunner implements AnalysisRunner {
  private readonly engine: AnalysisEngine;

  constructor(
    analyzer: () => Promise<Analyzer>,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    this.engine = new AnalysisEngine(analyzer);
  }

  analyze(
    inputs: AnalysisInputs & { heatDir: string },
    progress: ProgressReport,
    signal: AbortSignal,
  ): Promise<AnalyzedStudy> {
    return this.engine.analyze(inputs, progress, signal);
  }

  render(
    inputs: AnalysisInputs & { findings: FindingsDocument; dir: string },
    progress: ProgressReport,
    signal: AbortSignal,
  ): Promise<{ notes: string[] }> {
    return this.engine.render(inputs, progress, signal);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** An error as plain data, to cross a thread boundary. */
export interface ErrorData {
  kind: 'spinegrade' | 'service' | 'other';
  code: string;
  message: string;
  path?: string;
}

/** `error` as {@link ErrorData}. */
export function errorToData(error: unknown): ErrorData {
  if (isSpinegradeError(error)) {
    const message = error.detail || error.message;
    return { kind: 'spinegrade', code: error.kind, message, ...(error.path !== undefined ? { path: error.path } : {}) };
  }
  if (error instanceof ServiceError) return { kind: 'service', code: error.code, message: error.message };
  return { kind: 'other', code: 'INTERNAL', message: describeError(error) };
}

/** The error {@link errorToData} described, as the class it was. */
export function errorFromData(data: ErrorData): Error {
  if (data.kind === 'spinegrade') return new SpinegradeError(data.code as ProblemKind, data.message, data.path);
  if (data.kind === 'service') return new ServiceError(data.code as ErrorCode, data.message);
  return new Error(data.message);
}
