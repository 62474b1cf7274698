/**
 * TensorFlow.js training benchmarks (wasm vs cpu kernels, U-Net training steps on 1 and 2 workers,
 * inference). Run with `npm run bench`; writes JSON to $BENCH_OUT (default ./bench-results.json).
 * Options (env): BENCH_QUICK=1 (fewer repetitions), BENCH_CPU_UNET=1 (also time a U-Net step on cpu),
 * BENCH_SKIP_CPU_CONV=1 (skip the slow cpu conv timings),
 * BENCH_ONLY=conv,batchNorm,unetKernels,unetStep,inference,engines,pipeline,analyze (a subset of sections).
 * `engines` runs the bundled networks on onnxruntime and on TensorFlow.js (time, speed-up, largest output difference).
 * The `analyze` section times the main job against its targets: cold (a fresh `spinegrade analyze`
 * process: wall time, and peak RSS by /usr/bin/time, or by process.resourceUsage() where it is
 * missing or BENCH_NO_GNU_TIME=1) and warm (models loaded once, one study analysed again and again).
 * Load averages are recorded: other processes on the machine distort the timings, the two-worker
 * ones most.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disposeGrader, GRADER_NETWORK_OUTPUTS, gradeSeriesDiscs, loadGrader } from '../dist/grade/grader.js';
import { gradeVolume } from '../dist/grade/volume.js';
import { loadSingleVolume } from '../dist/io/load.js';
import { LEVEL_NETWORK_OUTPUTS } from '../dist/localize/levels.js';
import { readModelMetadata } from '../dist/models/modelJson.js';
import { LOCALIZER_OUTPUTS, loadLocalizer } from '../dist/localize/localizer.js';
import { loadNetwork } from '../dist/models/network.js';
import { initTf, tf } from '../dist/models/tf/backend.js';
import { setCustomKernelsEnabled } from '../dist/models/tf/kernels.js';
import { buildUNet, countParameters } from '../dist/models/tf/layers.js';
import { trainModel } from '../dist/models/tf/train.js';
import { DEFAULT_LOCALIZER_DIR, GRADER_MODEL_DIR } from '../dist/store/store.js';

const quick = process.env.BENCH_QUICK === '1';
const out = resolve(process.env.BENCH_OUT ?? 'bench-results.json');

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median milliseconds of `fn` (which returns tensors to read back and dispose), after a warm-up run. */
function timeMs(fn, reps, warmUp = true) {
  const run = () => {
    const started = performance.now();
    const result = fn();
    for (const t of Array.isArray(result) ? result : [result]) {
      t.dataSync();
      t.dispose();
    }
    return performance.now() - started;
  };
  if (warmUp) run();
  return median(Array.from({ length: reps }, run));
}

function random(shape, seed) {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

const convCases = [
  { name: 'enc0 3x3 s1 192² 8→8', x: [4, 192, 192, 8], k: 3, co: 8, stride: 1 },
  { name: 'dec0 3x3 s1 192² 16→8', x: [4, 192, 192, 16], k: 3, co: 8, stride: 1 },
  { name: 'enc1 3x3 s1 96² 16→16', x: [4, 96, 96, 16], k: 3, co: 16, stride: 1 },
  { name: 'enc3 3x3 s1 24² 64→64', x: [4, 24, 24, 64], k: 3, co: 64, stride: 1 },
  { name: 'bottleneck 3x3 s1 12² 128→128', x: [4, 12, 12, 128], k: 3, co: 128, stride: 1 },
  { name: 'down 3x3 s2 192² 8→8', x: [4, 192, 192, 8], k: 3, co: 8, stride: 2 },
  { name: 'head 1x1 s1 192² 8→4', x: [4, 192, 192, 8], k: 1, co: 4, stride: 1 },
  { name: 'up 2x2 s2 (tconv) 96²×16 → 192²×8', x: [4, 192, 192, 8], k: 2, co: 16, stride: 2 },
];

async function convBenchmarks() {
  const results = [];
  for (const c of convCases) {
    const row = { name: c.name, xShape: c.x, kernel: c.k, outChannels: c.co, stride: c.stride };
    for (const backend of process.env.BENCH_SKIP_CPU_CONV === '1' ? ['wasm'] : ['wasm', 'cpu']) {
      await initTf(backend);
      const reps = backend === 'cpu' ? 1 : quick ? 2 : 5;
      const warm = backend !== 'cpu';
      const x = random(c.x, 1);
      const filterShape = [c.k, c.k, c.x[3], c.co];
      const filter = random(filterShape, 2);
      const dy = tf.tidy(() => tf.conv2d(x, filter, c.stride, 'same'));
      const attrs = { strides: c.stride, pad: 'same', dataFormat: 'NHWC' };
      row[`backpropFilterMs_${backend}`] = timeMs(
        () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape }),
        reps,
        warm,
      );
      const backpropInput = () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: c.x });
      row[`backpropInputMs_${backend}`] = timeMs(backpropInput, reps, warm);
      if (backend === 'wasm') {
        setCustomKernelsEnabled({ backpropInputFastPaths: false });
        row.backpropInputMs_wasmStock = timeMs(backpropInput, reps);
        setCustomKernelsEnabled({ backpropInputFastPaths: true });
        row.forwardMs_wasm = timeMs(() => tf.conv2d(x, filter, c.stride, 'same'), reps);
      }
      tf.dispose([x, filter, dy]);
    }
    console.log(JSON.stringify(row));
    results.push(row);
  }
  return results;
}

