/** The `spinegrade` command line: dispatches sub-commands and turns problems into exit codes. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, isSpinegradeError, SpinegradeError } from '../errors.js';
import { assertSomethingUsable, formatInspectReport, inspectPaths } from '../io/inspect.js';
import { parsePixelSpacing } from '../io/pixelSpacing.js';
import { runAnalyze } from './analyze.js';
import { type Flags, type OptionSpec, parseCommandLine as parse, parseOptionsOnly, stringOption } from './args.js';
import { COMPARE_USAGE } from './compare-command.js';
import { convert } from './convert.js';
import type { PlanOptions } from './dataset-commands.js';
import { terminalProgress } from './progress.js';
import { BATCH_USAGE, SERVE_USAGE, WATCH_USAGE } from './usage.js';

const USAGE = `spinegrade — lumbar spine MRI disc grading (research use only, not a medical device)

Usage:
  spinegrade inspect <path...> [--json] [--pixel-spacing X[,Y]]
      List studies and series (plane, sequence, size, spacing) and whether each can be graded.
      Exits 10 when no series can be graded.
  spinegrade analyze <path...> [--out <dir>|<findings.json>] [--format table|json] [--json]
                     [--model <dir>] [--localizer <dir>] [--pixel-spacing X[,Y]]
                     [--levels shift=±N|LEVEL=X,Y|LEVEL=X,Y,Z [--levels-series <uid>]] [--overwrite]
                     [--engine auto|onnx|tfjs]
      The main job on one study: every gradable sagittal series (T2 first, T1 too) is localised (discs
      found, outlined and labelled), graded with calibrated probabilities and measured; the series are
      fused per level. Prints a per-level table (--format json: findings.json). --out <dir> writes the
      report folder (findings.json, …) whole or not at all; --out <file.json> writes findings.json alone.
      --levels corrects the levels before grading: shift=+1 moves every disc one level up; L5/S1=X,Y
      names the disc nearest pixel (X, Y) of the mid-sagittal slice (X,Y,Z: patient LPS mm).
      Exits 10 when no series can be graded.
  spinegrade convert <path...> --out <file.nii|file.nii.gz|file.mha|file.mhd|folder>
                     [--format nifti|metaimage|dicom] [--pixel-spacing X[,Y]] [--overwrite]
      Write one series as NIfTI, MetaImage or a DICOM MR series (a folder).
  spinegrade predict <dataset-dir> --out predictions.jsonl [--model <dir> | --cross-validate K [--seed S]]
                     [--localizer <dir>[,<dir>...]|none] [--masks-out <dir>] [--overwrite] [--engine auto|onnx|tfjs]
      Run the pipeline on every series of a dataset; one JSON line per series and per patient.
      Several localiser folders (one per cross-validation fold): each patient is localised by one that never saw them.
  spinegrade evaluate <dataset-dir> [--predictions <file> | --model <dir> | --cross-validate K [--seed S]]
                      [--localizer <dir>[,<dir>...]|none] [--held-out-only] [--masks <dir>] [--json <out>] [--resamples N]
                      [--overwrite] [--engine auto|onnx|tfjs]
      Score predictions against the dataset's labels, with 95% bootstrap CIs over patients.
  spinegrade train prior --data <dataset-dir> --out <model-dir> [--folds K] [--seed S] [--resamples N] [--overwrite]
      Fit the class-prior baseline, cross-validate it and write model.json + MODEL_CARD.md.
  spinegrade train levels --data <dataset-dir> --out <model-dir> [--epochs N] [--workers 1|2] [--folds K] [--seed S]
                          [--canvas PX] [--filters F,F,..] [--work-dir DIR] [--final yes|no] [--resamples N]
                          [--localizer <dir>] [--repredict yes] [--train no] [--train-folds K,K] [--bundle-fold K]
                          [--overwrite]
      Cross-validate the level network (five level heatmaps on the whole field of view, TensorFlow.js on
      WebAssembly) over patient folds, write out-of-fold predictions and figures, then train it on all patients.
  spinegrade train localizer --data <dataset-dir> --out <model-dir> [--epochs N] [--workers 1|2]
                             [--folds K --fold i] [--seed S] [--patience P]
                             [--canvas PX --spacing-mm MM --base-filters F --depth D --heatmap-channels 1|5]
                             [--cross-validate <folds-dir>] [--resamples N] [--overwrite]
      Train the disc localiser (U-Net, TensorFlow.js on WebAssembly) on all but fold i of K,
      validating on fold i (early stopping and the reported figures). --cross-validate also trains
      the other folds' localisers into <folds-dir> (reusing ones trained the same way) and puts the
      out-of-fold figures over all patients into the model card and cross-validation.json.
  spinegrade train grader --data <dataset-dir> --out <model-dir> [--localizer <dir>[,<dir>...]]
                          [--epochs N] [--context-epochs N] [--folds K|0] [--seed S] [--workers 1|2]
                          [--review-threshold P] [--resamples N] [--overwrite]
      Crop every disc the localiser finds, cross-validate the grader CNN and the hybrid (CNN + a
      transformer across levels) over K patient folds, fit the calibration on the out-of-fold
      logits, train the final models on all patients; writes the models, out-of-fold.jsonl and
      MODEL_CARD.md. With one localiser per fold (--localizer f1,...,fK) every patient's discs are
      found by a localiser that never saw them. The classical SVM model, the CNN, the hybrid and
      their ensemble are compared on the same folds; the best by Pfirrmann κ ships.
  spinegrade train grader-v2 --data <dataset-dir> --out <model-dir> [--recipes reference,corn,...]
                             [--folds K] [--seed S] [--workers 1|2] [--resamples N] [--review-accuracy A] [--overwrite]
      Grader v2: crops placed at the expert keypoints (T2, and T1 by carried keypoints), scaled and
      turned by the spine itself; cross-validates each recipe on the patient folds and writes the
      first one's five fold models (the ensemble), grader-v2.json, out-of-fold.jsonl and figures.json;
      the other recipes go to ablation/<recipe>/ and every row to ablation.json.
  spinegrade train few-shot --data <dataset-dir> --out <grader-dir> [--localizer <dir>[,...]]
                            [--source V] [--target V] [--shots 0,5,10,20] [--seeds 1,2,3]
                            [--epochs N] [--context-epochs N] [--tune-epochs N] [--tune-context-epochs N]
                            [--learning-rate R] [--workers 1|2] [--resamples N] [--overwrite]
      The vendor-split few-shot experiment: train on one vendor, fine-tune on N patients of the
      other, score on its remaining patients; writes few-shot.json and the card's curve.
  spinegrade finetune --data <own-data> --out <model-dir> [--model <grader-dir>] [--localizer <dir>]
                      [--epochs N] [--context-epochs N] [--learning-rate R] [--seed S] [--workers 1|2] [--overwrite]
      Adapt a grader to a site's own labelled patients (docs/datasets.md, "Own data").
${COMPARE_USAGE}
${BATCH_USAGE}
${SERVE_USAGE}
${WATCH_USAGE}

Options of every command:
  --quiet                no progress line
  -h, --help             this help (spinegrade <command> --help: that command's)

Exit codes are listed in the README ("Exit codes").`;

/** What the options shared by several commands mean, printed in the help of the commands that take them. */
const SHARED_OPTIONS: Readonly<Record<string, string>> = {
  '--pixel-spacing': '--pixel-spacing X[,Y]  spacing in mm of PNG/JPEG slices (X between columns, Y between rows)',
  '--engine':
    '--engine auto|onnx|tfjs  what runs the networks: onnxruntime (several times faster) or TensorFlow.js;\n                         auto (the default) takes onnxruntime where it loads. Both give the same grades (to ~1e-6).',
  '--overwrite':
    '--overwrite            replace an existing output (without it, an existing output is refused: exit 16)',
};

