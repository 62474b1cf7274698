/**
 * The one place where a test finds that an outside program (dcmtk, dicom3tools, Chromium, Orthanc,
 * redis-server, nibabel…) or outside data (../shared/data/spider) is absent. On a developer's machine
 * the test skips, saying why; where {@link REQUIRE_TOOLS_VARIABLE} is `1` (CI sets it in `.ci/run`)
 * the same absence fails the test, so nothing the suite claims to check is skipped there in silence.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from './cli.js';

/** Environment variable that turns every "program absent" skip into a failure. */
export const REQUIRE_TOOLS_VARIABLE = 'SPINEGRADE_REQUIRE_TOOLS';

/** Whether absent programs and data fail the tests (CI) rather than skip them. */
export function toolsRequired(): boolean {
  return process.env[REQUIRE_TOOLS_VARIABLE] === '1';
}

/** Whether `program` can be started from PATH (it is run once with `probeArgument`, output ignored). */
export function hasProgram(program: string, probeArgument = '-h'): boolean {
  return !spawnSync(program, [probeArgument], { stdio: 'ignore', timeout: 30_000 }).error;
}

/** Why a test cannot run when `program` is absent (`package` is the Debian package), or false when it is there. */
export function programMissing(program: string, debianPackage: string): string | false {
  return hasProgram(program) ? false : `${program} (Debian package ${debianPackage}) is not installed`;
}

/** Python interpreters tried, in order, for nibabel (Debian's python3-nibabel lives under /usr/bin/python3). */
const PYTHONS: readonly string[] = ['python3', '/usr/bin/python3'];

/** A Python interpreter that imports nibabel, or undefined when none does. */
export function nibabelPython(): string | undefined {
  return PYTHONS.find((python) => spawnSync(python, ['-c', 'import nibabel'], { stdio: 'ignore' }).status === 0);
}

/** Why a test cannot ask nibabel here, or false when it can. */
export function nibabelMissing(): string | false {
  return nibabelPython() ? false : 'nibabel (Debian package python3-nibabel) is not installed';
}

/** The SPIDER release beside the checkout (CI has a copy of `shared/` there; a fresh clone may not). */
export const SPIDER_DATA = join(REPO_ROOT, '..', 'shared', 'data', 'spider');

/** Why a test of the real SPIDER release cannot run here, or false when the release is there. */
export function spiderDataMissing(): string | false {
  return existsSync(join(SPIDER_DATA, 'overview.csv')) ? false : `no SPIDER data at ${SPIDER_DATA}`;
}

/**
 * Skips the test with `missing` as its reason and returns true, unless `missing` is false (returns
 * false: go on). Where {@link toolsRequired}, a reason throws instead, failing the test.
 */
export function skipWhenMissing(t: TestContext, missing: string | false): boolean {
  if (missing === false) return false;
  if (toolsRequired()) {
    throw new Error(`${missing}; it is required here (${REQUIRE_TOOLS_VARIABLE}=1)`);
  }
  t.skip(missing);
  return true;
}
