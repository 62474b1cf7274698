import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const CHECK = join(REPO_ROOT, 'scripts', 'check-layers.mjs');

/** Runs the layer check on a repository root; returns its exit status and output. */
function checkLayers(root: string): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, [CHECK, root], { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A copy of src/ and ARCHITECTURE.md to plant imports in. */
async function copyOfTree(folder: string): Promise<string> {
  await cp(join(REPO_ROOT, 'src'), join(folder, 'src'), { recursive: true });
  await cp(join(REPO_ROOT, 'ARCHITECTURE.md'), join(folder, 'ARCHITECTURE.md'));
  return folder;
}

test('the source tree imports only down the layers of ARCHITECTURE.md, without cycles', () => {
  const { status, output } = checkLayers(REPO_ROOT);
  assert.equal(status, 0, output);
  assert.match(output, /^upward imports: 0$/m);
  assert.match(output, /^file cycles: 0$/m);
  assert.match(output, /^folder cycles: 0$/m);
  assert.match(output, /^folders missing from the layer map: 0$/m);
});

test('an upward import fails the check and is named', async (t) => {
  const root = await copyOfTree(await tempFolder(t));
  await appendFile(join(root, 'src', 'disc', 'levels.ts'), "\nimport type { Grader } from '../grade/grader.js';\n");
  const { status, output } = checkLayers(root);
  assert.equal(status, 1, output);
  assert.match(output, /^upward imports: 1$/m);
  assert.match(output, /disc\/levels\.ts -> grade\/grader\.ts/);
});

test('a dynamic import into training from inference fails the check', async (t) => {
  const root = await copyOfTree(await tempFolder(t));
  await appendFile(
    join(root, 'src', 'grade', 'volume.ts'),
    "\nexport const late = () => import('../training/grader/train.js');\n",
  );
  const { status, output } = checkLayers(root);
  assert.equal(status, 1, output);
  assert.match(output, /grade\/volume\.ts -> training\/grader\/train\.ts/);
});

test('an import circle between files of one folder fails the check', async (t) => {
  const root = await copyOfTree(await tempFolder(t));
  await appendFile(join(root, 'src', 'grade', 'crops.ts'), "\nimport type { Grader } from './grader.js';\n");
  const { status, output } = checkLayers(root);
  assert.equal(status, 1, output);
  assert.match(output, /^file cycles: 1$/m);
  assert.match(output, /grade\/crops\.ts <-> grade\/grader\.ts/);
});

test('a folder missing from the layer map fails the check', async (t) => {
  const root = await copyOfTree(await tempFolder(t));
  await cp(join(root, 'src', 'errors.ts'), join(root, 'src', 'stray', 'errors.ts'), { recursive: true });
  const { status, output } = checkLayers(root);
  assert.equal(status, 1, output);
  assert.match(output, /^folders missing from the layer map: 1$/m);
});