/**
 * The help of one command (`train` alone: every `train` kind): its blocks of the main help, the shared
 * options it takes and the options of every command; undefined for an unknown command.
 */
export function commandUsage(command: string): string | undefined {
  const blocks: string[][] = [];
  let inBlock = false;
  for (const line of USAGE.split('\n')) {
    if (line.startsWith('  spinegrade ')) {
      inBlock = line === `  spinegrade ${command}` || line.startsWith(`  spinegrade ${command} `);
      if (inBlock) blocks.push([line]);
    } else if (inBlock && line.startsWith('   ')) blocks.at(-1)?.push(line);
    else inBlock = false;
  }
  if (blocks.length === 0) return undefined;
  const text = blocks.map((block) => block.join('\n')).join('\n');
  const shared = Object.entries(SHARED_OPTIONS)
    .filter(([flag]) => text.includes(`${flag} `) || text.includes(`${flag}]`))
    .map(([, help]) => `  ${help}`);
  const every = USAGE.slice(USAGE.indexOf('Options of every command:'));
  return ['Usage:', text, '', ...(shared.length > 0 ? ['Options:', ...shared, ''] : []), every].join('\n');
}

/** Runs the command line; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? EXIT_USAGE : 0;
    }
    switch (command) {
      case 'inspect':
        return await runInspect(rest);
      case 'analyze':
        return await runAnalyzeCommand(rest);
      case 'convert':
        return await runConvert(rest);
      case 'predict':
        return await runPredictCommand(rest);
      case 'evaluate':
        return await runEvaluateCommand(rest);
      case 'finetune':
        return await runFineTuneCommand(rest);
      case 'train':
        return await runTrainCommand(rest);
      case 'serve':
        return await (await import('./serve-command.js')).runServeCommand(rest);
      case 'watch':
        return await (await import('./watch-command.js')).runWatchCommand(rest);
      case 'compare':
        return await (await import('./compare-command.js')).runCompareCommand(rest, () => printUsage('compare'));
      case 'batch':
        return await (await import('./batch-command.js')).runBatchCommand(rest, () => printUsage('batch'));
      case 'worker':
        return await (await import('./batch-command.js')).runWorkerCommand(rest, () => printUsage('worker'));
      default:
        throw new SpinegradeError('USAGE', `unknown command "${command}" (try: spinegrade --help)`);
    }
  } catch (error) {
    return reportError(error);
  }
}

const EXIT_USAGE = 2;

async function runInspect(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean' }, 'pixel-spacing': { type: 'string' } },
    'inspect',
  );
  if (values.help) return printUsage('inspect');
  if (positionals.length === 0) throw new SpinegradeError('USAGE', 'inspect needs at least one file or folder');
  const pixelSpacing = parsePixelSpacing(values['pixel-spacing'] as string | undefined);
  const progress = terminalProgress('reading', process.stderr, values.quiet === true || values.json === true);
  const report = await inspectPaths(positionals, {
    ...(pixelSpacing ? { pixelSpacing } : {}),
    onProgress: progress.update,
  });
  progress.finish();
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatInspectReport(report)}\n`);
  assertSomethingUsable(report, positionals);
  return 0;
}

async function runAnalyzeCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      out: { type: 'string', short: 'o' },
      format: { type: 'string' },
      json: { type: 'boolean' },
      model: { type: 'string' },
      localizer: { type: 'string' },
      levels: { type: 'string' },
      'levels-series': { type: 'string' },
      overwrite: { type: 'boolean' },
      'pixel-spacing': { type: 'string' },
      engine: { type: 'string' },
    },
    'analyze',
  );
  if (values.help) return printUsage('analyze');
  if (positionals.length === 0) throw new SpinegradeError('USAGE', 'analyze needs at least one file or folder');
  const format = str(values.format);
  if (values.json === true && format !== undefined && format !== 'json') {
    throw new SpinegradeError('USAGE', `--json and --format ${format} contradict each other`);
  }
  const pixelSpacing = parsePixelSpacing(values['pixel-spacing'] as string | undefined);
  const optional = pickStrings(values, {
    out: 'out',
    model: 'model',
    localizer: 'localizer',
    levels: 'levels',
    levelsSeries: 'levels-series',
    engine: 'engine',
  });
  const { stdout, notes } = await runAnalyze(positionals, {
    ...optional,
    format: values.json === true ? 'json' : (format ?? 'table'),
    overwrite: values.overwrite === true,
    quiet: values.quiet === true,
    ...(pixelSpacing ? { pixelSpacing } : {}),
  });
  for (const note of notes) process.stderr.write(`${note}\n`);
  process.stdout.write(stdout);
  return 0;
}

async function runConvert(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      out: { type: 'string', short: 'o' },
      format: { type: 'string' },
      overwrite: { type: 'boolean' },
      'pixel-spacing': { type: 'string' },
    },
    'convert',
  );
  if (values.help) return printUsage('convert');
  if (positionals.length === 0) throw new SpinegradeError('USAGE', 'convert needs at least one input file or folder');
  const out = values.out as string | undefined;
  if (!out) throw new SpinegradeError('USAGE', 'convert needs --out <path>');
  const pixelSpacing = parsePixelSpacing(values['pixel-spacing'] as string | undefined);
  const progress = terminalProgress('reading', process.stderr, values.quiet === true);
  const written = await convert(positionals, out, {
    ...(pixelSpacing ? { pixelSpacing } : {}),
    ...(values.format !== undefined ? { format: values.format as string } : {}),
    overwrite: values.overwrite === true,
    onProgress: progress.update,
  });
  progress.finish();
  process.stdout.write(`wrote ${written.length === 1 ? written[0] : `${written.length} files to ${out}`}\n`);
  return 0;
}

const PLAN_OPTIONS: OptionSpec = {
  model: { type: 'string' },
  engine: { type: 'string' },
  localizer: { type: 'string' },
  'cross-validate': { type: 'string' },
  seed: { type: 'string' },
};

const str = stringOption;

function planOptions(values: Flags): PlanOptions {
  return {
    ...(str(values.model) !== undefined ? { model: str(values.model) } : {}),
    ...(str(values['cross-validate']) !== undefined ? { crossValidate: str(values['cross-validate']) } : {}),
    ...(str(values.seed) !== undefined ? { seed: str(values.seed) } : {}),
    ...(str(values.localizer) !== undefined ? { localizer: str(values.localizer) } : {}),
    ...(str(values.engine) !== undefined ? { engine: str(values.engine) } : {}),
    overwrite: values.overwrite === true,
  };
}

function oneDataset(positionals: readonly string[], command: string): string {
  if (positionals.length !== 1) throw new SpinegradeError('USAGE', `${command} needs exactly one dataset folder`);
  return positionals[0]!;
}

async function runPredictCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...PLAN_OPTIONS,
      out: { type: 'string', short: 'o' },
      'masks-out': { type: 'string' },
      overwrite: { type: 'boolean' },
    },
    'predict',
  );
  if (values.help) return printUsage('predict');
  const dataset = oneDataset(positionals, 'predict');
  const out = str(values.out);
  if (!out) throw new SpinegradeError('USAGE', 'predict needs --out <predictions.jsonl>');
  const masksOut = str(values['masks-out']);
  const { runPredict } = await import('./dataset-commands.js');
  const message = await runPredict(
    dataset,
    out,
    { ...planOptions(values), ...(masksOut !== undefined ? { masksOut } : {}) },
    terminalProgress('predicting', process.stderr, values.quiet === true),
  );
  process.stderr.write(`${message}\n`);
  return 0;
}

async function runEvaluateCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...PLAN_OPTIONS,
      predictions: { type: 'string' },
      json: { type: 'string' },
      masks: { type: 'string' },
      resamples: { type: 'string' },
      'held-out-only': { type: 'boolean' },
      overwrite: { type: 'boolean' },
    },
    'evaluate',
  );
  if (values.help) return printUsage('evaluate');
  const dataset = oneDataset(positionals, 'evaluate');
  const extra = pickStrings(values, {
    predictions: 'predictions',
    json: 'json',
    masks: 'masks',
    resamples: 'resamples',
  });
  const { runEvaluate } = await import('./dataset-commands.js');
  const { text } = await runEvaluate(
    dataset,
    { ...planOptions(values), ...extra, heldOutOnly: values['held-out-only'] === true },
    terminalProgress('predicting', process.stderr, values.quiet === true),
  );
  process.stdout.write(`${text}\n`);
  return 0;
}

async function runTrainCommand(args: readonly string[]): Promise<number> {
  const [what, ...rest] = args;
  if (what === '--help' || what === '-h') return printUsage('train');
  if (what === 'localizer') return runTrainLocalizerCommand(rest);
  if (what === 'levels') return runTrainLevelsCommand(rest);
  if (what === 'grader') return runTrainGraderCommand(rest);
  if (what === 'grader-v2') return runTrainGraderV2Command(rest);
  if (what === 'few-shot') return runFewShotCommand(rest);
  if (what !== 'prior') {
    throw new SpinegradeError(
      'USAGE',
      'train needs a model kind: "train prior", "train localizer", "train levels" or "train grader"',
    );
  }
  const parsed = parseTrainArguments(rest, 'prior', ['folds', 'seed', 'resamples']);
  if (!parsed) return printUsage('train prior');
  const { data, out, values } = parsed;
  const options = pickStrings(values, { folds: 'folds', seed: 'seed', resamples: 'resamples' });
  const [{ trainPriorOnDataset }, { priorTrainingSettings }] = await Promise.all([
    import('../training/prior/pipeline.js'),
    import('./train-options.js'),
  ]);
  const message = await trainPriorOnDataset(
    data,
    out,
    priorTrainingSettings(options),
    terminalProgress('cross-validating', process.stderr, values.quiet === true),
  );
  process.stderr.write(`${message}\n`);
  return 0;
}

/** Parses `train <kind> --data D --out O [--flag value …]`; undefined when help was asked for. */
function parseTrainArguments(
  args: readonly string[],
  kind: string,
  flags: readonly string[],
): { data: string; out: string; values: Flags } | undefined {
  const spec: OptionSpec = {
    data: { type: 'string' },
    out: { type: 'string', short: 'o' },
    overwrite: { type: 'boolean' },
  };
  for (const flag of flags) spec[flag] = { type: 'string' };
  const parsed = parseOptionsOnly(args, spec, `train ${kind}`, '(use --data <dataset-dir>)');
  if (!parsed) return undefined;
  const { values } = parsed;
  const data = str(values.data);
  const out = str(values.out);
  if (!data || !out)
    throw new SpinegradeError('USAGE', `train ${kind} needs --data <dataset-dir> and --out <model-dir>`);
  // The same rule as every writer: what a run would replace is refused unless --overwrite.
  const written = kind === 'few-shot' ? 'few-shot.json' : kind === 'grader-v2' ? 'grader-v2.json' : 'model.json';
  if (values.overwrite !== true && existsSync(join(out, written)))
    throw new SpinegradeError('OUTPUT_ERROR', `output already holds ${written} (pass --overwrite to replace it)`, out);
  return { data, out, values };
}

