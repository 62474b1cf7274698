/**
 * Pictures for the report: the mid-sagittal slice with every disc outlined in the colour of its
 * Pfirrmann grade, vertebrae outlined thin grey and each disc's level written next to it; and small
 * Grad-CAM thumbnails of one disc. Pure pixel work (no canvas): a built-in 5×7 bitmap font draws the
 * level names.
 */

import { PNG } from 'pngjs';
import type { PixelPoint } from '../disc/predictions.js';
import { heatOverlayRgb } from '../explain/overlay.js';
import { robustRange } from '../transforms/intensity.js';
import type { Image2D } from '../transforms/resample.js';
import { sampleBilinear } from '../transforms/sample.js';
import type { SeriesFindings } from './findings.js';

/** An 8-bit RGB colour. */
export type Rgb = readonly [number, number, number];

/** Outline colour of each Pfirrmann grade: 1 green, 2 lime, 3 yellow, 4 orange, 5 red. */
export const PFIRRMANN_COLOURS: Readonly<Record<1 | 2 | 3 | 4 | 5, Rgb>> = {
  1: [0, 200, 83],
  2: [174, 234, 0],
  3: [255, 214, 0],
  4: [255, 109, 0],
  5: [229, 28, 35],
};

/** Outline colour of a disc whose grade is outside 1-5. */
export const UNKNOWN_GRADE_COLOUR: Rgb = [255, 255, 255];

/** Outline colour of the vertebral bodies. */
export const VERTEBRA_COLOUR: Rgb = [150, 150, 150];

/** Short side, in pixels, below which the overlay is enlarged (by a whole factor). */
export const OVERLAY_MIN_SHORT_SIDE = 512;

/** The outline colour of a Pfirrmann grade (white when it is not 1-5). */
export function pfirrmannColour(grade: number): Rgb {
  return PFIRRMANN_COLOURS[grade as 1 | 2 | 3 | 4 | 5] ?? UNKNOWN_GRADE_COLOUR;
}

/** An RGB picture, row-major, 3 bytes a pixel. */
export interface OverlayRgb {
  rgb: Uint8Array;
  width: number;
  height: number;
  /** Output pixels per slice pixel (a whole number ≥ 1): slice pixel centre `x` lands at `(x + 0.5)·scale − 0.5`. */
  scale: number;
}

/** The whole enlargement factor that makes the short side at least {@link OVERLAY_MIN_SHORT_SIDE}. */
export function overlayScale(width: number, height: number): number {
  return Math.max(1, Math.ceil(OVERLAY_MIN_SHORT_SIDE / Math.max(1, Math.min(width, height))));
}

function assertImage(slice: Image2D, what: string): void {
  if (!(slice.width > 0 && slice.height > 0) || slice.pixels.length !== slice.width * slice.height) {
    throw new Error(`${what}: slice has ${slice.pixels.length} values, expected ${slice.width}×${slice.height}`);
  }
}

/** Bilinear value of a row-major image at fractional pixel-centre coordinates; `outside` beyond its edges. */
function sampleOrOutside(
  values: ArrayLike<number>,
  width: number,
  height: number,
  x: number,
  y: number,
  outside: number | 'clamp',
): number {
  if (outside !== 'clamp' && (x < -0.5 || y < -0.5 || x > width - 0.5 || y > height - 0.5)) return outside;
  return sampleBilinear(values, width, height, x, y);
}

/** A mutable RGB canvas with the few drawing operations the overlay needs. */
class RgbCanvas {
  readonly rgb: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgb = new Uint8Array(width * height * 3);
  }

  setPixel(x: number, y: number, colour: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const at = (x + y * this.width) * 3;
    this.rgb[at] = colour[0];
    this.rgb[at + 1] = colour[1];
    this.rgb[at + 2] = colour[2];
  }

  fillRect(x: number, y: number, width: number, height: number, colour: Rgb): void {
    for (let row = y; row < y + height; row++)
      for (let col = x; col < x + width; col++) this.setPixel(col, row, colour);
  }

  /** A polyline (closed back to its first point when `closed`), `thickness` pixels wide. */
  polyline(points: readonly (readonly [number, number])[], closed: boolean, colour: Rgb, thickness: number): void {
    const low = -Math.floor((thickness - 1) / 2);
    const stamp = (x: number, y: number) =>
      this.fillRect(Math.round(x) + low, Math.round(y) + low, thickness, thickness, colour);
    const count = closed ? points.length : points.length - 1;
    if (points.length === 1) stamp(points[0]![0], points[0]![1]);
    for (let n = 0; n < count; n++) {
      const [ax, ay] = points[n]!;
      const [bx, by] = points[(n + 1) % points.length]!;
      const steps = Math.max(1, Math.ceil(Math.max(Math.abs(bx - ax), Math.abs(by - ay))));
      for (let s = 0; s <= steps; s++) stamp(ax + ((bx - ax) * s) / steps, ay + ((by - ay) * s) / steps);
    }
  }
}

