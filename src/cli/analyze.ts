/**
 * `spinegrade analyze <path...>`: the main job on one study through the Node API (`analyze/`): prints a
 * per-level table (or `findings.json` with `--format json`) and, with `--out`, writes the report folder
 * (or, for `--out <file.json>`, the findings file alone).
 */
import { type AnalysisStage, createAnalyzer } from '../analyze/analyze.js';
import { formatFindings } from '../analyze/format.js';
import { checkOutputTarget, findingsJson, outputTarget, writeAnalysisOutputs } from '../analyze/outputs.js';
import { SpinegradeError } from '../errors.js';
import { type LoadedInput, loadStudies } from '../io/load.js';
import { type LevelOverride, parseLevelOverride } from '../localize/override.js';
import type { EngineChoice } from '../models/engine.js';
import type { Progress } from '../util/progress.js';
import { engineOption } from './args.js';
import { terminalProgress } from './progress.js';

/** Output formats of `analyze` on stdout. */
export const ANALYZE_FORMATS = ['table', 'json'] as const;

/** Options of the `analyze` command, as parsed from the command line. */
export interface AnalyzeCommandOptions {
  /** Report folder, or a `.json` file for the findings alone. */
  out?: string;
  /** What stdout gets (default `table`). */
  format?: string;
  model?: string;
  localizer?: string;
  pixelSpacing?: readonly [number, number];
  /** `--levels`: `shift=±N`, `LEVEL=X,Y` or `LEVEL=X,Y,Z`. */
  levels?: string;
  /** `--levels-series`: apply `--levels` to this Series Instance UID only. */
  levelsSeries?: string;
  overwrite?: boolean;
  quiet?: boolean;
  /** `--engine`: auto, onnx or tfjs. */
  engine?: string;
}

/** What the command prints. */
export interface AnalyzeCommandOutput {
  stdout: string;
  /** Lines for stderr (notes on files not written and why; in JSON mode also what was written). */
  notes: string[];
}

const STAGE_LABELS: Record<AnalysisStage, string> = {
  read: 'reading',
  localize: 'localising',
  grade: 'grading',
  explain: 'explaining',
};

/** A progress line per stage on stderr (only on a terminal, never with --quiet). */
function stageProgress(quiet: boolean): {
  update: (stage: AnalysisStage, done: number, total: number) => void;
  finish: () => void;
} {
  let stage: AnalysisStage | undefined;
  let line: Progress | undefined;
  return {
    update(next, done, total) {
      if (next !== stage) {
        line?.finish();
        stage = next;
        line = terminalProgress(STAGE_LABELS[next], process.stderr, quiet);
      }
      line?.update(done, total);
    },
    finish() {
      line?.finish();
    },
  };
}

/** Checks the options that need no file access (format, level override). */
function checkOptions(options: AnalyzeCommandOptions): {
  format: 'table' | 'json';
  levelOverride?: LevelOverride;
  engine?: EngineChoice;
} {
  const format = options.format ?? 'table';
  if (!(ANALYZE_FORMATS as readonly string[]).includes(format)) {
    throw new SpinegradeError('USAGE', `--format wants ${ANALYZE_FORMATS.join(' or ')}, got "${format}"`);
  }
  if (options.levelsSeries !== undefined && options.levels === undefined) {
    throw new SpinegradeError('USAGE', '--levels-series needs --levels');
  }
  const levelOverride =
    options.levels === undefined ? undefined : parseLevelOverride(options.levels, options.levelsSeries);
  const engine = engineOption(options.engine);
  return {
    format: format as 'table' | 'json',
    ...(levelOverride ? { levelOverride } : {}),
    ...(engine ? { engine } : {}),
  };
}

/** Runs `analyze`; returns what to print. */
export async function runAnalyze(
  paths: readonly string[],
  options: AnalyzeCommandOptions,
): Promise<AnalyzeCommandOutput> {
  if (paths.length === 0) throw new SpinegradeError('USAGE', 'analyze needs at least one file or folder');
  const { format, levelOverride, engine } = checkOptions(options);
  const overwrite = options.overwrite === true;
  const target = options.out === undefined ? undefined : outputTarget(options.out);
  if (target) await checkOutputTarget(target, overwrite);

  const progress = stageProgress(options.quiet === true);
  // Read the input while the models load: a bad input fails at once, and the two overlap.
  const loading = createAnalyzer({
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.localizer !== undefined ? { localizer: options.localizer } : {}),
    ...(engine ? { engine } : {}),
  });
  // Handled here so a failing model load cannot become an unhandled rejection while the input is read.
  loading.catch(() => undefined);
  let input: LoadedInput;
  try {
    input = await loadStudies(paths, {
      ...(options.pixelSpacing ? { pixelSpacing: options.pixelSpacing } : {}),
      onProgress: (done, total) => progress.update('read', done, total),
    });
  } catch (error) {
    progress.finish();
    await loading.then((a) => a.dispose()).catch(() => undefined);
    throw error;
  }
  const analyzer = await loading;
  try {
    const result = await analyzer.analyze(
      { ...input, paths },
      {
        ...(levelOverride ? { levelOverride } : {}),
        explain: target?.kind === 'folder',
        onProgress: progress.update,
      },
    );
    let findings = result.findings;
    const notes: string[] = [];
    const tail: string[] = [];
    if (target) {
      const written = await writeAnalysisOutputs(result, target, { overwrite });
      findings = written.findings;
      notes.push(...written.notes.map((note) => `note: ${note}`));
      tail.push(
        target.kind === 'file'
          ? `wrote ${target.path}`
          : `wrote ${target.path}/ (${written.files.map((f) => f.slice(target.path.length + 1)).join(', ')})`,
      );
    }
    if (format === 'json') return { stdout: findingsJson(findings), notes: [...notes, ...tail] };
    return { stdout: `${[formatFindings(findings), ...tail].join('\n')}\n`, notes };
  } finally {
    progress.finish();
    analyzer.dispose();
  }
}
