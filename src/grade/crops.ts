/**
 * Disc crops for the grader: a square patch aligned to the disc axis (anterior left, posterior right,
 * superior up), of a fixed physical field of view that holds the disc, both adjacent endplates, part
 * of the two vertebral bodies and the spinal canal behind the disc.
 */
import { robustRange } from '../transforms/intensity.js';
import type { Image2D } from '../transforms/resample.js';
import { sampleBilinear } from '../transforms/sample.js';

/** Size and placement of a disc crop. */
export interface DiscCropConfig {
  /** Crop size in pixels (square). */
  size: number;
  /** Crop pixel spacing, mm. */
  spacingMm: number;
  /** The crop centre lies this far posterior of the disc centre (so the canal is in view), mm. */
  posteriorShiftMm: number;
}

/** 56 × 56 px at 1 mm: 56 mm across, the disc centre 8 mm left of the crop centre. */
export const DEFAULT_CROP_CONFIG: DiscCropConfig = { size: 56, spacingMm: 1, posteriorShiftMm: 8 };

/** Where a disc lies on a slice: centre and axis (unit vector in display pixels, pointing posterior). */
export interface DiscPlacement {
  readonly center: readonly [number, number];
  readonly axis: readonly [number, number];
}

/** The map between crop and slice pixels of one crop. */
export interface CropPlacement {
  /** Crop pixel `(u, v)` → slice pixel `(x, y)`. */
  cropToSlice(u: number, v: number): [number, number];
  /** Slice pixel `(x, y)` → crop pixel `(u, v)`. */
  sliceToCrop(x: number, y: number): [number, number];
}

/** A disc crop: intensities normalised to about [0, 1] by the slice's 1st-99th percentiles. */
export interface DiscCrop {
  readonly pixels: Float32Array;
  readonly size: number;
  readonly placement: CropPlacement;
}

/** The crop-to-slice map of a disc (a rotation about the disc centre in physical space, then to pixels). */
export function cropPlacement(image: Image2D, disc: DiscPlacement, config: DiscCropConfig): CropPlacement {
  const [sx, sy] = image.pixelSpacing;
  // The disc axis in physical space (pixels may be anisotropic).
  let ax = disc.axis[0] * sx;
  let ay = disc.axis[1] * sy;
  const norm = Math.hypot(ax, ay);
  if (norm > 0) {
    ax /= norm;
    ay /= norm;
  } else {
    ax = 1;
    ay = 0;
  }
  // The flat disc's axis points posterior (+x on a display slice); its normal points inferior (+y).
  if (ax < 0) {
    ax = -ax;
    ay = -ay;
  }
  const nx = -ay;
  const ny = ax;
  const cxMm = disc.center[0] * sx + config.posteriorShiftMm * ax;
  const cyMm = disc.center[1] * sy + config.posteriorShiftMm * ay;
  const half = (config.size - 1) / 2;
  const step = config.spacingMm;
  return {
    cropToSlice(u, v) {
      const du = (u - half) * step;
      const dv = (v - half) * step;
      return [(cxMm + du * ax + dv * nx) / sx, (cyMm + du * ay + dv * ny) / sy];
    },
    sliceToCrop(x, y) {
      const dx = x * sx - cxMm;
      const dy = y * sy - cyMm;
      return [(dx * ax + dy * ay) / step + half, (dx * nx + dy * ny) / step + half];
    },
  };
}

/**
 * The pixels of a square crop: slice intensities at `cropToSlice(u, v)` (bilinear; 0 outside the
 * slice), scaled from `range` to about [0, 1] and clipped to [0, 1.2].
 */
export function sampleCrop(
  image: Image2D,
  size: number,
  cropToSlice: (u: number, v: number) => [number, number],
  range: readonly [number, number],
): Float32Array {
  const { width, height, pixels: src } = image;
  const [lo, hi] = range;
  const scale = 1 / (hi - lo);
  const pixels = new Float32Array(size * size);
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      const [x, y] = cropToSlice(u, v);
      if (x < 0 || y < 0 || x > width - 1 || y > height - 1) continue;
      const value = (sampleBilinear(src, width, height, x, y) - lo) * scale;
      pixels[v * size + u] = Math.min(1.2, Math.max(0, value));
    }
  }
  return pixels;
}

/** Crops a disc from a slice (bilinear; outside the slice is 0). */
export function cropDisc(
  image: Image2D,
  disc: DiscPlacement,
  config: DiscCropConfig = DEFAULT_CROP_CONFIG,
  range: readonly [number, number] = robustRange(image.pixels),
): DiscCrop {
  const placement = cropPlacement(image, disc, config);
  return { pixels: sampleCrop(image, config.size, placement.cropToSlice, range), size: config.size, placement };
}