/** 5×7 glyphs, one string of 5 bits per row, for the characters of level names. */
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  '0': ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  '1': ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
  '2': ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  '3': ['11111', '00010', '00100', '00010', '00001', '10001', '01110'],
  '4': ['00010', '00110', '01010', '10010', '11111', '00010', '00010'],
  '5': ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
  '6': ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
  '7': ['11111', '00001', '00010', '00100', '01000', '01000', '01000'],
  '8': ['01110', '10001', '10001', '01110', '10001', '10001', '01110'],
  '9': ['01110', '10001', '10001', '01111', '00001', '00010', '01100'],
  L: ['10000', '10000', '10000', '10000', '10000', '10000', '11111'],
  S: ['01111', '10000', '10000', '01110', '00001', '00001', '11110'],
  T: ['11111', '00100', '00100', '00100', '00100', '00100', '00100'],
  '/': ['00000', '00001', '00010', '00100', '01000', '10000', '00000'],
  ' ': ['00000', '00000', '00000', '00000', '00000', '00000', '00000'],
};
/** Drawn for a character the font lacks. */
const MISSING_GLYPH = ['11111', '10001', '10001', '10001', '10001', '10001', '11111'];
const GLYPH_WIDTH = 5;
const GLYPH_HEIGHT = 7;

/** Size in pixels of `text` in the bitmap font at a whole `scale` (1 px of spacing between characters). */
function textSize(text: string, scale: number): [number, number] {
  const characters = [...text].length;
  return [Math.max(0, characters * (GLYPH_WIDTH + 1) - 1) * scale, GLYPH_HEIGHT * scale];
}

function drawText(canvas: RgbCanvas, text: string, left: number, top: number, scale: number, colour: Rgb): void {
  let x = left;
  for (const character of text.toUpperCase()) {
    const glyph = GLYPHS[character] ?? MISSING_GLYPH;
    glyph.forEach((bits, row) => {
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (bits[col] === '1') canvas.fillRect(x + col * scale, top + row * scale, scale, scale, colour);
      }
    });
    x += (GLYPH_WIDTH + 1) * scale;
  }
}

/** Background of a level label, so it reads over any tissue. */
const LABEL_BACKGROUND: Rgb = [12, 12, 12];

/**
 * The mid-sagittal slice as RGB: greyscale in its robust display window ((`robustRange`: 1st-99th percentiles)),
 * enlarged bilinearly by a whole factor so the short side is at least 512 px, with each vertebra
 * outlined thin grey, each disc outlined in its Pfirrmann colour ({@link PFIRRMANN_COLOURS}) and its
 * level written beside it (anterior side, or posterior when there is no room) in that colour.
 *
 * `slice` is the series' display slice; the outlines in `series` are in pixels of a
 * `series.sliceSize` image and are rescaled when `slice` has another size.
 */
export function renderOverlayRgb(slice: Image2D, series: SeriesFindings): OverlayRgb {
  assertImage(slice, 'overlay');
  const scale = overlayScale(slice.width, slice.height);
  const width = slice.width * scale;
  const height = slice.height * scale;
  const canvas = new RgbCanvas(width, height);
  const [lo, hi] = robustRange(slice.pixels);
  for (let y = 0; y < height; y++) {
    const sy = (y + 0.5) / scale - 0.5;
    for (let x = 0; x < width; x++) {
      const value = sampleOrOutside(slice.pixels, slice.width, slice.height, (x + 0.5) / scale - 0.5, sy, 'clamp');
      const grey = Math.round(Math.min(1, Math.max(0, (value - lo) / (hi - lo))) * 255);
      canvas.rgb.fill(grey, (x + y * width) * 3, (x + y * width) * 3 + 3);
    }
  }
  const [findingsWidth, findingsHeight] = series.sliceSize;
  const toSliceX = findingsWidth > 0 ? slice.width / findingsWidth : 1;
  const toSliceY = findingsHeight > 0 ? slice.height / findingsHeight : 1;
  const toOutput = ([x, y]: PixelPoint): [number, number] => [
    (x + 0.5) * toSliceX * scale - 0.5,
    (y + 0.5) * toSliceY * scale - 0.5,
  ];
  const shortSide = Math.min(width, height);
  const discThickness = Math.max(2, Math.round(shortSide / 256));
  const vertebraThickness = Math.max(1, Math.round(shortSide / 512));
  for (const vertebra of series.vertebrae) {
    if (vertebra.outlinePx.length > 0) {
      canvas.polyline(vertebra.outlinePx.map(toOutput), true, VERTEBRA_COLOUR, vertebraThickness);
    }
  }
  for (const disc of series.discs) {
    if (disc.geometry.outlinePx.length > 0) {
      canvas.polyline(
        disc.geometry.outlinePx.map(toOutput),
        true,
        pfirrmannColour(disc.pfirrmann.grade),
        discThickness,
      );
    }
  }
  const fontScale = Math.max(1, Math.floor(shortSide / 256));
  for (const disc of series.discs) {
    drawLevelLabel(canvas, disc.level, disc.geometry.outlinePx.map(toOutput), toOutput(disc.geometry.centerPx), {
      fontScale,
      gap: discThickness + 2 * fontScale,
      colour: pfirrmannColour(disc.pfirrmann.grade),
    });
  }
  return { rgb: canvas.rgb, width, height, scale };
}

