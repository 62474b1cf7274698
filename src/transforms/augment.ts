/**
 * Training augmentation of canvas samples (image, semantic mask, keypoints), driven entirely by a
 * given random function so that a seed reproduces it.
 *
 * Geometry is one inverse map from output to input canvas coordinates,
 * `input = c + (R·S)⁻¹ (output − c − t) + d(output)`, with `c` the canvas centre, `R` a rotation,
 * `S` an isotropic scale times an anisotropic stretch, `t` a translation and `d` a smooth elastic
 * displacement (a coarse random grid, bilinearly upsampled). The image is sampled bilinearly, the
 * mask by nearest neighbour, and keypoints are moved by solving the same map forwards (fixed-point
 * iteration). There is deliberately no flip: the anatomy is not left-right (anterior-posterior)
 * symmetric and disc levels are counted up from the sacrum. A crop-out of the top or bottom then
 * simulates a shorter field of view.
 *
 * Photometric changes act only on pixels that show the image (padding and crop-out stay 0): a random
 * non-monotone intensity transfer curve (T1↔T2-like contrast change), gamma, contrast/brightness, a
 * smooth multiplicative bias field, blur and Gaussian noise; the result is clipped to `[0, maxValue]`.
 */
import type { CanvasKeypoint, CanvasRegion } from './canvas.js';
import { gaussianBlur } from './filters.js';

/** What {@link augmentSample} needs of a sample: a square canvas image with optional mask and keypoints. */
export interface AugmentableSample {
  /** `size × size` row-major intensities (about 0-1). */
  readonly image: Float32Array;
  /** `size × size` class indices, or null. */
  readonly semantic: Uint8Array | null;
  /** Keypoints in canvas pixels, or null when the sample has none annotated. */
  readonly keypoints: readonly CanvasKeypoint[] | null;
  /** The canvas: its size and the pixels that show the image (the rest is padding). */
  readonly canvas: { readonly size: number; readonly region?: CanvasRegion };
}

/** Every augmentation with its probability and range (see {@link DEFAULT_AUGMENT_SETTINGS}). */
export interface AugmentSettings {
  /** Rotation, uniform in ±maxDegrees. */
  readonly rotation: { readonly probability: number; readonly maxDegrees: number };
  /** Isotropic zoom, log-uniform in [min, max] (> 1 enlarges the anatomy). */
  readonly scale: { readonly probability: number; readonly min: number; readonly max: number };
  /** Anisotropic stretch: x × (1 + e), y ÷ (1 + e), e uniform in ±max. */
  readonly stretch: { readonly probability: number; readonly max: number };
  /** Field-of-view shift, uniform in ±maxFraction of the canvas along each axis. */
  readonly translation: { readonly probability: number; readonly maxFraction: number };
  /** Elastic deformation: a gridPoints × gridPoints grid of displacements uniform in ±amplitudePx. */
  readonly elastic: { readonly probability: number; readonly amplitudePx: number; readonly gridPoints: number };
  /** Blanks the top or bottom minFraction-maxFraction of the image rows (shorter field of view). */
  readonly cropOut: { readonly probability: number; readonly minFraction: number; readonly maxFraction: number };
  /**
   * A random piecewise-linear intensity transfer curve through `controlPoints` inner points (0 stays 0);
   * with `invertProbability` its mid-range runs downhill (bright becomes dark), as between T2 and T1.
   */
  readonly contrastCurve: {
    readonly probability: number;
    readonly controlPoints: number;
    readonly invertProbability: number;
  };
  /** v ↦ v^γ, γ log-uniform in [min, max]. */
  readonly gamma: { readonly probability: number; readonly min: number; readonly max: number };
  /** v ↦ c·v + b, c uniform in [contrastMin, contrastMax], b in ±brightness. */
  readonly contrast: {
    readonly probability: number;
    readonly contrastMin: number;
    readonly contrastMax: number;
    readonly brightness: number;
  };
  /** Multiplicative field exp(quadratic polynomial), its log at most ±maxLog over the canvas. */
  readonly biasField: { readonly probability: number; readonly maxLog: number };
  /** Gaussian blur, σ uniform in [sigmaMin, sigmaMax] pixels. */
  readonly blur: { readonly probability: number; readonly sigmaMin: number; readonly sigmaMax: number };
  /** Additive Gaussian noise, σ uniform in [0, sigmaMax]. */
  readonly noise: { readonly probability: number; readonly sigmaMax: number };
  /** Upper clip of the result. */
  readonly maxValue: number;
}

