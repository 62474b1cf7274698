import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT_CODES } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const EXAMPLE = 'examples/spider-98-t2space/dicom';

interface Report {
  version: number;
  studies: {
    series: {
      sequence: string;
      discs: {
        level: string;
        pfirrmann: { probs: number[] };
        measures: { discHeightMm: number };
        centerMm: number[];
      }[];
    }[];
  }[];
}

test('analyze grades the bundled example with the bundled models into one JSON report', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'report.json');
  const run = runCli(['analyze', EXAMPLE, '--out', out]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /L5\/S1 +Pfirrmann [1-5]/);
  const report = JSON.parse(await readFile(out, 'utf8')) as Report;
  assert.equal(report.version, 1);
  const [series] = report.studies[0]!.series;
  assert.equal(series!.sequence, 'T2');
  const levels = series!.discs.map((d) => d.level);
  for (const level of ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'])
    assert.ok(levels.includes(level), levels.join(', '));
  for (const disc of series!.discs) {
    assert.ok(Math.abs(disc.pfirrmann.probs.reduce((s, p) => s + p, 0) - 1) < 1e-6);
    assert.ok(disc.measures.discHeightMm > 0);
    assert.equal(disc.centerMm.length, 3);
  }
});

test('analyze of a folder without images fails with NO_IMAGES and writes no report; an existing report needs --overwrite', async (t) => {
  const folder = await tempFolder(t);
  const empty = join(folder, 'empty');
  await mkdir(empty);
  const out = join(folder, 'report.json');
  const run = runCli(['analyze', empty, '--out', out]);
  assert.equal(run.status, EXIT_CODES.NO_IMAGES, run.stderr);
  assert.equal(existsSync(out), false);
  await writeFile(out, 'keep');
  const again = runCli(['analyze', EXAMPLE, '--out', out]);
  assert.equal(again.status, EXIT_CODES.OUTPUT_ERROR, again.stderr);
  assert.equal(await readFile(out, 'utf8'), 'keep');
});
