import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT_CODES } from '../../src/errors.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

const EXAMPLE = 'examples/spider-98-t2space';

test('inspect shows the example DICOM study as a usable sagittal T2 series with its spacing', () => {
  const run = runCli(['inspect', `${EXAMPLE}/dicom`]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /sagittal · T2 3D \(description "T2_space_sag_c4" names T2\)/);
  assert.match(run.stdout, /size 512×640×11 · spacing 0\.469×0\.469×1 mm · 11 sagittal slices/);
  assert.match(run.stdout, /usable for grading: yes/);
});

test('inspect --json of the example matches the documented, committed document exactly', async () => {
  const run = runCli(['inspect', `${EXAMPLE}/dicom`, '--json']);
  assert.equal(run.status, 0, run.stderr);
  const expected = JSON.parse(await readFile(join(REPO_ROOT, 'test/fixtures/inspect-example.json'), 'utf8'));
  assert.deepEqual(JSON.parse(run.stdout), expected);
});

test('the example .mha reads as the same sagittal T2 volume as the DICOM series', () => {
  const run = runCli(['inspect', `${EXAMPLE}/spider-98-t2space.mha`, '--json']);
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  const series = report.studies[0].series[0];
  assert.equal(series.format, 'metaimage');
  assert.equal(series.plane, 'sagittal');
  assert.equal(series.sequence, 'T2');
  assert.deepEqual(series.size, [512, 640, 11]);
  assert.deepEqual(series.spacingMm, [0.46875, 0.46875, 1]);
});

test('a PNG slice without --pixel-spacing is listed but not graded, and says how to fix it', () => {
  const run = runCli(['inspect', 'test/fixtures/spider-slices/98_t2.png']);
  assert.equal(run.status, EXIT_CODES.NO_USABLE_SERIES);
  assert.match(run.stdout, /pixel spacing unknown .*pass --pixel-spacing/);
});

test('a PNG slice with --pixel-spacing is a usable sagittal series named by its file', () => {
  const run = runCli(['inspect', 'test/fixtures/spider-slices/98_t2.png', '--pixel-spacing', '0.5859375', '--json']);
  assert.equal(run.status, 0, run.stderr);
  const series = JSON.parse(run.stdout).studies[0].series[0];
  assert.equal(series.plane, 'sagittal');
  assert.equal(series.sequence, 'T2');
  assert.equal(series.spacingSource, 'user');
  assert.deepEqual(series.spacingMm.slice(0, 2), [0.585938, 0.585938]);
  assert.equal(series.usableForGrading, true);
});

test('inspect lists non-image files it skipped in a mixed folder', () => {
  const run = runCli(['inspect', EXAMPLE, '--json']);
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.usableSeries, 2);
  assert.ok(report.skipped.some((s: { path: string }) => s.path.endsWith('CREDIT.md')));
});

test('help lists the commands and exits 0', () => {
  const run = runCli(['--help']);
  assert.equal(run.status, 0);
  assert.match(run.stdout, /spinegrade inspect/);
  assert.match(run.stdout, /not a medical device/);
});
