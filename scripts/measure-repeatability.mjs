#!/usr/bin/env node
/**
 * Measures the repeatability of the per-level measures on SPIDER's T2 SPACE stacks with the bundled
 * localiser (src/evaluation/repeatability.ts) and writes models/localizer/repeatability.json, which
 * `spinegrade compare` reads to say whether a change is within noise.
 *
 *   node scripts/measure-repeatability.mjs [../shared/data/spider]
 *
 * Needs `npx tsc -p tsconfig.build.json` first (reads dist/).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSpider2dDataset } from '../dist/datasets/spider2d.js';
import { measureRepeatability } from '../dist/evaluation/repeatability.js';
import { loadLocalizer } from '../dist/localize/localizer.js';
import { DEFAULT_LOCALIZER_DIR } from '../dist/store/store.js';

const root = process.argv[2] ?? '../shared/data/spider';
const dataset = await readSpider2dDataset(root);
const localizer = await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine: 'onnx' });
const table = await measureRepeatability(dataset.maskSlices, localizer);
const out = join(DEFAULT_LOCALIZER_DIR, 'repeatability.json');
await writeFile(out, `${JSON.stringify(table, null, 2)}\n`);
console.log(`${table.patients} patients; ${table.method}`);
for (const [measure, r] of Object.entries(table.measures)) {
  console.log(
    `${measure}: within-level SD ${r.withinSd.toFixed(3)}, repeatability coefficient ${r.coefficient.toFixed(3)} (${r.levels} levels)`,
  );
}
console.log(`wrote ${out}`);
