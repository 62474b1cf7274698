// Writes models/<name>/manifest.json for each bundled model, computed from its files (the weights'
// SHA-256, the training data its model.json records); version = the package version. Run after a
// bundled model changes: `npm run manifests` (needs the build: npm run build).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeManifest, writeManifest } from '../dist/models/manifest.js';

const root = new URL('..', import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const modelsDir = join(root, 'models');
for (const name of readdirSync(modelsDir).sort()) {
  const folder = join(modelsDir, name);
  if (!existsSync(join(folder, 'model.json'))) {
    // models/grader-v2 holds an experiment's record (card, out-of-fold predictions) and no weights.
    console.log(`models/${name}: no model.json, not a bundled model; no manifest`);
    continue;
  }
  const manifest = await computeManifest(folder, { name, version });
  await writeManifest(folder, manifest);
  const patients = manifest.trainingData.map((t) => `${t.dataset} ${t.patients.length}`).join(', ');
  console.log(
    `models/${name}/manifest.json: ${manifest.kind} ${version} sha256 ${manifest.sha256.slice(0, 12)} (${patients})`,
  );
}