async function batchNormBenchmark() {
  await initTf('wasm');
  const x = random([4, 192, 192, 8], 3);
  const gamma = tf.ones([8]);
  const beta = tf.zeros([8]);
  const loss = (a, g, b) => {
    const { mean, variance } = tf.moments(a, [0, 1, 2]);
    return tf.sum(tf.square(tf.batchNorm4d(a, mean, variance, b, g, 1e-3)));
  };
  const step = () => tf.tidy(() => tf.grads(loss)([x, gamma, beta]));
  const reps = quick ? 3 : 7;
  const row = { shape: [4, 192, 192, 8], what: 'moments + batchNorm forward and gradients w.r.t. x, gamma, beta' };
  row.ms_custom = timeMs(step, reps);
  setCustomKernelsEnabled({ batchNormGradient: false, reductionGradients: false });
  row.ms_tfjsGradients = timeMs(step, reps);
  setCustomKernelsEnabled({ batchNormGradient: true, reductionGradients: true });
  tf.dispose([x, gamma, beta]);
  console.log(JSON.stringify(row));
  return row;
}

const unetConfig = {
  inputShape: [192, 192, 1],
  baseFilters: 8,
  depth: 4,
  heads: [{ name: 'seg', channels: 4, activation: 'softmax' }],
  seed: 1,
};

function segmentationBatch(n, seed) {
  const size = 192 * 192;
  const inputs = new Float32Array(n * size);
  const seg = new Float32Array(n * size * 4);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < n * size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    inputs[i] = state / 2 ** 32;
    seg[i * 4 + Math.min(3, Math.floor((inputs[i] ?? 0) * 4))] = 1;
  }
  return { inputs, inputShape: [n, 192, 192, 1], targets: { seg: { data: seg, shape: [n, 192, 192, 4] } } };
}

async function unetStepBenchmark(workers, backend, steps) {
  const times = [];
  const computeTimes = [];
  const ownTimes = [];
  let last = 0;
  const started = performance.now();
  const result = await trainModel({
    model: { module: new URL('./unetTask.mjs', import.meta.url).href, config: unetConfig },
    nextEpoch: () => Array.from({ length: steps }, (_, i) => segmentationBatch(4, i + 1)),
    epochs: 1,
    learningRate: 1e-3,
    workers,
    backend,
    onProgress: (progress) => {
      const now = performance.now();
      if (last !== 0) {
        times.push(now - last);
        computeTimes.push(progress.computeMs);
        ownTimes.push(progress.stepMs);
      }
      last = now;
    },
  });
  const total = performance.now() - started;
  result.model.dispose();
  // The first step includes worker start-up and warm-up; the intervals between later steps are timed.
  const stepMs = median(times);
  const row = {
    workers,
    backend,
    batch: 4,
    steps,
    stepMs,
    minStepMs: Math.min(...times),
    trainerStepMs: median(ownTimes),
    gradientComputeMs: median(computeTimes),
    samplesPerSecond: 4000 / stepMs,
    totalMs: total,
  };
  console.log(JSON.stringify(row));
  return row;
}

