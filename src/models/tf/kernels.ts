/**
 * Kernels and gradients that make training on the TensorFlow.js wasm backend possible and fast:
 *
 * - `Conv2DBackpropFilter` (missing on wasm): the filter gradient written as a dilated convolution
 *   that runs on XNNPACK: dW[kh,kw,ci,co] = Σ_{n,y,x} x[n, y·s+kh − pad, x·s+kw − pad, ci] · dy[n,y,x,co]
 *   is a valid convolution of the transposed input x → [ci, H, W, n] with dy → [oh, ow, n, co] as the
 *   filter, dilated by the stride.
 * - `Conv2DBackpropInput` fast paths: stride 1 (a convolution of dy with the flipped, in/out-transposed
 *   filter, 'full'-style padding) and kernel == stride, e.g. 2×2 stride-2 up-sampling (a 1×1 convolution,
 *   i.e. a matmul, then a transpose that interleaves the blocks); other cases use the stock kernel.
 * - `Slice`, `SplitV` and `Concat` on wasm for float32/int32 as tight JS loops over the wasm heap (the
 *   stock kernels allocate a typed-array view per innermost row, ~10× slower for channel slices).
 * - Gradients (global, every backend): `FusedBatchNorm` with broadcasting and reductions first, never
 *   `tile` (very slow on wasm); `Mean` and `Sum` with `fill` instead of `ones` (which builds the full
 *   tensor in JS and uploads it).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  add,
  backend_util,
  Concat,
  type ConcatAttrs,
  Conv2D,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  FusedBatchNorm,
  type FusedBatchNormAttrs,
  fill,
  type GradConfig,
  getGradient,
  getKernel,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  Mean,
  type MeanAttrs,
  mul,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  neg,
  PadV2,
  Reshape,
  Reverse,
  registerGradient,
  registerKernel,
  reshape,
  rsqrt,
  Slice,
  type SliceAttrs,
  SplitV,
  type SplitVAttrs,
  Sum,
  type SumAttrs,
  scalar,
  slice_util,
  sub,
  sum,
  type Tensor,
  type TensorInfo,
  Transpose,
  unregisterKernel,
  util,
} from '@tensorflow/tfjs-core';

/** Runs kernels of the wasm backend directly and disposes the intermediate results. */
class KernelScope {
  private readonly temporaries: TensorInfo[] = [];

  constructor(private readonly backend: KernelBackend) {}