/** The string options that were given, renamed from their flags. */
function pickStrings<K extends string>(values: Flags, names: Record<K, string>): Partial<Record<K, string>> {
  return Object.fromEntries(
    Object.entries<string>(names)
      .filter(([, flag]) => str(values[flag]) !== undefined)
      .map(([key, flag]) => [key, str(values[flag])]),
  ) as Partial<Record<K, string>>;
}

async function runTrainLocalizerCommand(args: readonly string[]): Promise<number> {
  const parsed = parseTrainArguments(args, 'localizer', [
    'epochs',
    'workers',
    'folds',
    'fold',
    'seed',
    'patience',
    'canvas',
    'spacing-mm',
    'base-filters',
    'depth',
    'heatmap-channels',
    'resamples',
    'cross-validate',
  ]);
  if (!parsed) return printUsage('train localizer');
  const { data, out, values } = parsed;
  const names = {
    epochs: 'epochs',
    workers: 'workers',
    folds: 'folds',
    fold: 'fold',
    seed: 'seed',
    patience: 'patience',
    canvas: 'canvas',
    spacingMm: 'spacing-mm',
    baseFilters: 'base-filters',
    depth: 'depth',
    heatmapChannels: 'heatmap-channels',
    resamples: 'resamples',
    crossValidate: 'cross-validate',
  } as const;
  const options = pickStrings(values, names);
  const quiet = values.quiet === true;
  const [{ trainLocalizerOnDataset }, { localizerTrainingSettings }] = await Promise.all([
    import('../training/localizer/pipeline.js'),
    import('./train-options.js'),
  ]);
  const message = await trainLocalizerOnDataset(
    data,
    out,
    localizerTrainingSettings(options),
    terminalProgress('training', process.stderr, quiet),
    (line) => {
      if (!quiet) process.stderr.write(`${line}\n`);
    },
  );
  process.stderr.write(`${message}\n`);
  return 0;
}