/** One U-Net training step on this thread with all custom kernels/gradients on, each one off, and all off. */
async function unetKernelAblation() {
  await initTf('wasm');
  const { lossAndGradients } = await import('../dist/models/tf/trainCore.js');
  const { lossOf } = await import('./unetTask.mjs');
  const model = buildUNet(unetConfig);
  const batch = segmentationBatch(4, 9);
  const step = () => {
    const started = performance.now();
    const { grads } = lossAndGradients(model, lossOf, batch);
    tf.dispose(grads);
    return performance.now() - started;
  };
  const all = { backpropInputFastPaths: true, copyKernels: true, batchNormGradient: true, reductionGradients: true };
  const variants = { allCustom: all, allStock: Object.fromEntries(Object.keys(all).map((k) => [k, false])) };
  for (const key of Object.keys(all)) variants[`without_${key}`] = { ...all, [key]: false };
  const times = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  step();
  for (let rep = 0; rep < (quick ? 2 : 3); rep++) {
    for (const [name, switches] of Object.entries(variants)) {
      setCustomKernelsEnabled(switches);
      step();
      times[name].push(step());
    }
  }
  setCustomKernelsEnabled(all);
  model.dispose();
  const row = { batch: 4, what: 'forward + gradients of one 192x192 U-Net step, ms (min of reps)' };
  for (const [name, values] of Object.entries(times)) row[name] = Math.min(...values);
  console.log(JSON.stringify(row));
  return row;
}

async function inferenceBenchmark() {
  await initTf('wasm');
  const model = buildUNet(unetConfig);
  const rows = [];
  for (const n of [1, 4]) {
    const x = random([n, 192, 192, 1], 5);
    const ms = timeMs(() => model.predict(x), quick ? 3 : 10);
    x.dispose();
    rows.push({ batch: n, msPerBatch: ms, msPerSlice: ms / n });
  }
  const row = { parameters: countParameters(model), rows };
  model.dispose();
  console.log(JSON.stringify(row));
  return row;
}

