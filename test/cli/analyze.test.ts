import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateFindings } from '../../src/analyze/validate.js';
import { EXIT_CODES } from '../../src/errors.js';
import { onnxRuntimeAvailable } from '../../src/models/onnx/runtime.js';
import type { FindingsDocument } from '../../src/report/findings.js';
import { REFUSALS, writeCase } from '../analyze/synthetic.js';
import { runCli } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const EXAMPLE = 'examples/spider-98-t2space/dicom';
const EXAMPLE_MHA = 'examples/spider-98-t2space/spider-98-t2space.mha';
const LUMBAR = ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'];

function assertFindings(document: FindingsDocument): void {
  assert.deepEqual(validateFindings(document), []);
  const levels = document.studies[0]!.levels.map((l) => l.level);
  for (const level of LUMBAR) assert.ok(levels.includes(level), levels.join(', '));
}

test('analyze prints a per-level table of the example, fused levels first, and exits 0', () => {
  const run = runCli(['analyze', EXAMPLE]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(
    run.stdout,
    /level +Pfirrmann +Modic +herniation +bulging +narrowing +endplates up\/low +listhesis +disc height +canal AP +review/,
  );
  assert.match(run.stdout, /\n {2}L5\/S1 +[1-5] \(p 0\.\d\d\) +[0-3] \(p [01]\.\d\d\) +[01]\.\d\d .* \d+\.\d mm/);
  assert.match(run.stdout, /Series 1: T2 "T2_space_sag_c4" #3 — mid-sagittal slice \d+/);
  assert.match(run.stdout, /Research use only/);
  assert.equal(run.stderr, '');
});

test('analyze --format json (and --json) prints findings.json to stdout only', () => {
  for (const flags of [['--format', 'json'], ['--json']]) {
    const run = runCli(['analyze', EXAMPLE, ...flags]);
    assert.equal(run.status, 0, run.stderr);
    assertFindings(JSON.parse(run.stdout) as FindingsDocument);
  }
});

test('analyze --out <dir> writes the report folder whole; the table still goes to stdout', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'analysis');
  const run = runCli(['analyze', EXAMPLE, '--out', out]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /L5\/S1 +[1-5] \(p/);
  assert.match(run.stdout, /wrote .*analysis\/ \(findings\.json/);
  assert.deepEqual((await readdir(folder)).sort(), ['analysis'], 'no temporary folder left behind');
  assert.deepEqual((await readdir(out)).sort(), ['findings.json', 'overlay.png', 'report.html', 'seg.dcm', 'sr.dcm']);
  const findings = JSON.parse(await readFile(join(out, 'findings.json'), 'utf8')) as FindingsDocument;
  assertFindings(findings);
  assert.match(findings.studies[0]!.series[0]!.midSagittalSopInstanceUid ?? '', /^[0-9.]+$/);
  assert.doesNotMatch(run.stderr, /SR and SEG need DICOM input/);
});

test('analyze of MetaImage input notes that SR and SEG need DICOM, on stderr and in the findings', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'analysis');
  const run = runCli(['analyze', EXAMPLE_MHA, '--out', out, '--format', 'json']);
  assert.equal(run.status, 0, run.stderr);
  assert.match(
    run.stderr,
    /note: DICOM SR and SEG need DICOM input: sr\.dcm and seg\.dcm were not written \(metaimage input\)/,
  );
  const printed = JSON.parse(run.stdout) as FindingsDocument;
  const written = JSON.parse(await readFile(join(out, 'findings.json'), 'utf8')) as FindingsDocument;
  assert.deepEqual(printed, written);
  assertFindings(written);
  assert.ok(written.studies[0]!.series[0]!.warnings.some((w) => /SR and SEG need DICOM input/.test(w)));
  assert.equal(existsSync(join(out, 'sr.dcm')), false);
});