/** The defaults: moderate, anatomy-preserving changes. */
export const DEFAULT_AUGMENT_SETTINGS: AugmentSettings = {
  rotation: { probability: 0.7, maxDegrees: 12 },
  scale: { probability: 0.7, min: 0.85, max: 1.2 },
  stretch: { probability: 0.5, max: 0.08 },
  translation: { probability: 0.7, maxFraction: 0.15 },
  elastic: { probability: 0.5, amplitudePx: 3, gridPoints: 5 },
  cropOut: { probability: 0.2, minFraction: 0.1, maxFraction: 0.35 },
  contrastCurve: { probability: 0.3, controlPoints: 3, invertProbability: 0.5 },
  gamma: { probability: 0.5, min: 0.7, max: 1.5 },
  contrast: { probability: 0.5, contrastMin: 0.75, contrastMax: 1.3, brightness: 0.08 },
  biasField: { probability: 0.4, maxLog: 0.4 },
  blur: { probability: 0.15, sigmaMin: 0.5, sigmaMax: 1.2 },
  noise: { probability: 0.4, sigmaMax: 0.05 },
  maxValue: 1.2,
};

const GEOMETRIC = ['rotation', 'scale', 'stretch', 'translation', 'elastic', 'cropOut'] as const;
const PHOTOMETRIC = ['contrastCurve', 'gamma', 'contrast', 'biasField', 'blur', 'noise'] as const;

/**
 * Overrides of {@link DEFAULT_AUGMENT_SETTINGS}, field by field; `geometric`/`photometric: false` turn a
 * group off, except the augmentations of that group whose `probability` is given here.
 */
export type AugmentOptions = {
  readonly [K in Exclude<keyof AugmentSettings, 'maxValue'>]?: Partial<AugmentSettings[K]>;
} & {
  readonly maxValue?: number;
  /** False: no geometric change unless one's probability is given (default true). */
  readonly geometric?: boolean;
  /** False: no photometric change unless one's probability is given (default true). */
  readonly photometric?: boolean;
};

/** The full settings of some options: defaults, overridden field by field, groups turned off. */
export function resolveAugmentSettings(options: AugmentOptions = {}): AugmentSettings {
  const merged: Record<string, unknown> = { maxValue: options.maxValue ?? DEFAULT_AUGMENT_SETTINGS.maxValue };
  for (const key of [...GEOMETRIC, ...PHOTOMETRIC]) {
    const off =
      (options.geometric === false && (GEOMETRIC as readonly string[]).includes(key)) ||
      (options.photometric === false && (PHOTOMETRIC as readonly string[]).includes(key));
    merged[key] = { ...DEFAULT_AUGMENT_SETTINGS[key], ...(off ? { probability: 0 } : {}), ...options[key] };
  }
  return merged as unknown as AugmentSettings;
}

/** A standard normal number (Box-Muller) from `random`. */
function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function uniform(random: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * random();
}

/** The geometric part: a 2×2 inverse matrix, translation and optional elastic grid. */
interface Geometry {
  /** (R·S)⁻¹ as [a, b, c, d]: input offset = [a b; c d] · output offset. */
  readonly inverse: readonly [number, number, number, number];
  /** R·S. */
  readonly forward: readonly [number, number, number, number];
  readonly tx: number;
  readonly ty: number;
  /** Displacements (dx, dy interleaved) on a g × g grid spanning the canvas, or null. */
  readonly grid: Float32Array | null;
  readonly gridPoints: number;
}

function drawGeometry(size: number, s: AugmentSettings, random: () => number): Geometry {
  const theta =
    random() < s.rotation.probability ? (uniform(random, -1, 1) * s.rotation.maxDegrees * Math.PI) / 180 : 0;
  const zoom =
    random() < s.scale.probability ? Math.exp(uniform(random, Math.log(s.scale.min), Math.log(s.scale.max))) : 1;
  const e = random() < s.stretch.probability ? uniform(random, -s.stretch.max, s.stretch.max) : 0;
  let tx = 0;
  let ty = 0;
  if (random() < s.translation.probability) {
    tx = uniform(random, -1, 1) * s.translation.maxFraction * size;
    ty = uniform(random, -1, 1) * s.translation.maxFraction * size;
  }
  let grid: Float32Array | null = null;
  const g = Math.max(2, Math.round(s.elastic.gridPoints));
  if (random() < s.elastic.probability && s.elastic.amplitudePx > 0) {
    grid = new Float32Array(g * g * 2);
    for (let n = 0; n < grid.length; n++) grid[n] = uniform(random, -1, 1) * s.elastic.amplitudePx;
  }
  const sx = zoom * (1 + e);
  const sy = zoom / (1 + e);
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  // forward = R · diag(sx, sy); inverse = diag(1/sx, 1/sy) · Rᵀ
  return {
    forward: [cos * sx, -sin * sy, sin * sx, cos * sy],
    inverse: [cos / sx, sin / sx, -sin / sy, cos / sy],
    tx,
    ty,
    grid,
    gridPoints: g,
  };
}

