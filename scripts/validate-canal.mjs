#!/usr/bin/env node
/**
 * Validates the spinal canal measures against SPIDER's expert T2 SPACE canal masks on the patients the
 * bundled localiser never saw (its metadata names the patients it was trained on), and prints the mean
 * absolute difference in mm with a 95% bootstrap CI over patients (src/evaluation/canal.ts).
 *
 *   node scripts/validate-canal.mjs [../shared/data/spider] [--json out.json]
 *
 * Needs `npx tsc -p tsconfig.build.json` first (reads dist/).
 */
import { writeFile } from 'node:fs/promises';
import { readSpider2dDataset } from '../dist/datasets/spider2d.js';
import { validateCanalMeasures } from '../dist/evaluation/canal.js';
import { loadLocalizer, localizerTrainingPatients } from '../dist/localize/localizer.js';
import { DEFAULT_LOCALIZER_DIR } from '../dist/store/store.js';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonOut = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const root = args.find((a, n) => !a.startsWith('--') && n !== jsonAt + 1) ?? '../shared/data/spider';

const dataset = await readSpider2dDataset(root);
const localizer = await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: 'onnx' });
const trained = new Set(localizerTrainingPatients(localizer));
if (trained.size === 0) {
  console.error(
    `${DEFAULT_LOCALIZER_DIR}: the localiser's metadata names no training patients; cannot pick held-out ones`,
  );
  process.exit(1);
}
const heldOut = new Set(dataset.maskSlices.map((r) => r.patient).filter((p) => !trained.has(p)));
const result = await validateCanalMeasures(dataset.maskSlices, localizer, heldOut);
const f = (r) => `${r.estimate.toFixed(2)} mm (95% CI ${r.lower.toFixed(2)}–${r.upper.toFixed(2)})`;
const count = (site) => result.pairs.filter((p) => p.site === site).length;
console.log(
  `patients held out from the bundled localiser with T2 SPACE masks: ${result.patients.join(', ')} (${result.patients.length})`,
);
console.log(`middle slices: ${result.slices}; pairs: ${result.pairs.length}`);
console.log(
  `canal AP at the disc level:   mean |predicted − expert| ${f(result.meanAbsoluteDifferenceMm.disc)}, ${count('disc')} levels`,
);
console.log(
  `canal AP at mid-bodies:       mean |predicted − expert| ${f(result.meanAbsoluteDifferenceMm.body)}, ${count('body')} levels`,
);
console.log(
  `both:                         ${f(result.meanAbsoluteDifferenceMm.all)}; bias (predicted − expert) ${result.meanDifferenceMm.toFixed(2)} mm`,
);
console.log(
  `measured on the expert mask but not on the predicted: ${result.missingOnPredicted}; the reverse: ${result.missingOnExpert}`,
);
if (jsonOut) await writeFile(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
