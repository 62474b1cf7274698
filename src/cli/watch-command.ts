/**
 * `spinegrade watch --dicomweb <url>`: polls the PACS for new sagittal lumbar MR studies, analyses
 * each once and stores the SR and SEG back (see `pacs/watch.ts`). Runs until SIGINT/SIGTERM, or one
 * poll with `--once`.
 */

import { resolve } from 'node:path';
import { type Analyzer, createAnalyzer } from '../analyze/analyze.js';
import { describeError, SpinegradeError } from '../errors.js';
import { DicomwebClient } from '../pacs/client.js';
import { pollOnce, runWatch } from '../pacs/watch.js';
import { parseOptionsOnly } from './args.js';
import { WATCH_USAGE } from './usage.js';

/** Runs `watch`; returns the exit code. */
export async function runWatchCommand(args: readonly string[], signal?: AbortSignal): Promise<number> {
  const parsed = parseOptionsOnly(
    args,
    {
      dicomweb: { type: 'string' },
      interval: { type: 'string' },
      settle: { type: 'string' },
      state: { type: 'string' },
      once: { type: 'boolean' },
      'max-attempts': { type: 'string' },
      model: { type: 'string' },
      localizer: { type: 'string' },
    },
    'watch',
    '(try: spinegrade watch --help)',
  );
  if (!parsed) {
    process.stdout.write(`Usage:\n${WATCH_USAGE}\n`);
    return 0;
  }
  const { values, str } = parsed;
  const url = str('dicomweb');
  if (!url) throw new SpinegradeError('USAGE', 'watch needs --dicomweb <url> (e.g. http://localhost:8042/dicom-web)');
  let client: DicomwebClient;
  try {
    client = new DicomwebClient(url);
  } catch (error) {
    throw new SpinegradeError('USAGE', `--dicomweb: ${describeError(error)}`);
  }
  const interval = Number(str('interval') ?? '60');
  if (!(Number.isFinite(interval) && interval >= 1 && interval <= 86_400)) {
    throw new SpinegradeError('USAGE', `--interval wants seconds from 1 to 86400, got "${str('interval')}"`);
  }
  const settle = Number(str('settle') ?? '30');
  if (!(Number.isFinite(settle) && settle >= 0 && settle <= 86_400)) {
    throw new SpinegradeError('USAGE', `--settle wants seconds from 0 to 86400, got "${str('settle')}"`);
  }
  const maxAttempts = Number(str('max-attempts') ?? '3');
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1 && maxAttempts <= 100)) {
    throw new SpinegradeError(
      'USAGE',
      `--max-attempts wants a whole number from 1 to 100, got "${str('max-attempts')}"`,
    );
  }
  const quiet = values.quiet === true;
  const log = quiet ? () => undefined : (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  let analyzer: Promise<Analyzer> | undefined;
  const getAnalyzer = (): Promise<Analyzer> => {
    analyzer ??= createAnalyzer({
      ...(str('model') !== undefined ? { model: str('model') as string } : {}),
      ...(str('localizer') !== undefined ? { localizer: str('localizer') as string } : {}),
    });
    return analyzer;
  };
  const controller = new AbortController();
  const stop = (): void => controller.abort(new Error('stopped'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  signal?.addEventListener('abort', stop, { once: true });
  const options = {
    client,
    statePath: resolve(str('state') ?? 'spinegrade-watch.json'),
    analyzer: getAnalyzer,
    maxAttempts,
    settleMs: settle * 1000,
    log,
    signal: controller.signal,
  };
  try {
    if (values.once) {
      // One pass over the PACS; a study still arriving is looked at again once it has had time to settle.
      let summary = await pollOnce(options);
      while (summary.waiting.length > 0) {
        await new Promise<void>((resolveWait, rejectWait) => {
          const timer = setTimeout(resolveWait, settle * 1000);
          controller.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            rejectWait(controller.signal.reason);
          });
        });
        const next = await pollOnce(options);
        summary = { ...next, processed: [...summary.processed, ...next.processed] };
      }
      process.stdout.write(
        `${summary.seen} MR studies: ${summary.processed.length} analysed, ${summary.skipped.length} skipped, ${summary.failed.length} failed\n`,
      );
      return 0;
    }
    log(`spinegrade watch: polling ${client.baseUrl} every ${interval} s (state ${options.statePath})`);
    await runWatch({ ...options, intervalMs: interval * 1000 });
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (analyzer) (await analyzer.catch(() => undefined))?.dispose();
  }
}
