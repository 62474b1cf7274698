import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readDicomHeaders } from '../../src/report/dicomCodes.js';
import type { FindingsDocument } from '../../src/report/findings.js';
import { readSegmentation } from '../../src/report/seg.js';
import { readSrGrades } from '../../src/report/sr.js';
import { withPage } from '../helpers/chromium.js';
import { runCli } from '../helpers/cli.js';
import { programMissing, skipWhenMissing } from '../helpers/programs.js';

const EXAMPLE = 'examples/spider-98-t2space/dicom';
const SCREENSHOT = fileURLToPath(new URL('../../../test-output/analyze-report.png', import.meta.url));

/** One analysis of the example study into a report folder, shared by the tests below. */
let analysis: Promise<{ out: string; findings: FindingsDocument }> | undefined;
function analyseExample(folder: string): Promise<{ out: string; findings: FindingsDocument }> {
  analysis ??= (async () => {
    const out = join(folder, 'analysis');
    const run = runCli(['analyze', EXAMPLE, '--out', out]);
    assert.equal(run.status, 0, run.stderr);
    const findings = JSON.parse(await readFile(join(out, 'findings.json'), 'utf8')) as FindingsDocument;
    return { out, findings };
  })();
  return analysis;
}

const shared = await mkdtemp(join(tmpdir(), 'analyze-outputs-'));
after(() => rm(shared, { recursive: true, force: true }));

test('analyze of a DICOM study writes every output: findings, overlay, report, SR and SEG', async () => {
  const { out, findings } = await analyseExample(shared);
  assert.deepEqual((await readdir(out)).sort(), ['findings.json', 'overlay.png', 'report.html', 'seg.dcm', 'sr.dcm']);
  assert.equal(findings.studies.length, 1);
  const levels = findings.studies[0]?.series[0]?.discs.map((d) => d.level) ?? [];
  for (const level of ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1']) assert.ok(levels.includes(level), level);
});

test('the SR holds the same grade, Modic type and review flag per level as findings.json, and validates', async (t) => {
  const { out, findings } = await analyseExample(shared);
  const series = findings.studies[0]?.series[0];
  assert.ok(series);
  const grades = readSrGrades(await readFile(join(out, 'sr.dcm')));
  assert.deepEqual(
    grades.map((g) => [g.level, g.pfirrmann, g.modic, g.needsReview]),
    series.discs.map((d) => [d.level, d.pfirrmann.grade, d.modic.grade, d.needsReview]),
  );
  if (skipWhenMissing(t, programMissing('dsrdump', 'dcmtk') || programMissing('dciodvfy', 'dicom3tools'))) return;
  const dump = spawnSync('dsrdump', [join(out, 'sr.dcm')], { encoding: 'utf8' });
  assert.equal(dump.status, 0, dump.stderr);
  assert.doesNotMatch(dump.stderr, /^E:/m);
  assert.match(dump.stdout, /Imaging Measurement Report/);
  const verify = spawnSync('dciodvfy', [join(out, 'sr.dcm')], { encoding: 'utf8' });
  assert.doesNotMatch(`${verify.stdout}${verify.stderr}`, /^Error/m);
});

test('the SEG frames reference the source instances and the chosen slice, and the SEG validates', async (t) => {
  const { out, findings } = await analyseExample(shared);
  const series = findings.studies[0]?.series[0];
  assert.ok(series?.midSagittalSopInstanceUid);
  const files = (await readdir(EXAMPLE)).map((f) => join(EXAMPLE, f));
  const sources = new Set((await readDicomHeaders(files)).map((d) => String(d.SOPInstanceUID)));
  const seg = readSegmentation(await readFile(join(out, 'seg.dcm')));
  assert.deepEqual(
    seg.segments.map((s) => s.label),
    ['Intervertebral disc', 'Vertebral body', 'Spinal canal'].filter((label) =>
      seg.segments.some((s) => s.label === label),
    ),
  );
  assert.ok(seg.frames.length >= 2, 'disc and vertebra frames at least');
  for (const frame of seg.frames) {
    assert.ok(sources.has(frame.referencedSopInstanceUid), 'each frame references an instance of the study');
    assert.equal(frame.referencedSopInstanceUid, series.midSagittalSopInstanceUid, 'the chosen slice');
    assert.ok(frame.pixelCount > 0);
  }
  if (skipWhenMissing(t, programMissing('dciodvfy', 'dicom3tools'))) return;
  const verify = spawnSync('dciodvfy', [join(out, 'seg.dcm')], { encoding: 'utf8' });
  assert.doesNotMatch(`${verify.stdout}${verify.stderr}`, /^Error/m);
});

test('the HTML report opens in Chromium and shows the labelled image and one table row per disc', async (t) => {
  const { out, findings } = await analyseExample(shared);
  const html = await readFile(join(out, 'report.html'), 'utf8');
  await withPage(t, async (page, problems) => {
    await page.setContent(html, { waitUntil: 'load' });
    const overlay = await page.evaluate<number>(
      '(() => { const img = document.querySelector(\'img[id$="-overlay"]\'); return img && img.complete ? img.naturalWidth : 0; })()',
    );
    assert.ok(overlay >= 512, 'the overlay image is shown');
    const rows = await page.evaluate<string[]>(
      "[...document.querySelectorAll('#study0-series0-levels tbody tr')].map((r) => r.getAttribute('data-level'))",
    );
    assert.deepEqual(
      rows,
      findings.studies[0]?.series[0]?.discs.map((d) => d.level),
    );
    assert.ok(await page.isVisible('#disclaimer'));
    await mkdir(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(problems, []);
  });
});
