/**
 * A small typed layer library over the tfjs-layers functional API: convolution blocks, residual
 * blocks and a configurable multi-head U-Net. Every layer gets a stable name derived from the block
 * name, so saved weights load by name into a rebuilt model.
 */
import { tfl } from './backend.js';

/** A symbolic (graph-building) tensor of the functional API. */
export type Symbolic = tfl.SymbolicTensor;

/** Activations a block may end with. */
export type BlockActivation = 'relu' | 'elu' | 'linear' | 'sigmoid' | 'tanh' | 'softmax';

/** Options of {@link convBlock}. */
export interface ConvBlockOptions {
  /** Kernel size (square), default 3. */
  kernel?: number;
  /** Stride, default 1. */
  stride?: number;
  /** Dilation rate, default 1 (dilations > 1 have no gradient in tfjs; use for inference-only parts). */
  dilation?: number;
  /** Batch normalisation between convolution and activation, default true. */
  batchNorm?: boolean;
  /** Momentum of the batch-norm moving statistics, default 0.99 (lower it for short training runs). */
  batchNormMomentum?: number;
  /** Activation after the (normalised) convolution, default 'relu'. */
  activation?: BlockActivation;
  /** The block name: layers are `<name>_conv`, `<name>_bn` and `<name>_act`. */
  name: string;
  /** Seed of the kernel initialiser (random when absent). */
  seed?: number;
}

function initializer(
  kind: 'heNormal' | 'glorotUniform',
  seed: number | undefined,
): ReturnType<typeof tfl.initializers.heNormal> | typeof kind {
  if (seed === undefined) return kind;
  return kind === 'heNormal' ? tfl.initializers.heNormal({ seed }) : tfl.initializers.glorotUniform({ seed });
}

function applyLayer(layer: tfl.layers.Layer, input: Symbolic | Symbolic[]): Symbolic {
  const out = layer.apply(input);
  if (Array.isArray(out) || !(out instanceof tfl.SymbolicTensor)) {
    throw new Error(`layer ${layer.name} did not return one symbolic tensor`);
  }
  return out;
}

/** Convolution ('same' padding, He-normal init) → optional batch norm → activation. */
export function convBlock(x: Symbolic, filters: number, options: ConvBlockOptions): Symbolic {
  const batchNorm = options.batchNorm ?? true;
  const activation = options.activation ?? 'relu';
  let y = applyLayer(
    tfl.layers.conv2d({
      filters,
      kernelSize: options.kernel ?? 3,
      strides: options.stride ?? 1,
      dilationRate: options.dilation ?? 1,
      padding: 'same',
      useBias: !batchNorm,
      kernelInitializer: initializer('heNormal', options.seed),
      name: `${options.name}_conv`,
    }),
    x,
  );
  if (batchNorm) {
    const momentum = options.batchNormMomentum ?? 0.99;
    y = applyLayer(tfl.layers.batchNormalization({ momentum, name: `${options.name}_bn` }), y);
  }
  if (activation !== 'linear') y = applyLayer(tfl.layers.activation({ activation, name: `${options.name}_act` }), y);
  return y;
}

/** Options of {@link residualBlock}. */
export interface ResidualBlockOptions {
  /** Kernel size of the two convolutions, default 3. */
  kernel?: number;
  /** Stride of the first convolution (and of the projection shortcut), default 1. */
  stride?: number;
  /** Batch normalisation, default true. */
  batchNorm?: boolean;
  /** Momentum of the batch-norm moving statistics, default 0.99. */
  batchNormMomentum?: number;
  /** Block name: layers are `<name>_a_*`, `<name>_b_*`, `<name>_proj_*`, `<name>_add`, `<name>_out`. */
  name: string;
  /** Seed of the kernel initialisers (random when absent). */
  seed?: number;
}

