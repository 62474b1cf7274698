/**
 * Benchmarks of `spinegrade serve` as a separate process on a fresh data folder (not a test).
 * Run with `npm run bench:serve` (builds first); writes JSON to $BENCH_OUT (default ./bench-serve.json).
 *
 * - `latency`: p50/p95/p99/max of `GET /api/studies`, `GET /api/health`, a PNG display slice and a
 *   DICOM file while two analyses run (`--concurrency 2`; every sample is taken while both jobs report
 *   `running`), and the same requests on the idle server. Target: p99 ≤ 100 ms while analysing.
 * - `soak`: BENCH_SOAK studies (default 100) uploaded and analysed through the API, two at a time
 *   (beyond the 100 a server holds, the oldest study is deleted before each upload);
 *   then the server is stopped (SIGTERM) and started again on the folder, and every study must be back
 *   with its analysis done and its findings. Resident memory (VmRSS of the server process, workers
 *   included) sampled every 250 ms: at start, after the first analysis, peak and end, and after every
 *   10 studies (the trajectory: flat once both workers have loaded their models), and the slope of
 *   the trajectory's second half in MB per 100 studies.
 *
 * Env: BENCH_ONLY=latency|soak, BENCH_SAMPLES (per endpoint while analysing, default 300),
 * BENCH_SOAK (default 100). Load averages are recorded: other processes distort the figures.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = resolve(process.env.BENCH_OUT ?? 'bench-serve.json');
const only = process.env.BENCH_ONLY;
const samplesWanted = Number(process.env.BENCH_SAMPLES ?? 300);
const soakStudies = Number(process.env.BENCH_SOAK ?? 100);
/** The server's default cap on the studies it holds. */
const HELD_STUDIES = 100;
const example = join(root, 'examples/spider-98-t2space/dicom');
const exampleFiles = readdirSync(example)
  .filter((n) => n.endsWith('.dcm'))
  .sort()
  .map((n) => ({ name: n, data: readFileSync(join(example, n)) }));

/** Starts `spinegrade serve` on `dataDir`; resolves with its URL, pid and a stop function. */
function serve(dataDir, concurrency = 2) {
  const child = spawn(
    process.execPath,
    [
      'bin/spinegrade.js',
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--concurrency',
      String(concurrency),
      '--quiet',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((r) => child.once('exit', r));
  return new Promise((resolvePromise, reject) => {
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
      const match = /spinegrade serve: (http:\/\/[^/\s]+)\//.exec(text);
      if (match)
        resolvePromise({
          url: match[1],
          pid: child.pid,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
          },
        });
    });
    exited.then(() => reject(new Error(`serve exited: ${text}`)));
  });
}

