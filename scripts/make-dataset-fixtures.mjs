#!/usr/bin/env node
// Regenerates test/fixtures/datasets/ from the SPIDER 2D release (run `npm run build` first):
//
//   node scripts/make-dataset-fixtures.mjs [SPIDER_2D_ROOT]     (default ../shared/data/spider)
//
// - spider-2d-mini/: patients 1, 5, 7 in the SPIDER 2D layout, every picture downsampled 4× (box
//   mean; masks by the block's centre pixel), pixel spacings ×4 and keypoints ÷4 to match; real CSV
//   rows (CRLF, quoted fields) for those patients.
// - spider-2d-partial/: the same without t2space/ and without midsagittal/7_t2_SPACE.png.
// - spider-original/: patients 5 and 7 in the original Zenodo layout: images/<series>.mha (3 sagittal
//   slices each; the middle one is the spider-2d-mini PNG or T2 SPACE slice it was made from) stored
//   in two different non-identity orientations, and masks/<series>_t2_SPACE.mha with SPIDER instance
//   labels made from the semantic masks (3D connected components numbered from the bottom).
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { parseCsv } from '../dist/datasets/csv.js';
import { writeMetaImage } from '../dist/io/metaimage.js';
import { encodeGreyPng } from '../dist/io/png.js';

const SOURCE = process.argv[2] ?? '../shared/data/spider';
const OUT = 'test/fixtures/datasets';
const F = 4;
const MINI_PATIENTS = ['1', '5', '7'];
const ORIGINAL_PATIENTS = ['5', '7'];
/** T2 SPACE slices kept per patient (contiguous; the middle one is the volume's mid-sagittal slice). */
const SPACE_SLICES = { 5: [57, 58, 59], 7: [59, 60, 61] };

// ---------------------------------------------------------------------------------------------
// Pictures

async function readGrey(path) {
  const png = PNG.sync.read(await readFile(path), { skipRescale: true });
  const pixels = new Uint8Array(png.width * png.height);
  for (let n = 0; n < pixels.length; n++) pixels[n] = png.data[n * 4];
  return { pixels, width: png.width, height: png.height };
}

/** Box-mean downsampling by F (the picture is cropped to a multiple of F first). */
function downsample({ pixels, width, height }) {
  const w = Math.floor(width / F);
  const h = Math.floor(height / F);
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let dy = 0; dy < F; dy++) for (let dx = 0; dx < F; dx++) sum += pixels[x * F + dx + (y * F + dy) * width];
      out[x + y * w] = Math.round(sum / (F * F));
    }
  }
  return { pixels: out, width: w, height: h };
}

/** Mask downsampling by F: each block takes the value of its centre pixel (values stay 0/29/76/150). */
function downsampleMask({ pixels, width, height }) {
  const w = Math.floor(width / F);
  const h = Math.floor(height / F);
  const out = new Uint8Array(w * h);
  const c = F / 2;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[x + y * w] = pixels[x * F + c + (y * F + c) * width];
  return { pixels: out, width: w, height: h };
}

async function writePicture(path, picture) {
  await writeFile(path, encodeGreyPng(picture.pixels, picture.width, picture.height));
}

// ---------------------------------------------------------------------------------------------
// CSV

async function readTable(path) {
  return parseCsv(await readFile(path, 'utf8'), { source: path });
}

