import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initTf, tf } from '../../../src/models/tf/backend.js';
import { buildUNet } from '../../../src/models/tf/layers.js';
import {
  assignFlatWeights,
  flattenAndDispose,
  flattenWeights,
  lossAndGradients,
} from '../../../src/models/tf/trainCore.js';
import { assertParity, computeOn, seededValues } from './tfHelpers.js';

type Pad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];

interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  stride: number | [number, number];
  pad: Pad;
}

function describe(c: ConvCase): string {
  return `n${c.n} ${c.h}×${c.w} ci${c.ci} co${c.co} k${c.k} s${String(c.stride)} pad ${JSON.stringify(c.pad)}`;
}

const cases: ConvCase[] = [];
const shapes = [
  { n: 1, h: 7, w: 9, ci: 3, co: 5 },
  { n: 3, h: 7, w: 9, ci: 2, co: 4 },
  { n: 3, h: 8, w: 8, ci: 4, co: 1 },
  { n: 1, h: 6, w: 10, ci: 1, co: 8 },
];
for (const shape of shapes) {
  for (const k of [1, 2, 3]) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) cases.push({ ...shape, k, stride, pad });
    }
  }
}
cases.push({ n: 2, h: 7, w: 9, ci: 3, co: 2, k: 3, stride: 1, pad: 1 });
cases.push({ n: 2, h: 7, w: 9, ci: 3, co: 2, k: 3, stride: 2, pad: 1 });
cases.push({
  n: 2,
  h: 9,
  w: 7,
  ci: 2,
  co: 3,
  k: 3,
  stride: 2,
  pad: [
    [0, 0],
    [1, 2],
    [0, 1],
    [0, 0],
  ],
});
cases.push({ n: 2, h: 9, w: 7, ci: 2, co: 3, k: 3, stride: [2, 1], pad: 'same' });
cases.push({
  n: 2,
  h: 9,
  w: 7,
  ci: 2,
  co: 3,
  k: 2,
  stride: 1,
  pad: [
    [0, 0],
    [1, 0],
    [0, 1],
    [0, 0],
  ],
});

function convInputs(c: ConvCase): { x: tf.Tensor4D; filter: tf.Tensor4D; dy: tf.Tensor4D } {
  const x = tf.tensor4d(seededValues(c.n * c.h * c.w * c.ci, 1), [c.n, c.h, c.w, c.ci]);
  const filter = tf.tensor4d(seededValues(c.k * c.k * c.ci * c.co, 2), [c.k, c.k, c.ci, c.co]);
  const outShape = tf.conv2d(x, filter, c.stride, c.pad).shape;
  const dy = tf.tensor4d(
    seededValues(
      outShape.reduce((a, b) => a * b, 1),
      3,
    ),
    outShape,
  );
  return { x, filter, dy };
}

test('Conv2DBackpropFilter on wasm matches cpu', async () => {
  const run = (c: ConvCase) => () => {
    const { x, filter, dy } = convInputs(c);
    return [
      tf.engine().runKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        {
          strides: c.stride,
          pad: c.pad,
          dataFormat: 'NHWC',
          filterShape: filter.shape,
        },
      ) as tf.Tensor,
    ];
  };
  for (const c of cases) {
    const cpu = await computeOn('cpu', run(c));
    const wasm = await computeOn('wasm', run(c));
    assert.deepEqual(wasm[0]?.shape, [c.k, c.k, c.ci, c.co]);
    assertParity(wasm, cpu, `dW ${describe(c)}`);
  }
});

