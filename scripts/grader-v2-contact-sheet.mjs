#!/usr/bin/env node
// Contact sheet of grader v2's T2 training crops (keypoint-placed, unjittered): one row per
// Pfirrmann grade 1-5, eight discs each, evenly spread over the discs of that grade; prints each
// tile's series/level/grade. A look at whether grade 1 discs are bright and grade 5 dark/collapsed.
// Needs `npm run build`. Usage: node scripts/grader-v2-contact-sheet.mjs <data> <out.png>
import { writeFile } from 'node:fs/promises';
import { readDataset } from '../dist/datasets/index.js';
import { DEFAULT_V2_CROP } from '../dist/grade/v2Crops.js';
import { encodeGreyPng } from '../dist/io/png.js';
import { collectV2Samples } from '../dist/training/grader/v2Samples.js';

const [data, out] = process.argv.slice(2);
if (!data || !out) {
  process.stderr.write('usage: node scripts/grader-v2-contact-sheet.mjs <data> <out.png>\n');
  process.exit(2);
}
const dataset = await readDataset(data);
const t2 = { ...dataset, series: dataset.series.filter((s) => s.sequence === 'T2') };
const { samples } = await collectV2Samples(t2, DEFAULT_V2_CROP);
const size = DEFAULT_V2_CROP.size;
const columns = 8;
const zoom = 2;
const tile = size * zoom + 4;
const width = columns * tile;
const height = 5 * tile;
const pixels = new Uint8Array(width * height);
const picked = [];
for (let grade = 1; grade <= 5; grade++) {
  const ofGrade = samples.filter((s) => s.label.pfirrmann === grade);
  for (let c = 0; c < columns; c++) picked.push(ofGrade[Math.floor((c * ofGrade.length) / columns)]);
}
picked.forEach((s, i) => {
  const top = Math.floor(i / columns) * tile;
  const left = (i % columns) * tile;
  for (let v = 0; v < size * zoom; v++)
    for (let u = 0; u < size * zoom; u++) {
      const value = s.crops[0][Math.floor(v / zoom) * size + Math.floor(u / zoom)];
      pixels[(top + v) * width + left + u] = Math.min(255, Math.round(255 * value));
    }
});
await writeFile(out, encodeGreyPng(pixels, width, height));
process.stdout.write(`${picked.map((s) => `${s.series} ${s.level} grade ${s.label.pfirrmann}`).join('\n')}\n`);
