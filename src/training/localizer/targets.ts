/**
 * Training targets of the disc localiser (plain typed arrays, channels last) and the batches the
 * training engine consumes: `{ inputs, inputShape: [n, h, w, c], targets: { name: { data, shape } } }`.
 */
import { isLumbarIvdLabel } from '../../disc/levels.js';
import { SpinegradeError } from '../../errors.js';
import { SEMANTIC_CLASSES } from '../../localize/samples.js';
import type { CanvasKeypoint } from '../../transforms/canvas.js';

/** What target rendering needs of a sample (a {@link LocalizerSample} or an augmented one). */
export interface TargetSample {
  readonly image: Float32Array;
  readonly semantic: Uint8Array | null;
  readonly keypoints: readonly CanvasKeypoint[] | null;
  readonly canvas: { readonly size: number };
}

/** Options of the target rendering. */
export interface TargetOptions {
  /** Standard deviation of each keypoint's Gaussian peak, in canvas pixels. */
  readonly sigmaPx: number;
  /** One heatmap channel per lumbar level (so the network names the level), instead of one for all. */
  readonly perLevel?: boolean;
}

/** The targets of one sample. */
export interface SampleTargets {
  /** `size × size × 4` one-hot classes, channels last (all background when the sample has no mask). */
  readonly semantic: Float32Array;
  /** 1 when the sample has a mask, else 0. */
  readonly semanticWeight: number;
  /** `size × size × 1`: Gaussian peaks of height 1 at each lumbar keypoint (L1/L2 … L5/S1), max-combined. */
  readonly heatmap: Float32Array;
  /** 1 when the sample's keypoints are annotated (even if none is on the canvas), else 0. */
  readonly heatmapWeight: number;
}

/** A named tensor of a batch. */
export interface BatchTensor {
  readonly data: Float32Array;
  readonly shape: number[];
}

/** A training batch in the layout the training engine consumes. */
export interface LocalizerBatch {
  /** `n × size × size × 1` images. */
  readonly inputs: Float32Array;
  readonly inputShape: [number, number, number, number];
  readonly targets: {
    readonly semantic: BatchTensor;
    readonly semanticWeight: BatchTensor;
    readonly heatmap: BatchTensor;
    readonly heatmapWeight: BatchTensor;
  };
}

const CLASSES = SEMANTIC_CLASSES.length;

function checkSigma(sigmaPx: number): void {
  if (!(sigmaPx > 0 && Number.isFinite(sigmaPx))) {
    throw new SpinegradeError('USAGE', `heatmap sigma must be positive, got ${sigmaPx} px`);
  }
}

/** Heatmap channels per level: L5/S1 (IVD label 1) in channel 0 … L1/L2 in channel 4. */
export const LUMBAR_LEVEL_CHANNELS = 5;

/** Heatmap channels of the options: one per lumbar level, or one for all. */
export function heatmapChannels(options: TargetOptions): number {
  return options.perLevel ? LUMBAR_LEVEL_CHANNELS : 1;
}

/** Writes one sample's targets into the given arrays at element offsets (semantic: ×4 channels). */
function renderInto(
  sample: TargetSample,
  sigmaPx: number,
  semantic: Float32Array,
  semanticAt: number,
  heatmap: Float32Array,
  heatmapAt: number,
  perLevel: boolean,
): { semanticWeight: number; heatmapWeight: number } {
  const channels = perLevel ? LUMBAR_LEVEL_CHANNELS : 1;
  const size = sample.canvas.size;
  const pixels = size * size;
  if (sample.image.length !== pixels || (sample.semantic && sample.semantic.length !== pixels)) {
    throw new RangeError(`sample arrays do not match its ${size}×${size} canvas`);
  }
  const labels = sample.semantic;
  for (let p = 0; p < pixels; p++) {
    const c = labels ? (labels[p] as number) : 0;
    if (c >= CLASSES) throw new RangeError(`semantic class ${c} is not one of 0-${CLASSES - 1}`);
    semantic[semanticAt + p * CLASSES + c] = 1;
  }
  const radius = Math.ceil(4 * sigmaPx);
  const inv = 1 / (2 * sigmaPx * sigmaPx);
  for (const point of sample.keypoints ?? []) {
    if (!isLumbarIvdLabel(point.ivdLabel)) continue;
    const xFrom = Math.max(0, Math.floor(point.x - radius));
    const xTo = Math.min(size - 1, Math.ceil(point.x + radius));
    const yFrom = Math.max(0, Math.floor(point.y - radius));
    const yTo = Math.min(size - 1, Math.ceil(point.y + radius));
    for (let y = yFrom; y <= yTo; y++) {
      const dy = (y - point.y) * (y - point.y);
      for (let x = xFrom; x <= xTo; x++) {
        const v = Math.exp(-((x - point.x) * (x - point.x) + dy) * inv);
        const at = heatmapAt + (y * size + x) * channels + (perLevel ? point.ivdLabel - 1 : 0);
        if (v > (heatmap[at] as number)) heatmap[at] = v;
      }
    }
  }
  return { semanticWeight: labels ? 1 : 0, heatmapWeight: sample.keypoints ? 1 : 0 };
}

/** The semantic one-hot and keypoint heatmap targets of one sample, with their loss weights. */
export function renderTargets(sample: TargetSample, options: TargetOptions): SampleTargets {
  checkSigma(options.sigmaPx);
  const pixels = sample.canvas.size * sample.canvas.size;
  const semantic = new Float32Array(pixels * CLASSES);
  const heatmap = new Float32Array(pixels * heatmapChannels(options));
  const weights = renderInto(sample, options.sigmaPx, semantic, 0, heatmap, 0, options.perLevel === true);
  return { semantic, heatmap, ...weights };
}

/** Stacks samples (all of one canvas size) into one batch of inputs and targets. */
export function toBatch(samples: readonly TargetSample[], options: TargetOptions): LocalizerBatch {
  checkSigma(options.sigmaPx);
  const first = samples[0];
  if (!first) throw new SpinegradeError('USAGE', 'a batch needs at least one sample');
  const size = first.canvas.size;
  const n = samples.length;
  const pixels = size * size;
  const inputs = new Float32Array(n * pixels);
  const semantic = new Float32Array(n * pixels * CLASSES);
  const channels = heatmapChannels(options);
  const heatmap = new Float32Array(n * pixels * channels);
  const semanticWeight = new Float32Array(n);
  const heatmapWeight = new Float32Array(n);
  samples.forEach((sample, k) => {
    if (sample.canvas.size !== size) {
      throw new SpinegradeError('USAGE', `batch mixes canvas sizes ${size} and ${sample.canvas.size}`);
    }
    inputs.set(sample.image, k * pixels);
    const weights = renderInto(
      sample,
      options.sigmaPx,
      semantic,
      k * pixels * CLASSES,
      heatmap,
      k * pixels * channels,
      options.perLevel === true,
    );
    semanticWeight[k] = weights.semanticWeight;
    heatmapWeight[k] = weights.heatmapWeight;
  });
  return {
    inputs,
    inputShape: [n, size, size, 1],
    targets: {
      semantic: { data: semantic, shape: [n, size, size, CLASSES] },
      semanticWeight: { data: semanticWeight, shape: [n] },
      heatmap: { data: heatmap, shape: [n, size, size, channels] },
      heatmapWeight: { data: heatmapWeight, shape: [n] },
    },
  };
}