/** The elastic displacement at output point (x, y): bilinear in the grid, constant beyond its edge. */
function displacement(geometry: Geometry, size: number, x: number, y: number): [number, number] {
  const { grid, gridPoints: g } = geometry;
  if (!grid) return [0, 0];
  const step = (g - 1) / Math.max(1, size - 1);
  const gx = Math.min(Math.max(x * step, 0), g - 1);
  const gy = Math.min(Math.max(y * step, 0), g - 1);
  const i0 = Math.min(Math.floor(gx), g - 2);
  const j0 = Math.min(Math.floor(gy), g - 2);
  const wx = gx - i0;
  const wy = gy - j0;
  const at = (i: number, j: number, k: number): number => grid[((j * g + i) << 1) + k] as number;
  const result: [number, number] = [0, 0];
  for (let k = 0; k < 2; k++) {
    const top = at(i0, j0, k) * (1 - wx) + at(i0 + 1, j0, k) * wx;
    const bottom = at(i0, j0 + 1, k) * (1 - wx) + at(i0 + 1, j0 + 1, k) * wx;
    result[k] = top * (1 - wy) + bottom * wy;
  }
  return result;
}

/** Output canvas position of an input point: solves `input = map(output)` by fixed-point iteration. */
function forwardPoint(geometry: Geometry, size: number, x: number, y: number): [number, number] {
  const c = (size - 1) / 2;
  const [a, b, cc, d] = geometry.forward;
  let ox = c + geometry.tx + a * (x - c) + b * (y - c);
  let oy = c + geometry.ty + cc * (x - c) + d * (y - c);
  if (!geometry.grid) return [ox, oy];
  for (let iteration = 0; iteration < 50; iteration++) {
    const [dx, dy] = displacement(geometry, size, ox, oy);
    const ux = x - dx - c;
    const uy = y - dy - c;
    const nx = c + geometry.tx + a * ux + b * uy;
    const ny = c + geometry.ty + cc * ux + d * uy;
    const change = Math.abs(nx - ox) + Math.abs(ny - oy);
    ox = nx;
    oy = ny;
    if (change < 1e-6) break;
  }
  return [ox, oy];
}

/** Applies the geometric map to image, mask and validity in one pass. */
function warp(
  sample: AugmentableSample,
  geometry: Geometry,
): { image: Float32Array; semantic: Uint8Array | null; valid: Uint8Array } {
  const size = sample.canvas.size;
  const region = sample.canvas.region ?? { x0: 0, y0: 0, x1: size, y1: size };
  const src = sample.image;
  const labels = sample.semantic;
  const image = new Float32Array(size * size);
  const semantic = labels ? new Uint8Array(size * size) : null;
  const valid = new Uint8Array(size * size);
  const c = (size - 1) / 2;
  const [a, b, cc, d] = geometry.inverse;
  const { grid, gridPoints: g } = geometry;
  // Precomputed elastic interpolation along each axis (the grid spans the canvas).
  const step = (g - 1) / Math.max(1, size - 1);
  const gi = new Int32Array(size);
  const gw = new Float32Array(size);
  for (let n = 0; n < size; n++) {
    const f = n * step;
    const i = Math.min(Math.floor(f), g - 2);
    gi[n] = i;
    gw[n] = f - i;
  }
  const loX = region.x0 - 0.5;
  const hiX = region.x1 - 0.5;
  const loY = region.y0 - 0.5;
  const hiY = region.y1 - 0.5;
  for (let y = 0; y < size; y++) {
    const vy = y - c - geometry.ty;
    const j0 = gi[y] as number;
    const wy = gw[y] as number;
    for (let x = 0; x < size; x++) {
      const vx = x - c - geometry.tx;
      let px = c + a * vx + b * vy;
      let py = c + cc * vx + d * vy;
      if (grid) {
        const i0 = gi[x] as number;
        const wx = gw[x] as number;
        const p00 = (j0 * g + i0) << 1;
        const p10 = p00 + 2;
        const p01 = p00 + 2 * g;
        const p11 = p01 + 2;
        const w00 = (1 - wx) * (1 - wy);
        const w10 = wx * (1 - wy);
        const w01 = (1 - wx) * wy;
        const w11 = wx * wy;
        px +=
          w00 * (grid[p00] as number) +
          w10 * (grid[p10] as number) +
          w01 * (grid[p01] as number) +
          w11 * (grid[p11] as number);
        py +=
          w00 * (grid[p00 + 1] as number) +
          w10 * (grid[p10 + 1] as number) +
          w01 * (grid[p01 + 1] as number) +
          w11 * (grid[p11 + 1] as number);
      }
      if (px < loX || px >= hiX || py < loY || py >= hiY) continue;
      const out = y * size + x;
      valid[out] = 1;
      // Bilinear within the region (clamped at its edge).
      const fx = Math.min(Math.max(px, region.x0), region.x1 - 1);
      const fy = Math.min(Math.max(py, region.y0), region.y1 - 1);
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const x1 = Math.min(x0 + 1, region.x1 - 1);
      const y1 = Math.min(y0 + 1, region.y1 - 1);
      const ax = fx - x0;
      const ay = fy - y0;
      const r0 = y0 * size;
      const r1 = y1 * size;
      const top = (src[r0 + x0] as number) * (1 - ax) + (src[r0 + x1] as number) * ax;
      const bottom = (src[r1 + x0] as number) * (1 - ax) + (src[r1 + x1] as number) * ax;
      image[out] = top * (1 - ay) + bottom * ay;
      if (labels && semantic) {
        const nx = Math.min(Math.max(Math.round(px), region.x0), region.x1 - 1);
        const ny = Math.min(Math.max(Math.round(py), region.y0), region.y1 - 1);
        semantic[out] = labels[ny * size + nx] as number;
      }
    }
  }
  return { image, semantic, valid };
}

