/**
 * Building an ONNX model (IR version 8, opset 17) in memory: inputs, outputs, float and int64
 * initialisers and nodes, encoded as a `ModelProto` by {@link OnnxGraph.encode}. Field numbers follow
 * `onnx.proto`.
 */

import { LITTLE_ENDIAN } from '../../util/endian.js';
import { ProtoWriter } from './protobuf.js';

/** The ONNX IR version written. */
export const ONNX_IR_VERSION = 8;
/** The default-domain operator set the graphs use. */
export const ONNX_OPSET = 17;

const TENSOR_FLOAT = 1;
const TENSOR_INT64 = 7;

const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_STRING = 3;
const ATTRIBUTE_INTS = 7;

function littleEndianFloats(data: Float32Array): Uint8Array {
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return raw;
}

/** A node attribute value. */
export type OnnxAttribute =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'string'; readonly value: string };

/** An integer attribute. */
export const intAttribute = (value: number): OnnxAttribute => ({ kind: 'int', value });
/** A float attribute. */
export const floatAttribute = (value: number): OnnxAttribute => ({ kind: 'float', value });
/** A list-of-integers attribute. */
export const intsAttribute = (value: readonly number[]): OnnxAttribute => ({ kind: 'ints', value });
/** A string attribute. */
export const stringAttribute = (value: string): OnnxAttribute => ({ kind: 'string', value });

/** A dimension of a graph input or output: a size, or a symbolic name (such as the batch). */
export type OnnxDimension = number | string;

interface ValueInfo {
  readonly name: string;
  readonly dims: readonly OnnxDimension[];
}

interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: typeof TENSOR_FLOAT | typeof TENSOR_INT64;
  readonly raw: Uint8Array;
}

interface Node {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name: string;
  readonly attributes: Readonly<Record<string, OnnxAttribute>>;
}

function attributeBytes(name: string, attribute: OnnxAttribute): Uint8Array {
  const w = new ProtoWriter().string(1, name);
  switch (attribute.kind) {
    case 'float':
      w.float(2, attribute.value).int(20, ATTRIBUTE_FLOAT);
      break;
    case 'int':
      w.int(3, attribute.value).int(20, ATTRIBUTE_INT);
      break;
    case 'string':
      w.string(4, attribute.value).int(20, ATTRIBUTE_STRING);
      break;
    case 'ints':
      for (const v of attribute.value) w.int(8, v);
      w.int(20, ATTRIBUTE_INTS);
      break;
  }
  return w.finish();
}

function valueInfoBytes({ name, dims }: ValueInfo): Uint8Array {
  const shape = new ProtoWriter();
  for (const d of dims) {
    shape.bytes(
      1,
      typeof d === 'number' ? new ProtoWriter().int(1, d).finish() : new ProtoWriter().string(2, d).finish(),
    );
  }
  const tensorType = new ProtoWriter().int(1, TENSOR_FLOAT).bytes(2, shape.finish()).finish();
  const type = new ProtoWriter().bytes(1, tensorType).finish();
  return new ProtoWriter().string(1, name).bytes(2, type).finish();
}

/** An ONNX graph under construction. Names must be unique; {@link OnnxGraph.node} returns its first output. */
export class OnnxGraph {
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly nodes: Node[] = [];
  private readonly names = new Set<string>();

  constructor(readonly name: string) {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph ${this.name}: the name ${name} is used twice`);
    this.names.add(name);
    return name;
  }

  /** A unique name starting with `base`. */
  fresh(base: string): string {
    if (!this.names.has(base)) return base;
    for (let n = 1; ; n++) if (!this.names.has(`${base}_${n}`)) return `${base}_${n}`;
  }

  /** Declares a float32 graph input. */
  input(name: string, dims: readonly OnnxDimension[]): string {
    this.inputs.push({ name: this.claim(name), dims });
    return name;
  }

  /** Declares a float32 graph output (the value `name` must be produced by a node or be an input). */
  output(name: string, dims: readonly OnnxDimension[]): void {
    this.outputs.push({ name, dims });
  }

  /** A float32 constant. */
  floats(name: string, values: Float32Array | readonly number[], dims: readonly number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`initializer ${name}: ${data.length} values for shape [${dims}]`);
    // ONNX raw data is little-endian, as typed arrays are on every platform Node runs on (checked below).
    const raw = LITTLE_ENDIAN ? new Uint8Array(data.slice().buffer) : littleEndianFloats(data);
    this.initializers.push({ name: this.claim(name), dims, type: TENSOR_FLOAT, raw });
    return name;
  }

  /** An int64 constant (shapes, axes, split sizes). */
  int64s(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    this.initializers.push({ name: this.claim(name), dims, type: TENSOR_INT64, raw });
    return name;
  }

  /** Adds a node; `outputs` default to one output named `name`. Returns the first output. */
  node(
    op: string,
    inputs: readonly string[],
    name: string,
    attributes: Readonly<Record<string, OnnxAttribute>> = {},
    outputs: readonly string[] = [name],
  ): string {
    for (const o of outputs) this.claim(o);
    this.nodes.push({ op, inputs, outputs, name, attributes });
    return outputs[0] as string;
  }

  /** The graph as an ONNX `ModelProto`. */
  encode(options: { producer: string; producerVersion: string; docString?: string }): Uint8Array {
    const graph = new ProtoWriter();
    for (const n of this.nodes) {
      const node = new ProtoWriter();
      for (const i of n.inputs) node.string(1, i);
      for (const o of n.outputs) node.string(2, o);
      node.string(3, n.name).string(4, n.op);
      for (const [key, attribute] of Object.entries(n.attributes)) node.bytes(5, attributeBytes(key, attribute));
      graph.bytes(1, node.finish());
    }
    graph.string(2, this.name);
    for (const t of this.initializers) {
      const tensor = new ProtoWriter();
      for (const d of t.dims) tensor.int(1, d);
      tensor.int(2, t.type).string(8, t.name).bytes(9, t.raw);
      graph.bytes(5, tensor.finish());
    }
    for (const v of this.inputs) graph.bytes(11, valueInfoBytes(v));
    for (const v of this.outputs) graph.bytes(12, valueInfoBytes(v));
    const model = new ProtoWriter()
      .int(1, ONNX_IR_VERSION)
      .string(2, options.producer)
      .string(3, options.producerVersion);
    if (options.docString) model.string(6, options.docString);
    model.bytes(7, graph.finish());
    model.bytes(8, new ProtoWriter().string(1, '').int(2, ONNX_OPSET).finish());
    return model.finish();
  }
}
