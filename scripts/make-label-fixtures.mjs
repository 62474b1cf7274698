#!/usr/bin/env node
// Regenerates the SPIDER label fixtures the model-floor tests score against (run `npm run build` first):
//
//   node scripts/make-label-fixtures.mjs [SPIDER_2D_ROOT]     (default ../shared/data/spider)
//
// - test/fixtures/spider-labels/radiological_gradings.csv: SPIDER's gradings file, copied unchanged.
// - test/fixtures/spider-labels/t2_disc_keypoints.csv: the lumbar T2 disc keypoints (x, y in the
//   mid-sagittal PNG's pixels), each with its series' PixelSpacing from overview.csv (the spacing
//   `evaluate` uses for these PNGs), one row per keypoint.
// - test/fixtures/localizer-slices/<series>.png: the mid-sagittal T2 PNGs of the first six patients
//   (in patient order) held out from the bundled localiser's training (fold 1 of 5, seed 1), unchanged.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSpiderPixelSpacing } from '../dist/datasets/common.js';
import { parseCsv } from '../dist/datasets/csv.js';

const SOURCE = process.argv[2] ?? '../shared/data/spider';
const LABELS = 'test/fixtures/spider-labels';
const SLICES = 'test/fixtures/localizer-slices';
const HELD_OUT_SLICES = ['18_t2', '23_t2', '32_t2', '36_t2', '44_t2', '60_t2'];

await mkdir(LABELS, { recursive: true });
await copyFile(join(SOURCE, 'radiological_gradings.csv'), join(LABELS, 'radiological_gradings.csv'));

const overview = parseCsv(await readFile(join(SOURCE, 'overview.csv'), 'utf8'));
const spacingOf = new Map(overview.rows.map((row) => [row.new_file_name, parseSpiderPixelSpacing(row.PixelSpacing)]));
const keypoints = parseCsv(await readFile(join(SOURCE, 'keypoints/spider_t2_disc_keypoints.csv'), 'utf8'));
const lines = ['series,ivd_label,x_png,y_png,pixel_spacing_x_mm,pixel_spacing_y_mm'];
for (const row of keypoints.rows) {
  const spacing = spacingOf.get(row.series);
  if (!spacing) throw new Error(`${row.series}: no PixelSpacing in overview.csv`);
  lines.push([row.series, row.ivd_label, row.x_png, row.y_png, spacing[0], spacing[1]].join(','));
}
await writeFile(join(LABELS, 't2_disc_keypoints.csv'), `${lines.join('\n')}\n`);

await mkdir(SLICES, { recursive: true });
for (const series of HELD_OUT_SLICES)
  await copyFile(join(SOURCE, 'midsagittal', `${series}.png`), join(SLICES, `${series}.png`));
console.log(`${keypoints.rows.length} keypoints, ${HELD_OUT_SLICES.length} slices`);