/** The validity of an unwarped sample: its canvas region. */
function regionMask(sample: AugmentableSample): Uint8Array {
  const size = sample.canvas.size;
  const region = sample.canvas.region ?? { x0: 0, y0: 0, x1: size, y1: size };
  const valid = new Uint8Array(size * size);
  for (let y = region.y0; y < region.y1; y++) valid.fill(1, y * size + region.x0, y * size + region.x1);
  return valid;
}

/** A random transfer curve as a 257-entry table over [0, 1]; 0 maps to 0. */
function transferCurve(s: AugmentSettings['contrastCurve'], random: () => number): Float32Array {
  const inner = Math.max(1, Math.round(s.controlPoints));
  const xs: number[] = [];
  for (let k = 0; k < inner; k++) xs.push(uniform(random, 0.1, 0.9));
  xs.sort((p, q) => p - q);
  const invert = random() < s.invertProbability;
  const ys = xs.map((x) => {
    const base = invert ? 1 - x : x;
    return Math.min(1, Math.max(0, base + 0.2 * gaussian(random)));
  });
  const knotsX = [0, ...xs, 1];
  const knotsY = [0, ...ys, uniform(random, invert ? 0.3 : 0.6, 1)];
  const table = new Float32Array(257);
  let k = 0;
  for (let n = 0; n <= 256; n++) {
    const v = n / 256;
    while (k < knotsX.length - 2 && v > (knotsX[k + 1] as number)) k++;
    const x0 = knotsX[k] as number;
    const x1 = knotsX[k + 1] as number;
    const t = x1 > x0 ? Math.min(1, Math.max(0, (v - x0) / (x1 - x0))) : 0;
    table[n] = (knotsY[k] as number) + ((knotsY[k + 1] as number) - (knotsY[k] as number)) * t;
  }
  return table;
}

