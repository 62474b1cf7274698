import { initTf, tf } from './dist/models/tf/backend.js';
function rnd(shape, seed) { return tf.randomNormal(shape, 0, 1, 'float32', seed); }
async function compute(backend, fn) { await initTf(backend); const out = fn(); const data = await out.data(); const shape = out.shape; out.dispose(); return { data, shape }; }
await initTf("cpu");
let worst = 0;
for (const [k, s, pad] of [[3,1,'same'],[3,1,'valid'],[3,2,'same'],[3,2,'valid'],[1,1,'same'],[1,2,'valid'],[2,2,'valid'],[2,2,'same'],[2,1,'same'],[1,1,'valid']]) {
  for (const [n, h, w, ci, co] of [[1,7,9,3,5],[3,7,9,2,4],[3,8,8,4,1]]) {
    const xv = tf.tidy(() => rnd([n,h,w,ci], 1).arraySync()); const fv = tf.tidy(() => rnd([k,k,ci,co], 2).arraySync());
    const f = (be) => compute(be, () => tf.tidy(() => {
      const x = tf.tensor4d(xv), W = tf.tensor4d(fv);
      const y = tf.conv2d(x, W, s, pad);
      const dy = tf.sin(tf.add(y, 0.5));
      const dW = tf.engine().runKernel('Conv2DBackpropFilter', {x, dy}, {strides: s, pad, dataFormat: 'NHWC', filterShape: W.shape});
      const dx = tf.conv2dTranspose(dy, W, x.shape, s, pad);
      return tf.concat([tf.reshape(dW, [-1]), tf.reshape(dx, [-1])]);
    }));
    const a = await f('cpu'); const b = await f('wasm');
    let m = 0, scale = 0; for (let i = 0; i < a.data.length; i++) { m = Math.max(m, Math.abs(a.data[i]-b.data[i])); scale = Math.max(scale, Math.abs(a.data[i])); }
    worst = Math.max(worst, m/scale);
    if (m / scale > 1e-5) console.log('MISMATCH', k, s, pad, n, h, w, ci, co, m, scale);
  }
}
console.log('worst rel', worst);