function csvField(value) {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Writes rows with CRLF line ends, quoting fields as SPIDER's files do. */
async function writeTable(path, columns, rows) {
  const lines = [
    columns.map(csvField).join(','),
    ...rows.map((row) => columns.map((c) => csvField(row[c] ?? '')).join(',')),
  ];
  await writeFile(path, `${lines.join('\r\n')}\r\n`);
}

/** `[a, b]` with both numbers ×F, written like SPIDER's PixelSpacing. */
function scaledSpacing(text) {
  const [row, col] = text
    .replace(/[[\]\s]/g, '')
    .split(',')
    .map(Number);
  return `[${row * F}, ${col * F}]`;
}

const round2 = (v) => String(Math.round(v * 100) / 100);

// ---------------------------------------------------------------------------------------------
// SPIDER 2D mini

async function makeSpider2d() {
  const root = join(OUT, 'spider-2d-mini');
  await rm(root, { recursive: true, force: true });
  for (const sub of ['midsagittal', 'keypoints', 't2space/images', 't2space/masks']) {
    await mkdir(join(root, sub), { recursive: true });
  }
  const overview = await readTable(join(SOURCE, 'overview.csv'));
  const keep = overview.rows.filter((r) => MINI_PATIENTS.includes(r.new_file_name.split('_')[0]));
  const sizes = new Map();
  for (const row of keep) {
    const picture = downsample(await readGrey(join(SOURCE, 'midsagittal', `${row.new_file_name}.png`)));
    sizes.set(row.new_file_name, picture);
    await writePicture(join(root, 'midsagittal', `${row.new_file_name}.png`), picture);
  }
  await writeTable(
    join(root, 'overview.csv'),
    overview.columns,
    keep.map((r) => ({ ...r, PixelSpacing: scaledSpacing(r.PixelSpacing) })),
  );

  const gradings = await readTable(join(SOURCE, 'radiological_gradings.csv'));
  await writeTable(
    join(root, 'radiological_gradings.csv'),
    gradings.columns,
    gradings.rows.filter((r) => MINI_PATIENTS.includes(r.Patient)),
  );

  const keypoints = await readTable(join(SOURCE, 'keypoints/spider_t2_disc_keypoints.csv'));
  await writeTable(
    join(root, 'keypoints/spider_t2_disc_keypoints.csv'),
    keypoints.columns,
    keypoints.rows
      .filter((r) => MINI_PATIENTS.includes(r.patient))
      .map((r) => {
        const picture = sizes.get(r.series);
        return {
          ...r,
          png_width: String(picture.width),
          png_height: String(picture.height),
          x_png: round2(Number(r.x_png) / F),
          y_png: round2(Number(r.y_png) / F),
        };
      }),
  );

  const manifest = await readTable(join(SOURCE, 't2space/manifest.csv'));
  const slices = manifest.rows.filter((r) => SPACE_SLICES[r.patient]?.includes(Number(r.slice_index)));
  for (const row of slices) {
    await writePicture(
      join(root, 't2space', row.image),
      downsample(await readGrey(join(SOURCE, 't2space', row.image))),
    );
    await writePicture(
      join(root, 't2space', row.mask),
      downsampleMask(await readGrey(join(SOURCE, 't2space', row.mask))),
    );
  }
  const scaledSlices = slices.map((r) => ({
    ...r,
    row_spacing_mm: String(Number(r.row_spacing_mm) * F),
    col_spacing_mm: String(Number(r.col_spacing_mm) * F),
  }));
  await writeTable(join(root, 't2space/manifest.csv'), manifest.columns, scaledSlices);

  // The partial copy: no t2space/, and one series of overview.csv without its PNG.
  const partial = join(OUT, 'spider-2d-partial');
  await rm(partial, { recursive: true, force: true });
  await mkdir(join(partial, 'midsagittal'), { recursive: true });
  await mkdir(join(partial, 'keypoints'), { recursive: true });
  for (const file of ['overview.csv', 'radiological_gradings.csv', 'keypoints/spider_t2_disc_keypoints.csv']) {
    await writeFile(join(partial, file), await readFile(join(root, file)));
  }
  for (const name of await readdir(join(root, 'midsagittal'))) {
    if (name === '7_t2_SPACE.png') continue;
    await writeFile(join(partial, 'midsagittal', name), await readFile(join(root, 'midsagittal', name)));
  }
  return { root, sizes, slices: scaledSlices };
}

// ---------------------------------------------------------------------------------------------
// Original SPIDER layout

/**
 * Two stored orientations, neither the identity. Display (x → posterior, y → inferior, slice s):
 * - 'A' (slices last, rows stored inferior first): i → posterior, j → superior, k → patient left.
 * - 'B' (slices first, columns stored posterior first): i → patient right, j → inferior, k → anterior.
 */
const ORIENTATIONS = {
  A: {
    direction: [0, 0, 1, 1, 0, 0, 0, 1, 0],
    size: (w, h, n) => [w, h, n],
    index: (x, y, s, w, h) => x + (h - 1 - y) * w + s * w * h,
    spacing: (sx, sy, ss) => [sx, sy, ss],
  },
  B: {
    direction: [-1, 0, 0, 0, 0, -1, 0, -1, 0],
    size: (w, h, n) => [n, h, w],
    index: (x, y, s, w, h, n) => s + y * n + (w - 1 - x) * n * h,
    spacing: (sx, sy, ss) => [ss, sy, sx],
  },
};

/** A volume whose sagittal slice `s` (display orientation) is `slices[s]`. */
function volumeFrom(slices, width, height, pixelSpacing, sliceSpacing, orientation, ArrayType) {
  const o = ORIENTATIONS[orientation];
  const n = slices.length;
  const voxels = new ArrayType(width * height * n);
  for (let s = 0; s < n; s++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) voxels[o.index(x, y, s, width, height, n)] = slices[s][x + y * width];
    }
  }
  return {
    voxels,
    size: o.size(width, height, n),
    spacing: o.spacing(pixelSpacing[0], pixelSpacing[1], sliceSpacing),
    origin: [-4.5, -120.25, 95.5],
    direction: o.direction,
    metadata: { sourceFormat: 'metaimage', sourcePaths: [], modality: 'MR', spacingSource: 'header' },
  };
}

