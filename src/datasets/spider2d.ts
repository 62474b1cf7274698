/**
 * The SPIDER 2D layout (see docs/datasets.md and the dataset's own README):
 *
 * - `overview.csv`: one row per series, `new_file_name` = `<patient>_t1 | _t2 | _t2_SPACE`, with
 *   `PixelSpacing` written like `[.5859375, .5859375]` (DICOM order: row, column).
 * - `midsagittal/<series>.png`: the series' middle sagittal slice, superior up, anterior left.
 * - `radiological_gradings.csv`: one row per graded disc (`Patient`, `IVD label`, findings).
 * - `keypoints/spider_t2_disc_keypoints.csv`: posterior disc-margin points on the T2 PNGs.
 * - `t2space/manifest.csv` with `t2space/images/*.png` and `t2space/masks/*.png`: T2 SPACE slices
 *   with semantic masks (0/29/76/150) and their own row/column spacing.
 *
 * Any part may be missing: what is there is read, and each gap is said in `notes`.
 */
import { readdir } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { levelOfIvdLabel } from '../disc/levels.js';
import { SpinegradeError } from '../errors.js';
import { fileSystemError } from '../io/binary.js';
import { readPicture } from '../io/png.js';
import type { Image2D } from '../transforms/resample.js';
import type { Volume } from '../volume/volume.js';
import {
  abbreviate,
  assembleDataset,
  assertFolder,
  parseGrade,
  parseNumber,
  parseSpiderPixelSpacing,
  pathKind,
  spiderDiscLabels,
  spiderPatientOf,
  spiderSequenceOf,
} from './common.js';
import { readCsv } from './csv.js';
import {
  type DiscKeypoint,
  type DiscLabel,
  MASK_VALUES,
  type MaskSliceRecord,
  type SeriesRecord,
  type SpineDataset,
} from './types.js';

/** File and folder names of the SPIDER 2D layout, relative to its root. */
export const SPIDER_2D_FILES = {
  overview: 'overview.csv',
  gradings: 'radiological_gradings.csv',
  midsagittal: 'midsagittal',
  keypoints: 'keypoints/spider_t2_disc_keypoints.csv',
  t2space: 't2space',
  manifest: 't2space/manifest.csv',
} as const;

const SEMANTIC_VALUES: ReadonlySet<number> = new Set(Object.values(MASK_VALUES));

/** The pixels of a picture volume as an {@link Image2D} with the given spacing `[x, y]`. */
function pictureImage(volume: Volume, pixelSpacing: readonly [number, number]): Image2D {
  return {
    pixels: Float32Array.from(volume.voxels),
    width: volume.size[0],
    height: volume.size[1],
    pixelSpacing,
  };
}

/** Reads a semantic mask PNG; throws `INVALID_HEADER` for a value that is not 0/29/76/150. */
export async function readSemanticMaskPng(path: string): Promise<{ mask: Uint8Array; width: number; height: number }> {
  const volume = await readPicture(path);
  const mask = new Uint8Array(volume.voxels.length);
  for (let n = 0; n < mask.length; n++) {
    const v = volume.voxels[n] as number;
    if (!SEMANTIC_VALUES.has(v)) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `mask pixel ${n % volume.size[0]},${Math.floor(n / volume.size[0])} has value ${v}; a semantic mask holds only 0, 29, 76, 150`,
        path,
      );
    }
    mask[n] = v;
  }
  return { mask, width: volume.size[0], height: volume.size[1] };
}

