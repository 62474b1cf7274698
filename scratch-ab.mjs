import { initTf, tf } from './dist/models/tf/backend.js';
import { setCustomKernelsEnabled } from './dist/models/tf/kernels.js';
import { buildUNet } from './dist/models/tf/layers.js';
import { lossAndGradients } from './dist/models/tf/trainCore.js';
import { lossOf } from './bench/unetTask.mjs';
await initTf('wasm');
const n = 4;
const model = buildUNet({ inputShape: [192,192,1], baseFilters: 8, depth: 4, heads: [{name:'seg', channels:4, activation:'softmax'}], seed: 1 });
const batch = { inputs: new Float32Array(n*192*192).map(() => Math.random()), inputShape: [n,192,192,1], targets: { seg: { data: new Float32Array(n*192*192*4).map((_, i) => i % 4 === 0 ? 1 : 0), shape: [n,192,192,4] } } };
const step = () => { const t = performance.now(); const r = lossAndGradients(model, lossOf, batch); tf.dispose(r.grads); return performance.now() - t; };
step(); step();
const all = { backpropInputFastPaths: true, copyKernels: true, batchNormGradient: true, reductionGradients: true };
const variants = { all, none: { backpropInputFastPaths: false, copyKernels: false, batchNormGradient: false, reductionGradients: false } };
for (const k of Object.keys(all)) variants[`no ${k}`] = { ...all, [k]: false };
const times = Object.fromEntries(Object.keys(variants).map(k => [k, []]));
for (let rep = 0; rep < 3; rep++) for (const [name, v] of Object.entries(variants)) { setCustomKernelsEnabled(v); step(); times[name].push(step()); }
for (const [name, ts] of Object.entries(times)) console.log(name.padEnd(28), 'min', Math.min(...ts).toFixed(0), 'median', ts.sort((a,b)=>a-b)[1].toFixed(0));
