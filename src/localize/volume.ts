/**
 * Localising a 3D sagittal series: the mid-sagittal slice is chosen by the spinal canal (the slice
 * among the central ones where the localiser sees the most canal), and every disc is also reported in
 * physical (LPS, mm) coordinates.
 */
import { extractSagittalSlice, midSagittalIndex, sagittalAxis } from '../volume/orientation.js';
import type { Vec3, Volume } from '../volume/volume.js';
import { type ImageLocalization, type Localizer, localizeImages } from './localizer.js';

/** A disc in physical coordinates. */
export interface PhysicalDisc {
  level: string;
  ivdLabel: number;
  /** LPS mm of the disc centre and posterior point. */
  centerMm: Vec3;
  posteriorMm: Vec3;
}

/** The localisation of a volume on its chosen mid-sagittal slice. */
export interface VolumeLocalization {
  /** Index of the chosen slice along the sagittal axis. */
  sliceIndex: number;
  /** Canal pixels seen on each candidate slice, by slice index. */
  canalPixels: Record<number, number>;
  /** The slice localisation (pixel coordinates of the display slice). */
  slice: ImageLocalization;
  discs: PhysicalDisc[];
}

/** Localises a volume on the central slice with the most spinal canal (up to `radius` slices either side of the middle). */
export function localizeVolume(localizer: Localizer, volume: Volume, radius = 3): VolumeLocalization {
  const count = volume.size[sagittalAxis(volume)];
  const middle = midSagittalIndex(volume);
  const indices: number[] = [];
  for (let index = Math.max(0, middle - radius); index <= Math.min(count - 1, middle + radius); index++)
    indices.push(index);
  const slices = indices.map((index) => extractSagittalSlice(volume, index));
  const results = localizeImages(localizer, slices);
  const canalPixels: Record<number, number> = {};
  let best = 0;
  results.forEach((result, n) => {
    const canal = result.classes.reduce((sum, c) => sum + (c === 3 ? 1 : 0), 0);
    canalPixels[indices[n] as number] = canal;
    const current = canalPixels[indices[best] as number] as number;
    // Prefer more canal; on a tie, the slice nearer the geometric middle.
    if (
      canal > current ||
      (canal === current && Math.abs((indices[n] as number) - middle) < Math.abs((indices[best] as number) - middle))
    )
      best = n;
  });
  const slice = slices[best]!;
  const chosen = results[best]!;
  return {
    sliceIndex: indices[best] as number,
    canalPixels,
    slice: chosen,
    discs: chosen.discs.map((d) => ({
      level: d.level,
      ivdLabel: d.ivdLabel,
      centerMm: slice.pointOf(d.center[0], d.center[1]),
      posteriorMm: slice.pointOf(d.posterior[0], d.posterior[1]),
    })),
  };
}