async function runTrainLevelsCommand(args: readonly string[]): Promise<number> {
  const names = {
    epochs: 'epochs',
    workers: 'workers',
    folds: 'folds',
    seed: 'seed',
    canvas: 'canvas',
    filters: 'filters',
    workDir: 'work-dir',
    final: 'final',
    resamples: 'resamples',
    localizer: 'localizer',
    repredict: 'repredict',
    train: 'train',
    trainFolds: 'train-folds',
    bundleFold: 'bundle-fold',
  } as const;
  const parsed = parseTrainArguments(args, 'levels', Object.values(names));
  if (!parsed) return printUsage('train levels');
  const { data, out, values } = parsed;
  const quiet = values.quiet === true;
  const { runTrainLevels } = await import('./train-levels-command.js');
  const message = await runTrainLevels(
    data,
    out,
    pickStrings(values, names),
    terminalProgress('reading slices', process.stderr, quiet),
    (line) => {
      if (!quiet) process.stderr.write(`${line}\n`);
    },
  );
  process.stderr.write(`${message}\n`);
  return 0;
}

async function runTrainGraderCommand(args: readonly string[]): Promise<number> {
  const names = {
    localizer: 'localizer',
    epochs: 'epochs',
    contextEpochs: 'context-epochs',
    folds: 'folds',
    seed: 'seed',
    workers: 'workers',
    resamples: 'resamples',
    reviewThreshold: 'review-threshold',
  } as const;
  const parsed = parseTrainArguments(args, 'grader', Object.values(names));
  if (!parsed) return printUsage('train grader');
  const { data, out, values } = parsed;
  const quiet = values.quiet === true;
  const [{ trainGraderOnDataset }, { graderTrainingSettings }] = await Promise.all([
    import('../training/grader/pipeline.js'),
    import('./train-options.js'),
  ]);
  const message = await trainGraderOnDataset(
    data,
    out,
    graderTrainingSettings(pickStrings(values, names)),
    terminalProgress('grader', process.stderr, quiet),
    (line) => {
      if (!quiet) process.stderr.write(`${line}\n`);
    },
  );
  process.stderr.write(`${message}\n`);
  return 0;
}

