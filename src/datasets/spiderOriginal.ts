/**
 * The original SPIDER layout, as downloaded from Zenodo (record 10159290):
 *
 * - `images/<series>.mha`: the 3D sagittal series (`<patient>_t1`, `_t2`, `_t2_SPACE`), ITK-written
 *   with their own direction cosines: the reader reorients by the header, never by array order.
 * - `masks/<series>.mha`: instance masks on the same grid. Vertebrae 1-25 numbered from the bottom
 *   (L5 = 1), 101-125 partly visible vertebrae, 100 the spinal canal, discs 201-225 numbered from
 *   the bottom (L5/S1 = 201), so disc value 200 + n is SPIDER `IVD label` n.
 * - `radiological_gradings.csv` and `overview.csv` as in the 2D layout.
 *
 * Each series gives its middle sagittal slice (`midSagittalIndex`) in display orientation; each
 * series with a mask gives one mask slice, `<series>_mid.png`, the same slice of the mask converted
 * to semantic values (0 background, 29 disc, 76 vertebra, 150 canal). There are no keypoints: SPIDER
 * marks none, and a disc centroid is not SPIDER's keypoint convention (the posterior disc margin);
 * {@link discInstancesOfSlice} gives each disc's pixels and centroid for whoever needs them.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { levelOfIvdLabel } from '../disc/levels.js';
import { SpinegradeError } from '../errors.js';
import { fileSystemError } from '../io/binary.js';
import { readMetaImage } from '../io/metaimage.js';
import { extractSagittalSlice, midSagittalIndex } from '../volume/orientation.js';
import {
  abbreviate,
  assembleDataset,
  assertFolder,
  midSagittalImage,
  pathKind,
  spiderDiscLabels,
  spiderPatientOf,
  spiderSequenceOf,
} from './common.js';
import { readCsv } from './csv.js';
import { type DiscLabel, MASK_VALUES, type MaskSliceRecord, type SeriesRecord, type SpineDataset } from './types.js';

/** File and folder names of the original SPIDER layout, relative to its root. */
export const SPIDER_ORIGINAL_FILES = {
  images: 'images',
  masks: 'masks',
  overview: 'overview.csv',
  gradings: 'radiological_gradings.csv',
} as const;

/** SPIDER instance label of the spinal canal. */
export const SPIDER_CANAL_LABEL = 100;
/** SPIDER instance labels of discs are `SPIDER_DISC_LABEL_BASE + IVD label` (201 = L5/S1). */
export const SPIDER_DISC_LABEL_BASE = 200;

/**
 * The semantic mask value of a SPIDER instance label: vertebrae 1-25 and partly visible vertebrae
 * 101-125 → 76, canal 100 → 150, discs 201-225 → 29, 0 → 0; undefined for any other value.
 */
export function semanticValueOfSpiderLabel(label: number): number | undefined {
  if (label === 0) return MASK_VALUES.background;
  if ((label >= 1 && label <= 25) || (label >= 101 && label <= 125)) return MASK_VALUES.vertebra;
  if (label === SPIDER_CANAL_LABEL) return MASK_VALUES.canal;
  if (label >= 201 && label <= 225) return MASK_VALUES.disc;
  return undefined;
}

/** Converts a SPIDER instance mask to semantic values; throws `INVALID_HEADER` naming a foreign value. */
export function semanticMaskOfInstances(labels: ArrayLike<number>, path?: string): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let n = 0; n < labels.length; n++) {
    const label = labels[n] as number;
    const value = Number.isInteger(label) ? semanticValueOfSpiderLabel(label) : undefined;
    if (value === undefined) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `mask value ${label} is no SPIDER label (0, vertebrae 1-25 and 101-125, canal 100, discs 201-225)`,
        path,
      );
    }
    out[n] = value;
  }
  return out;
}

/** One disc of an instance-mask slice. */
export interface DiscInstance {
  /** SPIDER IVD label (mask value − 200): 1 = L5/S1, counting upward. */
  readonly ivdLabel: number;
  readonly level: string;
  /** The mask value, 200 + `ivdLabel`. */
  readonly maskValue: number;
  /** Row-major indices (`x + y * width`) of the disc's pixels, ascending. */
  readonly pixels: Uint32Array;
  /** Mean pixel column and row. */
  readonly centroid: { readonly x: number; readonly y: number };
}