/** Reads a folder in the SPIDER 2D layout as a {@link SpineDataset}. */
export async function readSpider2dDataset(root: string): Promise<SpineDataset> {
  await assertFolder(root);
  const notes: string[] = [];
  const at = (relative: string): string => join(root, ...relative.split('/'));
  const [overviewKind, gradingsKind, midKind, keypointsKind, t2spaceKind, manifestKind] = await Promise.all([
    pathKind(at(SPIDER_2D_FILES.overview)),
    pathKind(at(SPIDER_2D_FILES.gradings)),
    pathKind(at(SPIDER_2D_FILES.midsagittal)),
    pathKind(at(SPIDER_2D_FILES.keypoints)),
    pathKind(at(SPIDER_2D_FILES.t2space)),
    pathKind(at(SPIDER_2D_FILES.manifest)),
  ]);
  if (
    overviewKind !== 'file' &&
    gradingsKind !== 'file' &&
    midKind !== 'folder' &&
    keypointsKind !== 'file' &&
    manifestKind !== 'file'
  ) {
    throw new SpinegradeError(
      'NO_IMAGES',
      `not a SPIDER dataset folder: none of ${Object.values(SPIDER_2D_FILES)
        .filter((f) => f !== 't2space')
        .join(', ')} is there`,
      root,
    );
  }

  // --- series: overview rows with their PNG
  const pngs = new Set<string>();
  if (midKind === 'folder') {
    for (const name of await listFolder(at(SPIDER_2D_FILES.midsagittal))) {
      if (name.toLowerCase().endsWith('.png')) pngs.add(name.slice(0, -4));
    }
  } else {
    notes.push(`no ${SPIDER_2D_FILES.midsagittal}/ folder: the dataset has no mid-sagittal series`);
  }
  const series: SeriesRecord[] = [];
  const seriesById = new Map<string, { record: SeriesRecord; keypoints: DiscKeypoint[] }>();
  const listed = new Set<string>();
  if (overviewKind === 'file') {
    const overviewPath = at(SPIDER_2D_FILES.overview);
    const table = await readCsv(overviewPath, { required: ['new_file_name', 'PixelSpacing'] });
    const noPng: string[] = [];
    const badSpacing: string[] = [];
    const unknownSuffix: string[] = [];
    const repeated: string[] = [];
    table.rows.forEach((row, r) => {
      const id = (row.new_file_name ?? '').trim();
      if (id === '') return;
      if (listed.has(id)) {
        repeated.push(id);
        return;
      }
      listed.add(id);
      if (midKind === 'folder' && !pngs.has(id)) {
        noPng.push(id);
        return;
      }
      if (midKind !== 'folder') return;
      const spacing = parseSpiderPixelSpacing(row.PixelSpacing ?? '');
      if (!spacing) {
        badSpacing.push(`${id} (line ${table.lines[r]}: "${row.PixelSpacing}")`);
        return;
      }
      let sequence = spiderSequenceOf(id);
      if (!sequence) {
        unknownSuffix.push(id);
        sequence = 'other';
      }
      const pngPath = join(at(SPIDER_2D_FILES.midsagittal), `${id}.png`);
      const keypoints: DiscKeypoint[] = [];
      const manufacturer = (row.Manufacturer ?? '').trim();
      const record: SeriesRecord = {
        id,
        patient: spiderPatientOf(id),
        sequence,
        ...(manufacturer ? { manufacturer } : {}),
        keypoints,
        loadMidSagittal: async () => pictureImage(await readPicture(pngPath, { pixelSpacing: spacing }), spacing),
      };
      series.push(record);
      seriesById.set(id, { record, keypoints });
    });
    if (noPng.length > 0) {
      notes.push(
        `${noPng.length} series of ${SPIDER_2D_FILES.overview} have no PNG in ${SPIDER_2D_FILES.midsagittal}/ and were left out (${abbreviate(noPng)})`,
      );
    }
    if (badSpacing.length > 0) {
      notes.push(
        `${badSpacing.length} series have an unreadable PixelSpacing and were left out (${abbreviate(badSpacing)})`,
      );
    }
    if (unknownSuffix.length > 0) {
      notes.push(
        `${unknownSuffix.length} series name(s) end in none of _t1, _t2, _t2_SPACE; their sequence is "other" (${abbreviate(unknownSuffix)})`,
      );
    }
    if (repeated.length > 0) {
      notes.push(
        `${repeated.length} series appear twice in ${SPIDER_2D_FILES.overview}; the first row counts (${abbreviate(repeated)})`,
      );
    }
  } else if (midKind === 'folder') {
    notes.push(
      `no ${SPIDER_2D_FILES.overview}: the pixel spacing of the ${pngs.size} mid-sagittal PNG(s) is unknown, so they were left out`,
    );
  }
  const unlisted = [...pngs].filter((id) => overviewKind === 'file' && !listed.has(id));
  if (unlisted.length > 0) {
    notes.push(
      `${unlisted.length} PNG(s) in ${SPIDER_2D_FILES.midsagittal}/ have no ${SPIDER_2D_FILES.overview} row (no pixel spacing) and were left out (${abbreviate(unlisted.sort())})`,
    );
  }

  // --- gradings
  let discs: DiscLabel[] = [];
  if (gradingsKind === 'file') {
    const path = at(SPIDER_2D_FILES.gradings);
    discs = spiderDiscLabels(
      await readCsv(path, { required: ['Patient', 'IVD label'] }),
      SPIDER_2D_FILES.gradings,
      notes,
    );
  } else {
    notes.push(`no ${SPIDER_2D_FILES.gradings}: the dataset has no disc labels`);
  }

  // --- keypoints
  if (keypointsKind === 'file') {
    await attachKeypoints(at(SPIDER_2D_FILES.keypoints), seriesById, notes);
  } else {
    notes.push(`no ${SPIDER_2D_FILES.keypoints}: the dataset has no disc keypoints`);
  }

  // --- mask slices
  const maskSlices: MaskSliceRecord[] = [];
  if (manifestKind === 'file') {
    maskSlices.push(...(await readManifest(at(SPIDER_2D_FILES.t2space), at(SPIDER_2D_FILES.manifest), notes)));
  } else if (t2spaceKind === 'folder') {
    notes.push(`no ${SPIDER_2D_FILES.manifest}: without it the slice spacing is unknown, so there are no mask slices`);
  } else {
    notes.push(`no ${SPIDER_2D_FILES.t2space}/ folder: the dataset has no mask slices`);
  }

  return assembleDataset({ root, layout: 'spider-2d', series, discs, maskSlices, notes });
}