/** The bundled networks on each inference engine (onnxruntime vs TensorFlow.js wasm): ms per run, outputs compared. */
async function enginesBenchmark() {
  const levelsDir = resolve('models/localizer-levels');
  const levelCanvas = existsSync(join(levelsDir, 'model.json'))
    ? (await readModelMetadata(levelsDir)).levelNetworkConfig?.size
    : undefined;
  const networks = [
    {
      name: 'localizer U-Net, 7 slices 192x192',
      dir: DEFAULT_LOCALIZER_DIR,
      outputs: LOCALIZER_OUTPUTS,
      shape: [7, 192, 192, 1],
    },
    {
      name: 'grader CNN, 14 crops 56x56',
      dir: GRADER_MODEL_DIR,
      outputs: GRADER_NETWORK_OUTPUTS,
      shape: [14, 56, 56, 1],
    },
    {
      name: `level network, 1 slice ${levelCanvas}x${levelCanvas}`,
      dir: levelsDir,
      outputs: LEVEL_NETWORK_OUTPUTS,
      shape: [1, levelCanvas ?? 64, levelCanvas ?? 64, 1],
    },
  ].filter(({ dir }) => existsSync(join(dir, 'model.json')));
  const rows = [];
  for (const { name, dir, outputs, shape } of networks) {
    const size = shape.reduce((a, b) => a * b, 1);
    const input = Float32Array.from({ length: size }, (_, i) => ((i * 7919) % 1000) / 1000);
    const row = { network: name };
    const results = {};
    for (const engine of ['onnx', 'tfjs']) {
      const network = await loadNetwork(dir, outputs, engine);
      results[engine] = network.run(input, shape).map((o) => o.data);
      const times = [];
      for (let n = 0; n < (quick ? 5 : 20); n++) {
        const started = performance.now();
        network.run(input, shape);
        times.push(performance.now() - started);
      }
      row[`${engine}MsMedian`] = median(times);
      network.dispose();
    }
    let maxAbsDiff = 0;
    results.onnx.forEach((o, k) => {
      for (let i = 0; i < o.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(o[i] - results.tfjs[k][i]));
    });
    row.speedup = row.tfjsMsMedian / row.onnxMsMedian;
    row.maxAbsDiff = maxAbsDiff;
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  return rows;
}

/** The bundled pipeline on the bundled example, on each engine: one study end to end, and grading alone per disc. */
async function pipelineBenchmark() {
  const rows = [];
  for (const engine of ['onnx', 'tfjs']) {
    const grader = await loadGrader(GRADER_MODEL_DIR, { engine });
    const localizer = await loadLocalizer(DEFAULT_LOCALIZER_DIR, { engine });
    const volume = await loadSingleVolume([resolve('examples/spider-98-t2space/dicom')]);
    await gradeVolume(grader, localizer, volume); // warm-up
    const reps = quick ? 3 : 10;
    const studyMs = [];
    let graded;
    for (let n = 0; n < reps; n++) {
      const started = performance.now();
      graded = await gradeVolume(grader, localizer, volume);
      studyMs.push(performance.now() - started);
    }
    const discs = graded.discs.map((d) => ({
      crop: new Float32Array(grader.config.cropSize ** 2).fill(0.3),
      ivdLabel: d.ivdLabel,
      level: d.level,
    }));
    gradeSeriesDiscs(grader, discs);
    const gradeTimes = [];
    for (let n = 0; n < (quick ? 5 : 20); n++) {
      const started = performance.now();
      gradeSeriesDiscs(grader, discs);
      gradeTimes.push(performance.now() - started);
    }
    const gradeMs = median(gradeTimes);
    const row = {
      what: 'gradeVolume on examples/spider-98-t2space (localise 7 slices, vote, crop, grade 5 slices, measure), ms; grading one series of discs, ms',
      engine,
      studyMsMedian: median(studyMs),
      discsPerStudy: graded.discs.length,
      gradeSeriesMs: gradeMs,
      discsPerSecondGrading: (discs.length / gradeMs) * 1000,
    };
    console.log(JSON.stringify(row));
    rows.push(row);
    await disposeGrader(grader);
    localizer.network.dispose();
  }
  return rows;
}

/** Targets of the main job (issue 7): a cold `analyze` run, and one study on an analyzer kept warm. */
const ANALYZE_TARGETS = { coldWallMs: 2000, coldPeakRssMb: 600, warmStudyMs: 500 };
const EXAMPLE_STUDY = 'examples/spider-98-t2space/dicom';

/**
 * One cold `spinegrade analyze` in a fresh process: wall time and peak resident memory. Without
 * `reportDir`, `--format json` (findings only); with it, `--out reportDir` (the README's command:
 * findings.json, overlay, HTML report with Grad-CAM, SR and SEG).
 */
function coldAnalyze(reportDir) {
  const args = [
    'bin/spinegrade.js',
    'analyze',
    EXAMPLE_STUDY,
    ...(reportDir ? ['--out', reportDir, '--overwrite'] : ['--format', 'json']),
    '--quiet',
  ];
  const gnuTime = existsSync('/usr/bin/time') && process.env.BENCH_NO_GNU_TIME !== '1';
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const started = performance.now();
  const run = gnuTime
    ? spawnSync('/usr/bin/time', ['-f', 'peak-rss-kb %M', process.execPath, ...args], { encoding: 'utf8', cwd })
    : spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `process.on('exit', () => process.stderr.write('peak-rss-kb ' + process.resourceUsage().maxRSS + '\\n'));
           process.argv = [process.execPath, ...${JSON.stringify(args)}];
           await import(${JSON.stringify(new URL('../bin/spinegrade.js', import.meta.url).href)});`,
        ],
        { encoding: 'utf8', cwd },
      );
  const wallMs = performance.now() - started;
  if (run.status !== 0) throw new Error(`cold analyze failed (${run.status}): ${run.stderr}`);
  const rss = Number(/peak-rss-kb (\d+)/.exec(run.stderr)?.[1]);
  return { wallMs, peakRssMb: rss / 1024, rssFrom: gnuTime ? '/usr/bin/time -f %M' : 'process.resourceUsage().maxRSS' };
}

