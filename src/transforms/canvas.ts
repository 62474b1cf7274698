/**
 * Placing a 2D display slice on the fixed square canvas a model sees, and mapping back.
 *
 * Geometry (all coordinates are pixel indices; an integer is the centre of a pixel, so pixel `n`
 * covers `[n − 0.5, n + 0.5)`):
 *
 * 1. The image (`width × height`, spacing `[sx, sy]` mm) is resampled exactly as
 *    {@link resampleToSpacing} does to `spacingMm`: `rw = max(1, round(width · sx / spacingMm))` (and
 *    `rh` likewise), so that the outer pixel edges coincide; resampled pixel `r` has its centre at
 *    image coordinate `(r + 0.5) · scale − 0.5` with `scale = width / rw` (image pixels per canvas
 *    pixel). The canvas spacing is therefore `width · sx / rw`, the target up to rounding.
 * 2. The resampled image is centred on the `size × size` canvas by an integer offset
 *    `offset = floor((size − rw) / 2)` (negative when the image is larger and is cropped); the rest
 *    of the canvas is 0.
 *
 * Hence `canvasToImage(c) = (c − offset + 0.5) · scale − 0.5` and
 * `imageToCanvas(i) = (i + 0.5) / scale − 0.5 + offset`, per axis: exact inverses of each other.
 */
import { SpinegradeError } from '../errors.js';
import { gaussianBlur } from './filters.js';
import type { Image2D } from './resample.js';

/** A labelled point in canvas pixel coordinates (e.g. a disc keypoint; `ivdLabel` as SPIDER numbers discs). */
export interface CanvasKeypoint {
  readonly ivdLabel: number;
  readonly x: number;
  readonly y: number;
}

/** How to place an image on the canvas. */
export interface CanvasOptions {
  /** Canvas width and height in pixels, e.g. 192. */
  readonly size: number;
  /** Target isotropic pixel spacing in mm, e.g. 1.5. */
  readonly spacingMm: number;
  /**
   * Blur before downsampling (Gaussian, σ = (scale − 1) / 2 image pixels per axis) against aliasing;
   * default false (plain bilinear, as {@link resampleToSpacing}). Use the same choice in training and inference.
   */
  readonly antialias?: boolean;
}

/** The canvas pixels that show the image (the rest is padding): `x0 ≤ x < x1`, `y0 ≤ y < y1`. */
export interface CanvasRegion {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/** Where an image sits on the model canvas, with the exact affine map both ways (see the module comment). */
export interface CanvasGeometry {
  /** Canvas width and height in pixels. */
  readonly size: number;
  readonly imageWidth: number;
  readonly imageHeight: number;
  /** Pixel spacing `[x, y]` of the original image, mm. */
  readonly imagePixelSpacing: readonly [number, number];
  /** Pixel spacing `[x, y]` of the canvas, mm (the target spacing up to the rounding of the resampled size). */
  readonly pixelSpacing: readonly [number, number];
  /** Size `[width, height]` of the resampled image before cropping or padding. */
  readonly resampledSize: readonly [number, number];
  /** Image pixels per canvas pixel, `[x, y]`. */
  readonly scale: readonly [number, number];
  /** Canvas position of resampled pixel (0, 0), `[x, y]`; integer, negative when cropped. */
  readonly offset: readonly [number, number];
  /** The canvas pixels covered by the image. */
  readonly region: CanvasRegion;
  /** Original image coordinates of a canvas point. */
  canvasToImage(x: number, y: number): [number, number];
  /** Canvas coordinates of an original image point. */
  imageToCanvas(x: number, y: number): [number, number];
}

/** An image placed on the canvas: its `size × size` row-major pixels (0 outside `region`) and the geometry. */
export interface CanvasImage extends CanvasGeometry {
  readonly pixels: Float32Array;
}

/** The placement of a `width × height` image of spacing `[x, y]` mm on the canvas (no pixels). */
export function canvasGeometry(
  width: number,
  height: number,
  pixelSpacing: readonly [number, number],
  options: CanvasOptions,
): CanvasGeometry {
  const { size, spacingMm } = options;
  if (!(Number.isInteger(size) && size > 0)) {
    throw new SpinegradeError('USAGE', `canvas size must be a positive whole number, got ${size}`);
  }
  if (!(spacingMm > 0 && Number.isFinite(spacingMm))) {
    throw new SpinegradeError('USAGE', `canvas spacing must be positive, got ${spacingMm} mm`);
  }
  const [sx, sy] = pixelSpacing;
  if (!(sx > 0 && sy > 0 && Number.isFinite(sx) && Number.isFinite(sy))) {
    throw new SpinegradeError('USAGE', `image pixel spacing must be positive, got ${sx}×${sy} mm`);
  }
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new SpinegradeError('USAGE', `image size must be positive whole numbers, got ${width}×${height}`);
  }
  const rw = Math.max(1, Math.round((width * sx) / spacingMm));
  const rh = Math.max(1, Math.round((height * sy) / spacingMm));
  const scaleX = width / rw;
  const scaleY = height / rh;
  const ox = Math.floor((size - rw) / 2);
  const oy = Math.floor((size - rh) / 2);
  return {
    size,
    imageWidth: width,
    imageHeight: height,
    imagePixelSpacing: [sx, sy],
    pixelSpacing: [(width * sx) / rw, (height * sy) / rh],
    resampledSize: [rw, rh],
    scale: [scaleX, scaleY],
    offset: [ox, oy],
    region: {
      x0: Math.max(0, ox),
      y0: Math.max(0, oy),
      x1: Math.min(size, ox + rw),
      y1: Math.min(size, oy + rh),
    },
    canvasToImage: (x, y) => [(x - ox + 0.5) * scaleX - 0.5, (y - oy + 0.5) * scaleY - 0.5],
    imageToCanvas: (x, y) => [(x + 0.5) / scaleX - 0.5 + ox, (y + 0.5) / scaleY - 0.5 + oy],
  };
}

