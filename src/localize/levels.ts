/**
 * The level network at inference: it sees the whole field of view of a sagittal slice at coarse
 * resolution and predicts one heatmap per lumbar disc level (L5/S1 … L1/L2); the level points are
 * the best-scoring anatomically consistent chain of heatmap peaks, not five independent argmaxes.
 *
 * Scale: the slice's whole field of view is resized onto the canvas by its height (the image's rows
 * fill the canvas rows). Neighbouring disc distance as a fraction of image height varies little
 * (CV 0.10 over SPIDER's T2 slices, square or not), whereas the stated pixel spacing of many
 * resampled PNGs is wrong, so this holds at inference where no keypoints exist. Horizontally the
 * image is stretched to the canvas width (`pixelAspect: 'stretch'`, for PNGs, whose aspect may be
 * wrong too; a square PNG is not distorted) or scaled by its physical aspect and centred
 * (`'spacing'`, for DICOM/NIfTI/MHA slices whose geometry is true).
 */
import { levelOfIvdLabel } from '../disc/levels.js';
import { SpinegradeError } from '../errors.js';
import { distanceToPolygon } from '../metrics/detection.js';
import type { Network } from '../models/engine.js';
import { type CanvasGeometry, toCanvas } from '../transforms/canvas.js';
import type { Image2D } from '../transforms/resample.js';
import { normalizeCanvasImage } from './samples.js';

/** Everything that defines a level network and its input canvas. */
export interface LevelNetworkConfig {
  /** Canvas size in pixels (square); the image height fills it. */
  size: number;
  /** Canvas pixels per heatmap pixel (the heatmaps are `size / outputStride` square). */
  outputStride: number;
  /** Filters of the encoder stages; each stage halves the resolution (the first is the stem). */
  filters: number[];
  /** Gaussian sigma of each level's heatmap peak, heatmap pixels. */
  heatmapSigmaPx: number;
  seed: number;
}

/**
 * The configuration the level network is trained with by default: a 128-pixel canvas (about 2.2 mm
 * per pixel) and a 64×64 output (about 4.5 mm per pixel; at 32×32 the map was as coarse as the
 * 10 mm tolerance and precision capped the figures), five stages down to a 4×4 grid.
 */
export const DEFAULT_LEVEL_NETWORK_CONFIG: LevelNetworkConfig = {
  size: 128,
  outputStride: 2,
  filters: [8, 16, 32, 64, 64],
  heatmapSigmaPx: 1.25,
  seed: 1,
};

/** The network's output layer: `m × m × 5` logits of per-level spatial softmaxes (m = size / outputStride), channel `ivdLabel − 1` (L5/S1 first). */
export const LEVEL_NETWORK_OUTPUTS = ['levels'] as const;

/** Heatmap channels: one per lumbar disc level. */
export const LEVEL_CHANNELS = 5;

/** How the image's width is placed on the canvas (its height always fills the canvas). */
export type PixelAspect = 'stretch' | 'spacing';

/** One lumbar disc level point on a slice. */
export interface LevelPoint {
  /** SPIDER numbering: 1 = L5/S1 … 5 = L1/L2. */
  readonly ivdLabel: number;
  /** Level name, e.g. `L4/L5`. */
  readonly level: string;
  /** Column and row in the slice's own pixels. */
  readonly x: number;
  readonly y: number;
  /** The level's probability mass (0-1) within a heatmap pixel of the point. */
  readonly confidence: number;
}

/** A slice placed on the level canvas: normalised pixels and the exact map back to the slice. */
export interface LevelCanvas {
  readonly image: Float32Array;
  readonly geometry: CanvasGeometry;
}

/**
 * The image reduced by averaging `factor × factor` blocks (the last incomplete row and column of
 * blocks are dropped): reduced pixel `r` has its centre at original `(r + 0.5) · factor − 0.5`.
 */