test('Conv2DBackpropInput on wasm (fast paths and fallback) matches cpu', async () => {
  const run = (c: ConvCase) => () => {
    const { x, filter, dy } = convInputs(c);
    return [
      tf.engine().runKernel(
        'Conv2DBackpropInput',
        { dy, filter },
        {
          strides: c.stride,
          pad: c.pad,
          dataFormat: 'NHWC',
          inputShape: x.shape,
        },
      ) as tf.Tensor,
    ];
  };
  for (const c of cases) {
    const cpu = await computeOn('cpu', run(c));
    const wasm = await computeOn('wasm', run(c));
    assert.deepEqual(wasm[0]?.shape, [c.n, c.h, c.w, c.ci]);
    assertParity(wasm, cpu, `dx ${describe(c)}`);
  }
});

test('conv2dTranspose (2×2 stride 2 upsampling) forward and gradients match cpu', async () => {
  const run = () => {
    const x = tf.tensor4d(seededValues(3 * 5 * 4 * 6, 7), [3, 5, 4, 6]);
    const filter = tf.tensor4d(seededValues(2 * 2 * 3 * 6, 8), [2, 2, 3, 6]);
    const target = tf.tensor4d(seededValues(3 * 10 * 8 * 3, 9), [3, 10, 8, 3]);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(
        tf.square(tf.sub(tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [3, 10, 8, 3], 2, 'same'), target)),
      );
    const y = tf.conv2dTranspose(x, filter, [3, 10, 8, 3], 2, 'valid');
    return [y, ...tf.grads(f)([x, filter])];
  };
  assertParity(await computeOn('wasm', run), await computeOn('cpu', run), 'conv2dTranspose');
});

/** Batch norm written with elementary ops only (no FusedBatchNorm kernel, so no custom gradient). */
function referenceBatchNorm(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

test('the tile-free FusedBatchNorm gradient matches an elementary-op reference, on cpu and wasm', async () => {
  const make = () => ({
    x: tf.tensor4d(
      seededValues(3 * 5 * 7 * 4, 11).map((v, i) => v * (1 + (i % 4)) + (i % 4)),
      [3, 5, 7, 4],
    ),
    gamma: tf.tensor1d([0.5, 1.5, -1, 2]),
    beta: tf.tensor1d([0.1, -0.2, 0.3, 0]),
    weight: tf.tensor4d(seededValues(3 * 5 * 7 * 4, 12), [3, 5, 7, 4]),
  });
  const fused = () => {
    const { x, gamma, beta, weight } = make();
    const loss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(a, [0, 1, 2]);
      return tf.sum(
        tf.mul(
          tf.batchNorm4d(
            a as tf.Tensor4D,
            mean as tf.Tensor1D,
            variance as tf.Tensor1D,
            b as tf.Tensor1D,
            g as tf.Tensor1D,
            1e-3,
          ),
          weight,
        ),
      );
    };
    return tf.grads(loss)([x, gamma, beta]);
  };
  const reference = () => {
    const { x, gamma, beta, weight } = make();
    const loss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(referenceBatchNorm(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-3), weight));
    return tf.grads(loss)([x, gamma, beta]);
  };
  const expected = await computeOn('cpu', reference);
  assertParity(await computeOn('cpu', fused), expected, 'batchNorm grad (cpu)');
  assertParity(await computeOn('wasm', fused), expected, 'batchNorm grad (wasm)');

  await initTf('wasm');
  const profile = await tf.profile(() => {
    tf.dispose(fused());
  });
  assert.ok(profile.kernelNames.includes('FusedBatchNorm'));
  assert.ok(!profile.kernelNames.includes('Tile'), `kernels used: ${profile.kernelNames.join(', ')}`);
});

