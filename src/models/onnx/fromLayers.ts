/**
 * Exporting a TensorFlow.js layers model (the localiser's U-Net, the grader's ResNet) to ONNX, so that
 * onnxruntime can run it. Only the layers spinegrade's networks use are supported; any other layer or
 * configuration is refused by name. tfjs is channels-last (NHWC) and ONNX convolutions channels-first
 * (NCHW): the graph transposes its input once, works in NCHW and transposes 4D outputs back, so
 * inputs and outputs keep the tfjs layout and the ONNX outputs are named after the tfjs layers.
 */
import type { SavedModel } from '../modelJson.js';
import { savedWeights } from '../modelJson.js';
import { floatAttribute, intAttribute, intsAttribute, OnnxGraph, stringAttribute } from './graph.js';

/** One layer of a saved model's topology (Keras JSON, as tfjs writes it). */
interface Layer {
  readonly name: string;
  readonly class_name: string;
  readonly config: LayerConfig;
  readonly inbound_nodes: readonly (readonly (readonly [string, number, number, unknown?])[])[];
}

interface LayerConfig {
  readonly activation?: string;
  readonly strides?: readonly number[];
  readonly padding?: string;
  readonly kernel_size?: readonly number[];
  readonly dilation_rate?: readonly number[] | number;
  readonly use_bias?: boolean;
  readonly pool_size?: readonly number[];
  readonly axis?: number | readonly number[];
  readonly epsilon?: number;
  readonly center?: boolean;
  readonly scale?: boolean;
  readonly data_format?: string;
  readonly batch_input_shape?: readonly (number | null)[];
}

interface Topology {
  readonly class_name?: string;
  readonly config?: {
    readonly name?: string;
    readonly layers?: readonly Layer[];
    readonly output_layers?: readonly (readonly [string, number, number])[];
  };
}

interface Value {
  readonly name: string;
  /** 4: NCHW feature maps, 2: `[batch, features]`. */
  readonly rank: 2 | 4;
}

/** A tfjs kernel `[kh, kw, a, b]` laid out as ONNX wants it, `[b, a, kh, kw]` (Conv2D: a = in, b = out). */
function kernelToOnnx(values: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, a, b] = shape as [number, number, number, number];
  const out = new Float32Array(values.length);
  let o = 0;
  for (let j = 0; j < b; j++) {
    for (let i = 0; i < a; i++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) out[o++] = values[((y * kw + x) * a + i) * b + j] as number;
      }
    }
  }
  return out;
}

class LayerExporter {
  private readonly values = new Map<string, Value>();

  constructor(
    private readonly graph: OnnxGraph,
    private readonly weights: ReadonlyMap<string, { values: Float32Array; shape: readonly number[] }>,
  ) {}

  private weight(layer: Layer, suffix: string): { values: Float32Array; shape: readonly number[] } {
    const weight = this.weights.get(`${layer.name}/${suffix}`);
    if (weight === undefined) throw new Error(`layer ${layer.name} has no weight ${suffix}`);
    return weight;
  }

  private inputsOf(layer: Layer): Value[] {
    const node = layer.inbound_nodes[0];
    if (!node || node.length === 0) throw new Error(`layer ${layer.name} is not connected`);
    return node.map(([name, , tensorIndex]) => {
      const v = this.values.get(name);
      if (!v) throw new Error(`layer ${layer.name}: its input ${name} was not exported first`);
      if (tensorIndex !== 0) throw new Error(`layer ${layer.name}: multi-output inputs are not exported`);
      return v;
    });
  }

  private single(layer: Layer): Value {
    const inputs = this.inputsOf(layer);
    if (inputs.length !== 1) throw new Error(`layer ${layer.name} has ${inputs.length} inputs, expected 1`);
    return inputs[0] as Value;
  }

  private activation(layer: Layer, input: Value, activation: string | undefined): Value {
    const g = this.graph;
    const name = g.fresh(`${layer.name}/${activation}`);
    switch (activation ?? 'linear') {
      case 'linear':
        return input;
      case 'relu':
        return { name: g.node('Relu', [input.name], name), rank: input.rank };
      case 'sigmoid':
        return { name: g.node('Sigmoid', [input.name], name), rank: input.rank };
      case 'tanh':
        return { name: g.node('Tanh', [input.name], name), rank: input.rank };
      case 'softmax':
        return { name: g.node('Softmax', [input.name], name, { axis: intAttribute(1) }), rank: input.rank };
      default:
        throw new Error(`layer ${layer.name}: activation ${activation} cannot be exported to ONNX`);
    }
  }

