/** `spinegrade compare <baseline> <follow-up> [--out <dir>] [--json] [--overwrite]`. */
import { compareStudies } from '../analyze/compare.js';
import { SpinegradeError } from '../errors.js';
import { formatComparison } from '../report/compare.js';
import { parseCommandLine as parse } from './args.js';

/** Usage lines of `compare`. */
export const COMPARE_USAGE = `  spinegrade compare <baseline> <follow-up> [--out <dir>] [--json] [--overwrite]
      Change between two analysed studies of one patient (each an analyze --out folder or a findings.json):
      levels matched by name; per level the probability that each grade changed, and the change in disc
      height, DHI, signal ratio and canal AP diameter against their measured repeatability ("within noise").
      --out writes comparison.json and comparison.html (the two overlays side by side) to a new folder.`;

/** Runs `compare`; returns the exit code. */
export async function runCompareCommand(args: readonly string[], printUsage: () => number): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      out: { type: 'string' },
      json: { type: 'boolean' },
      overwrite: { type: 'boolean' },
    },
    'compare',
  );
  if (values.help) return printUsage();
  const [baseline, followUp, ...extra] = positionals;
  if (baseline === undefined || followUp === undefined || extra.length > 0) {
    throw new SpinegradeError('USAGE', 'compare needs exactly two inputs: <baseline> <follow-up>');
  }
  const comparison = await compareStudies(baseline, followUp, {
    ...(typeof values.out === 'string' ? { out: values.out } : {}),
    overwrite: values.overwrite === true,
  });
  process.stdout.write(values.json ? `${JSON.stringify(comparison, null, 2)}\n` : formatComparison(comparison));
  if (typeof values.out === 'string') process.stderr.write(`wrote ${values.out}/ (comparison.json, comparison.html)\n`);
  return 0;
}