test('analyze --out <file.json> writes findings.json alone (the old form), and refuses to overwrite it', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'report.json');
  const run = runCli(['analyze', EXAMPLE, '--out', out]);
  assert.equal(run.status, 0, run.stderr);
  assertFindings(JSON.parse(await readFile(out, 'utf8')) as FindingsDocument);
  assert.deepEqual(await readdir(folder), ['report.json']);
  await writeFile(out, 'keep');
  const again = runCli(['analyze', EXAMPLE, '--out', out]);
  assert.equal(again.status, EXIT_CODES.OUTPUT_ERROR, again.stderr);
  assert.match(again.stderr, /report\.json: output already exists \(pass --overwrite/);
  assert.equal(await readFile(out, 'utf8'), 'keep');
});

test('an existing non-empty --out folder is refused before any work unless --overwrite; an empty one is used', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'analysis');
  await mkdir(out);
  await writeFile(join(out, 'mine.txt'), 'keep');
  const refused = runCli(['analyze', EXAMPLE, '--out', out]);
  assert.equal(refused.status, EXIT_CODES.OUTPUT_ERROR, refused.stderr);
  assert.match(
    refused.stderr,
    /^spinegrade: .*analysis: output folder exists and is not empty \(pass --overwrite to replace it\)\n$/,
  );
  assert.deepEqual(await readdir(out), ['mine.txt']);
  const replaced = runCli(['analyze', EXAMPLE, '--out', out, '--overwrite', '--quiet']);
  assert.equal(replaced.status, 0, replaced.stderr);
  const replacedFiles = await readdir(out);
  assert.ok(replacedFiles.includes('findings.json'), replacedFiles.join(', '));
  assert.ok(!replacedFiles.includes('mine.txt'), 'the old folder is replaced, not merged');
  const empty = join(folder, 'empty');
  await mkdir(empty);
  const run = runCli(['analyze', EXAMPLE_MHA, '--out', empty, '--json']);
  assert.equal(run.status, 0, run.stderr);
  const emptyFiles = await readdir(empty);
  assert.ok(emptyFiles.includes('findings.json'), emptyFiles.join(', '));
  assert.ok(!emptyFiles.includes('sr.dcm'), 'no SR for MetaImage input');
  assert.deepEqual((await readdir(folder)).sort(), ['analysis', 'empty']);
});

test('analyze --levels shift=+1 relabels every disc one level up', () => {
  const plain = JSON.parse(runCli(['analyze', EXAMPLE_MHA, '--json']).stdout) as FindingsDocument;
  const run = runCli(['analyze', EXAMPLE_MHA, '--json', '--levels', 'shift=+1']);
  assert.equal(run.status, 0, run.stderr);
  const shifted = JSON.parse(run.stdout) as FindingsDocument;
  const series = shifted.studies[0]!.series[0]!;
  assert.equal(series.levelOverride, 1);
  assert.deepEqual(
    series.discs.map((d) => d.ivdLabel),
    plain.studies[0]!.series[0]!.discs.map((d) => d.ivdLabel + 1),
  );
  const table = runCli(['analyze', EXAMPLE_MHA, '--levels', 'shift=+1']);
  assert.match(table.stdout, /override: \+1 level\(s\)/);
});