  private channelsLast(layer: Layer, config: LayerConfig): void {
    if (config.data_format !== undefined && config.data_format !== 'channels_last') {
      throw new Error(`layer ${layer.name}: only channels_last layers can be exported`);
    }
  }

  private convolution(layer: Layer, config: LayerConfig, transpose: boolean): Value {
    this.channelsLast(layer, config);
    const g = this.graph;
    const input = this.single(layer);
    const kernel = this.weight(layer, 'kernel');
    const [kh, kw] = kernel.shape as [number, number, number, number];
    const strides = [...(config.strides ?? [1, 1])];
    const dilations = Array.isArray(config.dilation_rate) ? [...config.dilation_rate] : [1, 1];
    if (dilations.some((d) => d !== 1)) throw new Error(`layer ${layer.name}: dilated convolutions are not exported`);
    const attributes: Record<string, ReturnType<typeof intsAttribute>> = {
      kernel_shape: intsAttribute([kh, kw]),
      strides: intsAttribute(strides),
    };
    if (config.padding === 'same') {
      if (transpose && (kh !== strides[0] || kw !== strides[1])) {
        throw new Error(`layer ${layer.name}: a "same" transposed convolution is exported only with kernel = stride`);
      }
      // TensorFlow puts the odd padding pixel at the end, as SAME_UPPER does.
      attributes.auto_pad = stringAttribute('SAME_UPPER');
    } else if (config.padding === 'valid') {
      attributes.pads = intsAttribute([0, 0, 0, 0]);
    } else {
      throw new Error(`layer ${layer.name}: padding ${config.padding} cannot be exported`);
    }
    // tfjs kernels: Conv2D [kh, kw, in, out] → [out, in, kh, kw]; Conv2DTranspose [kh, kw, out, in] → [in, out, kh, kw].
    const weightName = g.floats(
      `${layer.name}/kernel`,
      kernelToOnnx(kernel.values, kernel.shape),
      [3, 2, 0, 1].map((p) => kernel.shape[p] as number),
    );
    const inputs = [input.name, weightName];
    if (config.use_bias !== false) {
      const bias = this.weight(layer, 'bias');
      inputs.push(g.floats(`${layer.name}/bias`, bias.values, bias.shape));
    }
    const conv = g.node(transpose ? 'ConvTranspose' : 'Conv', inputs, g.fresh(layer.name), attributes);
    return this.activation(layer, { name: conv, rank: 4 }, config.activation);
  }

  private batchNormalization(layer: Layer, config: LayerConfig): Value {
    const g = this.graph;
    const input = this.single(layer);
    const axis = Array.isArray(config.axis) ? config.axis[0] : config.axis;
    if (!(axis === -1 || (input.rank === 4 && axis === 3) || (input.rank === 2 && axis === 1))) {
      throw new Error(`layer ${layer.name}: batch normalisation over axis ${axis} cannot be exported`);
    }
    const mean = this.weight(layer, 'moving_mean');
    const variance = this.weight(layer, 'moving_variance');
    const channels = mean.values.length;
    const gamma = config.scale === false ? new Float32Array(channels).fill(1) : this.weight(layer, 'gamma').values;
    const beta = config.center === false ? new Float32Array(channels) : this.weight(layer, 'beta').values;
    const inputs = [
      input.name,
      g.floats(`${layer.name}/gamma`, gamma, [channels]),
      g.floats(`${layer.name}/beta`, beta, [channels]),
      g.floats(`${layer.name}/moving_mean`, mean.values, [channels]),
      g.floats(`${layer.name}/moving_variance`, variance.values, [channels]),
    ];
    const name = g.node('BatchNormalization', inputs, g.fresh(layer.name), {
      epsilon: floatAttribute(config.epsilon ?? 1e-3),
    });
    return { name, rank: input.rank };
  }

  private dense(layer: Layer, config: LayerConfig): Value {
    const g = this.graph;
    const input = this.single(layer);
    if (input.rank !== 2) throw new Error(`layer ${layer.name}: only a dense layer on flat features is exported`);
    const kernel = this.weight(layer, 'kernel');
    const inputs = [input.name, g.floats(`${layer.name}/kernel`, kernel.values, kernel.shape)];
    if (config.use_bias !== false) {
      const bias = this.weight(layer, 'bias');
      inputs.push(g.floats(`${layer.name}/bias`, bias.values, bias.shape));
    }
    const name = g.node('Gemm', inputs, g.fresh(layer.name));
    return this.activation(layer, { name, rank: 2 }, config.activation);
  }

