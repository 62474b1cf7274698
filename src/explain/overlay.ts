/** Heat maps drawn over greyscale images, in the Turbo colour map, and written as RGB PNGs. */
import { writeRgbPng } from '../io/png.js';

/** How a heat map is blended over the grey image. */
export interface HeatOverlayOptions {
  /** Opacity of the colour where heat is shown, in [0, 1], default 0.5. */
  alpha?: number;
  /** Heat below this (and heat 0) shows only the grey image, in [0, 1], default 0.2. */
  threshold?: number;
}

const RED = [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943] as const;
const GREEN = [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604] as const;
const BLUE = [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973] as const;

function polynomial(c: readonly number[], t: number): number {
  let value = 0;
  for (let i = c.length - 1; i >= 0; i--) value = value * t + (c[i] as number);
  return Math.min(Math.max(value, 0), 1);
}

function clamp01(value: number): number {
  return Number.isNaN(value) ? 0 : Math.min(Math.max(value, 0), 1);
}

/**
 * The Turbo colour map (Mikhailov, Google 2019) at `t` in [0, 1], as RGB in [0, 1], through its
 * published degree-5 polynomial fit: dark blue → cyan → green → yellow → red.
 */
export function turbo(t: number): [number, number, number] {
  const x = clamp01(t);
  return [polynomial(RED, x), polynomial(GREEN, x), polynomial(BLUE, x)];
}

/**
 * Blends `heat` (row-major, [0, 1]) over `grey` (row-major Float32Array, intensities in [0, 1],
 * clamped) as 8-bit RGB: where heat is positive and at least the threshold, `(1 − alpha)·grey +
 * alpha·turbo(heat)`; elsewhere the grey pixel unchanged.
 */
export function heatOverlayRgb(
  grey: Float32Array,
  heat: Float32Array,
  width: number,
  height: number,
  options: HeatOverlayOptions = {},
): Uint8Array {
  const count = width * height;
  if (grey.length !== count || heat.length !== count) {
    throw new Error(
      `heat overlay: grey has ${grey.length} and heat ${heat.length} values, expected ${width}×${height}`,
    );
  }
  const alpha = options.alpha ?? 0.5;
  const threshold = options.threshold ?? 0.2;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`heat overlay: alpha ${alpha} is outside [0, 1]`);
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`heat overlay: threshold ${threshold} is outside [0, 1]`);
  const rgb = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    const g = clamp01(grey[i] as number);
    const h = clamp01(heat[i] as number);
    if (h > 0 && h >= threshold) {
      const [r, gr, b] = turbo(h);
      rgb[i * 3] = Math.round(((1 - alpha) * g + alpha * r) * 255);
      rgb[i * 3 + 1] = Math.round(((1 - alpha) * g + alpha * gr) * 255);
      rgb[i * 3 + 2] = Math.round(((1 - alpha) * g + alpha * b) * 255);
    } else {
      const value = Math.round(g * 255);
      rgb[i * 3] = value;
      rgb[i * 3 + 1] = value;
      rgb[i * 3 + 2] = value;
    }
  }
  return rgb;
}

/**
 * `heat` (row-major, [0, 1]) as 8-bit RGBA to lay over an image: the Turbo colour where the heat is
 * positive and at least `threshold`, with an opacity growing with the heat up to `alpha`;
 * transparent elsewhere.
 */
export function heatRgba(heat: Float32Array, options: HeatOverlayOptions = {}): Uint8Array {
  const alpha = options.alpha ?? 0.6;
  const threshold = options.threshold ?? 0.2;
  const rgba = new Uint8Array(heat.length * 4);
  for (let i = 0; i < heat.length; i++) {
    const h = clamp01(heat[i] as number);
    if (!(h > 0 && h >= threshold)) continue;
    const [r, g, b] = turbo(h);
    rgba[i * 4] = Math.round(r * 255);
    rgba[i * 4 + 1] = Math.round(g * 255);
    rgba[i * 4 + 2] = Math.round(b * 255);
    rgba[i * 4 + 3] = Math.round(alpha * h * 255);
  }
  return rgba;
}

/** Writes {@link heatOverlayRgb} of the inputs as an RGB PNG, atomically (an existing file only with `overwrite`). */
export async function writeHeatOverlayPng(
  path: string,
  grey: Float32Array,
  heat: Float32Array,
  width: number,
  height: number,
  options: HeatOverlayOptions & { overwrite?: boolean } = {},
): Promise<void> {
  const rgb = heatOverlayRgb(grey, heat, width, height, options);
  await writeRgbPng(path, rgb, width, height, { overwrite: options.overwrite ?? false });
}
