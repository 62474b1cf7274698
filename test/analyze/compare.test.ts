import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { loadSingleVolume } from '../../src/io/load.js';
import { writeMetaImage } from '../../src/io/metaimage.js';
import {
  COMPARED_MEASURES,
  COMPARISON_SCHEMA,
  COMPARISON_VERSION,
  compareFindings,
  probabilityDifferent,
  type StudyComparison,
} from '../../src/report/compare.js';
import { FINDINGS_VERSION, type FindingsDocument, type FusedLevelFindings } from '../../src/report/findings.js';
import type { Volume } from '../../src/volume/volume.js';
import { withPage } from '../helpers/chromium.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const EXAMPLE = 'examples/spider-98-t2space/dicom';
const COMPARISON_PNG = join(REPO_ROOT, 'test-output/comparison.png');

test('the probability that a grade changed comes from both distributions', () => {
  assert.equal(probabilityDifferent([1, 0, 0], [1, 0, 0]), 0);
  assert.equal(probabilityDifferent([1, 0, 0], [0, 1, 0]), 1);
  assert.ok(Math.abs(probabilityDifferent([0.5, 0.5], [0.5, 0.5]) - 0.5) < 1e-12);
});

function level(name: string, grade: number, height: number, canal: number | null): FusedLevelFindings {
  const probs = [1, 2, 3, 4, 5].map((g) => (g === grade ? 0.9 : 0.025));
  return {
    level: name,
    ivdLabel: 2,
    pfirrmann: { grade, probs },
    modic: { grade: 0, probs: [0.97, 0.01, 0.01, 0.01] },
    needsReview: false,
    measures: {
      discHeightAnteriorMm: height,
      discHeightMiddleMm: height,
      discHeightPosteriorMm: height,
      discHeightMm: height,
      discHeightIndex: 0.3,
      signalIntensityRatio: 0.4,
      nucleusAnnulusContrast: 1,
      endplateSignalRatio: 1,
      listhesisMm: 0,
      wedgeAngleDeg: 0,
      discAngleDeg: 0,
      canalApMm: canal,
    },
    endplateUpper: 0.1,
    endplateLower: 0.1,
    spondylolisthesis: 0.1,
    herniation: 0.9,
    bulging: 0.1,
    narrowing: 0.1,
    fromSeries: [0],
  };
}

function document(levels: FusedLevelFindings[], key: string): FindingsDocument {
  return {
    schema: 'spinegrade/findings',
    version: FINDINGS_VERSION,
    createdAt: '2026-01-01T00:00:00Z',
    software: { name: 'spinegrade', version: '0.1.0' },
    disclaimer: '',
    credit: '',
    models: {
      grader: { dir: 'g', variant: 'cnn', accuracy: [] },
      localizer: { dir: 'l', variant: 'localizer', accuracy: [] },
    },
    reviewThreshold: 0.5,
    studies: [{ key, studyInstanceUid: null, sourceFormat: 'nifti', series: [], levels, skipped: [] }],
  };
}

test('levels are matched by name; a change smaller than the repeatability coefficient is within noise', () => {
  const noise = {
    source: 'test',
    coefficients: { discHeightMm: 1, discHeightIndex: 0.05, signalIntensityRatio: null, canalApMm: 2 },
  };
  const comparison = compareFindings(
    document([level('L3/L4', 2, 9, 12), level('L4/L5', 3, 8, 11)], 'before'),
    document([level('L4/L5', 4, 6.5, 10.5), level('L5/S1', 4, 7, null)], 'after'),
    noise,
  );
  assert.equal(comparison.schema, COMPARISON_SCHEMA);
  assert.deepEqual(comparison.onlyInBaseline, ['L3/L4']);
  assert.deepEqual(comparison.onlyInFollowUp, ['L5/S1']);
  const [l45] = comparison.levels;
  assert.equal(l45?.level, 'L4/L5');
  assert.deepEqual([l45?.pfirrmann.baseline, l45?.pfirrmann.followUp], [3, 4]);
  assert.ok(Math.abs((l45?.pfirrmann.probabilityChanged ?? 0) - (1 - 2 * 0.9 * 0.025 - 3 * 0.025 ** 2)) < 1e-4);
  assert.deepEqual(l45?.measures.discHeightMm, {
    baseline: 8,
    followUp: 6.5,
    change: -1.5,
    repeatabilityCoefficient: 1,
    withinNoise: false,
  });
  assert.equal(l45?.measures.canalApMm.withinNoise, true, '-0.5 mm against a coefficient of 2 mm');
  assert.equal(l45?.measures.signalIntensityRatio.withinNoise, null, 'no coefficient measured: not said');
  // Herniation 0.9 in both: changed only if one of them is wrong.
  assert.ok(Math.abs((l45?.findings.herniation.probabilityChanged ?? 0) - 0.18) < 1e-9);
});