/** Every disc (values 201-225) in an instance-mask slice, ordered by IVD label (L5/S1 first). */
export function discInstancesOfSlice(labels: ArrayLike<number>, width: number, height: number): DiscInstance[] {
  if (labels.length !== width * height) {
    throw new SpinegradeError(
      'USAGE',
      `a ${width}×${height} slice needs ${width * height} labels, got ${labels.length}`,
    );
  }
  const found = new Map<number, { pixels: number[]; sx: number; sy: number }>();
  for (let n = 0; n < labels.length; n++) {
    const value = labels[n] as number;
    if (!(value >= 201 && value <= 225)) continue;
    let entry = found.get(value);
    if (!entry) {
      entry = { pixels: [], sx: 0, sy: 0 };
      found.set(value, entry);
    }
    entry.pixels.push(n);
    entry.sx += n % width;
    entry.sy += Math.floor(n / width);
  }
  return [...found.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([value, entry]) => {
      const ivdLabel = value - SPIDER_DISC_LABEL_BASE;
      return {
        ivdLabel,
        level: levelOfIvdLabel(ivdLabel),
        maskValue: value,
        pixels: Uint32Array.from(entry.pixels),
        centroid: { x: entry.sx / entry.pixels.length, y: entry.sy / entry.pixels.length },
      };
    });
}

/** The instance labels of a mask's mid-sagittal slice, in display orientation. */
export interface InstanceSlice {
  readonly labels: Uint16Array;
  readonly width: number;
  readonly height: number;
  /** `[x, y]` in mm. */
  readonly pixelSpacing: readonly [number, number];
}

/** Reads a SPIDER instance mask (`.mha`) and returns its mid-sagittal slice in display orientation. */
export async function readSpiderInstanceSlice(path: string): Promise<InstanceSlice> {
  const volume = await readMetaImage(path);
  const slice = extractSagittalSlice(volume, midSagittalIndex(volume));
  const labels = new Uint16Array(slice.pixels.length);
  for (let n = 0; n < labels.length; n++) {
    const v = slice.pixels[n] as number;
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff)) {
      throw new SpinegradeError('INVALID_HEADER', `mask value ${v} is no SPIDER label`, path);
    }
    labels[n] = v;
  }
  return { labels, width: slice.width, height: slice.height, pixelSpacing: slice.pixelSpacing };
}

/** A mask slice of the original layout, which also gives the instance labels it was made from. */
export interface SpiderMaskSliceRecord extends MaskSliceRecord {
  /** The SPIDER instance labels of the slice (see {@link discInstancesOfSlice}). */
  loadInstanceMask(): Promise<InstanceSlice>;
}

/** A dataset in the original SPIDER layout; its mask slices also give instance labels. */
export interface SpiderOriginalDataset extends SpineDataset {
  readonly layout: 'spider-original';
  readonly maskSlices: readonly SpiderMaskSliceRecord[];
}

const IMAGE_EXTENSIONS = ['.mha', '.mhd'];

async function listImages(folder: string): Promise<Map<string, string>> {
  let names: string[];
  try {
    names = (await readdir(folder)).sort();
  } catch (error) {
    throw fileSystemError(error, folder);
  }
  const byId = new Map<string, string>();
  for (const name of names) {
    const ext = IMAGE_EXTENSIONS.find((e) => name.toLowerCase().endsWith(e));
    if (!ext) continue;
    const id = name.slice(0, -ext.length);
    if (!byId.has(id)) byId.set(id, join(folder, name));
  }
  return byId;
}

