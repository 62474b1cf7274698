/**
 * Batch grading throughput: studies per minute with 1 and 2 worker processes (and, for reference, the
 * in-process mode) over cohorts built from the bundled example study — half DICOM series rewritten
 * with their own UIDs (so each is a study of its own), half MetaImage copies — and, when
 * ../shared/data/spider is there, SPIDER's T2 mid-sagittal PNG slices through a manifest.
 *
 * Run with `npm run bench:batch`. Prints JSON on stdout (and writes it to $BENCH_OUT when set).
 * Options (env): BENCH_BATCH_STUDIES (example cohort size, default 8), BENCH_BATCH_SPIDER (SPIDER
 * slices, default 12; 0 to skip), BENCH_BATCH_WORKERS (default "1,2"), BENCH_BATCH_IN_PROCESS=0 (skip
 * the in-process run). Every run is a fresh `spinegrade batch` on a fresh output folder with its own
 * redis-server. Load averages are recorded: other processes on the machine distort the figures, the
 * two-worker ones most.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCsv } from '../dist/datasets/csv.js';
import { writeDicomSeries } from '../dist/io/dicom/write.js';
import { loadSingleVolume } from '../dist/io/load.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const exampleDicom = join(root, 'examples/spider-98-t2space/dicom');
const exampleMha = join(root, 'examples/spider-98-t2space/spider-98-t2space.mha');
const spiderDir = resolve(root, '../shared/data/spider');
const studies = Number(process.env.BENCH_BATCH_STUDIES ?? 8);
const spiderCount = Number(process.env.BENCH_BATCH_SPIDER ?? 12);
const workerCounts = (process.env.BENCH_BATCH_WORKERS ?? '1,2').split(',').map(Number);
const inProcess = process.env.BENCH_BATCH_IN_PROCESS !== '0';
const say = (line) => process.stderr.write(`${line}\n`);

/** The example cohort: ⌈n/2⌉ DICOM studies (new UIDs each), ⌊n/2⌋ MetaImage copies. */
async function exampleCohort(folder, n) {
  const volume = await loadSingleVolume([exampleDicom]);
  for (let k = 0; k < n; k++) {
    if (k % 2 === 0) {
      await mkdir(join(folder, `patient-${k}`), { recursive: true });
      await writeDicomSeries(volume, join(folder, `patient-${k}`, 'sag-t2'), { uidSeed: `bench-${k}` });
    } else {
      await copyFile(exampleMha, join(folder, `patient-${k}.mha`));
    }
  }
  return folder;
}

/** A manifest of SPIDER T2 mid-sagittal PNGs with their pixel spacing. */
async function spiderCohort(folder, n) {
  const table = await readCsv(join(spiderDir, 'overview.csv'));
  const rows = table.rows
    .filter(
      (row) => /_t2$/.test(row.new_file_name) && existsSync(join(spiderDir, 'midsagittal', `${row.new_file_name}.png`)),
    )
    .slice(0, n);
  await mkdir(folder, { recursive: true });
  const lines = ['study_id,path,pixel_spacing'];
  for (const row of rows) {
    const spacing = row.PixelSpacing.replace(/[[\]\s]/g, '');
    lines.push(`${row.new_file_name},${join(spiderDir, 'midsagittal', `${row.new_file_name}.png`)},"${spacing}"`);
  }
  const manifest = join(folder, 'manifest.csv');
  await writeFile(manifest, `${lines.join('\n')}\n`);
  return { manifest, count: rows.length };
}