function drawLevelLabel(
  canvas: RgbCanvas,
  text: string,
  outline: readonly [number, number][],
  center: [number, number],
  style: { fontScale: number; gap: number; colour: Rgb },
): void {
  const { fontScale, gap, colour } = style;
  const [textWidth, textHeight] = textSize(text, fontScale);
  const pad = fontScale;
  const boxWidth = textWidth + 2 * pad;
  const boxHeight = textHeight + 2 * pad;
  const xs = outline.length > 0 ? outline.map(([x]) => x) : [center[0]];
  const left = Math.min(...xs);
  const right = Math.max(...xs);
  let boxLeft = Math.round(left - gap - boxWidth);
  if (boxLeft < 0) boxLeft = Math.round(right + gap);
  boxLeft = Math.min(Math.max(0, boxLeft), Math.max(0, canvas.width - boxWidth));
  const boxTop = Math.min(Math.max(0, Math.round(center[1] - boxHeight / 2)), Math.max(0, canvas.height - boxHeight));
  canvas.fillRect(boxLeft, boxTop, boxWidth, boxHeight, LABEL_BACKGROUND);
  drawText(canvas, text, boxLeft + pad, boxTop + pad, fontScale, colour);
}

/** PNG bytes of 8-bit RGB pixels (row-major, 3 bytes a pixel). */
function encodeRgbPngBytes(rgb: Uint8Array, width: number, height: number): Buffer {
  if (rgb.length !== width * height * 3) throw new Error(`RGB PNG: ${rgb.length} bytes, expected ${width}×${height}×3`);
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, bitDepth: 8, inputHasAlpha: false });
}

/** {@link renderOverlayRgb} of the slice and series, as PNG bytes. */
export function encodeOverlayPng(slice: Image2D, series: SeriesFindings): Buffer {
  const { rgb, width, height } = renderOverlayRgb(slice, series);
  return encodeRgbPngBytes(rgb, width, height);
}

/** How a Grad-CAM thumbnail is cut and drawn. */
export interface HeatThumbnailOptions {
  /** Side of the square field shown, mm, centred on the disc (default 48). */
  fieldMm?: number;
  /** Side of the thumbnail, pixels (default 160). */
  sizePx?: number;
  /** Display window `[low, high]` of the slice; default (`robustRange`: 1st-99th percentiles) of the whole slice. */
  window?: readonly [number, number];
  /** Opacity of the heat colours, default 0.5 (see `heatOverlayRgb`). */
  alpha?: number;
  /** Heat below this shows only the grey image, default 0.2 (see `heatOverlayRgb`). */
  threshold?: number;
}

/**
 * A square Grad-CAM thumbnail of one disc as PNG bytes: the slice around `centerPx` (a
 * `fieldMm`-wide field, square in millimetres) with `sliceHeat` blended over it in the Turbo colour
 * map by `heatOverlayRgb`. `sliceHeat` is the slice-aligned heat of one disc — `DiscHeat.slice` from
 * `explainDiscs` run on this same `slice` — and `centerPx` that disc's `geometry.centerPx`.
 */
export function heatThumbnailPng(
  slice: Image2D,
  sliceHeat: Float32Array,
  centerPx: PixelPoint,
  options: HeatThumbnailOptions = {},
): Buffer {
  assertImage(slice, 'heat thumbnail');
  if (sliceHeat.length !== slice.pixels.length) {
    throw new Error(`heat thumbnail: heat has ${sliceHeat.length} values, expected ${slice.width}×${slice.height}`);
  }
  const fieldMm = options.fieldMm ?? 48;
  const size = options.sizePx ?? 160;
  if (!(fieldMm > 0) || !(Number.isInteger(size) && size > 0)) {
    throw new Error(`heat thumbnail: field ${fieldMm} mm and size ${size} px must be positive`);
  }
  const [lo, hi] = options.window ?? robustRange(slice.pixels);
  const range = hi > lo ? hi - lo : 1;
  const [sx, sy] = slice.pixelSpacing;
  const grey = new Float32Array(size * size);
  const heat = new Float32Array(size * size);
  for (let v = 0; v < size; v++) {
    const y = centerPx[1] + (((v + 0.5) / size - 0.5) * fieldMm) / sy;
    for (let u = 0; u < size; u++) {
      const x = centerPx[0] + (((u + 0.5) / size - 0.5) * fieldMm) / sx;
      const value = sampleOrOutside(slice.pixels, slice.width, slice.height, x, y, Number.NaN);
      grey[u + v * size] = Number.isNaN(value) ? 0 : (value - lo) / range;
      heat[u + v * size] = sampleOrOutside(sliceHeat, slice.width, slice.height, x, y, 0);
    }
  }
  const rgb = heatOverlayRgb(grey, heat, size, size, {
    ...(options.alpha === undefined ? {} : { alpha: options.alpha }),
    ...(options.threshold === undefined ? {} : { threshold: options.threshold }),
  });
  return encodeRgbPngBytes(rgb, size, size);
}
