/**
 * Disc keypoints carried from one series to another of the same patient: SPIDER annotates them on
 * T2 only, and a patient's T1 is usually planned with the same field of view, so a keypoint's
 * physical position (pixel × spacing from the image corner) gives its place on the T1 slice.
 */
import type { DiscKeypoint } from './types.js';

/** What carrying keypoints needs of an image: its matrix and pixel spacing. */
export interface PixelGrid {
  readonly width: number;
  readonly height: number;
  readonly pixelSpacing: readonly [number, number];
}

/** Same field of view: physical width and height within 3%. */
export function sameFieldOfView(a: PixelGrid, b: PixelGrid): boolean {
  const close = (x: number, y: number): boolean => Math.abs(x - y) <= 0.03 * Math.max(x, y);
  return (
    close(a.width * a.pixelSpacing[0], b.width * b.pixelSpacing[0]) &&
    close(a.height * a.pixelSpacing[1], b.height * b.pixelSpacing[1])
  );
}

/** Keypoints moved from `from`'s pixels to `to`'s by physical position; undefined when the fields of view differ. */
export function carryKeypoints(
  keypoints: readonly DiscKeypoint[],
  from: PixelGrid,
  to: PixelGrid,
): DiscKeypoint[] | undefined {
  if (!sameFieldOfView(from, to)) return undefined;
  return keypoints.map((k) => ({
    ...k,
    x: (k.x * from.pixelSpacing[0]) / to.pixelSpacing[0],
    y: (k.y * from.pixelSpacing[1]) / to.pixelSpacing[1],
  }));
}