/** The volume moved by `shift` voxels along its first axis (edge voxels repeated). */
function shifted(volume: Volume, shift: number): Volume {
  const [nx, ny, nz] = volume.size;
  const voxels = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const from = Math.min(nx - 1, Math.max(0, i - shift));
        voxels[i + nx * (j + ny * k)] = volume.voxels[from + nx * (j + ny * k)] as number;
      }
  return { ...volume, voxels };
}

test('spinegrade compare on two real studies: the example and a shifted copy of it', {
  timeout: 600_000,
}, async (t) => {
  const dir = await tempFolder(t);
  const copy = join(dir, 'shifted.mha');
  await writeMetaImage(shifted(await loadSingleVolume([join(REPO_ROOT, EXAMPLE)]), 6), copy);
  for (const [input, out] of [
    [EXAMPLE, join(dir, 'baseline')],
    [copy, join(dir, 'follow-up')],
  ] as const) {
    const run = runCli(['analyze', input, '--out', out, '--quiet']);
    assert.equal(run.status, 0, run.stderr);
  }
  const out = join(dir, 'comparison');
  const run = runCli(['compare', join(dir, 'baseline'), join(dir, 'follow-up'), '--out', out]);
  assert.equal(run.status, 0, run.stderr);
  const comparison = JSON.parse(await readFile(join(out, 'comparison.json'), 'utf8')) as StudyComparison;
  assert.equal(comparison.version, COMPARISON_VERSION);
  const levels = comparison.levels.map((l) => l.level);
  for (const lumbar of ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1']) assert.ok(levels.includes(lumbar), lumbar);
  for (const l of comparison.levels) {
    assert.ok(l.pfirrmann.probabilityChanged >= 0 && l.pfirrmann.probabilityChanged <= 1);
    for (const m of COMPARED_MEASURES) {
      const c = l.measures[m];
      if (c.change !== null && c.repeatabilityCoefficient !== null) {
        assert.equal(c.withinNoise, Math.abs(c.change) < c.repeatabilityCoefficient, `${l.level} ${m}`);
      }
    }
  }
  // The same images moved by 6 voxels: the disc heights stay within a millimetre.
  const heights = comparison.levels.map((l) => Math.abs(l.measures.discHeightMm.change ?? 0));
  t.diagnostic(`disc height changes ${heights.map((h) => h.toFixed(2)).join(', ')} mm`);
  assert.ok(Math.max(...heights) < 1, `${heights}`);
  const html = await readFile(join(out, 'comparison.html'), 'utf8');
  assert.equal(html.match(/<img [^>]*class="overlay"/g)?.length, 2, 'the two overlays side by side');
  assert.equal(html.match(/<tr data-level=/g)?.length, comparison.levels.length);
  assert.doesNotMatch(html, /<script/);
  await withPage(t, async (page, problems) => {
    await page.setContent(html, { waitUntil: 'load' });
    const widths = await page.evaluate<number[]>('[...document.images].map((i) => (i.complete ? i.naturalWidth : 0))');
    assert.equal(widths.length, 2);
    assert.ok(
      widths.every((w) => w > 0),
      'both overlays decode',
    );
    const boxes = await Promise.all(['#baseline img', '#follow-up img'].map((s) => page.locator(s).boundingBox()));
    assert.ok(boxes[0] && boxes[1] && Math.abs(boxes[0].y - boxes[1].y) < 2 && boxes[1].x > boxes[0].x, 'side by side');
    assert.deepEqual(problems, []);
    await mkdir(dirname(COMPARISON_PNG), { recursive: true });
    await page.screenshot({ path: COMPARISON_PNG, fullPage: true });
  });
  assert.match(run.stdout, /^L4\/L5: Pfirrmann \d → \d \(p changed 0\.\d\d\)/m);
  const again = runCli(['compare', join(dir, 'baseline'), join(dir, 'follow-up'), '--out', out]);
  assert.equal(again.status, 16, 'an existing output folder is not replaced without --overwrite');
  const missing = runCli(['compare', join(dir, 'baseline'), join(dir, 'nothing')]);
  assert.equal(missing.status, 3);
  assert.match(missing.stderr, /nothing/);
});
