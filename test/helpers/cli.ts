/** Runs the built `spinegrade` command as a user would. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from build/test/…). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A finished run of the command. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin/spinegrade.js` with the arguments, from the repository root. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): CliRun {
  const result = spawnSync(process.execPath, ['bin/spinegrade.js', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env, SPINEGRADE_DEBUG: '' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