async function json(url, init) {
  const response = await fetch(url, init);
  const body = await response.json();
  if (!response.ok) throw new Error(`${url}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

async function upload(base) {
  const form = new FormData();
  for (const f of exampleFiles) form.append('file', new Blob([f.data]), f.name);
  return (await json(`${base}/api/studies`, { method: 'POST', body: form })).id;
}

const analyze = async (base, id) => (await json(`${base}/api/studies/${id}/analyze`, { method: 'POST' })).jobId;
const job = (base, id) => json(`${base}/api/jobs/${id}`);

async function waitJob(base, id) {
  for (;;) {
    const view = await job(base, id);
    if (view.status === 'done' || view.status === 'failed') return view;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Milliseconds of one request read whole. */
async function timed(url) {
  const started = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return ms;
}

function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const round = (v) => Math.round(v * 10) / 10;
  return {
    n: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1)),
  };
}

/** Least-squares slope of RSS against studies, in MB per 100 studies (flat memory: near 0). */
function slope(points) {
  if (points.length < 2) return null;
  const mx = points.reduce((a, p) => a + p.studies, 0) / points.length;
  const my = points.reduce((a, p) => a + p.rssMb, 0) / points.length;
  const sxy = points.reduce((a, p) => a + (p.studies - mx) * (p.rssMb - my), 0);
  const sxx = points.reduce((a, p) => a + (p.studies - mx) ** 2, 0);
  return Math.round((sxy / sxx) * 100 * 10) / 10;
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function latency() {
  const dataDir = await mkdtemp(join(tmpdir(), 'spinegrade-bench-serve-'));
  const server = await serve(dataDir);
  try {
    const base = server.url;
    const [a, b, viewed] = [await upload(base), await upload(base), await upload(base)];
    const series = (await json(`${base}/api/studies/${viewed}/series`)).series[0];
    const slices = series.sagittalSlices;
    let k = 0;
    const endpoints = {
      studies: () => `${base}/api/studies`,
      health: () => `${base}/api/health`,
      slicePng: () => `${base}/api/studies/${viewed}/series/0/slices/${k++ % slices}.png`,
      dicomFile: () => `${base}/api/studies/${viewed}/files/f000${1 + (k % 9)}.dcm`,
    };
    const measure = async (keepGoing) => {
      const samples = Object.fromEntries(Object.keys(endpoints).map((name) => [name, []]));
      while (await keepGoing(samples)) {
        for (const [name, url] of Object.entries(endpoints)) samples[name].push(await timed(url()));
      }
      return samples;
    };
    // Idle: warm (the viewed study's volume is loaded by the first series request above).
    const idle = await measure(async (s) => s.studies.length < 200);
    // Two analyses at once; samples count only while both jobs are running.
    const busy = Object.fromEntries(Object.keys(endpoints).map((name) => [name, []]));
    let rounds = 0;
    while (busy.studies.length < samplesWanted && rounds < 20) {
      rounds++;
      const jobs = [await analyze(base, a), await analyze(base, b)];
      // Wait until both run.
      for (;;) {
        const views = await Promise.all(jobs.map((j) => job(base, j)));
        if (views.every((v) => v.status === 'running')) break;
        if (views.some((v) => v.status === 'done' || v.status === 'failed')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      // Samples taken before a check that found both running were taken while both ran.
      const need = samplesWanted - busy.studies.length;
      let confirmed = 0;
      const during = await measure(async (s) => {
        const n = s.studies.length;
        if (n % 5 !== 0 && n < need) return true;
        const views = await Promise.all(jobs.map((j) => job(base, j)));
        const running = views.every((v) => v.status === 'running');
        if (running) confirmed = n;
        return running && n < need;
      });
      for (const name of Object.keys(busy)) busy[name].push(...during[name].slice(0, confirmed));
      for (const j of jobs) {
        const view = await waitJob(base, j);
        if (view.status !== 'done') throw new Error(`analysis ${j} failed: ${JSON.stringify(view.error)}`);
      }
    }
    return {
      idle: Object.fromEntries(Object.entries(idle).map(([n, v]) => [n, percentiles(v)])),
      twoAnalysesRunning: Object.fromEntries(Object.entries(busy).map(([n, v]) => [n, percentiles(v)])),
      analysisRounds: rounds,
      targetP99Ms: 100,
    };
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function soak() {
  const dataDir = await mkdtemp(join(tmpdir(), 'spinegrade-bench-soak-'));
  let server = await serve(dataDir);
  const rss = [];
  let sampler = setInterval(() => rss.push(rssMb(server.pid)), 250);
  try {
    const base = server.url;
    const startRss = rssMb(server.pid);
    const started = performance.now();
    const ids = [];
    let deleted = 0;
    let uploading = 0;
    let afterFirst;
    let failed = 0;
    const trajectory = [];
    const one = async () => {
      // The server holds at most 100 studies: beyond that the oldest is deleted first, as a user would.
      const full = ids.length + uploading >= HELD_STUDIES;
      uploading++;
      if (full) {
        const oldest = ids.shift();
        const reply = await fetch(`${base}/api/studies/${oldest}`, { method: 'DELETE' });
        if (reply.status !== 204) throw new Error(`DELETE ${oldest}: ${reply.status}`);
        deleted++;
      }
      const id = await upload(base).finally(() => uploading--);
      ids.push(id);
      const view = await waitJob(base, await analyze(base, id));
      if (view.status !== 'done') failed++;
      afterFirst ??= rssMb(server.pid);
    };
    for (let n = 0; n < soakStudies; n += 2) {
      await Promise.all([one(), ...(n + 1 < soakStudies ? [one()] : [])]);
      if ((n + 2) % 10 === 0) trajectory.push({ studies: n + 2, rssMb: rssMb(server.pid) });
    }
    const endRss = rssMb(server.pid);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    await server.stop();
    server = await serve(dataDir);
    sampler = undefined;
    const back = (await json(`${server.url}/api/studies`)).studies;
    let withFindings = 0;
    for (const s of back) {
      const findings = await json(`${server.url}/api/studies/${s.id}/findings`);
      if (s.analysis.status === 'done' && findings.findings?.studies?.[0]?.levels?.length > 0) withFindings++;
    }
    return {
      studies: soakStudies,
      deletedOldest: deleted,
      analysesFailed: failed,
      seconds: Math.round(seconds),
      afterRestart: {
        listed: back.length,
        analysedWithFindings: withFindings,
        allIds: ids.length === back.length && ids.every((id) => back.some((s) => s.id === id)),
      },
      rssMb: {
        start: startRss,
        afterFirstAnalysis: afterFirst,
        peak: Math.max(...rss),
        end: endRss,
        secondHalfSlopeMbPer100Studies: slope(trajectory.slice(Math.floor(trajectory.length / 2))),
        trajectory,
      },
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const results = { date: new Date().toISOString(), cpus: cpus().length, loadavgBefore: loadavg() };
if (!only || only === 'latency') results.latency = await latency();
if (!only || only === 'soak') results.soak = await soak();
results.loadavgAfter = loadavg();
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(results, null, 2)}\nwritten to ${out}\n`);