/** Linear interpolation taps along one axis: for each output index, two source indices and a weight. */
interface Taps {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly weight: Float32Array;
}

/** Bilinear taps (clamped to `[0, n − 1]`) of canvas indices `from..to−1` along an axis of `n` image pixels. */
function imageTaps(from: number, to: number, offset: number, scale: number, n: number): Taps {
  const count = Math.max(0, to - from);
  const lo = new Int32Array(count);
  const hi = new Int32Array(count);
  const weight = new Float32Array(count);
  for (let k = 0; k < count; k++) {
    const f = Math.min(Math.max((from + k - offset + 0.5) * scale - 0.5, 0), n - 1);
    const l = Math.floor(f);
    lo[k] = l;
    hi[k] = Math.min(l + 1, n - 1);
    weight[k] = f - l;
  }
  return { lo, hi, weight };
}

/**
 * Resamples `image` to the isotropic `spacingMm` (bilinear, the same samples as
 * {@link resampleToSpacing}) and centres it on a `size × size` canvas, cropping or padding with 0.
 */
export function toCanvas(image: Image2D, options: CanvasOptions): CanvasImage {
  const geometry = canvasGeometry(image.width, image.height, image.pixelSpacing, options);
  const { size, region, offset, scale } = geometry;
  if (image.pixels.length !== image.width * image.height) {
    throw new SpinegradeError('USAGE', `image has ${image.pixels.length} pixels, not ${image.width}×${image.height}`);
  }
  let src = image.pixels;
  if (options.antialias === true && (scale[0] > 1 || scale[1] > 1)) {
    src = gaussianBlur(
      src,
      image.width,
      image.height,
      Math.max(0, (scale[0] - 1) / 2),
      Math.max(0, (scale[1] - 1) / 2),
    );
  }
  const xs = imageTaps(region.x0, region.x1, offset[0], scale[0], image.width);
  const ys = imageTaps(region.y0, region.y1, offset[1], scale[1], image.height);
  const pixels = new Float32Array(size * size);
  const w = image.width;
  for (let j = 0; j < ys.lo.length; j++) {
    const r0 = (ys.lo[j] as number) * w;
    const r1 = (ys.hi[j] as number) * w;
    const wy = ys.weight[j] as number;
    const out = (region.y0 + j) * size + region.x0;
    for (let i = 0; i < xs.lo.length; i++) {
      const x0 = xs.lo[i] as number;
      const x1 = xs.hi[i] as number;
      const wx = xs.weight[i] as number;
      const top = (src[r0 + x0] as number) * (1 - wx) + (src[r0 + x1] as number) * wx;
      const bottom = (src[r1 + x0] as number) * (1 - wx) + (src[r1 + x1] as number) * wx;
      pixels[out + i] = top * (1 - wy) + bottom * wy;
    }
  }
  return { ...geometry, pixels };
}

/**
 * A label image of the original grid (`imageWidth × imageHeight`) placed on the canvas of `geometry`
 * by nearest neighbour, so only the original label values (and `fill` outside the image) occur.
 */
export function resampleLabels(labels: Uint8Array, geometry: CanvasGeometry, fill = 0): Uint8Array {
  const { size, region, offset, scale, imageWidth: w, imageHeight: h } = geometry;
  if (labels.length !== w * h) {
    throw new SpinegradeError('USAGE', `label image has ${labels.length} pixels, not ${w}×${h}`);
  }
  const nearest = (from: number, to: number, o: number, s: number, n: number): Int32Array => {
    const out = new Int32Array(Math.max(0, to - from));
    for (let k = 0; k < out.length; k++) {
      out[k] = Math.min(Math.max(Math.round((from + k - o + 0.5) * s - 0.5), 0), n - 1);
    }
    return out;
  };
  const xs = nearest(region.x0, region.x1, offset[0], scale[0], w);
  const ys = nearest(region.y0, region.y1, offset[1], scale[1], h);
  const out = new Uint8Array(size * size);
  if (fill !== 0) out.fill(fill);
  for (let j = 0; j < ys.length; j++) {
    const row = (ys[j] as number) * w;
    const at = (region.y0 + j) * size + region.x0;
    for (let i = 0; i < xs.length; i++) out[at + i] = labels[row + (xs[i] as number)] as number;
  }
  return out;
}