  /** Exports one layer; its inputs must have been exported. */
  add(layer: Layer): void {
    const g = this.graph;
    const { config, class_name: kind } = layer;
    let value: Value;
    switch (kind) {
      case 'InputLayer': {
        const shape = config.batch_input_shape ?? [];
        if (shape.length !== 4) throw new Error(`input ${layer.name}: only image inputs [batch, h, w, c] are exported`);
        g.input(layer.name, ['batch', ...shape.slice(1).map((d, i) => d ?? `d${i + 1}`)]);
        value = {
          name: g.node('Transpose', [layer.name], `${layer.name}/nchw`, { perm: intsAttribute([0, 3, 1, 2]) }),
          rank: 4,
        };
        break;
      }
      case 'Conv2D':
        value = this.convolution(layer, config, false);
        break;
      case 'Conv2DTranspose':
        value = this.convolution(layer, config, true);
        break;
      case 'BatchNormalization':
        value = this.batchNormalization(layer, config);
        break;
      case 'Activation':
        value = this.activation(layer, this.single(layer), config.activation);
        break;
      case 'Dropout':
        value = this.single(layer);
        break;
      case 'MaxPooling2D': {
        this.channelsLast(layer, config);
        if (config.padding !== 'valid') throw new Error(`layer ${layer.name}: only "valid" max pooling is exported`);
        const pool = [...(config.pool_size ?? [2, 2])];
        value = {
          name: g.node('MaxPool', [this.single(layer).name], g.fresh(layer.name), {
            kernel_shape: intsAttribute(pool),
            strides: intsAttribute([...(config.strides ?? pool)]),
          }),
          rank: 4,
        };
        break;
      }
      case 'Concatenate': {
        const inputs = this.inputsOf(layer);
        const rank = (inputs[0] as Value).rank;
        const axis = Array.isArray(config.axis) ? config.axis[0] : config.axis;
        if (!(axis === -1 || axis === rank - 1))
          throw new Error(`layer ${layer.name}: only channel concatenation is exported`);
        value = {
          name: g.node(
            'Concat',
            inputs.map((v) => v.name),
            g.fresh(layer.name),
            { axis: intAttribute(1) },
          ),
          rank,
        };
        break;
      }
      case 'Add': {
        const inputs = this.inputsOf(layer);
        let sum = inputs[0] as Value;
        for (let n = 1; n < inputs.length; n++) {
          sum = { name: g.node('Add', [sum.name, (inputs[n] as Value).name], g.fresh(layer.name)), rank: sum.rank };
        }
        value = sum;
        break;
      }
      case 'GlobalAveragePooling2D': {
        this.channelsLast(layer, config);
        const pooled = g.node('GlobalAveragePool', [this.single(layer).name], g.fresh(`${layer.name}/pool`));
        value = { name: g.node('Flatten', [pooled], g.fresh(layer.name), { axis: intAttribute(1) }), rank: 2 };
        break;
      }
      case 'Dense':
        value = this.dense(layer, config);
        break;
      default:
        throw new Error(`layer ${layer.name}: ${kind} layers cannot be exported to ONNX`);
    }
    this.values.set(layer.name, value);
  }

  /** Makes layer `name` a graph output in tfjs layout (NHWC for feature maps), named after the layer. */
  output(name: string): void {
    const value = this.values.get(name);
    if (!value) throw new Error(`the model has no layer ${name}`);
    const shape = value.rank === 4 ? ['batch', 'height', 'width', 'channels'] : ['batch', 'features'];
    const outputName = onnxOutputName(name);
    if (value.rank === 4) {
      this.graph.node('Transpose', [value.name], outputName, { perm: intsAttribute([0, 2, 3, 1]) });
    } else {
      this.graph.node('Identity', [value.name], outputName);
    }
    this.graph.output(outputName, shape);
  }
}

/** The ONNX name of the graph output that holds layer `layerName`'s output. */
export function onnxOutputName(layerName: string): string {
  return `${layerName}:out`;
}

/**
 * The saved layers model as an ONNX model whose outputs are the layers named in `outputs` (any
 * layer, not only the model's own outputs), in tfjs layout. Throws, naming the layer, on anything it
 * cannot export.
 */
export function savedModelToOnnx(
  saved: SavedModel,
  outputs: readonly string[],
  options: { producerVersion: string; docString?: string },
): Uint8Array {
  const topology = saved.json.modelTopology as Topology;
  const layers = topology.config?.layers;
  if (!layers || !['Model', 'Functional'].includes(topology.class_name ?? '')) {
    throw new Error('only functional layers models (class Model) can be exported to ONNX');
  }
  const graph = new OnnxGraph(topology.config?.name ?? 'model');
  const exporter = new LayerExporter(graph, savedWeights(saved));
  for (const layer of layers) exporter.add(layer);
  for (const name of outputs) exporter.output(name);
  return graph.encode({ producer: 'spinegrade', ...options });
}
