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

/** A user and group to run the command as (only root may ask for another). */
export interface RunAs {
  uid: number;
  gid: number;
}

/** The unprivileged `nobody` user and `nogroup` group of Debian. */
export const NOBODY: RunAs = { uid: 65534, gid: 65534 };

/** Runs `bin/spinegrade.js` with the arguments, from the repository root (as `user` when given). */
export function runCli(args: readonly string[], env: Record<string, string> = {}, user?: RunAs): CliRun {
  const result = spawnSync(process.execPath, ['bin/spinegrade.js', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env, SPINEGRADE_DEBUG: '' },
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