/** Reads a folder in the original SPIDER layout (`images/*.mha`, `masks/*.mha`, CSVs). */
export async function readSpiderOriginalDataset(root: string): Promise<SpiderOriginalDataset> {
  await assertFolder(root);
  const notes: string[] = [];
  const imagesFolder = join(root, SPIDER_ORIGINAL_FILES.images);
  const masksFolder = join(root, SPIDER_ORIGINAL_FILES.masks);
  const [imagesKind, masksKind, overviewKind, gradingsKind] = await Promise.all([
    pathKind(imagesFolder),
    pathKind(masksFolder),
    pathKind(join(root, SPIDER_ORIGINAL_FILES.overview)),
    pathKind(join(root, SPIDER_ORIGINAL_FILES.gradings)),
  ]);
  const images = imagesKind === 'folder' ? await listImages(imagesFolder) : new Map<string, string>();
  if (images.size === 0) {
    throw new SpinegradeError(
      'NO_IMAGES',
      `not a SPIDER dataset folder: no ${SPIDER_ORIGINAL_FILES.images}/*.mha${imagesKind === 'folder' ? ' (the folder holds none)' : ''}`,
      root,
    );
  }
  const masks = masksKind === 'folder' ? await listImages(masksFolder) : new Map<string, string>();
  if (masksKind !== 'folder') notes.push(`no ${SPIDER_ORIGINAL_FILES.masks}/ folder: the dataset has no mask slices`);

  const series: SeriesRecord[] = [];
  const maskSlices: SpiderMaskSliceRecord[] = [];
  const unknownSuffix: string[] = [];
  for (const [id, imagePath] of images) {
    let sequence = spiderSequenceOf(id);
    if (!sequence) {
      unknownSuffix.push(id);
      sequence = 'other';
    }
    const patient = spiderPatientOf(id);
    series.push({
      id,
      patient,
      sequence,
      keypoints: [],
      loadMidSagittal: async () => midSagittalImage(await readMetaImage(imagePath)),
    });
    const maskPath = masks.get(id);
    if (maskPath === undefined) continue;
    const loadInstanceMask = (): Promise<InstanceSlice> => readSpiderInstanceSlice(maskPath);
    maskSlices.push({
      id: `${id}_mid.png`,
      patient,
      series: id,
      loadImage: async () => midSagittalImage(await readMetaImage(imagePath)),
      loadMask: async () => semanticMaskOfInstances((await loadInstanceMask()).labels, maskPath),
      loadInstanceMask,
    });
  }
  if (unknownSuffix.length > 0) {
    notes.push(
      `${unknownSuffix.length} series name(s) end in none of _t1, _t2, _t2_SPACE; their sequence is "other" (${abbreviate(unknownSuffix)})`,
    );
  }
  const orphanMasks = [...masks.keys()].filter((id) => !images.has(id));
  if (orphanMasks.length > 0) {
    notes.push(`${orphanMasks.length} mask(s) without an image were left out (${abbreviate(orphanMasks)})`);
  }
  if (masksKind === 'folder') {
    const unmasked = series.filter((s) => !masks.has(s.id)).map((s) => s.id);
    if (unmasked.length > 0) notes.push(`${unmasked.length} series have no mask (${abbreviate(unmasked)})`);
  }

  if (overviewKind === 'file') {
    const table = await readCsv(join(root, SPIDER_ORIGINAL_FILES.overview), { required: ['new_file_name'] });
    const absent = table.rows
      .map((row) => (row.new_file_name ?? '').trim())
      .filter((id) => id !== '' && !images.has(id));
    if (absent.length > 0) {
      notes.push(
        `${absent.length} series of ${SPIDER_ORIGINAL_FILES.overview} have no image in ${SPIDER_ORIGINAL_FILES.images}/ (${abbreviate(absent)})`,
      );
    }
  }

  let discs: DiscLabel[] = [];
  if (gradingsKind === 'file') {
    const table = await readCsv(join(root, SPIDER_ORIGINAL_FILES.gradings), { required: ['Patient', 'IVD label'] });
    discs = spiderDiscLabels(table, SPIDER_ORIGINAL_FILES.gradings, notes);
  } else {
    notes.push(`no ${SPIDER_ORIGINAL_FILES.gradings}: the dataset has no disc labels`);
  }

  return assembleDataset({ root, layout: 'spider-original', series, discs, maskSlices, notes });
}
