import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GradCamMap, gradCam, gradCamBatch, heatToSlice, type SliceToCrop } from '../../src/explain/gradcam.js';
import { initTf, tf, tfl } from '../../src/models/tf/backend.js';
import { seededValues } from '../models/tf/tfHelpers.js';

await initTf('wasm');

const SIZE = 16;
const HEADS = [
  { name: 'pfirrmann', units: 5 },
  { name: 'modic', units: 4 },
  { name: 'findings', units: 6 },
] as const;

/** The grader's shape family in miniature: conv → `features` (ReLU) → pool → dropout → three Dense heads. */
function tinyGrader(options: { stride: number; kernel: number; filters: number; seed: number }): tfl.LayersModel {
  const input = tfl.input({ shape: [SIZE, SIZE, 1], name: 'input' });
  const conv = tfl.layers
    .conv2d({
      filters: options.filters,
      kernelSize: options.kernel,
      strides: options.stride,
      padding: 'same',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: options.seed }),
      biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: options.seed + 1 }),
      name: 'conv',
    })
    .apply(input) as tfl.SymbolicTensor;
  const features = tfl.layers.activation({ activation: 'relu', name: 'features' }).apply(conv) as tfl.SymbolicTensor;
  const pool = tfl.layers.globalAveragePooling2d({ name: 'pool' }).apply(features) as tfl.SymbolicTensor;
  const dropped = tfl.layers.dropout({ rate: 0.3, name: 'dropout' }).apply(pool) as tfl.SymbolicTensor;
  const outputs = HEADS.map(
    (head, n) =>
      tfl.layers
        .dense({
          units: head.units,
          kernelInitializer: tfl.initializers.glorotUniform({ seed: options.seed + 10 + n }),
          biasInitializer: tfl.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: options.seed + 20 + n }),
          name: head.name,
        })
        .apply(dropped) as tfl.SymbolicTensor,
  );
  return tfl.model({ inputs: input, outputs });
}

function crop(seed: number): Float32Array {
  return seededValues(SIZE * SIZE, seed);
}

/** The feature map `[h, w, C]` of one crop, from an independent sub-model. */
function featureMap(
  model: tfl.LayersModel,
  image: Float32Array,
): { data: Float32Array; h: number; w: number; c: number } {
  const sub = tfl.model({ inputs: model.inputs, outputs: model.getLayer('features').output as tfl.SymbolicTensor });
  const out = tf.tidy(() => sub.predict(tf.tensor4d(image, [1, SIZE, SIZE, 1])) as tf.Tensor);
  const [, h, w, c] = out.shape as number[];
  const data = out.dataSync() as Float32Array;
  out.dispose();
  return { data, h: h!, w: w!, c: c! };
}

/** Closed-form CAM of a GAP + Dense head: ReLU(Σ_k W[k, index]·A_k), at feature resolution. */
function closedFormCam(model: tfl.LayersModel, image: Float32Array, head: string, index: number) {
  const { data, h, w, c } = featureMap(model, image);
  const [kernel] = model.getLayer(head).getWeights();
  const units = kernel!.shape[1]!;
  const weights = kernel!.dataSync();
  const cam = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let sum = 0;
    for (let k = 0; k < c; k++) sum += weights[k * units + index]! * data[p * c + k]!;
    cam[p] = Math.max(sum, 0);
  }
  return { cam, h, w };
}

function normalised(values: Float32Array): Float32Array {
  const max = Math.max(...values);
  return max > 0 ? values.map((v) => v / max) : values;
}

