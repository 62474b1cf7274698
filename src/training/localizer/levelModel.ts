/**
 * The level network's architecture and training loss: a small encoder-decoder on the whole field
 * of view (`src/localize/levels.ts` places the slice) with one head of five sigmoid heatmaps, one per
 * lumbar disc level (logits of a spatial softmax), at half the canvas resolution. A stride-2 stem, then stages that each halve the
 * resolution down to a coarse grid whose receptive field covers the whole slice (levels are counted,
 * so the network must see the sacrum and the whole chain), and transposed-convolution steps back up
 * with skip connections. Only layers the ONNX export supports. This module is also the model module
 * the data-parallel trainer's workers import.
 */
import { LEVEL_CHANNELS, type LevelNetworkConfig } from '../../localize/levels.js';
import { tf, tfl } from '../../models/tf/backend.js';
import { convBlock } from '../../models/tf/layers.js';
import { forwardTraining } from '../../models/tf/trainCore.js';

type Symbolic = tfl.SymbolicTensor;

function apply(layer: tfl.layers.Layer, input: Symbolic | Symbolic[]): Symbolic {
  return layer.apply(input) as Symbolic;
}

/** Builds the level network (model-module export for the trainer). */
export function buildModel(config: LevelNetworkConfig): tfl.LayersModel {
  if (config.outputStride !== 2) throw new Error('the level network predicts at output stride 2');
  const stages = config.filters.length;
  if (stages < 2 || config.size % 2 ** stages !== 0) {
    throw new Error(`level network: canvas ${config.size} must be divisible by 2^${stages}`);
  }
  let seed = config.seed;
  const block = (name: string, stride = 1) => ({ name, stride, batchNormMomentum: 0.9, seed: seed++ });
  const input = tfl.input({ shape: [config.size, config.size, 1], name: 'input' });
  const skips: Symbolic[] = [];
  let x: Symbolic = input;
  config.filters.forEach((filters, stage) => {
    x = convBlock(x, filters, block(`stage${stage}_down`, 2));
    x = convBlock(x, filters, block(`stage${stage}_a`));
    if (stage === stages - 1) x = convBlock(x, filters, block(`stage${stage}_b`));
    skips.push(x);
  });
  for (let stage = stages - 2; stage >= 0; stage--) {
    const filters = config.filters[stage] as number;
    x = apply(
      tfl.layers.conv2dTranspose({
        filters,
        kernelSize: 2,
        strides: 2,
        padding: 'same',
        kernelInitializer: tfl.initializers.heNormal({ seed: seed++ }),
        name: `up${stage}_tconv`,
      }),
      x,
    );
    x = apply(tfl.layers.concatenate({ axis: -1, name: `skip${stage}` }), [x, skips[stage] as Symbolic]);
    x = convBlock(x, filters, block(`up${stage}_a`));
  }
  const levels = apply(
    tfl.layers.conv2d({
      filters: LEVEL_CHANNELS,
      kernelSize: 1,
      activation: 'linear',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed++ }),
      name: 'levels',
    }),
    x,
  );
  return tfl.model({ inputs: input, outputs: levels, name: 'level_network' });
}

/**
 * Training loss of one batch (model-module export for the trainer): per level channel, the
 * cross-entropy between the spatial softmax of the logits (one distribution over the pixels: the
 * level is at exactly one place) and the Gaussian target normalised to sum 1. Firing on another disc
 * takes probability from the right one, so the network must tell the levels apart (a per-pixel loss
 * weighted towards positives rewards firing on every disc in every channel). Channels whose level
 * is not on the slice, and samples without keypoints (`heatmapWeight` 0), do not count.
 */
export function lossOf(model: tfl.LayersModel, inputs: tf.Tensor4D, targets: Record<string, tf.Tensor>): tf.Scalar {
  return tf.tidy(() => {
    const logits = forwardTraining(model, inputs).levels as tf.Tensor4D;
    const [n, h, w, c] = logits.shape;
    const byChannel = (t: tf.Tensor): tf.Tensor3D => tf.transpose(tf.reshape(t, [n, h * w, c]), [0, 2, 1]);
    const logProbabilities = tf.logSoftmax(byChannel(logits));
    const target = byChannel(targets.heatmap as tf.Tensor4D);
    const mass = tf.sum(target, 2);
    const present = tf.mul(
      tf.cast(tf.greater(mass, 1e-6), 'float32'),
      tf.expandDims(targets.heatmapWeight as tf.Tensor1D, 1),
    );
    const normalised = tf.div(target, tf.expandDims(tf.maximum(mass, 1e-6), 2));
    const crossEntropy = tf.neg(tf.sum(tf.mul(normalised, logProbabilities), 2));
    return tf.div(tf.sum(tf.mul(crossEntropy, present)), tf.maximum(tf.sum(present), 1)) as tf.Scalar;
  });
}