test('analyze refuses bad options with a usage error that names them', async (t) => {
  const folder = await tempFolder(t);
  for (const [args, pattern] of [
    [['--levels', 'L5/S1=12'], /--levels "L5\/S1=12": "12" is not two or three numbers .*e\.g\. shift=\+1/],
    [['--levels', 'shift=up'], /--levels "shift=up": shift "up" is not a whole number/],
    [['--levels-series', '1.2.3'], /--levels-series needs --levels/],
    [['--format', 'xml'], /--format wants table or json, got "xml"/],
    [['--engine', 'gpu'], /--engine wants auto, onnx, tfjs, got "gpu"/],
    [['--json', '--format', 'table'], /--json and --format table contradict each other/],
    [['--out', join(folder, 'missing', 'analysis')], /output folder .*missing does not exist/],
  ] as const) {
    const run = runCli(['analyze', EXAMPLE, ...args]);
    const kind = args[0] === '--out' ? 'OUTPUT_ERROR' : 'USAGE';
    assert.equal(run.status, EXIT_CODES[kind], `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern);
    assert.equal(run.stderr.trim().split('\n').length, 1, 'one line');
    assert.equal(run.stdout, '');
  }
  const misspelt = runCli(['analyze', EXAMPLE], { SPINEGRADE_ENGINE: 'gpu' });
  assert.equal(misspelt.status, EXIT_CODES.USAGE);
  assert.match(misspelt.stderr, /SPINEGRADE_ENGINE wants auto, onnx, tfjs, got "gpu"/);
  const none = runCli(['analyze']);
  assert.equal(none.status, EXIT_CODES.USAGE);
  assert.match(none.stderr, /analyze needs at least one file or folder/);
  assert.deepEqual(await readdir(folder), []);
});

test('analyze gives the same findings on onnxruntime (the default) as on TensorFlow.js', {
  skip: onnxRuntimeAvailable() ? false : 'onnxruntime-node is not installed (an optional dependency)',
}, () => {
  const strip = (text: string): FindingsDocument => {
    const { createdAt: _, ...document } = JSON.parse(text) as FindingsDocument;
    return document as FindingsDocument;
  };
  const onnx = runCli(['analyze', EXAMPLE_MHA, '--json', '--engine', 'onnx']);
  const tfjs = runCli(['analyze', EXAMPLE_MHA, '--json'], { SPINEGRADE_ENGINE: 'tfjs' });
  const auto = runCli(['analyze', EXAMPLE_MHA, '--json']);
  for (const run of [onnx, tfjs, auto]) assert.equal(run.status, 0, run.stderr);
  const [a, b, c] = [onnx, tfjs, auto].map((run) => strip(run.stdout)) as [
    FindingsDocument,
    FindingsDocument,
    FindingsDocument,
  ];
  assert.deepEqual(c, a, 'auto runs onnxruntime here');
  assert.equal(a.models.grader.engine, 'onnx');
  assert.equal(b.models.localizer.engine, 'tfjs', 'SPINEGRADE_ENGINE sets the engine');
  const discs = (d: FindingsDocument) => d.studies[0]!.series[0]!.discs;
  assert.deepEqual(
    discs(a).map((d) => [d.level, d.pfirrmann.grade, d.modic.grade, d.geometry]),
    discs(b).map((d) => [d.level, d.pfirrmann.grade, d.modic.grade, d.geometry]),
  );
  discs(a).forEach((disc, n) => {
    disc.pfirrmann.probs.forEach((p, k) => assert.ok(Math.abs(p - discs(b)[n]!.pfirrmann.probs[k]!) < 1e-4));
  });
});

test('a level anchor with no disc near it is a usage error', () => {
  const run = runCli(['analyze', EXAMPLE, '--levels', 'L5/S1=3,3']);
  assert.equal(run.status, EXIT_CODES.USAGE, run.stderr);
  assert.match(
    run.stderr,
    /level override: no disc within 15 mm of the L5\/S1 point on series [0-9.]+ \(the nearest, /,
  );
});

for (const c of REFUSALS) {
  test(`analyze refuses ${c.name} with exit code ${EXIT_CODES.NO_USABLE_SERIES} and writes nothing`, async (t) => {
    const folder = await tempFolder(t);
    const input = await writeCase(folder, 'input', c.volume());
    const out = join(folder, 'analysis');
    const run = runCli(['analyze', input, '--out', out]);
    assert.equal(run.status, EXIT_CODES.NO_USABLE_SERIES, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, /^spinegrade: .*input: no series can be graded \(/);
    assert.match(lines[0]!, c.message);
    assert.equal(existsSync(out), false);
  });
}
