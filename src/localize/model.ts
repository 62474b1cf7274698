/**
 * The localiser network: a 2D U-Net on a 192×192 canvas at 1.5 mm per pixel with two heads, a
 * 4-class semantic mask (background, disc, vertebra, canal) and a lumbar disc keypoint heatmap.
 * This module is also the model module the data-parallel trainer's workers import.
 */
import { tf, type tfl } from '../models/tf/backend.js';
import { buildUNet, type UNetConfig } from '../models/tf/layers.js';
import { forwardTraining } from '../models/tf/trainCore.js';
import { localizerLoss } from './loss.js';

/** Everything that defines a localiser network and its input canvas. */
export interface LocalizerConfig {
  /** Canvas size in pixels (square). */
  size: number;
  /** Canvas pixel spacing, mm. */
  spacingMm: number;
  baseFilters: number;
  depth: number;
  /** Gaussian sigma of the keypoint heatmap, canvas pixels. */
  heatmapSigmaPx: number;
  /** Heatmap channels: 1 (any lumbar disc) or 5 (one per lumbar level, L5/S1 first). */
  heatmapChannels: 1 | 5;
  seed: number;
}

/** The configuration the bundled localiser is trained with. */
export const DEFAULT_LOCALIZER_CONFIG: LocalizerConfig = {
  size: 192,
  spacingMm: 1.5,
  baseFilters: 8,
  depth: 4,
  heatmapSigmaPx: 2,
  heatmapChannels: 1,
  seed: 1,
};

/** The U-Net architecture of a localiser configuration. */
export function unetConfigOf(config: LocalizerConfig): UNetConfig {
  return {
    inputShape: [config.size, config.size, 1],
    baseFilters: config.baseFilters,
    depth: config.depth,
    heads: [
      { name: 'semantic', channels: 4, activation: 'softmax' },
      { name: 'heatmap', channels: config.heatmapChannels ?? 1, activation: 'sigmoid' },
    ],
    batchNorm: true,
    batchNormMomentum: 0.9,
    seed: config.seed,
  };
}

/** Builds the localiser network (model-module export for the trainer). */
export function buildModel(config: LocalizerConfig): tfl.LayersModel {
  return buildUNet(unetConfigOf(config));
}

/** Training loss of one batch (model-module export for the trainer). */
export function lossOf(model: tfl.LayersModel, inputs: tf.Tensor4D, targets: Record<string, tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const out = forwardTraining(model, inputs);
    return localizerLoss(tf, out.semantic as tf.Tensor4D, out.heatmap as tf.Tensor4D, {
      semantic: targets.semantic as tf.Tensor4D,
      semanticWeight: targets.semanticWeight as tf.Tensor1D,
      heatmap: targets.heatmap as tf.Tensor4D,
      heatmapWeight: targets.heatmapWeight as tf.Tensor1D,
    });
  });
}
