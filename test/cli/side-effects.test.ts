import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';
import { call, uploadExample, waitJob } from '../server/helpers.js';

const EXAMPLE = 'examples/spider-98-t2space/dicom';

/** Every path under `folder`, relative to it. */
async function contents(folder: string): Promise<string[]> {
  return (await readdir(folder, { recursive: true })).map(String).sort();
}

test('inspect and analyze leave nothing in HOME or TMPDIR, only their output', async (t) => {
  const folder = await tempFolder(t);
  const home = join(folder, 'home');
  const temp = join(folder, 'tmp');
  const out = join(folder, 'out');
  await mkdir(home);
  await mkdir(temp);
  // The example runs on onnxruntime where it loads; its telemetry wrote under HOME and TMPDIR.
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: temp, SPINEGRADE_DEBUG: '' };
  delete env.XDG_CACHE_HOME;
  delete env.ORT_DISABLE_TELEMETRY;
  const pids: number[] = [];
  for (const args of [
    ['inspect', EXAMPLE],
    ['analyze', EXAMPLE, '--out', out],
  ]) {
    const run = spawnSync(process.execPath, ['bin/spinegrade.js', ...args], { cwd: REPO_ROOT, encoding: 'utf8', env });
    assert.equal(run.status, 0, `${args[0]}: ${run.stderr}`);
    pids.push(run.pid);
  }
  assert.ok(existsSync(join(out, 'findings.json')), 'analyze wrote its report');
  assert.deepEqual(await contents(home), [], 'nothing new under HOME');
  assert.deepEqual(await contents(temp), [], 'nothing new under TMPDIR');
  for (const pid of pids) {
    assert.equal(existsSync(join(tmpdir(), `mat-debug-${pid}.log`)), false, `no mat-debug-${pid}.log`);
    assert.equal(existsSync(`/tmp/mat-debug-${pid}.log`), false, `no /tmp/mat-debug-${pid}.log`);
  }
});

test('serve, analysing in its worker threads, leaves nothing in HOME or TMPDIR, only its data folder', async (t) => {
  const folder = await tempFolder(t);
  const home = join(folder, 'home');
  const temp = join(folder, 'tmp');
  const data = join(folder, 'data');
  await mkdir(home);
  await mkdir(temp);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: temp, SPINEGRADE_DEBUG: '' };
  delete env.XDG_CACHE_HOME;
  delete env.ORT_DISABLE_TELEMETRY;
  const child = spawn(process.execPath, ['bin/spinegrade.js', 'serve', '--port', '0', '--data-dir', data], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const match = /spinegrade serve: (http:\/\/[^/\s]+)\//.exec(stdout);
      if (match) resolve(match[1] as string);
    });
    void exited.then(() => reject(new Error(`serve exited: ${stdout}`)));
  });
  const id = await uploadExample(url);
  const job = await call(url, `/api/studies/${id}/analyze`, { method: 'POST' });
  assert.equal((await waitJob(url, job.json.jobId)).status, 'done', 'the analysis ran (in a worker thread)');
  child.kill('SIGTERM');
  await exited;
  assert.deepEqual(await contents(home), [], 'nothing new under HOME');
  assert.deepEqual(await contents(temp), [], 'nothing new under TMPDIR');
  assert.equal(existsSync(join(tmpdir(), `mat-debug-${child.pid}.log`)), false, `no mat-debug-${child.pid}.log`);
  assert.equal(existsSync(`/tmp/mat-debug-${child.pid}.log`), false, `no /tmp/mat-debug-${child.pid}.log`);
});