async function runTrainGraderV2Command(args: readonly string[]): Promise<number> {
  const parsed = parseTrainArguments(args, 'grader-v2', [
    'recipes',
    'folds',
    'seed',
    'workers',
    'resamples',
    'review-accuracy',
  ]);
  if (!parsed) return printUsage('train grader-v2');
  const { data, out, values } = parsed;
  const quiet = values.quiet === true;
  const number = (flag: string, fallback: number): number => {
    const text = str(values[flag]);
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value)) throw new SpinegradeError('USAGE', `--${flag} needs a number, got "${text}"`);
    return value;
  };
  const workers = number('workers', 2);
  if (workers !== 1 && workers !== 2) throw new SpinegradeError('USAGE', `--workers must be 1 or 2, got ${workers}`);
  const { runTrainGraderV2 } = await import('../training/grader/run.js');
  const message = await runTrainGraderV2(data, out, {
    recipes: (str(values.recipes) ?? 'reference')
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean),
    folds: number('folds', 5),
    seed: number('seed', 1),
    workers,
    resamples: number('resamples', 1000),
    reviewAccuracy: number('review-accuracy', 0.75),
    command: ['spinegrade', 'train', 'grader-v2', ...args].join(' '),
    onLog: (line) => {
      if (!quiet) process.stderr.write(`${line}\n`);
    },
  });
  process.stderr.write(`${message}\n`);
  return 0;
}