/** Options of {@link canvasToImageProbabilities}. */
export interface BackMappingOptions {
  /** Channels per pixel of the map (channels last); default 1. */
  readonly channels?: number;
}

/** Per image axis: the two canvas taps and weight of each image index, clamped into the region; -1 outside the canvas. */
function backMappingTaps(n: number, o: number, s: number, r0: number, r1: number): Taps {
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const weight = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const c = (k + 0.5) / s - 0.5 + o;
    if (c < r0 - 0.5 || c >= r1 - 0.5 || r1 <= r0) {
      lo[k] = -1;
      continue;
    }
    const f = Math.min(Math.max(c, r0), r1 - 1);
    const l = Math.floor(f);
    lo[k] = l;
    hi[k] = Math.min(l + 1, r1 - 1);
    weight[k] = f - l;
  }
  return { lo, hi, weight };
}

/** What back-mapping a canvas map onto the image grid needs: the checked map and the taps of each axis. */
interface BackMapping {
  readonly map: Float32Array;
  readonly size: number;
  readonly channels: number;
  readonly width: number;
  readonly height: number;
  readonly xs: Taps;
  readonly ys: Taps;
}

function backMapping(map: Float32Array, geometry: CanvasGeometry, channels: number): BackMapping {
  const { size, region, imageWidth: width, imageHeight: height, offset, scale } = geometry;
  if (!(Number.isInteger(channels) && channels > 0) || map.length !== size * size * channels) {
    throw new SpinegradeError('USAGE', `map has ${map.length} values, not ${size}×${size}×${channels}`);
  }
  return {
    map,
    size,
    channels,
    width,
    height,
    xs: backMappingTaps(width, offset[0], scale[0], region.x0, region.x1),
    ys: backMappingTaps(height, offset[1], scale[1], region.y0, region.y1),
  };
}

/**
 * Image row `y` of the back-mapped map (`width × channels`, bilinear) into `out`; pixels off the
 * canvas are left as they are. False when the whole row lies off the canvas.
 */
function backMapRow(m: BackMapping, y: number, out: Float32Array): boolean {
  const { map, size, channels, width, xs, ys } = m;
  const cy0 = ys.lo[y] as number;
  if (cy0 < 0) return false;
  const r0 = cy0 * size;
  const r1 = (ys.hi[y] as number) * size;
  const wy = ys.weight[y] as number;
  const vy = 1 - wy;
  for (let x = 0; x < width; x++) {
    const cx0 = xs.lo[x] as number;
    if (cx0 < 0) continue;
    const cx1 = xs.hi[x] as number;
    const wx = xs.weight[x] as number;
    const vx = 1 - wx;
    const a = (r0 + cx0) * channels;
    const b = (r0 + cx1) * channels;
    const c = (r1 + cx0) * channels;
    const d = (r1 + cx1) * channels;
    const at = x * channels;
    for (let ch = 0; ch < channels; ch++) {
      const top = map[a + ch]! * vx + map[b + ch]! * wx;
      const bottom = map[c + ch]! * vx + map[d + ch]! * wx;
      out[at + ch] = top * vy + bottom * wy;
    }
  }
  return true;
}

/**
 * A per-pixel map of the canvas (`size × size × channels`, channels last) interpolated bilinearly
 * back onto the original image grid (`imageWidth × imageHeight × channels`). Image pixels that were
 * cropped off the canvas get 0; the padding of the canvas is never sampled.
 */
export function canvasToImageProbabilities(
  map: Float32Array,
  geometry: CanvasGeometry,
  options: BackMappingOptions = {},
): Float32Array {
  const m = backMapping(map, geometry, options.channels ?? 1);
  const rowLength = m.width * m.channels;
  const out = new Float32Array(m.height * rowLength);
  for (let y = 0; y < m.height; y++) backMapRow(m, y, out.subarray(y * rowLength, (y + 1) * rowLength));
  return out;
}

/**
 * The most probable class at every pixel of the original image grid: the argmax (the first, on a
 * tie) of what {@link canvasToImageProbabilities} gives, a row at a time; pixels cropped off the
 * canvas are class 0.
 */
export function canvasToImageClasses(map: Float32Array, geometry: CanvasGeometry, channels: number): Uint8Array {
  const m = backMapping(map, geometry, channels);
  const classes = new Uint8Array(m.width * m.height);
  const row = new Float32Array(m.width * channels);
  for (let y = 0; y < m.height; y++) {
    row.fill(0);
    if (!backMapRow(m, y, row)) continue;
    const start = y * m.width;
    for (let x = 0; x < m.width; x++) {
      const at = x * channels;
      let best = 0;
      for (let ch = 1; ch < channels; ch++) if (row[at + ch]! > row[at + best]!) best = ch;
      classes[start + x] = best;
    }
  }
  return classes;
}
