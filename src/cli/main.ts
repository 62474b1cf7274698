/** The `spinegrade` command line: dispatches sub-commands and turns problems into exit codes. */
import { parseArgs } from 'node:util';
import { describeError, isSpinegradeError, SpinegradeError } from '../errors.js';
import { parsePixelSpacing } from './args.js';
import { convert } from './convert.js';
import { assertSomethingUsable, formatInspectReport, inspectPaths } from './inspect.js';
import { terminalProgress } from './progress.js';

const USAGE = `spinegrade — lumbar spine MRI disc grading (research use only, not a medical device)

Usage:
  spinegrade inspect <path...> [--json] [--pixel-spacing X[,Y]]
      List studies and series (plane, sequence, size, spacing) and whether each can be graded.
      Exits 10 when no series can be graded.
  spinegrade convert <path...> --out <file.nii|file.nii.gz|file.mha|file.mhd|folder>
                     [--format nifti|metaimage|dicom] [--pixel-spacing X[,Y]] [--overwrite]
      Write one series as NIfTI, MetaImage or a DICOM MR series (a folder).

Options:
  --pixel-spacing X[,Y]  spacing in mm of PNG/JPEG slices (X between columns, Y between rows)
  --quiet                no progress line
  -h, --help             this help

Exit codes are listed in the README ("Exit codes").`;

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
      case 'convert':
        return await runConvert(rest);
      default:
        throw new SpinegradeError('USAGE', `unknown command "${command}" (try: spinegrade --help)`);
    }
  } catch (error) {
    return reportError(error);
  }
}

const EXIT_USAGE = 2;

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
type Flags = Record<string, string | boolean | undefined>;

function parse(args: readonly string[], options: OptionSpec): { values: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...options, help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Flags, positionals };
  } catch (error) {
    throw new SpinegradeError('USAGE', `${describeError(error)} (try: spinegrade --help)`);
  }
}

async function runInspect(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, 'pixel-spacing': { type: 'string' } });
  if (values.help) return printUsage();
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

async function runConvert(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: 'string', short: 'o' },
    format: { type: 'string' },
    overwrite: { type: 'boolean' },
    'pixel-spacing': { type: 'string' },
  });
  if (values.help) return printUsage();
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

function printUsage(): number {
  process.stdout.write(`${USAGE}\n`);
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