/** A ResNet basic block: conv-bn-relu, conv-bn, plus a (1×1 projected when needed) shortcut, then relu. */
export function residualBlock(x: Symbolic, filters: number, options: ResidualBlockOptions): Symbolic {
  const stride = options.stride ?? 1;
  const batchNorm = options.batchNorm ?? true;
  const kernel = options.kernel ?? 3;
  const common = { kernel, batchNorm, batchNormMomentum: options.batchNormMomentum ?? 0.99 };
  const seed = (offset: number) => (options.seed === undefined ? {} : { seed: options.seed + offset });
  const a = convBlock(x, filters, { ...common, ...seed(0), stride, activation: 'relu', name: `${options.name}_a` });
  const b = convBlock(a, filters, { ...common, ...seed(1), activation: 'linear', name: `${options.name}_b` });
  const channels = x.shape[x.shape.length - 1];
  const shortcut =
    stride === 1 && channels === filters
      ? x
      : convBlock(x, filters, {
          ...common,
          ...seed(2),
          kernel: 1,
          stride,
          activation: 'linear',
          name: `${options.name}_proj`,
        });
  const sum = applyLayer(tfl.layers.add({ name: `${options.name}_add` }), [b, shortcut]);
  return applyLayer(tfl.layers.activation({ activation: 'relu', name: `${options.name}_out` }), sum);
}

/** One output head of a U-Net: a 1×1 convolution named `name`. */
export interface UNetHead {
  /** Output (and layer) name: letters, digits and underscores, starting with a letter. */
  name: string;
  /** Output channels. */
  channels: number;
  /** Output activation ('softmax' over channels). */
  activation: 'softmax' | 'sigmoid' | 'linear';
}

/** The architecture of a U-Net built by {@link buildUNet}. */
export interface UNetConfig {
  /** Input [height, width, channels]; height and width must be divisible by 2^depth. */
  inputShape: [number, number, number];
  /** Filters of the first level; level l has baseFilters·2^l, the bottleneck baseFilters·2^depth. */
  baseFilters: number;
  /** Number of down-sampling steps. */
  depth: number;
  /** Output heads, in the order of the model outputs. */
  heads: UNetHead[];
  /** Batch normalisation in every block, default true. */
  batchNorm?: boolean;
  /** Momentum of the batch-norm moving statistics, default 0.99 (lower it for short training runs). */
  batchNormMomentum?: number;
  /** Dropout rate at the bottleneck, default 0 (none). */
  dropout?: number;
  /** Down-sampling: 2×2 max pooling (default) or a stride-2 3×3 convolution block. */
  downsample?: 'maxpool' | 'conv';
  /** Up-sampling: 2×2 stride-2 transposed convolution (default) or nearest-neighbour resize + 3×3 conv. */
  upsample?: 'transpose' | 'nearest';
  /** Seed of the weight initialisers, for reproducible models (random when absent). */
  seed?: number;
}

const HEAD_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Throws unless `config` describes a buildable U-Net. */
export function checkUNetConfig(config: UNetConfig): void {
  const [height, width, channels] = config.inputShape;
  const factor = 2 ** config.depth;
  if (!Number.isInteger(config.depth) || config.depth < 0) throw new Error('U-Net depth must be an integer ≥ 0');
  if (!Number.isInteger(config.baseFilters) || config.baseFilters < 1) throw new Error('U-Net baseFilters must be ≥ 1');
  if (height % factor !== 0 || width % factor !== 0 || channels < 1) {
    throw new Error(`U-Net input ${config.inputShape.join('×')} must have height and width divisible by ${factor}`);
  }
  if (config.heads.length === 0) throw new Error('U-Net needs at least one head');
  const names = new Set<string>();
  for (const head of config.heads) {
    if (
      !HEAD_NAME.test(head.name) ||
      names.has(head.name) ||
      /^(enc|dec|up|down|bottleneck|skip|input)/.test(head.name)
    ) {
      throw new Error(`U-Net head name "${head.name}" is invalid, reserved or repeated`);
    }
    if (!Number.isInteger(head.channels) || head.channels < 1)
      throw new Error(`head ${head.name}: channels must be ≥ 1`);
    names.add(head.name);
  }
  if (config.dropout !== undefined && (config.dropout < 0 || config.dropout >= 1)) {
    throw new Error('U-Net dropout must be in [0, 1)');
  }
}

