import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type AnalysisResult,
  type AnalyzeOptions,
  type Analyzer,
  analyze,
  createAnalyzer,
} from '../../src/analyze/analyze.js';
import { findingsJson } from '../../src/analyze/outputs.js';
import { validateFindings } from '../../src/analyze/validate.js';
import { SpinegradeError } from '../../src/errors.js';
import { readDicomFile } from '../../src/io/dicom/read.js';
import { readMetaImage, writeMetaImage } from '../../src/io/metaimage.js';
import { readPicture } from '../../src/io/png.js';
import type { DiscFindings } from '../../src/report/findings.js';
import { gradingSuitability } from '../../src/volume/suitability.js';
import { IDENTITY_DIRECTION } from '../../src/volume/volume.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';
import { REFUSALS, writeCase } from './synthetic.js';

const EXAMPLE_DICOM = join(REPO_ROOT, 'examples/spider-98-t2space/dicom');
const EXAMPLE_MHA = join(REPO_ROOT, 'examples/spider-98-t2space/spider-98-t2space.mha');
const LUMBAR = ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'];

let analyzer: Analyzer;
let base: AnalysisResult;
const stages: string[] = [];

before(async () => {
  analyzer = await createAnalyzer();
  base = await analyzer.analyze([EXAMPLE_DICOM], {
    onProgress: (stage) => {
      if (stages.at(-1) !== stage) stages.push(stage);
    },
  });
});
after(() => analyzer.dispose());

const levelsOf = (discs: readonly { level: string }[]): string[] => discs.map((d) => d.level);

test('analyze grades the DICOM example into a valid findings document with every lumbar level', async () => {
  const { findings, artefacts, timings } = base;
  assert.deepEqual(validateFindings(findings), []);
  assert.deepEqual(validateFindings(JSON.parse(findingsJson(findings))), [], 'still valid as written (6 decimals)');
  assert.equal(findings.schema, 'spinegrade/findings');
  assert.match(findings.disclaimer, /not a medical device/i);
  assert.equal(findings.models.grader.variant.length > 0, true);
  assert.ok(
    findings.models.grader.accuracy.some((line) => /kappa|κ/i.test(line)),
    'the grader card states a κ',
  );
  assert.ok(findings.models.localizer.accuracy.some((line) => /right level/.test(line)));
  const [study] = findings.studies;
  assert.equal(findings.studies.length, 1);
  assert.equal(study!.sourceFormat, 'dicom');
  assert.equal(study!.key, study!.studyInstanceUid);
  assert.deepEqual(study!.skipped, []);
  const [series] = study!.series;
  assert.equal(series!.sequence, 'T2');
  assert.match(series!.selection, /usable sagittal T2 .*graded first \(T2 is preferred\)/);
  assert.equal(series!.levelOverride, 0);
  for (const level of LUMBAR) assert.ok(levelsOf(series!.discs).includes(level), levelsOf(series!.discs).join(', '));
  for (const level of LUMBAR) assert.ok(levelsOf(study!.levels).includes(level), levelsOf(study!.levels).join(', '));
  for (const level of study!.levels) {
    assert.deepEqual(level.fromSeries, [0]);
    const disc = series!.discs.find((d) => d.ivdLabel === level.ivdLabel) as DiscFindings;
    assert.deepEqual(level.pfirrmann.probs, disc.pfirrmann.probs, 'one series: the fused level is that series');
  }
  // The chosen slice's file and its SOP Instance UID.
  const art = artefacts[0]!.series[0]!;
  assert.equal(basename(art.sourcePath ?? ''), `IM${String(series!.midSagittalSlice + 1).padStart(4, '0')}.dcm`);
  const file = await readDicomFile(art.sourcePath as string);
  assert.equal(series!.midSagittalSopInstanceUid, file.dataset.SOPInstanceUID);
  assert.deepEqual(series!.sliceSize, [art.slice.width, art.slice.height]);
  assert.equal(art.localization.slice.classes.length, art.slice.width * art.slice.height);
  assert.equal(art.graded.discs.length, series!.discs.length);
  assert.equal(art.volume.metadata.sopInstanceUids?.length, 11);
  for (const stage of ['read', 'localize', 'grade'] as const) assert.ok(timings[stage] > 0, stage);
  assert.ok(timings.total >= timings.read + timings.localize + timings.grade);
  assert.deepEqual(stages, ['read', 'localize', 'grade']);
});