/** The slice shifted `dx` columns and scaled, as a stand-in neighbouring sagittal slice. */
function neighbour({ pixels, width, height }, dx, scale) {
  const out = new Uint8Array(pixels.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = Math.min(width - 1, Math.max(0, x - dx));
      out[x + y * width] = Math.round(pixels[from + y * width] * scale);
    }
  }
  return out;
}

/**
 * SPIDER instance labels for a stack of semantic slices: 3D 6-connected components of each class,
 * numbered from the bottom (largest mean display row first): discs 201…, vertebrae 1… (100 + n when
 * the component touches the top or bottom edge: partly visible), canal 100.
 */
function instanceLabels(slices, width, height) {
  const n = slices.length;
  const total = width * height * n;
  const semantic = new Uint8Array(total);
  slices.forEach((s, k) => semantic.set(s, k * width * height));
  const labels = new Uint16Array(total);
  const component = new Int32Array(total).fill(-1);
  const components = [];
  for (let start = 0; start < total; start++) {
    if (semantic[start] === 0 || component[start] >= 0) continue;
    const value = semantic[start];
    const id = components.length;
    const members = [];
    const stack = [start];
    component[start] = id;
    let sumY = 0;
    let touchesEdge = false;
    while (stack.length > 0) {
      const v = stack.pop();
      members.push(v);
      const x = v % width;
      const y = Math.floor(v / width) % height;
      const k = Math.floor(v / (width * height));
      sumY += y;
      if (y === 0 || y === height - 1) touchesEdge = true;
      const near = [];
      if (x > 0) near.push(v - 1);
      if (x < width - 1) near.push(v + 1);
      if (y > 0) near.push(v - width);
      if (y < height - 1) near.push(v + width);
      if (k > 0) near.push(v - width * height);
      if (k < n - 1) near.push(v + width * height);
      for (const u of near) {
        if (semantic[u] === value && component[u] < 0) {
          component[u] = id;
          stack.push(u);
        }
      }
    }
    components.push({ value, members, meanY: sumY / members.length, touchesEdge });
  }
  const byClass = (value) => components.filter((c) => c.value === value).sort((a, b) => b.meanY - a.meanY);
  const report = {};
  byClass(29).forEach((c, r) => {
    for (const v of c.members) labels[v] = 201 + r;
    report[201 + r] = c.members.length;
  });
  byClass(76).forEach((c, r) => {
    for (const v of c.members) labels[v] = (c.touchesEdge ? 101 : 1) + r;
  });
  for (const c of byClass(150)) for (const v of c.members) labels[v] = 100;
  const slicesOut = slices.map((_, k) => labels.subarray(k * width * height, (k + 1) * width * height));
  return { slices: slicesOut, discVoxels: report };
}

