/**
 * What the viewer needs to show a study's images: the series as `analyze` reads them, with the map
 * from the findings' display pixels to each DICOM instance's own pixels, and sagittal display slices
 * rendered as 8-bit PNGs on the findings' pixel grid.
 */
import { basename } from 'node:path';
import { loadStudies } from '../io/load.js';
import { encodeGreyPngAsync } from '../io/png.js';
import { robustRange } from '../transforms/intensity.js';
import { extractSagittalSlice, imagePlane, sagittalAxis } from '../volume/orientation.js';
import type { Volume } from '../volume/volume.js';
import type { SeriesInfo } from './apiTypes.js';
import { ServiceError } from './errors.js';

export type { SeriesInfo } from './apiTypes.js';

/** A series with its volume and the ids of its files in slice order. */
export interface LoadedSeries {
  info: Omit<SeriesInfo, 'findingsSeries' | 'heatmaps'>;
  volume: Volume;
  /** File ids (stored file names) in slice order. */
  fileIds: string[];
  sopInstanceUids: string[];
}

/** Reads the study's files (every study in the folder, in `loadStudies` order) and describes each series. */
export async function loadSeries(filesDir: string, pixelSpacing?: readonly [number, number]): Promise<LoadedSeries[]> {
  const { studies } = await loadStudies([filesDir], pixelSpacing ? { pixelSpacing } : {});
  const volumes = studies.flatMap((s) => s.series);
  return volumes.map((volume, index) => describeSeries(volume, index));
}

function describeSeries(volume: Volume, index: number): LoadedSeries {
  const meta = volume.metadata;
  const axis = sagittalAxis(volume);
  const mid = Math.floor(volume.size[axis] / 2);
  const slice = extractSagittalSlice(volume, mid);
  const isDicom = meta.sourceFormat === 'dicom';
  const instancesAreSagittalSlices = isDicom && axis === 2 && meta.sourcePaths.length === volume.size[2];
  let displayToInstance: SeriesInfo['displayToInstance'] = null;
  if (instancesAreSagittalSlices) {
    const o = slice.indexOf(0, 0);
    const x = slice.indexOf(1, 0);
    const y = slice.indexOf(0, 1);
    displayToInstance = [x[0] - o[0], y[0] - o[0], o[0], x[1] - o[1], y[1] - o[1], o[1]];
  }
  return {
    info: {
      index,
      seriesInstanceUid: meta.seriesInstanceUid ?? null,
      seriesDescription: meta.seriesDescription ?? null,
      seriesNumber: meta.seriesNumber ?? null,
      modality: meta.modality ?? null,
      format: meta.sourceFormat,
      plane: imagePlane(volume),
      size: [volume.size[0], volume.size[1], volume.size[2]],
      sagittalSlices: volume.size[axis],
      display: {
        width: slice.width,
        height: slice.height,
        pixelSpacing: [slice.pixelSpacing[0], slice.pixelSpacing[1]],
      },
      instances: meta.sourcePaths.length,
      instancesAreSagittalSlices,
      displayToInstance,
    },
    volume,
    fileIds: meta.sourcePaths.map((p) => basename(p)),
    sopInstanceUids: [...(meta.sopInstanceUids ?? [])],
  };
}

/** Parses `?window=<center>,<width>`; undefined when absent. Throws `BAD_REQUEST` on bad syntax. */
export function parseWindow(text: unknown): [number, number] | undefined {
  if (text === undefined) return undefined;
  const parts = typeof text === 'string' ? text.split(',').map((p) => Number(p.trim())) : [];
  const [center, width] = parts as [number, number];
  if (parts.length !== 2 || !Number.isFinite(center) || !Number.isFinite(width) || !(width > 0)) {
    throw new ServiceError('BAD_REQUEST', 'window must be "<center>,<width>" with a positive width');
  }
  return [center, width];
}

/** Each volume's sagittal slices' robust ranges, computed once (a viewer scrolls back and forth). */
const sliceRanges = new WeakMap<Volume, Map<number, [number, number]>>();

function sliceRange(volume: Volume, k: number, pixels: ArrayLike<number>): [number, number] {
  let ranges = sliceRanges.get(volume);
  if (!ranges) {
    ranges = new Map();
    sliceRanges.set(volume, ranges);
  }
  let range = ranges.get(k);
  if (!range) {
    range = robustRange(pixels);
    ranges.set(k, range);
  }
  return range;
}

/**
 * Sagittal display slice `k` of `volume` as an 8-bit greyscale PNG (robust window unless `window` is
 * given), compressed off the event loop.
 */
export async function slicePng(volume: Volume, k: number, window?: readonly [number, number]): Promise<Uint8Array> {
  const count = volume.size[sagittalAxis(volume)];
  if (!Number.isInteger(k) || k < 0 || k >= count) {
    throw new ServiceError('NOT_FOUND', `no sagittal slice ${k} (the series has ${count}: 0 to ${count - 1})`);
  }
  const slice = extractSagittalSlice(volume, k);
  const [lo, hi] = window
    ? [window[0] - window[1] / 2, window[0] + window[1] / 2]
    : sliceRange(volume, k, slice.pixels);
  const scale = 255 / Math.max(hi - lo, 1e-6);
  const bytes = new Uint8Array(slice.width * slice.height);
  for (let n = 0; n < bytes.length; n++) {
    const v = ((slice.pixels[n] as number) - lo) * scale;
    bytes[n] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return encodeGreyPngAsync(bytes, slice.width, slice.height);
}