/** The main job: cold runs in fresh processes, then one analyzer kept warm (per-stage medians). */
async function analyzeBenchmark() {
  const reps = quick ? 3 : 5;
  const coldRuns = [];
  for (let n = 0; n < reps; n++) coldRuns.push(coldAnalyze());
  const reportDir = await mkdtemp(join(tmpdir(), 'spinegrade-bench-'));
  const coldReportRuns = [];
  for (let n = 0; n < reps; n++) coldReportRuns.push(coldAnalyze(join(reportDir, 'analysis')));
  await rm(reportDir, { recursive: true, force: true });
  const { createAnalyzer } = await import('../dist/analyze/analyze.js');
  const analyzer = await createAnalyzer();
  const input = [resolve(EXAMPLE_STUDY)];
  const first = await analyzer.analyze(input);
  // Steady state: a server analyses study after study, so the warm figure is a median over many.
  const warmReps = quick ? 5 : 20;
  const runs = [];
  for (let n = 0; n < warmReps; n++) {
    const started = performance.now();
    const { timings } = await analyzer.analyze(input);
    runs.push({ wallMs: performance.now() - started, ...timings });
  }
  const explained = [];
  for (let n = 0; n < (quick ? 1 : 3); n++) explained.push((await analyzer.analyze(input, { explain: true })).timings);
  const rssMb = process.memoryUsage().rss / 1024 / 1024;
  analyzer.dispose();
  const stage = (rows, key) => median(rows.map((r) => r[key]));
  const cold = {
    wallMsMedian: median(coldRuns.map((r) => r.wallMs)),
    peakRssMbMedian: median(coldRuns.map((r) => r.peakRssMb)),
    runs: coldRuns,
  };
  const coldReport = {
    wallMsMedian: median(coldReportRuns.map((r) => r.wallMs)),
    peakRssMbMedian: median(coldReportRuns.map((r) => r.peakRssMb)),
    runs: coldReportRuns,
  };
  const warm = {
    modelLoadMs: analyzer.loadMs,
    firstStudyMs: first.timings.total,
    studyMsMedian: stage(runs, 'wallMs'),
    studyMsP90: [...runs.map((r) => r.wallMs)].sort((a, b) => a - b)[Math.floor(runs.length * 0.9)],
    studyMsRuns: runs.map((r) => Math.round(r.wallMs)),
    stagesMsMedian: Object.fromEntries(
      ['read', 'localize', 'grade', 'findings', 'total'].map((k) => [k, stage(runs, k)]),
    ),
    explainMsMedian: stage(explained, 'explain'),
    processRssMbAfter: rssMb,
  };
  const row = {
    what: `spinegrade analyze ${EXAMPLE_STUDY} (11 slices 512x640): cold = fresh process with --format json; coldReport = fresh process with --out <dir> (findings, overlay, HTML with Grad-CAM, SR, SEG); warm = createAnalyzer once, analyze the study ${warmReps}x after a first run (reading it each time); engine ${analyzer.grader.network.engine}`,
    discs: first.findings.studies[0].series[0].discs.length,
    cold,
    coldReport,
    warm,
    targets: ANALYZE_TARGETS,
    meetsTargets: {
      coldWall: cold.wallMsMedian <= ANALYZE_TARGETS.coldWallMs,
      coldReportWall: coldReport.wallMsMedian <= ANALYZE_TARGETS.coldWallMs,
      coldReportPeakRss: coldReport.peakRssMbMedian <= ANALYZE_TARGETS.coldPeakRssMb,
      coldPeakRss: cold.peakRssMbMedian <= ANALYZE_TARGETS.coldPeakRssMb,
      warmStudy: warm.studyMsMedian <= ANALYZE_TARGETS.warmStudyMs,
    },
  };
  console.log(JSON.stringify(row));
  return row;
}

const only = process.env.BENCH_ONLY?.split(',');
const wanted = (section) => only === undefined || only.includes(section);
const results = {
  date: new Date().toISOString(),
  loadAverageAtStart: loadavg(),
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  note: 'wasm backend runs single-threaded in Node (no wasm threads); times are medians in ms',
};
if (wanted('conv')) results.conv = await convBenchmarks();
if (wanted('batchNorm')) results.batchNorm = await batchNormBenchmark();
if (wanted('unetKernels')) results.unetKernels = await unetKernelAblation();
if (wanted('unetStep')) {
  const steps = quick ? 4 : 8;
  results.unetStep = [];
  for (let round = 0; round < 2; round++) {
    for (const workers of [1, 2]) results.unetStep.push(await unetStepBenchmark(workers, 'wasm', steps));
  }
  if (process.env.BENCH_CPU_UNET === '1') results.unetStep.push(await unetStepBenchmark(1, 'cpu', 3));
}
if (wanted('inference')) results.inference = await inferenceBenchmark();
if (wanted('engines')) results.engines = await enginesBenchmark();
if (wanted('pipeline')) results.pipeline = await pipelineBenchmark();
if (wanted('analyze')) results.analyze = await analyzeBenchmark();
results.loadAverageAtEnd = loadavg();
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${out}`);
