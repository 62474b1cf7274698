/**
 * `spinegrade batch` (grade a cohort: queue one job per study, run workers, write the cohort table)
 * and `spinegrade worker` (take batch jobs from a Redis queue; any number, on any machine).
 * See docs/batch.md.
 */
import { parseRedisUrl } from '../batch/redis.js';
import { type BatchSummary, runBatch } from '../batch/run.js';
import { onStopSignals } from '../batch/signals.js';
import type { WorkerParameters } from '../batch/workerParameters.js';
import { runWorkerProcess } from '../batch/workerProcess.js';
import { SpinegradeError } from '../errors.js';
import { parsePixelSpacing } from '../io/pixelSpacing.js';
import { parseCommandLine as parse, stringOption } from './args.js';

const str = stringOption;

function count(value: string | boolean | undefined, flag: string, minimum: number): number | undefined {
  const text = str(value);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < minimum) {
    throw new SpinegradeError('USAGE', `${flag} wants a whole number ≥ ${minimum}, got "${text}"`);
  }
  return n;
}

/** The closing lines of `batch` on stdout. */
export function formatBatchSummary(summary: BatchSummary): string {
  const { studies, cohort } = summary;
  const lines = [
    `batch: ${studies.total} studies: ${cohort.ok} done (${studies.analysed} analysed now, ${studies.alreadyDone} done before), ` +
      `${cohort.failed} failed, ${cohort.pending} not finished` +
      (summary.studiesPerMinute !== null ? `; ${summary.studiesPerMinute.toFixed(1)} studies/min` : '') +
      ` [${summary.mode}, models ${summary.modelVersion.slice(0, 12)}]`,
    `cohort: ${summary.files.cohortCsv} and ${summary.files.cohortJsonl} (${cohort.rows} rows); page ${summary.files.cohortHtml}`,
    // What discovery left out, by reason (also in batch-run.json, skippedFiles): every file is accounted for.
    ...Object.entries(summary.skippedFiles).map(([reason, n]) => `left out: ${n} ${reason}`),
  ];
  if (summary.interrupted) lines.push('interrupted: run the same command again to resume');
  return `${lines.join('\n')}\n`;
}

/** `spinegrade batch …`; returns the exit code (130 when interrupted). */
export async function runBatchCommand(args: readonly string[], usage: () => number): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      out: { type: 'string' },
      workers: { type: 'string' },
      redis: { type: 'string' },
      concurrency: { type: 'string' },
      model: { type: 'string' },
      localizer: { type: 'string' },
      'pixel-spacing': { type: 'string' },
      'retry-failed': { type: 'boolean' },
      'in-process': { type: 'boolean' },
    },
    'batch',
  );
  if (values.help) return usage();
  if (positionals.length !== 1) {
    throw new SpinegradeError('USAGE', 'batch needs exactly one input: a folder of studies or a manifest.csv');
  }
  const out = str(values.out);
  if (!out) throw new SpinegradeError('USAGE', 'batch needs --out <dir>');
  const pixelSpacing = parsePixelSpacing(str(values['pixel-spacing']));
  const workers = count(values.workers, '--workers', 0);
  const concurrency = count(values.concurrency, '--concurrency', 1);
  const controller = new AbortController();
  const removeHandlers = onStopSignals(
    (signal) => {
      process.stderr.write(
        `\nspinegrade: ${signal}: stopping (workers finish the studies in hand; run again to resume)\n`,
      );
      controller.abort();
    },
    (line) => process.stderr.write(`${line}\n`),
  );
  try {
    const summary = await runBatch({
      input: positionals[0] as string,
      out,
      ...(workers !== undefined ? { workers } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(str(values.redis) !== undefined ? { redis: str(values.redis) } : {}),
      ...(str(values.model) !== undefined ? { model: str(values.model) } : {}),
      ...(str(values.localizer) !== undefined ? { localizer: str(values.localizer) } : {}),
      ...(pixelSpacing ? { pixelSpacing } : {}),
      retryFailed: values['retry-failed'] === true,
      inProcess: values['in-process'] === true,
      quiet: values.quiet === true,
      signal: controller.signal,
    });
    process.stdout.write(formatBatchSummary(summary));
    return summary.interrupted ? 130 : 0;
  } finally {
    removeHandlers();
  }
}

/** `spinegrade worker …`; returns the exit code once stopped. */
export async function runWorkerCommand(args: readonly string[], usage: () => number): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      redis: { type: 'string' },
      concurrency: { type: 'string' },
      model: { type: 'string' },
      localizer: { type: 'string' },
    },
    'worker',
  );
  if (values.help) return usage();
  if (positionals.length > 0)
    throw new SpinegradeError('USAGE', `worker takes no input paths (got "${positionals[0]}")`);
  const url = str(values.redis) ?? process.env.SPINEGRADE_REDIS_URL;
  if (!url) throw new SpinegradeError('USAGE', 'worker needs --redis <url> (or SPINEGRADE_REDIS_URL)');
  const parameters: WorkerParameters = {
    redis: parseRedisUrl(url),
    concurrency: count(values.concurrency, '--concurrency', 1) ?? 1,
    ...(str(values.model) !== undefined ? { model: str(values.model) } : {}),
    ...(str(values.localizer) !== undefined ? { localizer: str(values.localizer) } : {}),
    verbose: values.quiet !== true,
  };
  const say = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const removeHandlers = onStopSignals(() => stop(), say);
  try {
    await runWorkerProcess(parameters, stopped, say);
    return 0;
  } finally {
    removeHandlers();
  }
}