test('tf.grad of a small conv net agrees between cpu and wasm', async () => {
  const run = () => {
    const x = tf.tensor4d(seededValues(3 * 9 * 7 * 2, 21), [3, 9, 7, 2]);
    const w1 = tf.tensor4d(
      seededValues(3 * 3 * 2 * 4, 22).map((v) => v * 0.5),
      [3, 3, 2, 4],
    );
    const w2 = tf.tensor4d(
      seededValues(3 * 3 * 4 * 6, 23).map((v) => v * 0.3),
      [3, 3, 4, 6],
    );
    const w3 = tf.tensor4d(
      seededValues(2 * 2 * 4 * 6, 24).map((v) => v * 0.3),
      [2, 2, 4, 6],
    );
    const w4 = tf.tensor4d(seededValues(1 * 1 * 4 * 2, 25), [1, 1, 4, 2]);
    const gamma = tf.tensor1d([1, 0.5, 2, 1.5]);
    const beta = tf.tensor1d([0, 0.1, -0.1, 0.2]);
    const target = tf.tensor4d(seededValues(3 * 8 * 6 * 2, 26), [3, 8, 6, 2]);
    const loss = (...args: tf.Tensor[]) => {
      const [a, f1, f2, f3, f4, g, b] = args as [
        tf.Tensor4D,
        tf.Tensor4D,
        tf.Tensor4D,
        tf.Tensor4D,
        tf.Tensor4D,
        tf.Tensor1D,
        tf.Tensor1D,
      ];
      const h1 = tf.relu(tf.conv2d(a, f1, 1, 'same'));
      const h2 = tf.relu(tf.conv2d(h1, f2, 2, 'valid'));
      const h3 = tf.conv2dTranspose(h2, f3, [3, 8, 6, 4], 2, 'valid');
      const { mean, variance } = tf.moments(h3, [0, 1, 2]);
      const h4 = tf.relu(tf.batchNorm4d(h3, mean as tf.Tensor1D, variance as tf.Tensor1D, b, g, 1e-3));
      const y = tf.conv2d(h4, f4, 1, 'same');
      return tf.mean(tf.square(tf.sub(y, target)));
    };
    const { value, grads } = tf.valueAndGrads(loss)([x, w1, w2, w3, w4, gamma, beta]);
    return [value, ...grads];
  };
  assertParity(await computeOn('wasm', run), await computeOn('cpu', run), 'conv net grads');
});

test('a tfjs-layers U-Net (batch norm, transposed convs) has the same gradients on cpu and wasm', async () => {
  const config = {
    inputShape: [16, 16, 1] as [number, number, number],
    baseFilters: 4,
    depth: 2,
    heads: [{ name: 'mask', channels: 1, activation: 'sigmoid' as const }],
  };
  const batch = {
    inputs: seededValues(2 * 16 * 16, 31),
    inputShape: [2, 16, 16, 1] as [number, number, number, number],
    targets: { mask: { data: seededValues(2 * 16 * 16, 32).map((v) => (v > 0 ? 1 : 0)), shape: [2, 16, 16, 1] } },
  };
  const lossOf = (
    model: import('../../../src/models/tf/backend.js').tfl.LayersModel,
    inputs: tf.Tensor4D,
    targets: Record<string, tf.Tensor>,
  ) =>
    tf.tidy(() => {
      const y = model.apply(inputs, { training: true }) as tf.Tensor;
      const t = targets.mask as tf.Tensor;
      return tf.mean(tf.square(tf.sub(y, t))) as tf.Scalar;
    });
  await initTf('cpu');
  const cpuModel = buildUNet(config);
  const weights = flattenWeights(cpuModel.weights);
  const cpu = lossAndGradients(cpuModel, lossOf, batch);
  const cpuGrads = flattenAndDispose(cpu.grads);
  cpuModel.dispose();
  await initTf('wasm');
  const wasmModel = buildUNet(config);
  assignFlatWeights(wasmModel.weights, weights);
  const wasm = lossAndGradients(wasmModel, lossOf, batch);
  const wasmGrads = flattenAndDispose(wasm.grads);
  wasmModel.dispose();
  assert.ok(Math.abs(wasm.loss - cpu.loss) < 1e-5 * Math.max(1, Math.abs(cpu.loss)));
  assertParity(
    [{ data: wasmGrads, shape: [wasmGrads.length] }],
    [{ data: cpuGrads, shape: [cpuGrads.length] }],
    'U-Net grads',
  );
});