function blockAverage(image: Image2D, factor: number): Image2D {
  const width = Math.floor(image.width / factor);
  const height = Math.floor(image.height / factor);
  const out = new Float32Array(width * height);
  const src = image.pixels;
  for (let y = 0; y < height * factor; y++) {
    const row = y * image.width;
    const at = Math.floor(y / factor) * width;
    for (let x = 0; x < width * factor; x++) {
      const to = at + Math.floor(x / factor);
      out[to] = (out[to] as number) + (src[row + x] as number);
    }
  }
  const area = factor * factor;
  for (let n = 0; n < out.length; n++) out[n] = (out[n] as number) / area;
  return { pixels: out, width, height, pixelSpacing: [image.pixelSpacing[0] * factor, image.pixelSpacing[1] * factor] };
}

/**
 * The slice on the level canvas (see the module comment): a large slice is first reduced by block
 * averaging to at least twice the canvas height (fast, and itself anti-aliasing), then resampled
 * bilinearly with anti-aliasing; intensities normalised by the 1st/99th percentiles of the image
 * region. The geometry maps canvas and original slice pixels both ways; its `pixelSpacing` is not
 * in mm (the canvas is defined by the field of view, not by spacing).
 */
export function levelCanvas(image: Image2D, size: number, pixelAspect: PixelAspect = 'stretch'): LevelCanvas {
  const factor = Math.max(1, Math.floor(Math.min(image.height / (2 * size), image.width / (2 * size))));
  const reduced = factor > 1 ? blockAverage(image, factor) : image;
  const spacingY = size / reduced.height;
  let spacingX = size / reduced.width;
  if (pixelAspect === 'spacing') {
    const [sx, sy] = image.pixelSpacing;
    if (!(sx > 0 && sy > 0))
      throw new SpinegradeError('USAGE', `image pixel spacing must be positive, got ${sx}×${sy}`);
    spacingX = spacingY * (sx / sy);
  }
  // toCanvas resamples to `spacingMm`; a pseudo-spacing of canvas pixels per image pixel makes the
  // image height exactly `size` canvas pixels and the width as chosen above.
  const canvas = toCanvas(
    { pixels: reduced.pixels, width: reduced.width, height: reduced.height, pixelSpacing: [spacingX, spacingY] },
    { size, spacingMm: 1, antialias: true },
  );
  const { pixels: _pixels, ...onReduced } = canvas;
  const toOriginal = (r: number): number => (r + 0.5) * factor - 0.5;
  const toReduced = (o: number): number => (o + 0.5) / factor - 0.5;
  const geometry: CanvasGeometry = {
    ...onReduced,
    imageWidth: image.width,
    imageHeight: image.height,
    imagePixelSpacing: image.pixelSpacing,
    scale: [onReduced.scale[0] * factor, onReduced.scale[1] * factor],
    canvasToImage: (x, y) => {
      const [rx, ry] = onReduced.canvasToImage(x, y);
      return [toOriginal(rx), toOriginal(ry)];
    },
    imageToCanvas: (x, y) => onReduced.imageToCanvas(toReduced(x), toReduced(y)),
  };
  return { image: normalizeCanvasImage(canvas), geometry };
}

/** A heatmap peak of one level, in canvas pixels. */
interface Peak {
  readonly x: number;
  readonly y: number;
  readonly value: number;
}

/** Options of {@link decodeLevelChain}. */
export interface ChainOptions {
  /** Peaks whose 3×3 probability mass is below this are not candidates (default 0.02). */
  readonly minPeak?: number;
  /** Radius of the neighbourhood that places and values a peak, heatmap pixels (default 1: wider was worse out of fold). */
  readonly peakRadius?: number;
  /** Candidates per level (default 4). */
  readonly candidates?: number;
  /** Plausible distance between neighbouring disc points, as a fraction of the heatmap size (default 0.035-0.25). */
  readonly gapFraction?: readonly [number, number];
  /** Largest bend of the chain between neighbouring steps, degrees (default 60). */
  readonly maxBendDegrees?: number;
}

/**
 * The network's logits as probabilities: per level channel, a softmax over all pixels (the level is
 * at one place), channels last like the logits.
 */