async function makeSpiderOriginal(mini) {
  const root = join(OUT, 'spider-original');
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'images'), { recursive: true });
  await mkdir(join(root, 'masks'), { recursive: true });
  const overview = await readTable(join(mini.root, 'overview.csv'));
  const spacingOf = new Map(
    overview.rows.map((r) => {
      const [row, col] = r.PixelSpacing.replace(/[[\]\s]/g, '')
        .split(',')
        .map(Number);
      return [r.new_file_name, [col, row]];
    }),
  );
  const plan = [
    ['5_t1', 'B'],
    ['5_t2', 'A'],
    ['5_t2_SPACE', 'A'],
    ['7_t1', 'A'],
    ['7_t2', 'B'],
    ['7_t2_SPACE', 'B'],
  ];
  for (const [id, orientation] of plan) {
    const patient = id.split('_')[0];
    if (id.endsWith('_SPACE')) {
      const rows = mini.slices.filter((r) => r.patient === patient);
      const images = await Promise.all(rows.map((r) => readGrey(join(mini.root, 't2space', r.image))));
      const masks = await Promise.all(rows.map((r) => readGrey(join(mini.root, 't2space', r.mask))));
      const { width, height } = images[0];
      const spacing = [Number(rows[0].col_spacing_mm), Number(rows[0].row_spacing_mm)];
      const sliceSpacing = Number(rows[0].slice_spacing_mm);
      const image = volumeFrom(
        images.map((p) => p.pixels),
        width,
        height,
        spacing,
        sliceSpacing,
        orientation,
        Uint16Array,
      );
      await writeMetaImage(image, join(root, 'images', `${id}.mha`), { overwrite: true });
      const instances = instanceLabels(
        masks.map((m) => m.pixels),
        width,
        height,
      );
      const mask = volumeFrom(instances.slices, width, height, spacing, sliceSpacing, orientation, Uint16Array);
      await writeMetaImage(mask, join(root, 'masks', `${id}.mha`), { overwrite: true });
      console.log(`${id}: ${orientation}, mid slice ${rows[1].image}, disc voxels by label`, instances.discVoxels);
    } else {
      const picture = await readGrey(join(mini.root, 'midsagittal', `${id}.png`));
      const slices = [neighbour(picture, 1, 0.9), picture.pixels, neighbour(picture, -1, 0.8)];
      const thickness = Number(overview.rows.find((r) => r.new_file_name === id).SpacingBetweenSlices) || 4;
      const image = volumeFrom(
        slices,
        picture.width,
        picture.height,
        spacingOf.get(id),
        thickness,
        orientation,
        Uint16Array,
      );
      await writeMetaImage(image, join(root, 'images', `${id}.mha`), { overwrite: true });
      console.log(`${id}: ${orientation}, mid slice midsagittal/${id}.png`);
    }
  }
  const keepRows = (table) =>
    table.rows.filter((r) => ORIGINAL_PATIENTS.includes((r.new_file_name ?? r.Patient).split('_')[0]));
  const overviewAll = await readTable(join(mini.root, 'overview.csv'));
  await writeTable(join(root, 'overview.csv'), overviewAll.columns, keepRows(overviewAll));
  const gradings = await readTable(join(mini.root, 'radiological_gradings.csv'));
  await writeTable(join(root, 'radiological_gradings.csv'), gradings.columns, keepRows(gradings));
}

const mini = await makeSpider2d();
await makeSpiderOriginal(mini);
console.log('done');
