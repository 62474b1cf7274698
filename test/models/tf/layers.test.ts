import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initTf, tf, tfl } from '../../../src/models/tf/backend.js';
import {
  buildUNet,
  checkUNetConfig,
  convBlock,
  countParameters,
  residualBlock,
} from '../../../src/models/tf/layers.js';
import { flattenWeights } from '../../../src/models/tf/trainCore.js';

await initTf('wasm');

test('buildUNet: outputs in head order with the right shapes and stable layer names', () => {
  const model = buildUNet({
    inputShape: [32, 24, 1],
    baseFilters: 4,
    depth: 3,
    heads: [
      { name: 'discs', channels: 6, activation: 'softmax' },
      { name: 'centres', channels: 2, activation: 'sigmoid' },
      { name: 'offsets', channels: 2, activation: 'linear' },
    ],
  });
  assert.deepEqual(model.outputNames, ['discs', 'centres', 'offsets']);
  assert.deepEqual(
    model.outputs.map((o) => o.shape),
    [
      [null, 32, 24, 6],
      [null, 32, 24, 2],
      [null, 32, 24, 2],
    ],
  );
  const names = model.layers.map((l) => l.name);
  for (const name of [
    'enc0_a_conv',
    'enc0_a_bn',
    'enc2_b_act',
    'down1_pool',
    'bottleneck_b_conv',
    'up0_tconv',
    'skip0',
    'dec0_b_conv',
  ]) {
    assert.ok(names.includes(name), `missing layer ${name}`);
  }
  const probs = tf.tidy(() => {
    const out = model.predict(tf.zeros([1, 32, 24, 1])) as tf.Tensor[];
    return tf.sum(out[0] as tf.Tensor, -1).dataSync();
  });
  for (const p of probs) assert.ok(Math.abs(p - 1) < 1e-5);
  model.dispose();
});

test('buildUNet variants: stride-2 conv down-sampling, nearest up-sampling, no batch norm, dropout', () => {
  const model = buildUNet({
    inputShape: [16, 16, 2],
    baseFilters: 2,
    depth: 2,
    heads: [{ name: 'out', channels: 1, activation: 'linear' }],
    downsample: 'conv',
    upsample: 'nearest',
    batchNorm: false,
    dropout: 0.2,
  });
  const names = model.layers.map((l) => l.name);
  assert.ok(names.includes('down0_conv') && names.includes('up1_resize') && names.includes('bottleneck_dropout'));
  assert.ok(!names.some((n) => n.endsWith('_bn')));
  assert.equal(model.nonTrainableWeights.length, 0);
  assert.ok(countParameters(model) > 0);
  model.dispose();
});

test('buildUNet with a seed is reproducible', () => {
  const config = {
    inputShape: [8, 8, 1] as [number, number, number],
    baseFilters: 2,
    depth: 1,
    heads: [{ name: 'y', channels: 1, activation: 'sigmoid' as const }],
    seed: 5,
  };
  const a = buildUNet(config);
  const b = buildUNet(config);
  assert.deepEqual(flattenWeights(a.weights), flattenWeights(b.weights));
  a.dispose();
  b.dispose();
});

test('checkUNetConfig refuses bad configurations', () => {
  const base = {
    inputShape: [16, 16, 1] as [number, number, number],
    baseFilters: 4,
    depth: 2,
    heads: [{ name: 'm', channels: 1, activation: 'sigmoid' as const }],
  };
  assert.throws(() => checkUNetConfig({ ...base, inputShape: [18, 16, 1] }), /divisible by 4/);
  assert.throws(() => checkUNetConfig({ ...base, heads: [] }), /at least one head/);
  assert.throws(() => checkUNetConfig({ ...base, heads: [base.heads[0]!, base.heads[0]!] }), /repeated/);
  assert.throws(
    () => checkUNetConfig({ ...base, heads: [{ name: 'enc0', channels: 1, activation: 'linear' }] }),
    /reserved/,
  );
  assert.throws(() => checkUNetConfig({ ...base, dropout: 1 }), /dropout/);
  checkUNetConfig(base);
});

test('convBlock and residualBlock build with the documented names', () => {
  const input = tfl.input({ shape: [8, 8, 3] });
  const a = convBlock(input, 4, { name: 'blk', stride: 2 });
  const r = residualBlock(a, 8, { name: 'res', stride: 2 });
  const s = residualBlock(r, 8, { name: 'same', batchNorm: false });
  const model = tfl.model({ inputs: input, outputs: s });
  assert.deepEqual(s.shape, [null, 2, 2, 8]);
  const names = model.layers.map((l) => l.name);
  for (const name of [
    'blk_conv',
    'blk_bn',
    'blk_act',
    'res_a_conv',
    'res_b_bn',
    'res_proj_conv',
    'res_add',
    'res_out',
    'same_add',
  ]) {
    assert.ok(names.includes(name), `missing layer ${name}`);
  }
  assert.ok(!names.includes('same_proj_conv'));
  model.dispose();
});