test('the .mha example gives the same levels and grades as the DICOM series, without DICOM identifiers', async () => {
  const { findings, artefacts } = await analyzer.analyze([EXAMPLE_MHA]);
  assert.deepEqual(validateFindings(findings), []);
  const study = findings.studies[0]!;
  assert.equal(study.sourceFormat, 'metaimage');
  assert.equal(study.key, EXAMPLE_MHA);
  assert.equal(study.studyInstanceUid, null);
  const series = study.series[0]!;
  assert.equal(series.midSagittalSopInstanceUid, null);
  assert.equal(artefacts[0]!.series[0]!.sourcePath, EXAMPLE_MHA);
  const dicom = base.findings.studies[0]!.series[0]!;
  assert.deepEqual(levelsOf(series.discs), levelsOf(dicom.discs));
  series.discs.forEach((disc, n) => {
    assert.equal(disc.pfirrmann.grade, dicom.discs[n]!.pfirrmann.grade, disc.level);
  });
});

test('a T2 and a T1 series of one study are both graded, T2 first, and fused per level', async (t) => {
  const folder = await tempFolder(t);
  const volume = await readMetaImage(EXAMPLE_MHA);
  await writeMetaImage(volume, join(folder, 't2_sag.mha'));
  await writeMetaImage(
    { ...volume, metadata: { ...volume.metadata, seriesDescription: 't1_tse_sag' } },
    join(folder, 't1_sag.mha'),
  );
  const { findings } = await analyzer.analyze([folder]);
  assert.deepEqual(validateFindings(findings), []);
  const study = findings.studies[0]!;
  assert.deepEqual(
    study.series.map((s) => s.sequence),
    ['T2', 'T1'],
  );
  assert.match(study.series[1]!.selection, /fused per level/);
  const [t2, t1] = study.series as [(typeof study.series)[0], (typeof study.series)[0]];
  for (const level of study.levels) {
    const a = t2.discs.find((d) => d.ivdLabel === level.ivdLabel);
    const b = t1.discs.find((d) => d.ivdLabel === level.ivdLabel);
    assert.deepEqual(
      level.fromSeries,
      [a ? 0 : undefined, b ? 1 : undefined].filter((n) => n !== undefined),
    );
    if (!a || !b) continue;
    level.pfirrmann.probs.forEach((p, k) => {
      assert.ok(Math.abs(p - (a.pfirrmann.probs[k]! + b.pfirrmann.probs[k]!) / 2) < 1e-9, `${level.level} mean`);
    });
    assert.ok(Math.abs(level.herniation - (a.herniation + b.herniation) / 2) < 1e-9);
    assert.equal(level.needsReview, Math.max(...level.pfirrmann.probs) < findings.reviewThreshold);
    assert.deepEqual(level.measures, a.measures, 'measures come from the T2 series');
  }
  for (const level of LUMBAR) assert.ok(levelsOf(study.levels).includes(level));
});

test('a series that cannot be graded is listed under skipped with its reasons', async (t) => {
  const folder = await tempFolder(t);
  const volume = await readMetaImage(EXAMPLE_MHA);
  await writeMetaImage(volume, join(folder, 't2_sag.mha'));
  await writeMetaImage(
    { ...volume, direction: IDENTITY_DIRECTION, metadata: { ...volume.metadata, seriesDescription: 't2_tse_ax' } },
    join(folder, 't2_ax.mha'),
  );
  const { findings } = await analyzer.analyze([folder]);
  const study = findings.studies[0]!;
  assert.equal(study.series.length, 1);
  assert.deepEqual(study.skipped, [
    {
      seriesInstanceUid: null,
      seriesDescription: 't2_tse_ax',
      reasons: ['axial plane: grading needs sagittal slices'],
    },
  ]);
});

