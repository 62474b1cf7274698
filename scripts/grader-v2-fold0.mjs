#!/usr/bin/env node
// A quick fold-0 check of a grader v2 recipe change (T2 discs only, like the reference
// experiment): trains fold 0 of the five patient folds (seed 1) and prints the held-out T2 Pfirrmann
// linear κ per series, not calibrated, with its 95% interval over patients. Needs `npm run build`.
// Usage: node scripts/grader-v2-fold0.mjs <data> <epochs> <augment v1|monotone|geometric|none> <auxiliaryWeight> [T2|T2,T1] [workers]
// (T2,T1 also trains on the T1 crops placed by carried keypoints; the figure stays the T2 discs').
import { readDataset } from '../dist/datasets/index.js';
import { DEFAULT_V2_CROP } from '../dist/grade/v2Crops.js';
import { initTf } from '../dist/models/tf/backend.js';
import {
  crossValidateV2,
  DEFAULT_READING,
  evaluateOof,
  REFERENCE_RECIPE,
} from '../dist/training/grader/crossValidate.js';
import { collectV2Samples } from '../dist/training/grader/v2Samples.js';

const [data, epochs, augment, auxiliaryWeight, contrasts = 'T2', workers = '2'] = process.argv.slice(2);
if (!data || !epochs || !augment || auxiliaryWeight === undefined) {
  process.stderr.write(
    'usage: node scripts/grader-v2-fold0.mjs <data> <epochs> <augment> <auxiliaryWeight> [T2|T2,T1] [workers]\n',
  );
  process.exit(2);
}
await initTf('wasm');
const dataset = await readDataset(data);
const trainContrasts = contrasts.split(',');
const { samples } = await collectV2Samples(dataset, DEFAULT_V2_CROP);
const recipe = {
  ...REFERENCE_RECIPE,
  name: `fold0-${epochs}ep-${augment}-aux${auxiliaryWeight}-${trainContrasts.join('+')}`,
  epochs: Number(epochs),
  augment,
  auxiliaryWeight: Number(auxiliaryWeight),
  trainContrasts,
};
const { lines, trainSeconds } = await crossValidateV2(dataset, samples, recipe, {
  folds: 5,
  seed: 1,
  workers: Number(workers),
  crop: DEFAULT_V2_CROP,
  onlyFolds: [0],
  onLog: (line) => process.stderr.write(`${line}\n`),
});
const t2Figures = evaluateOof(lines, recipe.ordinal, { ...DEFAULT_READING, calibrate: false }, 0.75, 1000).perContrast
  .T2;
const k = t2Figures.pfirrmannKappa;
process.stdout.write(
  `${recipe.name}: fold-0 T2 κ ${k.estimate.toFixed(3)} [${k.lower.toFixed(3)}, ${k.upper.toFixed(3)}] over ${t2Figures.discs} discs, per level ${JSON.stringify(t2Figures.kappaByLevel)}; ${(trainSeconds / 60).toFixed(1)} min\n`,
);
