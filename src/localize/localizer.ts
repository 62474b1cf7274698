/** Running a trained localiser on 2D slices: canvas → network → maps on the slice's own grid → labelled discs. */
import { SpinegradeError } from '../errors.js';
import type { EngineChoice, Network } from '../models/engine.js';
import { readModelMetadata } from '../models/modelJson.js';
import { loadNetwork } from '../models/network.js';
import {
  type CanvasGeometry,
  canvasToImageClasses,
  canvasToImageProbabilities,
  toCanvas,
} from '../transforms/canvas.js';
import type { Image2D } from '../transforms/resample.js';
import type { LocalizerConfig } from './model.js';
import { localizeFromMaps, type PostprocessOptions, type SliceLocalization } from './postprocess.js';
import { normalizeCanvasImage } from './samples.js';

/** A loaded localiser. */
export interface Localizer {
  /** The U-Net, run for inference (onnxruntime or TensorFlow.js). */
  readonly network: Network;
  readonly config: LocalizerConfig;
  /** The folder it was loaded from. */
  readonly dir: string;
  /** Metadata saved with the model (training data, patients, figures). */
  readonly metadata: Record<string, unknown>;
}

/** The U-Net's output layers that localisation reads: class probabilities and the keypoint heatmap. */
export const LOCALIZER_OUTPUTS = ['semantic', 'heatmap'] as const;

/**
 * Loads a localiser saved by `train localizer` (tfjs `model.json` + `weights.bin` with its config in
 * the metadata), to run on `engine` (default: onnxruntime where it loads, see `loadNetwork`).
 */
export async function loadLocalizer(dir: string, options: { engine: EngineChoice }): Promise<Localizer> {
  const metadata = await readModelMetadata(dir);
  const config = metadata.localizerConfig as LocalizerConfig | undefined;
  if (!config || typeof config.size !== 'number' || typeof config.spacingMm !== 'number') {
    throw new SpinegradeError('INVALID_HEADER', 'not a spinegrade localiser (no localizerConfig in its metadata)', dir);
  }
  return { network: await loadNetwork(dir, LOCALIZER_OUTPUTS, options.engine), config, dir, metadata };
}

/** Runs the network on canvas images; returns per-image semantic probabilities (HWC, 4) and heatmap (HWC). */
export function predictCanvases(
  network: Network,
  images: readonly Float32Array[],
  size: number,
): { semantic: Float32Array; heatmap: Float32Array }[] {
  const results: { semantic: Float32Array; heatmap: Float32Array }[] = [];
  const batchSize = 4;
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const input = new Float32Array(chunk.length * size * size);
    chunk.forEach((image, n) => input.set(image, n * size * size));
    const [s, h] = network.run(input, [chunk.length, size, size, 1]).map((o) => o.data) as [Float32Array, Float32Array];
    const channels = h.length / (chunk.length * size * size);
    chunk.forEach((_, n) => {
      results.push({
        semantic: s.slice(n * size * size * 4, (n + 1) * size * size * 4),
        heatmap: h.slice(n * size * size * channels, (n + 1) * size * size * channels),
      });
    });
  }
  return results;
}

/** Argmax over 4 channels (channels last). */
function classesOf(probabilities: Float32Array, pixels: number): Uint8Array {
  const classes = new Uint8Array(pixels);
  for (let n = 0; n < pixels; n++) {
    let best = 0;
    let value = probabilities[n * 4] as number;
    for (let c = 1; c < 4; c++) {
      const v = probabilities[n * 4 + c] as number;
      if (v > value) {
        value = v;
        best = c;
      }
    }
    classes[n] = best;
  }
  return classes;
}

/** The maps of a canvas prediction, on the canvas grid itself. */
export function canvasMaps(
  prediction: { semantic: Float32Array; heatmap: Float32Array },
  size: number,
  spacingMm: number,
) {
  return {
    width: size,
    height: size,
    pixelSpacing: [spacingMm, spacingMm] as const,
    classes: classesOf(prediction.semantic, size * size),
    heatmap: prediction.heatmap,
    heatmapChannels: prediction.heatmap.length / (size * size),
  };
}