/**
 * A U-Net: per level two 3×3 conv blocks (`enc<l>_a`, `enc<l>_b`), down-sampling (`down<l>`), a
 * bottleneck (`bottleneck_a`, `bottleneck_b`), up-sampling (`up<l>`), concatenation with the skip
 * (`skip<l>`), two conv blocks (`dec<l>_a`, `dec<l>_b`), and one 1×1 convolution per head, named after
 * the head. Outputs are in the order of `config.heads`.
 */
export function buildUNet(config: UNetConfig): tfl.LayersModel {
  checkUNetConfig(config);
  let layerIndex = 0;
  const seed = (): number | undefined => (config.seed === undefined ? undefined : config.seed + 7919 * layerIndex++);
  const block = (name: string, stride = 1): ConvBlockOptions => {
    const options: ConvBlockOptions = {
      batchNorm: config.batchNorm ?? true,
      batchNormMomentum: config.batchNormMomentum ?? 0.99,
      stride,
      name,
    };
    const s = seed();
    if (s !== undefined) options.seed = s;
    return options;
  };
  const input = tfl.input({ shape: config.inputShape, name: 'input' });
  const skips: Symbolic[] = [];
  let x: Symbolic = input;
  for (let level = 0; level < config.depth; level++) {
    const filters = config.baseFilters * 2 ** level;
    x = convBlock(x, filters, block(`enc${level}_a`));
    x = convBlock(x, filters, block(`enc${level}_b`));
    skips.push(x);
    x =
      config.downsample === 'conv'
        ? convBlock(x, filters, block(`down${level}`, 2))
        : applyLayer(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `down${level}_pool` }), x);
  }
  const bottleneckFilters = config.baseFilters * 2 ** config.depth;
  x = convBlock(x, bottleneckFilters, block('bottleneck_a'));
  if (config.dropout !== undefined && config.dropout > 0) {
    x = applyLayer(tfl.layers.dropout({ rate: config.dropout, name: 'bottleneck_dropout' }), x);
  }
  x = convBlock(x, bottleneckFilters, block('bottleneck_b'));
  for (let level = config.depth - 1; level >= 0; level--) {
    const filters = config.baseFilters * 2 ** level;
    if (config.upsample === 'nearest') {
      x = applyLayer(tfl.layers.upSampling2d({ size: [2, 2], interpolation: 'nearest', name: `up${level}_resize` }), x);
      x = convBlock(x, filters, block(`up${level}`));
    } else {
      x = applyLayer(
        tfl.layers.conv2dTranspose({
          filters,
          kernelSize: 2,
          strides: 2,
          padding: 'same',
          kernelInitializer: initializer('heNormal', seed()),
          name: `up${level}_tconv`,
        }),
        x,
      );
    }
    const skip = skips[level];
    if (skip === undefined) throw new Error(`missing skip connection for level ${level}`);
    x = applyLayer(tfl.layers.concatenate({ axis: -1, name: `skip${level}` }), [x, skip]);
    x = convBlock(x, filters, block(`dec${level}_a`));
    x = convBlock(x, filters, block(`dec${level}_b`));
  }
  const outputs = config.heads.map((head) =>
    applyLayer(
      tfl.layers.conv2d({
        filters: head.channels,
        kernelSize: 1,
        activation: head.activation,
        kernelInitializer: initializer('glorotUniform', seed()),
        name: head.name,
      }),
      x,
    ),
  );
  return tfl.model({ inputs: input, outputs, name: 'unet' });
}

/** The number of trainable parameters of a model. */
export function countParameters(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce((sum, w) => sum + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
}
