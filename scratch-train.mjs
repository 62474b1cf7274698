import { trainModel } from './build/src/models/tf/train.js';
import { thresholdBatch } from './build/test/models/tf/tinyTask.js';
import { tf } from './build/src/models/tf/backend.js';
const taskModule = new URL('./build/test/models/tf/tinyTask.js', import.meta.url).href;
const unet = { inputShape: [16,16,1], baseFilters: 4, depth: 2, heads: [{name:'mask', channels:1, activation:'sigmoid'}], batchNormMomentum: 0.8, seed: Number(process.env.SEED ?? 42) };
const validation = thresholdBatch(8, 999);
async function accuracy(model) { return tf.tidy(() => { const inputs = tf.tensor4d(validation.inputs, validation.inputShape); const p = model.predict(inputs); const t = tf.tensor(validation.targets.mask.data, [8,16,16,1]); return tf.mean(tf.equal(tf.greater(p, 0.5), tf.greater(t, 0.5))).dataSync()[0]; }); }
for (const workers of [1, 2]) for (let rep = 0; rep < 3; rep++) {
  const losses = [];
  const t0 = performance.now();
  const r = await trainModel({ model: { module: taskModule, config: { unet } }, nextEpoch: (e) => Array.from({length:5}, (_, i) => thresholdBatch(4, 100*e+i+1)), epochs: 8, learningRate: Number(process.env.LR), schedule: {kind:'cosine', minLearningRate: 0.002}, validate: accuracy, validateEvery: 2, workers, onProgress: p => losses.push(p.loss) });
  const first = losses.slice(0,3).reduce((a,b)=>a+b)/3, last = losses.slice(-5).reduce((a,b)=>a+b)/5;
  console.log(workers, 'first', first.toFixed(3), 'last', last.toFixed(3), 'ratio', (last/first).toFixed(2), 'scores', r.history.map(h => h.score?.toFixed(3)).join(','), ((performance.now()-t0)/1000).toFixed(2)+'s');
  r.model.dispose();
}