/** A localisation with the class of every pixel of the image (0 background, 1 disc, 2 vertebra, 3 canal). */
export type ImageLocalization = SliceLocalization & { classes: Uint8Array };

/** Localises discs and vertebrae on each image; coordinates are the image's own pixels. */
export function localizeImages(
  localizer: Localizer,
  images: readonly Image2D[],
  options: PostprocessOptions = {},
): ImageLocalization[] {
  const { size, spacingMm } = localizer.config;
  const canvases = images.map((image) => toCanvas(image, { size, spacingMm }));
  const predictions = predictCanvases(localizer.network, canvases.map(normalizeCanvasImage), size);
  return predictions.map((prediction, n) => {
    const image = images[n] as Image2D;
    const geometry = canvases[n] as CanvasGeometry;
    const heatmapChannels = prediction.heatmap.length / (size * size);
    const heatmap = canvasToImageProbabilities(prediction.heatmap, geometry, { channels: heatmapChannels });
    const classes = canvasToImageClasses(prediction.semantic, geometry, 4);
    const localization = localizeFromMaps(
      { width: image.width, height: image.height, pixelSpacing: image.pixelSpacing, classes, heatmap, heatmapChannels },
      options,
    );
    return { ...localization, classes };
  });
}

/** The localiser's semantic mask of one image, in SPIDER's values (0 / 29 / 76 / 150). */
export function predictSemanticMask(localizer: Localizer, image: Image2D): Uint8Array {
  return semanticMaskValues((localizeImages(localizer, [image])[0] as ImageLocalization).classes);
}

/**
 * The localiser for a patient among several trained on different folds: the first that never saw the
 * patient, so every patient of a cross-validation is localised out of fold; the first one otherwise.
 */
export function localizerForPatient(localizers: readonly Localizer[], patient: string): Localizer {
  const first = localizers[0];
  if (!first) throw new SpinegradeError('USAGE', 'no localiser to choose from');
  return localizers.find((l) => !localizerTrainingPatients(l).includes(patient)) ?? first;
}

/**
 * Localises the mid-sagittal image of each series, every patient with {@link localizerForPatient},
 * a few series at a time (bounded memory), and hands each result to `each` (grouped by localiser).
 */
export async function localizeSeries<S extends { readonly patient: string; loadMidSagittal(): Promise<Image2D> }>(
  series: readonly S[],
  localizers: readonly Localizer[],
  each: (series: S, image: Image2D, localization: ImageLocalization) => Promise<void> | void,
  chunkSize = 8,
): Promise<void> {
  const byLocalizer = new Map<Localizer, S[]>();
  for (const record of series) {
    const localizer = localizerForPatient(localizers, record.patient);
    byLocalizer.set(localizer, [...(byLocalizer.get(localizer) ?? []), record]);
  }
  for (const [localizer, records] of byLocalizer) {
    for (let start = 0; start < records.length; start += chunkSize) {
      const chunk = records.slice(start, start + chunkSize);
      const images = await Promise.all(chunk.map((s) => s.loadMidSagittal()));
      const localized = localizeImages(localizer, images);
      for (let n = 0; n < chunk.length; n++) {
        await each(chunk[n] as S, images[n] as Image2D, localized[n] as ImageLocalization);
      }
    }
  }
}

/** The patients every one of the localisers was trained on: their localisation is in-sample. */
export function patientsSeenByAll(localizers: readonly Localizer[]): Set<string> {
  const [first, ...rest] = localizers;
  if (!first) return new Set();
  const seen = new Set(localizerTrainingPatients(first));
  for (const other of rest) {
    const theirs = new Set(localizerTrainingPatients(other));
    for (const p of seen) if (!theirs.has(p)) seen.delete(p);
  }
  return seen;
}

/** The patients a localiser was trained on (from its metadata; empty when unknown). */
export function localizerTrainingPatients(localizer: Localizer | undefined): string[] {
  return (localizer?.metadata.trainedOn as { patients?: string[] } | undefined)?.patients ?? [];
}

/** A semantic mask in SPIDER's values (0 / 29 disc / 76 vertebra / 150 canal) from a localiser's class map. */
export function semanticMaskValues(classes: Uint8Array): Uint8Array {
  const values = [0, 29, 76, 150];
  return classes.map((c) => values[c] as number);
}