export function levelProbabilities(logits: Float32Array): Float32Array {
  const out = new Float32Array(logits.length);
  const pixels = logits.length / LEVEL_CHANNELS;
  for (let c = 0; c < LEVEL_CHANNELS; c++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let p = 0; p < pixels; p++) max = Math.max(max, logits[p * LEVEL_CHANNELS + c] as number);
    let sum = 0;
    for (let p = 0; p < pixels; p++) {
      const e = Math.exp((logits[p * LEVEL_CHANNELS + c] as number) - max);
      out[p * LEVEL_CHANNELS + c] = e;
      sum += e;
    }
    for (let p = 0; p < pixels; p++) out[p * LEVEL_CHANNELS + c] = (out[p * LEVEL_CHANNELS + c] as number) / sum;
  }
  return out;
}

/**
 * The local maxima (3×3) of one channel of probabilities, most probable first: each placed at the
 * probability-weighted centroid of its `(2r + 1)²` neighbourhood (sub-pixel: a heatmap pixel is
 * several mm) and valued by that neighbourhood's probability mass.
 */
function peaksOf(
  probabilities: Float32Array,
  size: number,
  channel: number,
  minPeak: number,
  count: number,
  radius: number,
): Peak[] {
  const at = (x: number, y: number): number => probabilities[(y * size + x) * LEVEL_CHANNELS + channel] as number;
  const isMax = (x: number, y: number, v: number): boolean => {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx;
        const ny = y + dy;
        if ((dx === 0 && dy === 0) || nx < 0 || ny < 0 || nx >= size || ny >= size) continue;
        const w = at(nx, ny);
        if (w > v || (w === v && (dy < 0 || (dy === 0 && dx < 0)))) return false;
      }
    }
    return true;
  };
  const peaks: Peak[] = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = at(x, y);
      if (v < minPeak / ((2 * radius + 1) * (2 * radius + 1)) || !isMax(x, y, v)) continue;
      let sum = 0;
      let sx = 0;
      let sy = 0;
      for (let ny = Math.max(0, y - radius); ny <= Math.min(size - 1, y + radius); ny++) {
        for (let nx = Math.max(0, x - radius); nx <= Math.min(size - 1, x + radius); nx++) {
          const w = at(nx, ny);
          sum += w;
          sx += w * nx;
          sy += w * ny;
        }
      }
      if (sum >= minPeak) peaks.push({ x: sx / sum, y: sy / sum, value: sum });
    }
  }
  return peaks.sort((a, b) => b.value - a.value).slice(0, count);
}

/** A chosen peak per present level, from the top (L1/L2) down. */
interface ChainLink {
  readonly ivdLabel: number;
  readonly peak: Peak;
}

const BEND_WEIGHT = 4;
const GAP_RATIO_WEIGHT = 3;

/**
 * The best chain through the candidates of the given levels (top to bottom): maximises the sum of log
 * peak values minus penalties for uneven spacing and bends, with every step going down, at a
 * plausible distance, bending at most `maxBend`. Dynamic programming over pairs of neighbouring
 * choices (a bend needs three points). Undefined when no chain is consistent.
 */
