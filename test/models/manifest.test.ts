import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT_CODES, SpinegradeError } from '../../src/errors.js';
import { computeManifest, MANIFEST_FILE, readManifest, weightsDigest } from '../../src/models/manifest.js';
import { BUNDLED_MODELS_DIR } from '../../src/store/store.js';
import { tempFolder } from '../helpers/tmp.js';

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

test('every bundled model has a manifest that matches its files (npm run manifests wrote it)', async () => {
  for (const name of ['grader', 'localizer', 'prior']) {
    const folder = join(BUNDLED_MODELS_DIR, name);
    const stored = JSON.parse(await readFile(join(folder, MANIFEST_FILE), 'utf8'));
    const manifest = await readManifest(folder);
    assert.equal(manifest.sha256, stored.sha256, name);
    assert.equal(manifest.name, name);
    assert.deepEqual(
      manifest.trainingData.map((t) => t.dataset),
      ['SPIDER'],
      `${name} was trained on SPIDER only`,
    );
    assert.ok((manifest.trainingData[0]?.patients.length ?? 0) > 100, `${name} lists its training patients`);
    for (const file of manifest.files) assert.equal(file.sha256, sha256(await readFile(join(folder, file.path))));
  }
});

test("the weights' hash is sha256sum's listing hashed, and a manifest that does not match its weights is refused", async (t) => {
  const folder = await tempFolder(t);
  await cp(join(BUNDLED_MODELS_DIR, 'prior'), folder, { recursive: true });
  const model = await readFile(join(folder, 'model.json'));
  const digest = await weightsDigest(folder);
  assert.deepEqual(
    digest.files.map((f) => f.path),
    ['model.json'],
    'the card and the manifest are not weights',
  );
  assert.equal(digest.sha256, sha256(`${sha256(model)}  model.json\n`));
  const json = JSON.parse(model.toString('utf8'));
  await writeFile(join(folder, 'model.json'), `${JSON.stringify({ ...json, changed: true })}\n`);
  await assert.rejects(readManifest(folder), (error: unknown) => {
    assert.ok(error instanceof SpinegradeError);
    assert.equal(error.exitCode, EXIT_CODES.INVALID_HEADER);
    assert.match(error.message, /not the ones this manifest describes/);
    return true;
  });
  const fresh = await computeManifest(folder, { version: 'test' });
  assert.notEqual(fresh.sha256, digest.sha256);
});

test('a model folder without a manifest is described from its files, unversioned', async (t) => {
  const folder = await tempFolder(t);
  await cp(join(BUNDLED_MODELS_DIR, 'prior'), folder, { recursive: true });
  await writeFile(join(folder, MANIFEST_FILE), '');
  await assert.rejects(readManifest(folder), /not valid JSON/);
  await rm(join(folder, MANIFEST_FILE));
  const manifest = await readManifest(folder);
  assert.equal(manifest.version, 'unversioned');
  assert.equal(manifest.kind, 'class-prior');
  assert.equal(manifest.trainingData[0]?.dataset, 'SPIDER');
});