/** Bilinear up-sampling with half-pixel centres and clamped edges, written independently of the module. */
function upsample(source: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const at = (x: number, y: number) =>
    source[Math.min(Math.max(x, 0), sw - 1) + Math.min(Math.max(y, 0), sh - 1) * sw]!;
  const out = new Float32Array(dw * dh);
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      const u = Math.min(Math.max(((x + 0.5) * sw) / dw - 0.5, 0), sw - 1);
      const v = Math.min(Math.max(((y + 0.5) * sh) / dh - 0.5, 0), sh - 1);
      const [u0, v0] = [Math.floor(u), Math.floor(v)];
      const [fu, fv] = [u - u0, v - v0];
      out[x + y * dw] =
        (1 - fv) * ((1 - fu) * at(u0, v0) + fu * at(u0 + 1, v0)) +
        fv * ((1 - fu) * at(u0, v0 + 1) + fu * at(u0 + 1, v0 + 1));
    }
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('Grad-CAM equals the closed-form CAM of a pooled Dense head, for every head and logit', () => {
  const model = tinyGrader({ stride: 1, kernel: 3, filters: 6, seed: 11 });
  const image = crop(5);
  let positive = 0;
  for (const head of HEADS) {
    for (let index = 0; index < head.units; index++) {
      const map = gradCam(model, image, { output: head.name, index });
      const { cam, h, w } = closedFormCam(model, image, head.name, index);
      assert.deepEqual([map.width, map.height, h, w], [SIZE, SIZE, SIZE, SIZE]);
      assertClose(map.heat, normalised(cam), 1e-4, `${head.name}[${index}]`);
      // The gradient of a mean over h·w cells is W/(h·w): the scale is known exactly.
      const expectedPeak = Math.max(...cam) / (h * w);
      assert.ok(Math.abs(map.peak - expectedPeak) <= 1e-5 * Math.max(1, expectedPeak), `${head.name}[${index}] peak`);
      if (map.peak > 0) positive++;
    }
  }
  assert.ok(positive >= 5, 'most logits have some positive evidence');
});

test('a coarser feature map is up-sampled bilinearly to the input size and peaks at 1', () => {
  const model = tinyGrader({ stride: 2, kernel: 3, filters: 4, seed: 3 });
  const image = crop(8);
  const map = gradCam(model, image, { output: 'findings', index: 2 });
  const { cam, h, w } = closedFormCam(model, image, 'findings', 2);
  assert.deepEqual([h, w], [SIZE / 2, SIZE / 2]);
  assert.ok(map.peak > 0);
  assert.equal(Math.max(...map.heat), 1);
  assert.ok(map.heat.every((v) => v >= 0 && v <= 1));
  assertClose(map.heat, normalised(upsample(cam, w, h, SIZE, SIZE)), 1e-4, 'heat');
});

test('a batch gives the same maps as one crop at a time', () => {
  const model = tinyGrader({ stride: 2, kernel: 3, filters: 4, seed: 21 });
  const crops = [crop(1), crop(2), crop(3)];
  const target = { output: 'modic', index: 1, featureLayer: 'features' };
  const batch = gradCamBatch(model, crops, target);
  assert.equal(batch.length, 3);
  for (const [n, image] of crops.entries()) {
    const single = gradCam(model, image, target);
    assertClose(batch[n]!.heat, single.heat, 1e-5, `crop ${n}`);
    assert.ok(Math.abs(batch[n]!.peak - single.peak) <= 1e-6);
  }
  assert.deepEqual(gradCamBatch(model, [], target), []);
});

test('signal in one quadrant gives heat in that quadrant; a negatively weighted logit gives no heat', () => {
  const model = tinyGrader({ stride: 2, kernel: 2, filters: 1, seed: 1 });
  tf.tidy(() => {
    model.getLayer('conv').setWeights([tf.fill([2, 2, 1, 1], 0.25), tf.zeros([1])]);
    model.getLayer('pfirrmann').setWeights([tf.tensor2d([[0, 0, 1, -1, 0]]), tf.zeros([5])]);
  });
  const image = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE / 2; y++) for (let x = SIZE / 2; x < SIZE; x++) image[x + y * SIZE] = 1;
  const map = gradCam(model, image, { output: 'pfirrmann', index: 2 });
  let inside = 0;
  let total = 0;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const v = map.heat[x + y * SIZE]!;
      total += v;
      if (y < SIZE / 2 && x >= SIZE / 2) inside += v;
    }
  }
  assert.ok(inside / total > 0.9, `share in the top-right quadrant: ${inside / total}`);
  assert.equal(map.heat[SIZE - 1]!, 1, 'the quadrant corner is hottest');
  assert.equal(map.heat[(SIZE - 1) * SIZE]!, 0, 'the opposite corner is cold');
  const against = gradCam(model, image, { output: 'pfirrmann', index: 3 });
  assert.equal(against.peak, 0);
  assert.ok(against.heat.every((v) => v === 0));
});