function bestChain(
  levels: readonly { ivdLabel: number; peaks: Peak[] }[],
  gap: readonly [number, number],
  maxBend: number,
): { links: ChainLink[]; score: number } | undefined {
  const n = levels.length;
  if (n === 0) return { links: [], score: 0 };
  const logValue = (p: Peak): number => Math.log(Math.max(p.value, 1e-6));
  if (n === 1) {
    const only = levels[0] as { ivdLabel: number; peaks: Peak[] };
    const best = only.peaks[0];
    return best ? { links: [{ ivdLabel: only.ivdLabel, peak: best }], score: logValue(best) } : undefined;
  }
  // step(k, i, j): the step from candidate i of level k to candidate j of level k + 1, or undefined when implausible.
  const step = (k: number, i: number, j: number): { dx: number; dy: number; gap: number } | undefined => {
    const upper = levels[k] as { ivdLabel: number; peaks: Peak[] };
    const lower = levels[k + 1] as { ivdLabel: number; peaks: Peak[] };
    const a = upper.peaks[i] as Peak;
    const b = lower.peaks[j] as Peak;
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const levelsApart = upper.ivdLabel - lower.ivdLabel;
    const perLevel = Math.hypot(dx, dy) / levelsApart;
    if (dy <= 0 || perLevel < gap[0] || perLevel > gap[1]) return undefined;
    return { dx, dy, gap: perLevel };
  };
  // score[k][i][j]: best score of a chain ending with candidate i at level k and j at level k + 1.
  type Cell = { score: number; back: number };
  let table: Cell[][] = [];
  const first = levels[0] as { peaks: Peak[] };
  const second = levels[1] as { peaks: Peak[] };
  table = first.peaks.map((a, i) =>
    second.peaks.map((b, j) =>
      step(0, i, j) === undefined
        ? { score: Number.NEGATIVE_INFINITY, back: -1 }
        : { score: logValue(a) + logValue(b), back: -1 },
    ),
  );
  const backs: Cell[][][] = [table];
  for (let k = 1; k < n - 1; k++) {
    const mid = levels[k] as { peaks: Peak[] };
    const next = levels[k + 1] as { peaks: Peak[] };
    const previous = levels[k - 1] as { peaks: Peak[] };
    const current: Cell[][] = mid.peaks.map(() =>
      next.peaks.map(() => ({ score: Number.NEGATIVE_INFINITY, back: -1 })),
    );
    for (let j = 0; j < mid.peaks.length; j++) {
      for (let l = 0; l < next.peaks.length; l++) {
        const second = step(k, j, l);
        if (!second) continue;
        for (let i = 0; i < previous.peaks.length; i++) {
          const before = (table[i] as Cell[])[j] as Cell;
          if (before.score === Number.NEGATIVE_INFINITY) continue;
          const firstStep = step(k - 1, i, j) as { dx: number; dy: number; gap: number };
          const bend = Math.abs(
            Math.atan2(
              firstStep.dx * second.dy - firstStep.dy * second.dx,
              firstStep.dx * second.dx + firstStep.dy * second.dy,
            ),
          );
          if (bend > maxBend) continue;
          const score =
            before.score +
            logValue(next.peaks[l] as Peak) -
            BEND_WEIGHT * bend * bend -
            GAP_RATIO_WEIGHT * Math.abs(Math.log(second.gap / firstStep.gap));
          const cell = (current[j] as Cell[])[l] as Cell;
          if (score > cell.score) {
            cell.score = score;
            cell.back = i;
          }
        }
      }
    }
    table = current;
    backs.push(current);
  }
  let best = Number.NEGATIVE_INFINITY;
  let bi = -1;
  let bj = -1;
  table.forEach((row, i) => {
    row.forEach((cell, j) => {
      if (cell.score > best) {
        best = cell.score;
        bi = i;
        bj = j;
      }
    });
  });
  if (bi < 0) return undefined;
  // Walk back: at table k (pairs of levels k, k+1), the cell [i][j] stores the candidate of level k − 1.
  const chosen = new Array<number>(n);
  chosen[n - 1] = bj;
  chosen[n - 2] = bi;
  for (let k = n - 2; k >= 1; k--) {
    const cell = ((backs[k] as Cell[][])[chosen[k] as number] as Cell[])[chosen[k + 1] as number] as Cell;
    chosen[k - 1] = cell.back;
  }
  return {
    links: levels.map((level, k) => ({ ivdLabel: level.ivdLabel, peak: level.peaks[chosen[k] as number] as Peak })),
    score: best,
  };
}

/**
 * The level points of one canvas's logits (`size × size × 5`, channels last), in heatmap pixels:
 * per level a spatial softmax, and up to `candidates` of its peaks; the chain of one peak per level (L1/L2 at the top to L5/S1 at
 * the bottom) that scores best while staying anatomically consistent. A level whose heatmap has no
 * peak is absent; when no consistent chain exists, the weakest level is dropped and the rest tried again.
 */
