import { initTf, tf } from './dist/models/tf/backend.js';
await initTf('wasm');
function time(name, fn, reps = 7) { const run = () => { const t = performance.now(); const r = fn(); (Array.isArray(r) ? r : [r]).forEach(x => x.dispose()); return performance.now() - t; }; run(); const ts = Array.from({length: reps}, run).sort((a,b)=>a-b); console.log(name.padEnd(50), ts[0].toFixed(2), ts[Math.floor(reps/2)].toFixed(2)); }
for (const [H, ci, co] of [[192, 8, 8], [192, 16, 8], [96, 16, 16], [48,32,32], [24, 64, 64], [12, 128, 128]]) {
  console.log(`--- ${H} ${ci}->${co}`);
  const x = tf.randomUniform([4,H,H,ci]); const dy = tf.randomUniform([4,H,H,co]); const W = tf.randomUniform([3,3,ci,co]);
  time('backpropFilter kernel', () => tf.engine().runKernel('Conv2DBackpropFilter', {x, dy}, {strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3,3,ci,co]}));
  time('forward conv', () => tf.conv2d(x, W, 1, 'same'));
  const xt = tf.transpose(x, [3,1,2,0]); const xp = tf.pad(xt, [[0,0],[1,1],[1,1],[0,0]]); const dyt = tf.transpose(dy, [1,2,0,3]);
  time(' transpose x', () => tf.transpose(x, [3,1,2,0]));
  time(' pad', () => tf.pad(xt, [[0,0],[1,1],[1,1],[0,0]]));
  time(' transpose dy', () => tf.transpose(dy, [1,2,0,3]));
  time(' dilated conv', () => tf.conv2d(xp, dyt, 1, 'valid', 'NHWC', 1));
  // im2col alternative: 9 shifted slices concat → [4*H*H, 9*ci] then matmul^T
  const xpad = tf.pad(x, [[0,0],[1,1],[1,1],[0,0]]);
  time(' im2col (9 slices + concat)', () => tf.tidy(() => tf.concat([0,1,2].flatMap(i => [0,1,2].map(j => tf.slice(xpad, [0,i,j,0], [4,H,H,ci]))), 3)));
  const cols = tf.tidy(() => tf.reshape(tf.concat([0,1,2].flatMap(i => [0,1,2].map(j => tf.slice(xpad, [0,i,j,0], [4,H,H,ci]))), 3), [4*H*H, 9*ci]));
  const dy2 = tf.reshape(dy, [4*H*H, co]);
  time(' matmul transposeA', () => tf.matMul(cols, dy2, true, false));
  const colsT = tf.transpose(cols);
  time(' transpose cols', () => tf.transpose(cols));
  time(' matmul plain [9ci,M]x[M,co]', () => tf.matMul(colsT, dy2));
  const dyT = tf.transpose(dy2);
  time(' matmul [co,M]x[M,9ci]', () => tf.matMul(dyT, cols));
  time(' conv as 1x1 with batch=... (xT 1x1)', () => tf.conv2d(tf.reshape(colsT, [1, 1, 9*ci, 4*H*H]), tf.reshape(dy2, [1,1,4*H*H,co]), 1, 'valid'));
  tf.dispose([x, dy, W, xt, xp, dyt, xpad, cols, dy2, colsT, dyT]);
}