/** One fresh `spinegrade batch`; returns its figures. */
async function runBatch(input, out, args) {
  await rm(out, { recursive: true, force: true });
  const before = loadavg()[0];
  const started = performance.now();
  // bash's `times` reports the CPU time of the command and of every process it waited for (the
  // coordinator reaps its workers and its redis-server), so cpuMs is the cohort's whole CPU bill.
  const result = spawnSync(
    'bash',
    [
      '-c',
      '"$@" --out "$OUT" --quiet >&2; rc=$?; times; exit $rc',
      'bash',
      process.execPath,
      join(root, 'bin/spinegrade.js'),
      'batch',
      input,
      ...args,
    ],
    { encoding: 'utf8', env: { ...process.env, OUT: out } },
  );
  const wallMs = performance.now() - started;
  if (result.status !== 0) throw new Error(`batch ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  const seconds = (text) => {
    const [, m, s] = /(\d+)m([\d.]+)s/.exec(text) ?? [];
    return Number(m) * 60 + Number(s);
  };
  const children = (result.stdout.trim().split('\n').at(-1) ?? '').split(/\s+/);
  const cpuMs = Math.round((seconds(children[0]) + seconds(children[1])) * 1000);
  const summary = JSON.parse(await readFile(join(out, 'batch-run.json'), 'utf8'));
  return {
    args: args.join(' '),
    mode: summary.mode,
    studies: summary.studies.analysed,
    failed: summary.studies.failed,
    wallMs: Math.round(wallMs),
    // Whole command: discovery, Redis and worker start-up, model loading, analyses, cohort.
    studiesPerMinuteWall: Number(((summary.studies.analysed / wallMs) * 60_000).toFixed(2)),
    // From enqueueing to the end (worker start-up and model loading included).
    studiesPerMinute: summary.studiesPerMinute === null ? null : Number(summary.studiesPerMinute.toFixed(2)),
    // Between the first analysis start and the last finish: the steady state.
    throughputPerMinute: summary.throughputPerMinute === null ? null : Number(summary.throughputPerMinute.toFixed(2)),
    meanStageMs: summary.meanStageMs,
    // CPU time of everything the run started, per study, and the cores it got on average.
    cpuMsPerStudy: Math.round(cpuMs / Math.max(1, summary.studies.analysed)),
    coresUsed: Number((cpuMs / wallMs).toFixed(2)),
    load1Before: Number(before.toFixed(2)),
    load1After: Number(loadavg()[0].toFixed(2)),
  };
}

async function benchCohort(name, input, count, work) {
  const runs = [];
  if (inProcess) {
    say(`${name}: in-process…`);
    runs.push(await runBatch(input, join(work, `${name}-in-process`), ['--in-process']));
  }
  for (const workers of workerCounts) {
    say(`${name}: ${workers} worker(s)…`);
    runs.push(await runBatch(input, join(work, `${name}-w${workers}`), ['--workers', String(workers)]));
  }
  const one = runs.find((r) => r.args === '--workers 1');
  const two = runs.find((r) => r.args === '--workers 2');
  const ratio = (key) => (one?.[key] && two?.[key] ? Number((two[key] / one[key]).toFixed(2)) : null);
  return {
    cohort: name,
    studies: count,
    runs,
    speedup2vs1: {
      wall: ratio('studiesPerMinuteWall'),
      fromEnqueue: ratio('studiesPerMinute'),
      steadyState: ratio('throughputPerMinute'),
    },
  };
}

const work = await mkdtemp(join(tmpdir(), 'spinegrade-bench-batch-'));
try {
  let redis = null;
  try {
    redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    say('redis-server is not on PATH: only the in-process mode can run');
  }
  const results = {
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, redis },
    startedAt: new Date().toISOString(),
    cohorts: [],
  };
  say(`building the example cohort (${studies} studies)…`);
  const example = await exampleCohort(join(work, 'example'), studies);
  results.cohorts.push(await benchCohort('example', example, studies, work));
  if (spiderCount > 0 && existsSync(join(spiderDir, 'overview.csv'))) {
    const { manifest, count } = await spiderCohort(join(work, 'spider'), spiderCount);
    results.cohorts.push(await benchCohort('spider-png', manifest, count, work));
  }
  results.finishedAt = new Date().toISOString();
  const text = `${JSON.stringify(results, null, 2)}\n`;
  process.stdout.write(text);
  if (process.env.BENCH_OUT) await writeFile(resolve(process.env.BENCH_OUT), text);
} finally {
  await rm(work, { recursive: true, force: true });
}