export function decodeLevelChain(logits: Float32Array, size: number, options: ChainOptions = {}): LevelPoint[] {
  if (logits.length !== size * size * LEVEL_CHANNELS) {
    throw new SpinegradeError('USAGE', `level heatmaps hold ${logits.length} values, not ${size}×${size}×5`);
  }
  const heatmaps = levelProbabilities(logits);
  const minPeak = options.minPeak ?? 0.02;
  const count = options.candidates ?? 4;
  const [gapLow, gapHigh] = options.gapFraction ?? [0.035, 0.25];
  const gap: [number, number] = [gapLow * size, gapHigh * size];
  const maxBend = ((options.maxBendDegrees ?? 60) * Math.PI) / 180;
  let levels: { ivdLabel: number; peaks: Peak[] }[] = [];
  for (let ivdLabel = LEVEL_CHANNELS; ivdLabel >= 1; ivdLabel--) {
    const peaks = peaksOf(heatmaps, size, ivdLabel - 1, minPeak, count, options.peakRadius ?? 1);
    if (peaks.length > 0) levels.push({ ivdLabel, peaks });
  }
  while (levels.length > 0) {
    const chain = bestChain(levels, gap, maxBend);
    if (chain) {
      return chain.links.map(({ ivdLabel, peak }) => ({
        ivdLabel,
        level: levelOfIvdLabel(ivdLabel),
        x: peak.x,
        y: peak.y,
        confidence: peak.value,
      }));
    }
    const weakest = levels.reduce((w, l) => ((l.peaks[0]?.value ?? 0) < (w.peaks[0]?.value ?? 0) ? l : w));
    levels = levels.filter((l) => l !== weakest);
  }
  return [];
}

/**
 * Level points moved from heatmap pixels to the slice's pixels: heatmap pixel `o` covers canvas
 * pixels `o·stride … o·stride + stride − 1`, so its centre is canvas `o·stride + (stride − 1) / 2`.
 */
export function levelPointsOnImage(
  points: readonly LevelPoint[],
  geometry: CanvasGeometry,
  outputStride: number,
): LevelPoint[] {
  const toCanvas = (o: number): number => o * outputStride + (outputStride - 1) / 2;
  return points.map((point) => {
    const [x, y] = geometry.canvasToImage(toCanvas(point.x), toCanvas(point.y));
    return { ...point, x, y };
  });
}

/** Heatmap pixel coordinates of a canvas point (the inverse of the map in {@link levelPointsOnImage}). */
export function canvasToHeatmap(c: number, outputStride: number): number {
  return (c - (outputStride - 1) / 2) / outputStride;
}

/** Runs the network on canvases (batches of 4); returns each canvas's heatmaps (`m × m × 5`, channels last). */
export function predictLevelHeatmaps(network: Network, images: readonly Float32Array[], size: number): Float32Array[] {
  const pixels = size * size;
  const out: Float32Array[] = [];
  const batchSize = 4;
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const input = new Float32Array(chunk.length * pixels);
    chunk.forEach((image, n) => input.set(image, n * pixels));
    const [maps] = network.run(input, [chunk.length, size, size, 1]);
    if (!maps) throw new SpinegradeError('INVALID_HEADER', 'the level network returned no output');
    const per = maps.data.length / chunk.length;
    chunk.forEach((_, n) => out.push(maps.data.slice(n * per, (n + 1) * per)));
  }
  return out;
}

/** A disc outline to name by level points (e.g. a disc the localiser's U-Net outlined). */
export interface OutlinedDisc {
  /** Closed polygon of pixel `[x, y]` points. */
  readonly outline: readonly (readonly [number, number])[];
}

/**
 * The level of each outlined disc from the level points: each point, most confident first, names the
 * not yet named disc whose outline is nearest to it, if within `maxMm` (inside counts as 0). Discs no
 * point names get undefined. `spacing`: mm per pixel `[x, y]`.
 */
export function levelsOfDiscs(
  discs: readonly OutlinedDisc[],
  points: readonly LevelPoint[],
  spacing: readonly [number, number],
  maxMm = 10,
): (number | undefined)[] {
  const levels: (number | undefined)[] = discs.map(() => undefined);
  for (const point of [...points].sort((a, b) => b.confidence - a.confidence)) {
    let best = -1;
    let bestDistance = maxMm;
    discs.forEach((disc, n) => {
      if (levels[n] !== undefined) return;
      const distance = distanceToPolygon([point.x, point.y], disc.outline, spacing);
      if (distance <= bestDistance) {
        bestDistance = distance;
        best = n;
      }
    });
    if (best >= 0) levels[best] = point.ivdLabel;
  }
  return levels;
}