async function listFolder(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder)).sort();
  } catch (error) {
    throw fileSystemError(error, folder);
  }
}

/** Reads the keypoint table and adds each point to its series (in the order of the file). */
async function attachKeypoints(
  path: string,
  seriesById: ReadonlyMap<string, { keypoints: DiscKeypoint[] }>,
  notes: string[],
): Promise<void> {
  const table = await readCsv(path, { required: ['series', 'ivd_label', 'x_png', 'y_png'] });
  const unmatched = new Set<string>();
  const bad: string[] = [];
  let unmatchedPoints = 0;
  table.rows.forEach((row, r) => {
    const id = (row.series ?? '').trim();
    const ivdLabel = parseGrade(row.ivd_label, 0, 17);
    const x = parseNumber(row.x_png);
    const y = parseNumber(row.y_png);
    if (id === '' || ivdLabel === undefined || x === undefined || y === undefined) {
      bad.push(`line ${table.lines[r]}`);
      return;
    }
    const target = seriesById.get(id);
    if (!target) {
      unmatched.add(id);
      unmatchedPoints++;
      return;
    }
    target.keypoints.push({ ivdLabel, level: levelOfIvdLabel(ivdLabel), x, y });
  });
  if (bad.length > 0)
    notes.push(`${SPIDER_2D_FILES.keypoints}: ${bad.length} unreadable row(s) left out (${abbreviate(bad)})`);
  if (unmatched.size > 0) {
    notes.push(
      `${SPIDER_2D_FILES.keypoints}: ${unmatchedPoints} point(s) of ${unmatched.size} series not in the dataset were left out (${abbreviate([...unmatched].sort())})`,
    );
  }
}

/** Reads `t2space/manifest.csv` into mask-slice records whose files exist. */
async function readManifest(folder: string, path: string, notes: string[]): Promise<MaskSliceRecord[]> {
  const table = await readCsv(path, {
    required: ['patient', 'series', 'image', 'mask', 'row_spacing_mm', 'col_spacing_mm'],
  });
  const records: MaskSliceRecord[] = [];
  const missing: string[] = [];
  const bad: string[] = [];
  const seen = new Set<string>();
  for (const [r, row] of table.rows.entries()) {
    const image = (row.image ?? '').trim();
    const mask = (row.mask ?? '').trim();
    const rowSpacing = parseNumber(row.row_spacing_mm) ?? Number.NaN;
    const colSpacing = parseNumber(row.col_spacing_mm) ?? Number.NaN;
    const id = posix.basename(image.replace(/\\/g, '/'));
    if (image === '' || mask === '' || !(rowSpacing > 0 && colSpacing > 0) || seen.has(id)) {
      bad.push(`line ${table.lines[r]}`);
      continue;
    }
    const imagePath = join(folder, ...image.split(/[\\/]/));
    const maskPath = join(folder, ...mask.split(/[\\/]/));
    const [imageKind, maskKind] = await Promise.all([pathKind(imagePath), pathKind(maskPath)]);
    if (imageKind !== 'file' || maskKind !== 'file') {
      missing.push(imageKind !== 'file' ? image : mask);
      continue;
    }
    seen.add(id);
    const spacing: [number, number] = [colSpacing, rowSpacing];
    const seriesId = (row.series ?? '').trim() || id.replace(/_slice\d+\.png$/i, '');
    records.push({
      id,
      patient: (row.patient ?? '').trim() || spiderPatientOf(seriesId),
      series: seriesId,
      loadImage: async () => pictureImage(await readPicture(imagePath, { pixelSpacing: spacing }), spacing),
      loadMask: async () => (await readSemanticMaskPng(maskPath)).mask,
    });
  }
  if (missing.length > 0) {
    notes.push(
      `${missing.length} mask slice(s) of ${SPIDER_2D_FILES.manifest} lack their image or mask file and were left out (${abbreviate(missing.map((m) => basename(m)))})`,
    );
  }
  if (bad.length > 0) {
    notes.push(`${SPIDER_2D_FILES.manifest}: ${bad.length} unusable or repeated row(s) left out (${abbreviate(bad)})`);
  }
  return records;
}
