import { initTf, tf } from './dist/models/tf/backend.js';
import { buildUNet } from './dist/models/tf/layers.js';
import { lossAndGradients } from './dist/models/tf/trainCore.js';
import { lossOf } from './bench/unetTask.mjs';
await initTf('wasm');
const n = Number(process.env.N ?? 4);
const model = buildUNet({ inputShape: [192,192,1], baseFilters: 8, depth: 4, heads: [{name:'seg', channels:4, activation:'softmax'}], seed: 1 });
const batch = { inputs: new Float32Array(n*192*192).map(() => Math.random()), inputShape: [n,192,192,1], targets: { seg: { data: new Float32Array(n*192*192*4).map((_, i) => i % 4 === 0 ? 1 : 0), shape: [n,192,192,4] } } };
for (let i = 0; i < 2; i++) { const r = lossAndGradients(model, lossOf, batch); tf.dispose(r.grads); }
let t0 = performance.now();
for (let i = 0; i < 3; i++) { const r = lossAndGradients(model, lossOf, batch); tf.dispose(r.grads); }
console.log('step ms', (performance.now() - t0) / 3, 'batch', n);
if (process.env.PROF) {
  const prof = await tf.profile(() => { const r = lossAndGradients(model, lossOf, batch); tf.dispose(r.grads); });
  const agg = new Map();
  for (const k of prof.kernels) { const ms = await k.kernelTimeMs; const key = k.name; const e = agg.get(key) ?? { ms: 0, count: 0 }; e.ms += typeof ms === 'number' ? ms : 0; e.count++; agg.set(key, e); }
  const rows = [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms);
  let total = 0; for (const [, e] of rows) total += e.ms;
  console.log('total kernel ms', total.toFixed(1));
  for (const [k, e] of rows.slice(0, 25)) console.log(k.padEnd(24), e.ms.toFixed(1).padStart(8), e.count);
}
if (process.env.PROF2) {
  const prof = await tf.profile(() => { const r = lossAndGradients(model, lossOf, batch); tf.dispose(r.grads); });
  const names = (process.env.PROF2).split(',');
  for (const k of prof.kernels) if (names.includes(k.name)) console.log(k.name, JSON.stringify(k.inputShapes), '->', JSON.stringify(k.outputShapes), (await k.kernelTimeMs).toFixed(1));
}
