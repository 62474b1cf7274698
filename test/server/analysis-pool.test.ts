import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { WorkerPoolRunner } from '../../src/server/analysisPool.js';
import { tempFolder } from '../helpers/tmp.js';
import { EXAMPLE } from './helpers.js';

/**
 * A finished task lets go of its job's abort signal: the queue keeps finished jobs (and their
 * signals) for an hour, and a listener left on the signal kept each task's inputs and result —
 * findings documents of ~1 MB in memory — for as long (the soak bench's growing memory).
 */
test('the worker pool removes its abort listener when a task ends, done or failed', async (t) => {
  const runner = new WorkerPoolRunner(1);
  t.after(() => runner.close());
  const folder = await tempFolder(t);
  const filesDir = join(folder, 'files');
  await cp(EXAMPLE, filesDir, { recursive: true });
  const progress = (): void => undefined;

  const done = new AbortController();
  const analysed = await runner.analyze(
    { key: 's-test:1', filesDir, heatDir: join(folder, 'heat') },
    progress,
    done.signal,
  );
  assert.ok(analysed.findings.studies[0]?.levels.length, 'the example is analysed');
  assert.equal(getEventListeners(done.signal, 'abort').length, 0, 'no listener after a done task');

  const failed = new AbortController();
  const failing = runner.analyze(
    { key: 's-test:2', filesDir: join(folder, 'absent'), heatDir: join(folder, 'heat2') },
    progress,
    failed.signal,
  );
  assert.equal(getEventListeners(failed.signal, 'abort').length, 1, 'the running task listens for an abort');
  await assert.rejects(failing);
  assert.equal(getEventListeners(failed.signal, 'abort').length, 0, 'no listener after a failed task');
});
