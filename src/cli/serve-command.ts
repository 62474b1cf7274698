/**
 * `spinegrade serve`: the HTTP server with the JSON API (docs/api.md) and the viewer. Keeps its
 * studies in a data folder (said at start-up) unless `--in-memory`. Runs until SIGINT/SIGTERM, then
 * ends the running job, frees the models and closes the store.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

import { SpinegradeError } from '../errors.js';
import { DEFAULT_LIMITS, startServer } from '../server/app.js';
import { parseOptionsOnly } from './args.js';
import { SERVE_USAGE } from './usage.js';

function positiveInteger(text: string | undefined, flag: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new SpinegradeError('USAGE', `${flag} wants a whole number from 1 to ${max}, got "${text}"`);
  return n;
}

/** The data folder when none is given: `$SPINEGRADE_DATA_DIR`, else `$XDG_DATA_HOME/spinegrade`, else `~/.local/share/spinegrade`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SPINEGRADE_DATA_DIR) return resolve(env.SPINEGRADE_DATA_DIR);
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'spinegrade');
}

/** Runs `serve` until a signal stops it; returns the exit code. */
export async function runServeCommand(args: readonly string[], signal?: AbortSignal): Promise<number> {
  const parsed = parseOptionsOnly(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      dicomweb: { type: 'string' },
      token: { type: 'string' },
      concurrency: { type: 'string' },
      'data-dir': { type: 'string' },
      'in-memory': { type: 'boolean' },
      'max-upload-mb': { type: 'string' },
      'max-files': { type: 'string' },
      model: { type: 'string' },
      localizer: { type: 'string' },
    },
    'serve',
    '(try: spinegrade serve --help)',
  );
  if (!parsed) {
    process.stdout.write(`Usage:\n${SERVE_USAGE}\n`);
    return 0;
  }
  const { values, str } = parsed;
  const portText = str('port');
  const port = portText === undefined ? 8080 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new SpinegradeError('USAGE', `--port wants a port number, got "${portText}"`);
  const concurrency = positiveInteger(str('concurrency'), '--concurrency', 2);
  const maxUploadMb = positiveInteger(str('max-upload-mb'), '--max-upload-mb', 64 * 1024);
  const maxFiles = positiveInteger(str('max-files'), '--max-files', 100_000);
  const quiet = values.quiet === true;
  const inMemory = values['in-memory'] === true;
  if (inMemory && str('data-dir') !== undefined) {
    throw new SpinegradeError('USAGE', '--in-memory and --data-dir exclude each other');
  }
  const dataDir = inMemory ? undefined : resolve(str('data-dir') ?? defaultDataDir());
  const server = await startServer({
    port,
    ...(str('host') !== undefined ? { host: str('host') } : {}),
    ...(str('token') !== undefined ? { token: str('token') } : {}),
    ...(str('dicomweb') !== undefined ? { dicomweb: str('dicomweb') } : {}),
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(str('model') !== undefined ? { model: str('model') } : {}),
    ...(str('localizer') !== undefined ? { localizer: str('localizer') } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    limits: {
      ...(maxUploadMb !== undefined ? { maxUploadBytes: maxUploadMb * 1024 * 1024 } : {}),
      ...(maxFiles !== undefined ? { maxFiles } : {}),
      maxFileBytes: Math.min(DEFAULT_LIMITS.maxFileBytes, (maxUploadMb ?? 512) * 1024 * 1024),
    },
    log: quiet ? () => undefined : (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
  });
  process.stdout.write(
    `spinegrade serve: ${server.url}/ (Ctrl-C stops it)\nspinegrade serve: ${dataDir ? `data folder ${dataDir}` : 'studies in memory only (--in-memory): lost when the server stops'}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
  });
  process.stderr.write('spinegrade serve: stopping\n');
  await server.close();
  return 0;
}