test('a model or target that does not fit is refused with the layer named', () => {
  const model = tinyGrader({ stride: 2, kernel: 3, filters: 2, seed: 4 });
  const image = crop(1);
  assert.throws(() => gradCam(model, image, { output: 'pfirrmann', index: 0, featureLayer: 'nope' }), /"nope"/);
  assert.throws(() => gradCam(model, image, { output: 'grade', index: 0 }), /"grade"/);
  assert.throws(() => gradCam(model, image, { output: 'modic', index: 4 }), /index 4 .*"modic"/);
  assert.throws(() => gradCam(model, image, { output: 'modic', index: 0, featureLayer: 'pfirrmann' }), /"pfirrmann"/);
  assert.throws(() => gradCam(model, image, { output: 'modic', index: 0, featureLayer: 'pool' }), /layer "pool"/);
  assert.throws(() => gradCam(model, new Float32Array(10), { output: 'modic', index: 0 }), /crop 0 has 10 values/);

  const input = tfl.input({ shape: [SIZE, SIZE, 1] });
  const features = tfl.layers
    .conv2d({ filters: 2, kernelSize: 3, activation: 'relu', name: 'features' })
    .apply(input) as tfl.SymbolicTensor;
  const mean = tfl.layers.globalAveragePooling2d({ name: 'mean' }).apply(features) as tfl.SymbolicTensor;
  const max = tfl.layers.globalMaxPooling2d({ name: 'max' }).apply(features) as tfl.SymbolicTensor;
  const both = tfl.layers.concatenate({ name: 'both' }).apply([mean, max]) as tfl.SymbolicTensor;
  const head = tfl.layers.dense({ units: 3, name: 'pfirrmann' }).apply(both) as tfl.SymbolicTensor;
  const branched = tfl.model({ inputs: input, outputs: head });
  assert.throws(() => gradCam(branched, image, { output: 'pfirrmann', index: 0 }), /layer "both" .*single-input/);
});

test('Grad-CAM leaves no tensor behind', () => {
  const model = tinyGrader({ stride: 2, kernel: 3, filters: 3, seed: 9 });
  const before = tf.memory().numTensors;
  gradCam(model, crop(1), { output: 'pfirrmann', index: 0 });
  gradCamBatch(model, [crop(2), crop(3)], { output: 'findings', index: 5 });
  assert.throws(() => gradCam(model, crop(1), { output: 'findings', index: 9 }));
  assert.equal(tf.memory().numTensors, before);
});

function mapOf(width: number, height: number): GradCamMap {
  const heat = new Float32Array(width * height).map((_, i) => (i % 7) / 6);
  return { heat, width, height, peak: 1 };
}

test('heatToSlice: an identity placement reproduces the map', () => {
  const map = mapOf(6, 5);
  const identity: SliceToCrop = { sliceToCrop: (x, y) => [x, y] };
  assert.deepEqual(heatToSlice(map, identity, 6, 5), map.heat);
});

test('heatToSlice: a shifted placement shifts the map and leaves the rest of the slice at 0', () => {
  const map = mapOf(6, 5);
  const [dx, dy] = [3, 2];
  const shifted: SliceToCrop = { sliceToCrop: (x, y) => [x - dx, y - dy] };
  const slice = heatToSlice(map, shifted, 12, 10);
  for (let y = 0; y < 10; y++) {
    for (let x = 0; x < 12; x++) {
      const [u, v] = [x - dx, y - dy];
      const expected = u >= 0 && u < 6 && v >= 0 && v < 5 ? map.heat[u + v * 6]! : 0;
      assert.equal(slice[x + y * 12], expected, `(${x}, ${y})`);
    }
  }
  const far: SliceToCrop = { sliceToCrop: (x, y) => [x + 100, y - 100] };
  assert.ok(heatToSlice(map, far, 12, 10).every((v) => v === 0));
});

test('heatToSlice samples between crop pixels bilinearly', () => {
  const map = mapOf(6, 5);
  const half: SliceToCrop = { sliceToCrop: (x, y) => [x + 0.5, y] };
  const slice = heatToSlice(map, half, 5, 5);
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      const expected = (map.heat[x + y * 6]! + map.heat[x + 1 + y * 6]!) / 2;
      assert.ok(Math.abs(slice[x + y * 5]! - expected) < 1e-6);
    }
  }
});