test('explain adds Grad-CAM heat for every graded disc, for its predicted Pfirrmann grade', async () => {
  const { artefacts, findings, timings } = await analyzer.analyze([EXAMPLE_DICOM], { explain: true });
  const art = artefacts[0]!.series[0]!;
  const discs = findings.studies[0]!.series[0]!.discs;
  assert.equal(art.heat?.length, discs.length);
  art.heat!.forEach((h, n) => {
    assert.equal(h.level, discs[n]!.level);
    assert.deepEqual(h.target, { finding: 'pfirrmann', grade: discs[n]!.pfirrmann.grade });
    assert.equal(h.heat.slice.length, art.slice.width * art.slice.height);
  });
  assert.ok(art.heat!.some((h) => h.heat.slice.some((v) => v > 0)));
  assert.ok(timings.explain > 0);
});

test('level override shift=+1 moves every disc one level up and grades them again', async () => {
  const shifted = await analyzer.analyze([EXAMPLE_DICOM], { levelOverride: { shift: 1 } });
  assert.deepEqual(validateFindings(shifted.findings), []);
  const before = base.findings.studies[0]!.series[0]!;
  const now = shifted.findings.studies[0]!.series[0]!;
  assert.equal(now.levelOverride, 1);
  assert.ok(now.warnings.some((w) => /shifted up by 1 level\(s\) by the user's level override/.test(w)));
  assert.equal(now.discs.length, before.discs.length);
  // How far each disc's Pfirrmann distribution moved (total variation): re-grading at the new level goes
  // through the level-aware context model, so it moves every disc by a few hundredths, not by float noise.
  const moved: number[] = [];
  for (const disc of now.discs) {
    const old = before.discs.find(
      (d) =>
        d.geometry.centerPx[0] === disc.geometry.centerPx[0] && d.geometry.centerPx[1] === disc.geometry.centerPx[1],
    );
    assert.ok(old, `disc at ${disc.geometry.centerPx} was there before`);
    assert.equal(disc.ivdLabel, old.ivdLabel + 1);
    moved.push(disc.pfirrmann.probs.reduce((s, p, k) => s + Math.abs(p - old.pfirrmann.probs[k]!), 0) / 2);
  }
  // L5/S1 is now the disc that was S1/S2 before, or none: the lowest lumbar disc became L4/L5.
  const lowest = before.discs.find((d) => d.level === 'L5/S1')!;
  assert.equal(now.discs.find((d) => d.geometry.centerPx[1] === lowest.geometry.centerPx[1])?.level, 'L4/L5');
  // Today every disc moves by 0.036 to 0.172 (mean 0.082).
  const meanMoved = moved.reduce((s, v) => s + v, 0) / moved.length;
  assert.ok(
    moved.every((v) => v >= 0.01) && meanMoved >= 0.04,
    `the level-aware grader re-grades every disc at its new level: moved ${moved.map((v) => v.toFixed(3)).join(', ')}`,
  );
  assert.deepEqual(
    shifted.findings.studies[0]!.levels.map((l) => l.ivdLabel),
    base.findings.studies[0]!.levels.map((l) => l.ivdLabel + 1),
  );
});

test('a level anchor at a pixel names the disc there and relabels the chain; an anchor on its own level changes nothing', async () => {
  const before = base.findings.studies[0]!.series[0]!;
  const l45 = before.discs.find((d) => d.level === 'L4/L5')!;
  const anchored = await analyzer.analyze([EXAMPLE_DICOM], {
    levelOverride: { anchor: { level: 'L5/S1', atPx: [l45.geometry.centerPx[0] + 2, l45.geometry.centerPx[1] - 1] } },
  });
  const series = anchored.findings.studies[0]!.series[0]!;
  assert.equal(series.levelOverride, -1);
  const moved = series.discs.find((d) => d.geometry.centerPx[1] === l45.geometry.centerPx[1])!;
  assert.equal(moved.level, 'L5/S1');
  assert.ok(
    series.discs.some((d) => d.level === 'S1/S2'),
    'the former L5/S1 is now below L5/S1',
  );
  assert.equal(series.possibleTransitional, true);

  const l34 = before.discs.find((d) => d.level === 'L3/L4')!;
  const same = await analyzer.analyze([EXAMPLE_DICOM], {
    levelOverride: { anchor: { level: 'L3/L4', atMm: l34.geometry.centerMm } },
  });
  const unchanged = same.findings.studies[0]!.series[0]!;
  assert.equal(unchanged.levelOverride, 0);
  assert.deepEqual(
    unchanged.discs.map((d) => [d.level, d.pfirrmann.probs]),
    before.discs.map((d) => [d.level, d.pfirrmann.probs]),
  );
});

test('level overrides that cannot be applied are usage errors naming the problem', async () => {
  const refused = async (options: AnalyzeOptions, pattern: RegExp) =>
    assert.rejects(analyzer.analyze([EXAMPLE_DICOM], options), (error: unknown) => {
      assert.ok(error instanceof SpinegradeError);
      assert.equal(error.kind, 'USAGE');
      assert.match(error.message, pattern);
      return true;
    });
  await refused(
    { levelOverride: { anchor: { level: 'L5/S1', atPx: [2, 2] } } },
    /no disc within 15 mm of the L5\/S1 point/,
  );
  await refused(
    { levelOverride: { anchor: { level: 'L5/S1', atPx: [5000, 2] } } },
    /pixel \(5000, 2\) is outside the mid-sagittal slice \(512×640\)/,
  );
  await refused(
    { levelOverride: { shift: 1, seriesUid: '1.2.3' } },
    /no graded series has Series Instance UID 1\.2\.3/,
  );
  await refused({ levelOverride: { shift: 9 } }, /shift 9 must be a whole number of at most 5 levels/);
  await refused({ levelOverride: { anchor: { level: 'L9/L10' } } }, /"L9\/L10" is not a disc level/);
});

for (const c of REFUSALS) {
  test(`analyze refuses ${c.name} with NO_USABLE_SERIES and says why`, async (t) => {
    const folder = await tempFolder(t);
    const input = await writeCase(folder, c.name, c.volume());
    await assert.rejects(analyzer.analyze([input]), (error: unknown) => {
      assert.ok(error instanceof SpinegradeError, String(error));
      assert.equal(error.kind, 'NO_USABLE_SERIES');
      assert.match(error.message, /no series can be graded/);
      assert.match(error.message, c.message);
      return true;
    });
  });
}

test('an empty folder and a missing path are refused before any grading', async (t) => {
  const folder = await tempFolder(t);
  const empty = join(folder, 'empty');
  await mkdir(empty);
  await assert.rejects(analyzer.analyze([empty]), { kind: 'NO_IMAGES' });
  await assert.rejects(analyzer.analyze([join(folder, 'missing')]), { kind: 'NOT_FOUND' });
  await assert.rejects(analyzer.analyze([]), { kind: 'USAGE' });
});

test('an aborted analysis stops with the signal reason', async () => {
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  await assert.rejects(analyzer.analyze([EXAMPLE_DICOM], { signal: controller.signal }), /stop/);
});

test('the one-shot analyze() loads the models, grades and frees them', async () => {
  const result = await analyze([EXAMPLE_MHA]);
  assert.deepEqual(validateFindings(result.findings), []);
  assert.ok(result.findings.studies[0]!.series[0]!.discs.length >= 5);
});

test('suitability: the example and a PNG picture with a spacing stay usable; contrast and structure are reported', async () => {
  const example = gradingSuitability(await readMetaImage(EXAMPLE_MHA));
  assert.equal(example.usable, true, example.reasons.join('; '));
  assert.ok((example.contrast ?? 0) > 0.5 && (example.structure ?? 0) > 0.9);
  const picture = await readPicture(join(REPO_ROOT, 'test/fixtures/spider-slices/98_t2.png'), {
    pixelSpacing: [0.5859375, 0.5859375],
  });
  assert.deepEqual(gradingSuitability(picture).reasons, []);
});
