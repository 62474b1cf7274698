import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SpinegradeError } from '../../src/errors.js';
import { buildFolderAtomic } from '../../src/io/atomic.js';
import { tempFolder } from '../helpers/tmp.js';

/** A folder `out` in `parent` holding `old.txt`, as an earlier run would have left it. */
async function previousOutput(parent: string): Promise<string> {
  const folder = join(parent, 'out');
  await mkdir(folder);
  await writeFile(join(folder, 'old.txt'), 'previous run');
  return folder;
}

const outputError = (e: unknown): boolean => e instanceof SpinegradeError && e.kind === 'OUTPUT_ERROR';

test('buildFolderAtomic replaces an existing folder and leaves no sibling behind', async (t) => {
  const parent = await tempFolder(t);
  const folder = await previousOutput(parent);
  await buildFolderAtomic(folder, async (dir) => writeFile(join(dir, 'new.txt'), 'this run'));
  assert.deepEqual(await readdir(parent), ['out']);
  assert.deepEqual(await readdir(folder), ['new.txt']);
  assert.equal(await readFile(join(folder, 'new.txt'), 'utf8'), 'this run');
});

test('a fill that fails half-way leaves the previous folder as it was and removes the half-written one', async (t) => {
  const parent = await tempFolder(t);
  const folder = await previousOutput(parent);
  await assert.rejects(
    buildFolderAtomic(folder, async (dir) => {
      await writeFile(join(dir, 'new.txt'), 'half');
      throw new Error('disk full');
    }),
    (e: unknown) => outputError(e) && /cannot write: disk full/.test((e as Error).message),
  );
  assert.deepEqual(await readdir(parent), ['out']);
  assert.deepEqual(await readdir(folder), ['old.txt']);
});

test('a failure after the previous folder was moved aside puts it back', async (t) => {
  const parent = await tempFolder(t);
  const folder = await previousOutput(parent);
  // Injected failure: the new folder vanishes after it was filled, so the final rename fails once the
  // previous folder has already been moved aside; only the restore brings it back.
  await assert.rejects(
    buildFolderAtomic(folder, async (dir) => {
      await writeFile(join(dir, 'new.txt'), 'this run');
      await rm(dir, { recursive: true });
    }),
    outputError,
  );
  assert.deepEqual(await readdir(parent), ['out'], 'the previous folder is back under its name, nothing beside it');
  assert.deepEqual(await readdir(folder), ['old.txt']);
  assert.equal(await readFile(join(folder, 'old.txt'), 'utf8'), 'previous run');
});

test('a last check that refuses (beforeSwap) keeps its own error and the previous folder', async (t) => {
  const parent = await tempFolder(t);
  const folder = await previousOutput(parent);
  const refusal = new SpinegradeError('OUTPUT_ERROR', 'output already exists (pass --overwrite to replace it)', folder);
  await assert.rejects(
    buildFolderAtomic(
      folder,
      async (dir) => writeFile(join(dir, 'new.txt'), 'this run'),
      async () => {
        throw refusal;
      },
    ),
    (e: unknown) => e === refusal,
  );
  assert.deepEqual(await readdir(parent), ['out']);
  assert.deepEqual(await readdir(folder), ['old.txt']);
});
