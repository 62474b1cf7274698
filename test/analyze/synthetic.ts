/** Small synthetic series for the analyze refusal tests, written with the project's own writers. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeMetaImage } from '../../src/io/metaimage.js';
import { directionFromAxes, type Vec3, type Volume } from '../../src/volume/volume.js';

/** Sagittal display-like axes: i → posterior, j → inferior, k → patient's right. */
export const SAGITTAL = directionFromAxes([0, 1, 0], [0, 0, -1], [-1, 0, 0]);

/** A sagittal volume whose voxel (i, j, k) is `value(i, j, k)`. */
export function sagittalVolume(
  size: Vec3,
  spacing: Vec3,
  value: (i: number, j: number, k: number) => number,
  description = 't2_sag',
): Volume {
  const voxels = new Int16Array(size[0] * size[1] * size[2]);
  for (let k = 0; k < size[2]; k++)
    for (let j = 0; j < size[1]; j++)
      for (let i = 0; i < size[0]; i++) voxels[i + size[0] * (j + size[1] * k)] = Math.round(value(i, j, k));
  return {
    voxels,
    size,
    spacing,
    origin: [0, 0, 0],
    direction: SAGITTAL,
    metadata: { sourceFormat: 'metaimage', sourcePaths: [], seriesDescription: description, spacingSource: 'header' },
  };
}

/** A bright ellipse with a darker core on a dark background: image structure, but no spine. */
export const blob = (i: number, j: number): number =>
  ((i - 128) ** 2 + (j - 160) ** 2 < 80 ** 2 ? 800 : 50) +
  ((i - 128) ** 2 / 900 + (j - 160) ** 2 / 3600 < 1 ? -300 : 0);

/** Deterministic uniform noise in [0, 1000). */
export function noise(): (i: number, j: number, k: number) => number {
  let state = 12345;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 2 ** 32) * 1000;
  };
}

/** Writes `volume` as `<folder>/<name>/<file>.mha` (the file name carries the sequence) and returns its folder. */
export async function writeCase(folder: string, name: string, volume: Volume, file = 't2_sag.mha'): Promise<string> {
  const dir = join(folder, name);
  await mkdir(dir, { recursive: true });
  await writeMetaImage(volume, join(dir, file));
  return dir;
}

/** The synthetic refusal cases: each folder holds one series spinegrade must not grade, and why. */
export const REFUSALS: { name: string; volume: () => Volume; message: RegExp }[] = [
  {
    name: 'not-spine',
    volume: () => sagittalVolume([256, 320, 9], [0.9, 0.9, 3.5], blob),
    message: /no intervertebral disc found on the mid-sagittal slice: not a spine image/,
  },
  {
    name: 'too-few-slices',
    volume: () => sagittalVolume([256, 320, 2], [0.9, 0.9, 3.5], blob),
    message: /only 2 sagittal slice\(s\): grading needs at least 3/,
  },
  {
    name: 'low-contrast',
    volume: () => sagittalVolume([256, 320, 9], [0.9, 0.9, 3.5], (i, j) => 1000 + ((i + j) % 3)),
    message: /contrast too low \(0\.00\d on the mid-sagittal slice, under 0\.1\)/,
  },
  {
    name: 'noise',
    volume: () => sagittalVolume([256, 320, 9], [0.9, 0.9, 3.5], noise()),
    message: /no image structure \(neighbouring pixels correlate -?0\.0\d, under 0\.5\): the image looks like noise/,
  },
  {
    name: 'thick-slices',
    volume: () => sagittalVolume([256, 320, 9], [0.9, 0.9, 8], blob),
    message: /sagittal slices 8\.0 mm thick: grading needs 6 mm or thinner/,
  },
];