  /** Runs kernel `name` of the wasm backend; the result is disposed by {@link finish} unless returned. */
  run(name: string, inputs: NamedTensorInfoMap, attrs: object = {}): TensorInfo {
    const config = getKernel(name, 'wasm');
    if (config === undefined) throw new Error(`wasm kernel ${name} is not registered`);
    const out = config.kernelFunc({ inputs, backend: this.backend, attrs: attrs as NamedAttrMap });
    if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned several outputs`);
    this.temporaries.push(out);
    return out;
  }

  /** Disposes every intermediate except `result`, and returns `result`. */
  finish(result: TensorInfo): TensorInfo {
    for (const info of this.temporaries) if (info !== result) this.backend.disposeData(info.dataId);
    return result;
  }

  /** Disposes every intermediate (on error). */
  abort(): void {
    for (const info of this.temporaries) this.backend.disposeData(info.dataId);
  }
}

function withScope(backend: KernelBackend, body: (scope: KernelScope) => TensorInfo): TensorInfo {
  const scope = new KernelScope(backend);
  try {
    return scope.finish(body(scope));
  } catch (error) {
    scope.abort();
    throw error;
  }
}

function requireInput(inputs: NamedTensorInfoMap, name: string): TensorInfo {
  const info = inputs[name];
  if (info === undefined) throw new Error(`missing kernel input "${name}"`);
  return info;
}

function assertChannelsLast(dataFormat: string, kernel: string): void {
  if (dataFormat !== 'NHWC') throw new Error(`${kernel} on wasm supports only dataFormat NHWC, got ${dataFormat}`);
}

/** The wasm `Conv2DBackpropFilter`: a dilated convolution of the transposed input with dy as the filter. */
export const conv2DBackpropFilterWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const x = requireInput(inputs, 'x');
  const dy = requireInput(inputs, 'dy');
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  assertChannelsLast(dataFormat, Conv2DBackpropFilter);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth, padInfo } = info;
  if (dy.shape[1] !== outHeight || dy.shape[2] !== outWidth) {
    throw new Error(`Conv2DBackpropFilter: dy shape ${dy.shape} does not match the convolution output`);
  }
  return withScope(backend as KernelBackend, (scope) => {
    // The rows and columns of the padded input the forward convolution reads.
    const needHeight = (outHeight - 1) * strideHeight + filterHeight;
    const needWidth = (outWidth - 1) * strideWidth + filterWidth;
    const bottom = needHeight - inHeight - padInfo.top;
    const right = needWidth - inWidth - padInfo.left;
    let input = x;
    if (bottom < 0 || right < 0) {
      input = scope.run(
        Slice,
        { x: input },
        {
          begin: [0, 0, 0, 0],
          size: [x.shape[0], inHeight + Math.min(0, bottom), inWidth + Math.min(0, right), inChannels],
        },
      );
    }
    // [n, H, W, ci] → [ci, H, W, n]: channels become the batch, the batch becomes the channels.
    input = scope.run(Transpose, { x: input }, { perm: [3, 1, 2, 0] });
    // dy [n, oh, ow, co] → [oh, ow, n, co], used as the filter; the convolution pads x itself.
    const filter = scope.run(Transpose, { x: dy }, { perm: [1, 2, 0, 3] });
    const out = scope.run(
      Conv2D,
      { x: input, filter },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [padInfo.top, Math.max(0, bottom)],
          [padInfo.left, Math.max(0, right)],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [strideHeight, strideWidth],
      },
    );
    // [ci, kh, kw, co] → [kh, kw, ci, co]
    return scope.run(Transpose, { x: out }, { perm: [1, 2, 0, 3] });
  });
};

let backpropInputFastPaths = true;
let copyKernels = true;

/** The wasm `Conv2DBackpropInput` with fast paths for stride 1 and for kernel == stride. */
export const conv2DBackpropInputWasm: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const dy = requireInput(inputs, 'dy');
  const filter = requireInput(inputs, 'filter');
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
  const fallback = (): TensorInfo => {
    const out = runStock(Conv2DBackpropInput, args);
    if (Array.isArray(out)) throw new Error('Conv2DBackpropInput returned several outputs');
    return out;
  };
  if (dataFormat !== 'NHWC' || !backpropInputFastPaths) return fallback();
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth, padInfo } = info;
  if (strideHeight === 1 && strideWidth === 1) {
    const top = filterHeight - 1 - padInfo.top;
    const left = filterWidth - 1 - padInfo.left;
    const bottom = inHeight - outHeight + padInfo.top;
    const right = inWidth - outWidth + padInfo.left;
    if (Math.min(top, left, bottom, right) < 0) return fallback();
    return withScope(backend as KernelBackend, (scope) => {
      const flipped = scope.run(Reverse, { x: filter }, { dims: [0, 1] });
      const transposed = scope.run(Transpose, { x: flipped }, { perm: [0, 1, 3, 2] });
      return scope.run(
        Conv2D,
        { x: dy, filter: transposed },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, bottom],
            [left, right],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [1, 1],
        },
      );
    });
  }
  const extraRows = inHeight - outHeight * strideHeight;
  const extraCols = inWidth - outWidth * strideWidth;
  if (
    filterHeight === strideHeight &&
    filterWidth === strideWidth &&
    padInfo.top === 0 &&
    padInfo.left === 0 &&
    extraRows >= 0 &&
    extraCols >= 0
  ) {
    // No overlap between windows: dx[n, y·sh+i, x·sw+j, ci] = Σ_co dy[n,y,x,co] · w[i,j,ci,co]: a 1×1
    // convolution to [n, oh, ow, sh·sw·ci], then a rank-4 transpose that interleaves the blocks.
    return withScope(backend as KernelBackend, (scope) => {
      const blockSize = filterHeight * filterWidth * inChannels;
      const flat = scope.run(Reshape, { x: filter }, { shape: [blockSize, info.outChannels] });
      const transposed = scope.run(Transpose, { x: flat }, { perm: [1, 0] });
      const pointwise = scope.run(Reshape, { x: transposed }, { shape: [1, 1, info.outChannels, blockSize] });
      const blocks = scope.run(
        Conv2D,
        { x: dy, filter: pointwise },
        {
          strides: [1, 1],
          pad: 'valid',
          dataFormat: 'NHWC',
          dilations: [1, 1],
        },
      );
      const rows = scope.run(
        Reshape,
        { x: blocks },
        {
          shape: [batchSize * outHeight, outWidth, filterHeight, filterWidth * inChannels],
        },
      );
      const interleaved = scope.run(Transpose, { x: rows }, { perm: [0, 2, 1, 3] });
      let dx = scope.run(
        Reshape,
        { x: interleaved },
        {
          shape: [batchSize, outHeight * filterHeight, outWidth * filterWidth, inChannels],
        },
      );
      if (extraRows > 0 || extraCols > 0) {
        dx = scope.run(
          PadV2,
          { x: dx },
          {
            paddings: [
              [0, 0],
              [0, extraRows],
              [0, extraCols],
              [0, 0],
            ],
            constantValue: 0,
          },
        );
      }
      return dx;
    });
  }
  return fallback();
};

/** Stock wasm kernels replaced by this module, kept for fallbacks. */
const stockKernels = new Map<string, KernelConfig>();

function runStock(name: string, args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const stock = stockKernels.get(name);
  if (stock === undefined) throw new Error(`stock wasm kernel ${name} is missing`);
  return stock.kernelFunc(args);
}

function copyable(dtype: string): boolean {
  return dtype === 'float32' || dtype === 'int32';
}

/** `Slice` on wasm: non-contiguous float32/int32 slices of rank ≤ 4 copied in one JS loop. */
export const sliceWasm: KernelFunc = (args) => {
  const x = requireInput(args.inputs, 'x');
  const { begin, size } = args.attrs as unknown as SliceAttrs;
  const [start, extent] = slice_util.parseSliceParams(x, begin, size);
  if (
    !copyKernels ||
    start === undefined ||
    extent === undefined ||
    !copyable(x.dtype) ||
    x.shape.length > 4 ||
    slice_util.isSliceContinous(x.shape, start, extent)
  ) {
    return runStock(Slice, args);
  }
  const backend = args.backend as BackendWasm;
  const out = backend.makeOutput(extent, x.dtype);
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  const pad = 4 - x.shape.length;
  const shape = [...Array<number>(pad).fill(1), ...x.shape];
  const from = [...Array<number>(pad).fill(0), ...start];
  const count = [...Array<number>(pad).fill(1), ...extent];
  const [, s1 = 1, s2 = 1, s3 = 1] = shape;
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = from;
  const [n0 = 1, n1 = 1, n2 = 1, n3 = 1] = count;
  let o = 0;
  for (let i0 = 0; i0 < n0; i0++) {
    for (let i1 = 0; i1 < n1; i1++) {
      for (let i2 = 0; i2 < n2; i2++) {
        let at = (((b0 + i0) * s1 + b1 + i1) * s2 + b2 + i2) * s3 + b3;
        for (let i3 = 0; i3 < n3; i3++) target[o++] = source[at++] as number;
      }
    }
  }
  return out;
};

/** `SplitV` on wasm, through {@link sliceWasm}. */
export const splitVWasm: KernelFunc = (args) => {
  if (!copyKernels) return runStock(SplitV, args);
  const x = requireInput(args.inputs, 'x');
  const { numOrSizeSplits, axis } = args.attrs as unknown as SplitVAttrs;
  const dim = util.parseAxisParam(axis, x.shape)[0] ?? 0;
  const sizes = backend_util.prepareSplitSize(x, numOrSizeSplits, dim);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((part) => {
    const size = x.shape.slice();
    size[dim] = part;
    const out = sliceWasm({ inputs: { x }, backend: args.backend, attrs: { begin: begin.slice(), size } });
    begin[dim] = (begin[dim] ?? 0) + part;
    return out as TensorInfo;
  });
};

/** `Concat` on wasm for float32/int32: one JS copy loop over the wasm heap. */
export const concatWasm: KernelFunc = (args) => {
  const all = Object.values(args.inputs).filter((t): t is TensorInfo => t !== undefined);
  const first = all[0];
  if (!copyKernels || first === undefined || !all.every((t) => t.dtype === first.dtype && copyable(t.dtype))) {
    return runStock(Concat, args);
  }
  const axis = util.parseAxisParam((args.attrs as unknown as ConcatAttrs).axis, first.shape)[0] ?? 0;
  const shapes = all.map((t) => t.shape);
  backend_util.assertParamsConsistent(shapes, axis);
  const parts = all.filter((t) => util.sizeFromShape(t.shape) > 0);
  if (parts.length < 2) return runStock(Concat, args);
  const backend = args.backend as BackendWasm;
  const outShape = backend_util.computeOutShape(shapes, axis);
  const out = backend.makeOutput(outShape, first.dtype);
  const target = backend.typedArrayFromHeap(out);
  const outer = util.sizeFromShape(first.shape.slice(0, axis));
  const inners = parts.map((t) => util.sizeFromShape(t.shape.slice(axis)));
  const sources = parts.map((t) => backend.typedArrayFromHeap(t));
  let o = 0;
  for (let row = 0; row < outer; row++) {
    for (let p = 0; p < sources.length; p++) {
      const source = sources[p] as backend_util.TypedArray;
      const inner = inners[p] ?? 0;
      let at = row * inner;
      if (inner >= 256) {
        target.set(source.subarray(at, at + inner), o);
        o += inner;
      } else {
        for (let i = 0; i < inner; i++) target[o++] = source[at++] as number;
      }
    }
  }
  return out;
};

function expandedShape(shape: number[], axes: number[]): number[] {
  return shape.map((size, axis) => (axes.includes(axis) ? 1 : size));
}

/** The gradient of `Mean` without `ones(x.shape)` (built in JS and uploaded: slow on wasm). */
export const meanGradConfig: GradConfig = {
  kernelName: Mean,
  inputsToSave: ['x'],
  gradFunc: (dyIn, saved, attrs) => {
    const dy = Array.isArray(dyIn) ? dyIn[0] : dyIn;
    const [x] = saved;
    if (dy === undefined || x === undefined) throw new Error('Mean gradient: missing tensors');
    const axes = util.parseAxisParam((attrs as unknown as MeanAttrs).axis, x.shape);
    const count = axes.reduce((product, axis) => product * (x.shape[axis] ?? 1), 1);
    return { x: () => mul(reshape(dy, expandedShape(x.shape, axes)), fill(x.shape, 1 / count, 'float32')) };
  },
};

/** The gradient of `Sum` without `ones(x.shape)`. */
export const sumGradConfig: GradConfig = {
  kernelName: Sum,
  inputsToSave: ['x'],
  gradFunc: (dyIn, saved, attrs) => {
    const dy = Array.isArray(dyIn) ? dyIn[0] : dyIn;
    const [x] = saved;
    if (dy === undefined || x === undefined) throw new Error('Sum gradient: missing tensors');
    const axes = util.parseAxisParam((attrs as unknown as SumAttrs).axis, x.shape);
    return { x: () => mul(reshape(dy, expandedShape(x.shape, axes)), fill(x.shape, 1, 'float32')) };
  },
};

/**
 * The gradient of `FusedBatchNorm` (used by `tf.batchNorm` and by tfjs-layers' BatchNormalization)
 * written with broadcasting ops only. tfjs-core's own gradient tiles `rsqrt(variance)` to the shape of
 * `x`, which is very slow on wasm.
 */
export const fusedBatchNormGradConfig: GradConfig = {
  kernelName: FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dyIn: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const dy = Array.isArray(dyIn) ? dyIn[0] : dyIn;
    const [x, mean, variance, scale] = saved;
    if (dy === undefined || x === undefined || mean === undefined || variance === undefined) {
      throw new Error('FusedBatchNorm gradient: missing saved tensors');
    }
    const { varianceEpsilon } = attrs as unknown as FusedBatchNormAttrs;
    const reduceTo = (t: Tensor, shape: number[]): Tensor => {
      const axes = backend_util.getReductionAxes(shape, t.shape);
      return reshape(axes.length > 0 ? sum(t, axes, true) : t, shape);
    };
    const rstd = rsqrt(add(variance, scalar(varianceEpsilon)));
    const hasScale = scale !== undefined && scale !== null;
    const gain: Tensor = hasScale ? mul(rstd, scale) : rstd;
    const centred = () => sub(x, mean);
    // When every parameter has the shape of the batch statistics, reduce first and scale per channel.
    const simple =
      util.arraysEqual(variance.shape, mean.shape) && (!hasScale || util.arraysEqual(scale.shape, mean.shape));
    if (simple) {
      return {
        x: () => reshape(mul(dy, gain), x.shape),
        mean: () => neg(mul(reduceTo(dy, mean.shape), gain)),
        variance: () => {
          const factor = mul(mul(mul(rstd, rstd), rstd), scalar(-0.5));
          return mul(reduceTo(mul(dy, centred()), mean.shape), hasScale ? mul(factor, scale) : factor);
        },
        scale: () => mul(reduceTo(mul(dy, centred()), mean.shape), rstd),
        offset: () => reduceTo(dy, mean.shape),
      };
    }
    return {
      x: () => reshape(mul(dy, gain), x.shape),
      mean: () => reduceTo(neg(mul(dy, gain)), mean.shape),
      variance: () => {
        const scaled = hasScale ? mul(dy, scale) : dy;
        const cube = mul(mul(rstd, rstd), rstd);
        return reduceTo(mul(mul(scaled, centred()), mul(cube, scalar(-0.5))), variance.shape);
      },
      scale: () => reduceTo(mul(mul(dy, centred()), rstd), scale?.shape ?? mean.shape),
      offset: () => reduceTo(dy, mean.shape),
    };
  },
};

let registered = false;
const stockGradients = new Map<string, GradConfig>();

/** Which custom paths are on; see {@link setCustomKernelsEnabled}. */
export interface CustomKernelSwitches {
  /** The `Conv2DBackpropInput` fast paths on wasm. */
  backpropInputFastPaths?: boolean;
  /** The JS-loop `Slice`, `SplitV` and `Concat` on wasm. */
  copyKernels?: boolean;
  /** The tile-free `FusedBatchNorm` gradient. */
  batchNormGradient?: boolean;
  /** The `Mean` and `Sum` gradients without `ones`. */
  reductionGradients?: boolean;
}

/**
 * Switches custom paths on or off, for benchmarks and debugging (all are on after
 * {@link registerCustomKernels}; off means tfjs' own kernel or gradient). `Conv2DBackpropFilter` on
 * wasm has no stock kernel and stays.
 */
export function setCustomKernelsEnabled(switches: CustomKernelSwitches): void {
  registerCustomKernels();
  if (switches.backpropInputFastPaths !== undefined) backpropInputFastPaths = switches.backpropInputFastPaths;
  if (switches.copyKernels !== undefined) copyKernels = switches.copyKernels;
  const gradient = (on: boolean | undefined, custom: GradConfig): void => {
    if (on === undefined) return;
    const config = on ? custom : stockGradients.get(custom.kernelName);
    if (config !== undefined) registerGradient(config);
  };
  gradient(switches.batchNormGradient, fusedBatchNormGradConfig);
  gradient(switches.reductionGradients, meanGradConfig);
  gradient(switches.reductionGradients, sumGradConfig);
}

/**
 * Registers the wasm `Conv2DBackpropFilter` kernel, the `Conv2DBackpropInput` fast paths and the
 * tile-free `FusedBatchNorm` gradient. Idempotent; call before the wasm backend runs (initTf does).
 */
export function registerCustomKernels(): void {
  if (registered) return;
  registered = true;
  if (getKernel(Conv2DBackpropFilter, 'wasm') === undefined) {
    registerKernel({ kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilterWasm });
  }
  replaceWasmKernel(Conv2DBackpropInput, conv2DBackpropInputWasm);
  replaceWasmKernel(Slice, sliceWasm);
  replaceWasmKernel(SplitV, splitVWasm);
  replaceWasmKernel(Concat, concatWasm);
  for (const config of [fusedBatchNormGradConfig, meanGradConfig, sumGradConfig]) {
    const stock = getGradient(config.kernelName);
    if (stock !== undefined && stock !== config) stockGradients.set(config.kernelName, stock);
    registerGradient(config);
  }
}

/** Replaces a stock wasm kernel by `kernelFunc`, keeping the stock one (and its setup) for fallbacks. */
function replaceWasmKernel(kernelName: string, kernelFunc: KernelFunc): void {
  const stock = getKernel(kernelName, 'wasm');
  if (stock === undefined || stock.kernelFunc === kernelFunc) return;
  stockKernels.set(kernelName, stock);
  unregisterKernel(kernelName, 'wasm');
  const config: KernelConfig = { kernelName, backendName: 'wasm', kernelFunc };
  if (stock.setupFunc !== undefined) config.setupFunc = stock.setupFunc;
  if (stock.disposeFunc !== undefined) config.disposeFunc = stock.disposeFunc;
  registerKernel(config);
}
