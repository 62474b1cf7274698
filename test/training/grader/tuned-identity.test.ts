import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { MANIFEST_FILE, type ModelManifest, readManifest } from '../../../src/models/manifest.js';
import { FINDINGS_VERSION } from '../../../src/report/findings.js';
import { GRADER_MODEL_DIR } from '../../../src/store/store.js';
import { runCli } from '../../helpers/cli.js';
import { ownDataFromMini } from '../../helpers/datasets.js';
import { tempFolder } from '../../helpers/tmp.js';

const MINI = 'test/fixtures/datasets/spider-2d-mini';
const EXAMPLE = 'examples/spider-98-t2space/dicom';

/**
 * The own-data folder is named `site`, its patients "5" and "7" being SPIDER's patients 5 and 7:
 * the same ids as two SPIDER training patients, but other people as far as provenance goes.
 */
test("a tuned model's identity reaches its card, the predictions, findings.json, the SR and the report; in-sample is by (dataset, patient)", async (t) => {
  const folder = await tempFolder(t);
  const site = await ownDataFromMini(join(folder, 'site'));
  const tunedDir = join(folder, 'tuned');
  const tune = runCli([
    'finetune',
    '--data',
    site,
    '--out',
    tunedDir,
    '--epochs',
    '2',
    '--context-epochs',
    '1',
    '--workers',
    '1',
  ]);
  assert.equal(tune.status, 0, tune.stderr);

  // The manifest: base model, tuning patients with their dataset, the loss of each epoch.
  const base = await readManifest(GRADER_MODEL_DIR);
  const manifest = JSON.parse(await readFile(join(tunedDir, MANIFEST_FILE), 'utf8')) as ModelManifest;
  assert.equal((await readManifest(tunedDir)).sha256, manifest.sha256, 'the manifest matches the tuned weights');
  assert.notEqual(manifest.sha256, base.sha256);
  assert.deepEqual(manifest.base, { name: base.name, version: base.version, sha256: base.sha256 });
  assert.equal(manifest.name, 'grader-tuned-site');
  assert.deepEqual(manifest.tuning?.patients, ['5', '7']);
  assert.equal(manifest.tuning?.dataset, 'site');
  assert.equal(manifest.tuning?.lossPerEpoch.length, 2);
  assert.ok(manifest.tuning?.lossPerEpoch.every((loss) => Number.isFinite(loss) && loss > 0));
  assert.deepEqual(
    manifest.trainingData.map((d) => [d.dataset, d.patients.length]),
    [
      ['SPIDER', 179],
      ['site', 2],
    ],
  );
  const card = await readFile(join(tunedDir, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /Tuning patients \(site\): 5, 7\./);
  assert.match(card, /CNN mean loss per epoch: 1: \d+\.\d{4}; 2: \d+\.\d{4}/);
  assert.ok(card.includes(base.sha256), 'the card names its base model by its hash');
  assert.ok(!card.includes(GRADER_MODEL_DIR), 'not by a local path');

  // Predictions on its own tuning patients: identity on every line, flagged in-sample, an honest remedy.
  const predictions = join(folder, 'p.jsonl');
  const tuned = runCli(['predict', site, '--out', predictions, '--model', tunedDir]);
  assert.equal(tuned.status, 0, tuned.stderr);
  assert.match(
    tuned.stderr,
    /model: grader-tuned-site 0\.1\.0\+site \(sha256 [0-9a-f]{12}; trained on SPIDER 179 patients \+ site 2 patients; tuned from grader/,
  );
  assert.match(tuned.stderr, /warning: 2 of 2 patients were in the model's training data/);
  assert.match(tuned.stderr, /evaluate it on patients other than its 2 tuning patients of site/);
  assert.doesNotMatch(tuned.stderr, /--cross-validate|out-of-fold/);
  const lines = (await readFile(predictions, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  for (const line of lines) {
    assert.equal(line.models.model.sha256, manifest.sha256);
    assert.deepEqual(line.models.model.base, manifest.base);
    assert.equal(line.models.localizers[0].name, 'localizer');
  }

  // The bundled grader never saw the site's patients "5" and "7", though SPIDER has patients 5 and 7.
  const bundled = runCli(['predict', site, '--out', join(folder, 'bundled.jsonl')]);
  assert.equal(bundled.status, 0, bundled.stderr);
  assert.doesNotMatch(bundled.stderr, /warning/);
  const spider = runCli(['predict', MINI, '--out', join(folder, 'spider.jsonl'), '--model', tunedDir]);
  assert.match(spider.stderr, /warning: 3 of 3 patients/, 'SPIDER patients are in its base training data');

  // findings.json, the SR and the report of a study analysed with the tuned model.
  const out = join(folder, 'report');
  const analyzed = runCli(['analyze', EXAMPLE, '--model', tunedDir, '--out', out]);
  assert.equal(analyzed.status, 0, analyzed.stderr);
  const findings = JSON.parse(await readFile(join(out, 'findings.json'), 'utf8'));
  assert.equal(findings.version, FINDINGS_VERSION);
  assert.equal(findings.models.grader.identity.sha256, manifest.sha256);
  assert.deepEqual(findings.models.grader.identity.base, manifest.base);
  assert.equal(findings.models.grader.dir, 'tuned');
  assert.equal(findings.models.localizer.dir, 'models/localizer');
  assert.match(findings.models.grader.accuracy[0], /not measured after fine-tuning on site/);
  const report = await readFile(join(out, 'report.html'), 'utf8');
  assert.ok(report.includes(`sha256 ${manifest.sha256.slice(0, 12)}`), 'the report names the tuned model');
  assert.ok(report.includes('tuned from grader'));
  assert.ok(!report.includes(folder) && !report.includes(GRADER_MODEL_DIR), 'the report holds no local path');
  const sr = await readFile(join(out, 'sr.dcm'));
  assert.ok(sr.includes(`sha256:${manifest.sha256}`), 'the SR names the model version and weights');
  assert.ok(sr.includes('grader-tuned-site'));
});