async function runFewShotCommand(args: readonly string[]): Promise<number> {
  const names = {
    localizer: 'localizer',
    source: 'source',
    target: 'target',
    shots: 'shots',
    seeds: 'seeds',
    epochs: 'epochs',
    contextEpochs: 'context-epochs',
    tuneEpochs: 'tune-epochs',
    tuneContextEpochs: 'tune-context-epochs',
    learningRate: 'learning-rate',
    workers: 'workers',
    resamples: 'resamples',
  } as const;
  const parsed = parseTrainArguments(args, 'few-shot', Object.values(names));
  if (!parsed) return printUsage('train few-shot');
  const quiet = parsed.values.quiet === true;
  const [{ fewShotOnDataset }, { fewShotSettings }] = await Promise.all([
    import('../training/grader/siteTuning.js'),
    import('./train-options.js'),
  ]);
  const message = await fewShotOnDataset(
    parsed.data,
    parsed.out,
    fewShotSettings(pickStrings(parsed.values, names)),
    terminalProgress('few-shot', process.stderr, quiet),
    (line) => {
      if (!quiet) process.stderr.write(`${line}\n`);
    },
  );
  process.stderr.write(`${message}\n`);
  return 0;
}

async function runFineTuneCommand(args: readonly string[]): Promise<number> {
  const names = {
    model: 'model',
    localizer: 'localizer',
    epochs: 'epochs',
    contextEpochs: 'context-epochs',
    learningRate: 'learning-rate',
    seed: 'seed',
    workers: 'workers',
  } as const;
  const spec: OptionSpec = {
    data: { type: 'string' },
    out: { type: 'string', short: 'o' },
    overwrite: { type: 'boolean' },
  };
  for (const flag of Object.values(names)) spec[flag] = { type: 'string' };
  const parsed = parseOptionsOnly(args, spec, 'finetune', '(use --data <own-data-dir>)');
  if (!parsed) return printUsage('finetune');
  const { values } = parsed;
  const data = str(values.data);
  const out = str(values.out);
  if (!data || !out) throw new SpinegradeError('USAGE', 'finetune needs --data <own-data-dir> and --out <model-dir>');
  const quiet = values.quiet === true;
  const [{ fineTuneOnDataset }, { fineTuneSettings }] = await Promise.all([
    import('../training/grader/siteTuning.js'),
    import('./train-options.js'),
  ]);
  const message = await fineTuneOnDataset(
    data,
    out,
    fineTuneSettings({ ...pickStrings(values, names), overwrite: values.overwrite === true }),
    terminalProgress('fine-tuning', process.stderr, quiet),
    (line) => {
      if (!quiet) process.stderr.write(`${line}\n`);
    },
  );
  process.stderr.write(`${message}\n`);
  return 0;
}

function printUsage(command?: string): number {
  process.stdout.write(`${(command !== undefined ? commandUsage(command) : undefined) ?? USAGE}\n`);
  return 0;
}

/** Prints one line for a problem and returns its exit code; a stack only with SPINEGRADE_DEBUG=1. */
export function reportError(error: unknown): number {
  if (isSpinegradeError(error)) {
    process.stderr.write(`spinegrade: ${describeError(error)}\n`);
    if (process.env.SPINEGRADE_DEBUG === '1' && error.stack) process.stderr.write(`${error.stack}\n`);
    return error.exitCode;
  }
  process.stderr.write(
    `spinegrade: internal error: ${describeError(error)} (please report it; SPINEGRADE_DEBUG=1 shows the stack)\n`,
  );
  if (process.env.SPINEGRADE_DEBUG === '1' && error instanceof Error && error.stack)
    process.stderr.write(`${error.stack}\n`);
  return 1;
}