/** Photometric changes in place on the valid pixels; others are set to 0. */
function photometric(
  image: Float32Array,
  valid: Uint8Array,
  size: number,
  s: AugmentSettings,
  random: () => number,
): Float32Array {
  const n = image.length;
  if (random() < s.contrastCurve.probability) {
    const table = transferCurve(s.contrastCurve, random);
    for (let p = 0; p < n; p++) {
      if (!valid[p]) continue;
      const f = Math.min(Math.max(image[p] as number, 0), 1) * 256;
      const i = Math.min(Math.floor(f), 255);
      const w = f - i;
      image[p] = (table[i] as number) * (1 - w) + (table[i + 1] as number) * w;
    }
  }
  if (random() < s.gamma.probability) {
    const gamma = Math.exp(uniform(random, Math.log(s.gamma.min), Math.log(s.gamma.max)));
    for (let p = 0; p < n; p++) if (valid[p]) image[p] = Math.max(image[p] as number, 0) ** gamma;
  }
  if (random() < s.contrast.probability) {
    const gain = uniform(random, s.contrast.contrastMin, s.contrast.contrastMax);
    const offset = uniform(random, -s.contrast.brightness, s.contrast.brightness);
    for (let p = 0; p < n; p++) if (valid[p]) image[p] = gain * (image[p] as number) + offset;
  }
  if (random() < s.biasField.probability) {
    const coefficients = [0, 0, 0, 0, 0].map(() => uniform(random, -1, 1));
    const amplitude = s.biasField.maxLog * uniform(random, 0.3, 1);
    const [c1, c2, c3, c4, c5] = coefficients as [number, number, number, number, number];
    const field = new Float32Array(n);
    let largest = 0;
    for (let y = 0; y < size; y++) {
      const v = (2 * y) / Math.max(1, size - 1) - 1;
      for (let x = 0; x < size; x++) {
        const u = (2 * x) / Math.max(1, size - 1) - 1;
        const value = c1 * u + c2 * v + c3 * u * u + c4 * u * v + c5 * v * v;
        field[y * size + x] = value;
        largest = Math.max(largest, Math.abs(value));
      }
    }
    const factor = largest > 0 ? amplitude / largest : 0;
    for (let p = 0; p < n; p++) if (valid[p]) image[p] = (image[p] as number) * Math.exp((field[p] as number) * factor);
  }
  if (random() < s.blur.probability) {
    const sigma = uniform(random, s.blur.sigmaMin, s.blur.sigmaMax);
    image = gaussianBlur(image, size, size, sigma);
  }
  if (random() < s.noise.probability) {
    const sigma = uniform(random, 0, s.noise.sigmaMax);
    for (let p = 0; p < n; p++) if (valid[p]) image[p] = (image[p] as number) + sigma * gaussian(random);
  }
  for (let p = 0; p < n; p++) {
    const v = image[p] as number;
    image[p] = valid[p] && v > 0 ? Math.min(v, s.maxValue) : 0;
  }
  return image;
}

/**
 * A randomly augmented copy of `sample` (see the module comment): the same geometric map moves the
 * image (bilinear), the mask (nearest) and the keypoints; keypoints that leave the canvas or fall in
 * the crop-out are dropped (a sample with keypoints keeps an array, possibly empty). Everything else
 * of the sample is kept as it is — its `canvas` still describes the unaugmented placement.
 */
export function augmentSample<T extends AugmentableSample>(
  sample: T,
  random: () => number,
  options: AugmentOptions = {},
): T {
  const s = resolveAugmentSettings(options);
  const size = sample.canvas.size;
  if (sample.image.length !== size * size || (sample.semantic && sample.semantic.length !== size * size)) {
    throw new RangeError(`sample arrays do not match its ${size}×${size} canvas`);
  }
  const geometry = drawGeometry(size, s, random);
  const identity =
    geometry.grid === null &&
    geometry.tx === 0 &&
    geometry.ty === 0 &&
    geometry.inverse[0] === 1 &&
    geometry.inverse[1] === 0 &&
    geometry.inverse[2] === 0 &&
    geometry.inverse[3] === 1;
  const warped = identity
    ? { image: Float32Array.from(sample.image), semantic: sample.semantic?.slice() ?? null, valid: regionMask(sample) }
    : warp(sample, geometry);
  let keypoints: CanvasKeypoint[] | null = null;
  if (sample.keypoints) {
    keypoints = [];
    for (const point of sample.keypoints) {
      const [x, y] = identity ? [point.x, point.y] : forwardPoint(geometry, size, point.x, point.y);
      if (x >= -0.5 && x < size - 0.5 && y >= -0.5 && y < size - 0.5)
        keypoints.push({ ivdLabel: point.ivdLabel, x, y });
    }
  }
  // Crop-out of the top or bottom part of the rows that show the image.
  if (random() < s.cropOut.probability) {
    const fromTop = random() < 0.5;
    const fraction = uniform(random, s.cropOut.minFraction, s.cropOut.maxFraction);
    let first = -1;
    let last = -1;
    for (let y = 0; y < size; y++) {
      if (warped.valid.subarray(y * size, (y + 1) * size).includes(1)) {
        if (first < 0) first = y;
        last = y;
      }
    }
    if (first >= 0) {
      const cut = Math.round(fraction * (last - first + 1));
      const [from, to] = fromTop ? [0, first + cut] : [last + 1 - cut, size];
      warped.valid.fill(0, from * size, to * size);
      warped.image.fill(0, from * size, to * size);
      warped.semantic?.fill(0, from * size, to * size);
      if (keypoints) keypoints = keypoints.filter((p) => !(p.y >= from - 0.5 && p.y < to - 0.5));
    }
  }
  const image = photometric(warped.image, warped.valid, size, s, random);
  return { ...sample, image, semantic: warped.semantic, keypoints };
}
