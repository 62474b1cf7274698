import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { NaturalDataset } from '../../src/io/dicom/dataset.js';
import { loadStudies } from '../../src/io/load.js';
import {
  allPrivateCodes,
  type CodedConcept,
  codeOf,
  DCM,
  decodePart10,
  discLevelCode,
  itemsOf,
  levelOfDiscCode,
  OTHER,
  PRIVATE,
  PRIVATE_SCHEME,
  readDicomHeaders,
  sameCode,
  UCUM,
} from '../../src/report/dicomCodes.js';
import {
  type DiscFindings,
  FINDINGS_SCHEMA,
  FINDINGS_VERSION,
  type FindingsDocument,
  RESEARCH_USE_DISCLAIMER,
  SPIDER_CREDIT,
  type StudyFindings,
} from '../../src/report/findings.js';
import { DRAFT_NOTICE, describeStudy, findingsText, impressionText } from '../../src/report/narrative.js';
import { buildMeasurementReport, COMPREHENSIVE_3D_SR_STORAGE, readSrGrades } from '../../src/report/sr.js';
import { extractSagittalSlice } from '../../src/volume/orientation.js';
import type { Volume } from '../../src/volume/volume.js';
import { programMissing, skipWhenMissing } from '../helpers/programs.js';
import { tempFolder } from '../helpers/tmp.js';

const EXAMPLE = 'examples/spider-98-t2space/dicom';

interface Example {
  volume: Volume;
  headers: NaturalDataset[];
  findings: FindingsDocument;
  study: StudyFindings;
  sr: Uint8Array;
}

function disc(
  volume: Volume,
  mid: number,
  level: string,
  ivdLabel: number,
  y: number,
  pfirrmann: number[],
  modic: number[],
  overrides: Partial<DiscFindings['measures']> = {},
): DiscFindings {
  const slice = extractSagittalSlice(volume, mid);
  const argmax = (p: number[]) => p.indexOf(Math.max(...p));
  const center: [number, number] = [250, y];
  const posterior: [number, number] = [300, y + 2];
  return {
    level,
    ivdLabel,
    pfirrmann: { grade: argmax(pfirrmann) + 1, probs: pfirrmann },
    modic: { grade: argmax(modic), probs: modic },
    needsReview: Math.max(...pfirrmann) < 0.5,
    measures: {
      discHeightAnteriorMm: 9.1,
      discHeightMiddleMm: 10.4,
      discHeightPosteriorMm: 7.2,
      discHeightMm: 8.9,
      discHeightIndex: 0.41,
      signalIntensityRatio: 0.83,
      nucleusAnnulusContrast: 1.7,
      endplateSignalRatio: 1.02,
      listhesisMm: 1.3,
      wedgeAngleDeg: 6.5,
      discAngleDeg: -12.25,
      canalApMm: 11.4,
      canalApBodyMm: 14.2,
      canalApRatio: 0.803,
      ...overrides,
    },
    geometry: {
      centerPx: center,
      posteriorPx: posterior,
      outlinePx: [
        [220, y - 8],
        [280, y - 8],
        [280, y + 8],
        [220, y + 8],
      ],
      centerMm: slice.pointOf(...center),
      posteriorMm: slice.pointOf(...posterior),
    },
    endplateUpper: 0.12,
    endplateLower: 0.08,
    spondylolisthesis: 0.05,
    herniation: 0.7,
    bulging: 0.45,
    narrowing: 0.3,
  };
}

let cached: Promise<Example> | undefined;

/** The example study, a hand-made findings document for it (three discs) and its SR, built once. */
function example(): Promise<Example> {
  cached ??= (async () => {
    const { studies } = await loadStudies([EXAMPLE]);
    const volume = studies[0]!.series[0]!;
    const headers = await readDicomHeaders(volume.metadata.sourcePaths);
    const mid = Math.floor(volume.size[2] / 2);
    const midUid = String(headers[mid]!.SOPInstanceUID);
    const discs = [
      disc(volume, mid, 'L3/L4', 3, 300, [0.05, 0.8, 0.1, 0.05, 0], [0.9, 0.05, 0.03, 0.02]),
      disc(volume, mid, 'L4/L5', 2, 400, [0, 0.1, 0.45, 0.4, 0.05], [0.7, 0.2, 0.1, 0], { listhesisMm: null }),
      disc(volume, mid, 'L5/S1', 1, 500, [0, 0, 0.05, 0.35, 0.6], [0.1, 0.2, 0.6, 0.1], {
        discHeightIndex: null,
        wedgeAngleDeg: null,
        canalApMm: null,
        canalApRatio: null,
      }),
    ];
    const study: StudyFindings = {
      key: String(headers[0]!.StudyInstanceUID),
      studyInstanceUid: String(headers[0]!.StudyInstanceUID),
      sourceFormat: 'dicom',
      series: [
        {
          seriesInstanceUid: String(headers[0]!.SeriesInstanceUID),
          seriesDescription: 'T2_space_sag_c4',
          seriesNumber: 3,
          sequence: 'T2',
          selection: 'sagittal T2',
          midSagittalSlice: mid,
          midSagittalSopInstanceUid: midUid,
          sliceSize: [volume.size[0], volume.size[1]],
          pixelSpacing: [volume.spacing[0], volume.spacing[1]],
          slicesGraded: 5,
          levelVote: { slices: 5, agreeing: 5, offsetApplied: 0 },
          levelOverride: 0,
          possibleTransitional: false,
          warnings: [],
          discs,
          vertebrae: [],
        },
      ],
      levels: discs.map(({ geometry: _geometry, ...rest }) => ({ ...rest, fromSeries: [0] })),
      skipped: [],
    };
    const findings: FindingsDocument = {
      schema: FINDINGS_SCHEMA,
      version: FINDINGS_VERSION,
      createdAt: '2024-01-01T00:00:00.000Z',
      software: { name: 'spinegrade', version: '0.1.0' },
      disclaimer: RESEARCH_USE_DISCLAIMER,
      credit: SPIDER_CREDIT,
      models: {
        grader: { dir: 'models/grader', variant: 'cnn', accuracy: [] },
        localizer: { dir: 'models/localizer', variant: 'localizer', accuracy: [] },
      },
      reviewThreshold: 0.5,
      studies: [study],
    };
    const sr = buildMeasurementReport({
      findings,
      study,
      sourceDatasets: headers,
      now: new Date('2024-05-06T07:08:09Z'),
    });
    return { volume, headers, findings, study, sr };
  })();
  return cached;
}

/** Every content item of an SR tree, depth first. */
function contentItems(root: NaturalDataset): NaturalDataset[] {
  const out: NaturalDataset[] = [];
  const walk = (item: NaturalDataset) => {
    for (const child of itemsOf(item, 'ContentSequence')) {
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}

function measurementGroups(root: NaturalDataset): NaturalDataset[] {
  const measurements = itemsOf(root, 'ContentSequence').find((i) =>
    sameCode(codeOf(i, 'ConceptNameCodeSequence'), DCM.imagingMeasurements),
  );
  return itemsOf(measurements, 'ContentSequence');
}

const named = (items: NaturalDataset[], concept: CodedConcept) =>
  items.find((i) => sameCode(codeOf(i, 'ConceptNameCodeSequence'), concept));

test('the SR holds the same Pfirrmann grade and Modic type per level as findings.json', async () => {
  const { sr, study } = await example();
  const grades = readSrGrades(sr);
  assert.deepEqual(
    grades.map(({ level, pfirrmann, modic, needsReview }) => ({ level, pfirrmann, modic, needsReview })),
    study.series[0]!.discs.map((d) => ({
      level: d.level,
      pfirrmann: d.pfirrmann.grade,
      modic: d.modic.grade,
      needsReview: d.needsReview,
    })),
  );
  assert.deepEqual(
    grades.map((g) => g.pfirrmann),
    [2, 3, 5],
  );
  assert.equal(grades[0]!.trackingIdentifier, 'L3/L4 disc, series 3');
});

test('the SR is a Comprehensive 3D SR Measurement Report that copies patient and study from the source', async () => {
  const { sr, headers } = await example();
  const d = decodePart10(sr);
  const source = headers[0]!;
  assert.equal(d.SOPClassUID, COMPREHENSIVE_3D_SR_STORAGE);
  assert.equal(d.Modality, 'SR');
  assert.equal(d.SeriesDescription, 'spinegrade findings');
  assert.equal(d.Manufacturer, 'spinegrade');
  assert.equal(d.VerificationFlag, 'UNVERIFIED');
  assert.equal(d.CompletionFlag, 'COMPLETE');
  assert.equal(d.ContentDate, '20240506');
  for (const keyword of ['PatientID', 'StudyInstanceUID', 'StudyDate', 'StudyID', 'StudyDescription']) {
    assert.equal(d[keyword], source[keyword], keyword);
  }
  assert.deepEqual(d.PatientName, source.PatientName);
  assert.notEqual(d.SeriesInstanceUID, source.SeriesInstanceUID);
  assert.match(String(d.SOPInstanceUID), /^2\.25\.\d+$/);
  assert.ok(sameCode(codeOf(d, 'ConceptNameCodeSequence'), DCM.imagingMeasurementReport));
  assert.equal(itemsOf(d, 'ContentTemplateSequence')[0]?.TemplateIdentifier, '1500');
  const scheme = itemsOf(d, 'CodingSchemeIdentificationSequence')[0];
  assert.equal(scheme?.CodingSchemeDesignator, PRIVATE_SCHEME);
  // The image library and the evidence list every source instance.
  const evidence = itemsOf(itemsOf(d, 'CurrentRequestedProcedureEvidenceSequence')[0], 'ReferencedSeriesSequence');
  const listed = itemsOf(evidence[0], 'ReferencedSOPSequence').map((r) => r.ReferencedSOPInstanceUID);
  assert.deepEqual([...listed].sort(), headers.map((h) => h.SOPInstanceUID).sort());
  const library = named(itemsOf(d, 'ContentSequence'), DCM.imageLibrary)!;
  const images = contentItems(library).filter((i) => i.ValueType === 'IMAGE');
  assert.equal(images.length, headers.length);
});

test('every measurement of a disc refers to the mid-sagittal source instance, with the disc centre in mm', async () => {
  const { sr, study, headers } = await example();
  const series = study.series[0]!;
  const groups = measurementGroups(decodePart10(sr));
  assert.equal(groups.length, series.discs.length);
  for (const [n, group] of groups.entries()) {
    const children = itemsOf(group, 'ContentSequence');
    const measured = children.filter((c) => c.ValueType === 'NUM' || (c.ValueType === 'CODE' && c.ContentSequence));
    assert.ok(measured.length >= 10);
    for (const item of measured) {
      const source = itemsOf(item, 'ContentSequence')[0]!;
      assert.equal(source.RelationshipType, 'INFERRED FROM');
      assert.equal(source.ValueType, 'IMAGE');
      const ref = itemsOf(source, 'ReferencedSOPSequence')[0]!;
      assert.equal(ref.ReferencedSOPInstanceUID, series.midSagittalSopInstanceUid);
      assert.equal(ref.ReferencedSOPClassUID, headers[0]!.SOPClassUID);
    }
    const centre = children.find((c) => c.ValueType === 'SCOORD3D')!;
    assert.equal(centre.GraphicType, 'POINT');
    assert.equal(centre.ReferencedFrameOfReferenceUID, headers[0]!.FrameOfReferenceUID);
    const expected = series.discs[n]!.geometry.centerMm;
    (centre.GraphicData as number[]).forEach((v, i) => {
      assert.ok(Math.abs(v - expected[i]!) < 1e-3);
    });
  }
});

test('probabilities are dimensionless, heights in mm and angles in degrees; null measures are left out', async () => {
  const { sr, study } = await example();
  const groups = measurementGroups(decodePart10(sr));
  const value = (group: NaturalDataset, concept: CodedConcept) => {
    const item = named(itemsOf(group, 'ContentSequence'), concept);
    if (!item) return undefined;
    const measured = itemsOf(item, 'MeasuredValueSequence')[0]!;
    return { value: Number(measured.NumericValue), unit: codeOf(measured, 'MeasurementUnitsCodeSequence') };
  };
  const l4 = groups[1]!;
  const herniation = value(l4, PRIVATE.herniation)!;
  assert.equal(herniation.value, 0.7);
  assert.ok(sameCode(herniation.unit, UCUM.noUnits));
  const pfirrmannP = value(l4, PRIVATE.pfirrmannProbability)!;
  assert.equal(pfirrmannP.value, 0.45);
  assert.ok(sameCode(value(l4, PRIVATE.discHeightMean)!.unit, UCUM.millimetre));
  assert.ok(sameCode(value(l4, PRIVATE.discAngle)!.unit, UCUM.degree));
  assert.equal(value(l4, PRIVATE.discAngle)!.value, -12.25);
  assert.equal(value(l4, PRIVATE.listhesis), undefined);
  assert.equal(value(groups[0]!, PRIVATE.listhesis)?.value, 1.3);
  assert.equal(value(groups[2]!, PRIVATE.discHeightIndex), undefined);
  assert.equal(value(groups[2]!, PRIVATE.wedgeAngle), undefined);
  // The canal measures (findings schema 1.2): diameters in mm, their ratio dimensionless.
  assert.deepEqual(value(l4, PRIVATE.canalAp), { value: 11.4, unit: UCUM.millimetre });
  assert.deepEqual(value(l4, PRIVATE.canalApBody), { value: 14.2, unit: UCUM.millimetre });
  assert.deepEqual(value(l4, PRIVATE.canalApRatio), { value: 0.803, unit: UCUM.noUnits });
  assert.equal(value(groups[2]!, PRIVATE.canalAp), undefined);
  const review = named(itemsOf(l4, 'ContentSequence'), PRIVATE.needsReview)!;
  assert.equal(study.series[0]!.discs[1]!.needsReview, true);
  assert.equal(codeOf(review, 'ConceptCodeSequence')?.CodeMeaning, 'Yes');
  const site = named(itemsOf(l4, 'ContentSequence'), {
    CodeValue: '363698007',
    CodingSchemeDesignator: 'SCT',
    CodeMeaning: '',
  });
  assert.deepEqual(codeOf(site, 'ConceptCodeSequence'), {
    CodeValue: '84020006',
    CodingSchemeDesignator: 'SCT',
    CodeMeaning: 'L4/L5 disc',
  });
});

test('every private code in the SR, and every one it can use, is defined in docs/dicom-outputs.md', async () => {
  const { sr } = await example();
  const docs = await readFile('docs/dicom-outputs.md', 'utf8');
  const codes = new Map(allPrivateCodes().map((c) => [c.CodeValue, c.CodeMeaning]));
  for (const item of contentItems(decodePart10(sr))) {
    for (const keyword of ['ConceptNameCodeSequence', 'ConceptCodeSequence']) {
      const c = codeOf(item, keyword);
      if (c?.CodingSchemeDesignator === PRIVATE_SCHEME) codes.set(c.CodeValue, c.CodeMeaning);
    }
  }
  assert.equal(codes.size, allPrivateCodes().length);
  for (const [value, meaning] of codes) {
    assert.ok(docs.includes(`\`${value}\``), `${value} is not in the docs`);
    assert.ok(docs.includes(meaning), `meaning "${meaning}" of ${value} is not in the docs`);
  }
});

test('the SR passes the dicom3tools IOD validator without errors (skipped where dciodvfy is absent)', async (t) => {
  if (skipWhenMissing(t, programMissing('dciodvfy', 'dicom3tools'))) return;
  const { sr } = await example();
  const file = join(await tempFolder(t), 'sr.dcm');
  await writeFile(file, sr);
  const result = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  const lines = `${result.stdout}${result.stderr}`.split('\n');
  assert.match(lines[0] ?? '', /Comprehensive3DSR/);
  // dciodvfy knows only the standard coding schemes: each use of the private one is a warning.
  const privateScheme = lines.filter(
    (l) => l.includes('Unrecognized defined term') && l.includes(`<${PRIVATE_SCHEME}>`),
  );
  t.diagnostic(`${privateScheme.length} warnings name the private coding scheme ${PRIVATE_SCHEME}`);
  for (const warning of lines.filter((l) => l.startsWith('Warning') && !privateScheme.includes(l))) {
    t.diagnostic(warning);
  }
  assert.deepEqual(
    lines.filter((l) => l.startsWith('Error')),
    [],
  );
});

test('dsrdump reads the SR and shows the Pfirrmann grade of every level (skipped where dsrdump is absent)', async (t) => {
  if (skipWhenMissing(t, programMissing('dsrdump', 'dcmtk'))) return;
  const { sr, study } = await example();
  const file = join(await tempFolder(t), 'sr.dcm');
  await writeFile(file, sr);
  const result = spawnSync('dsrdump', [file], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const text = result.stdout;
  assert.match(text, /Comprehensive 3D SR Document/);
  assert.match(text, /Imaging Measurement Report/);
  const grades = [
    ...text.matchAll(/CODE:\(,,"Pfirrmann grade"\)=\(PFIRRMANN-(\d),99SPNGRD,"Pfirrmann grade ([IV]+)"\)/g),
  ];
  const roman = ['I', 'II', 'III', 'IV', 'V'];
  assert.deepEqual(
    grades.map((m) => [Number(m[1]), m[2]]),
    study.series[0]!.discs.map((d) => [d.pfirrmann.grade, roman[d.pfirrmann.grade - 1]]),
  );
  assert.match(text, /"Finding Site"\)=\(84020006,SCT,"L4\/L5 disc"\)/);
  // Each Measurement Group, as dcmtk reads it, pairs its finding site with the grades findings.json gives that level.
  const groups = text
    .split('"Measurement Group")')
    .slice(1)
    .map((group) => ({
      level: group.match(/"Finding Site"\)=\([^,]*,[^,]*,"([^"]+) disc"\)/)?.[1],
      pfirrmann: Number(group.match(/"Pfirrmann grade"\)=\(PFIRRMANN-(\d),/)?.[1]),
      modic: Number(group.match(/"Modic type"\)=\(MODIC-(\d),/)?.[1]),
    }));
  assert.deepEqual(
    groups,
    study.series[0]!.discs.map((d) => ({ level: d.level, pfirrmann: d.pfirrmann.grade, modic: d.modic.grade })),
  );
  // dcmtk reports a malformed tree as "E:" lines on stderr.
  assert.doesNotMatch(result.stderr, /^E:/m);
});

test('the SR carries the draft report in words as TEXT items Findings and Impression, read back by dsrdump', async (t) => {
  const { sr, study, findings } = await example();
  const root = decodePart10(sr);
  const evaluations = named(itemsOf(root, 'ContentSequence'), OTHER.qualitativeEvaluations);
  const items = itemsOf(evaluations, 'ContentSequence');
  const findingsItem = named(items, DCM.findings);
  const impressionItem = named(items, DCM.impression);
  assert.equal(findingsItem?.ValueType, 'TEXT');
  assert.equal(impressionItem?.ValueType, 'TEXT');
  const narrative = describeStudy(study, findings.reviewThreshold);
  assert.equal(findingsItem?.TextValue, `${DRAFT_NOTICE}\n${findingsText(narrative)}`);
  assert.equal(impressionItem?.TextValue, `${DRAFT_NOTICE}\n${impressionText(narrative)}`);
  // L4/L5 has its top Pfirrmann probability 0.45 < 0.5: its grade is marked uncertain in the SR text.
  assert.match(
    String(findingsItem?.TextValue),
    /L4\/L5: mild disc degeneration \(Pfirrmann 3, p 0\.45\) \[uncertain\]/,
  );
  assert.match(String(findingsItem?.TextValue), /L3\/L4: minimal disc degeneration \(Pfirrmann 2, p 0\.80\);/);
  if (skipWhenMissing(t, programMissing('dsrdump', 'dcmtk'))) return;
  const file = join(await tempFolder(t), 'sr.dcm');
  await writeFile(file, sr);
  const result = spawnSync('dsrdump', ['+Pl', file], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /TEXT:\(,,"Findings"\)="DRAFT generated by spinegrade/);
  assert.match(result.stdout, /L4\/L5: mild disc degeneration \(Pfirrmann 3, p 0\.45\) \[uncertain\]/);
  assert.match(result.stdout, /TEXT:\(,,"Impression"\)="DRAFT[^"]*Disc degeneration at L4\/L5/);
  assert.doesNotMatch(result.stderr, /^E:/m);
});

test('a report whose mid-sagittal instance is missing from the sources is refused', async () => {
  const { findings, study, headers } = await example();
  const mid = study.series[0]!.midSagittalSlice;
  const without = headers.filter((_, k) => k !== mid);
  assert.throws(
    () => buildMeasurementReport({ findings, study, sourceDatasets: without }),
    /mid-sagittal instance .* is not among the source DICOM instances/,
  );
  assert.throws(
    () => buildMeasurementReport({ findings, study: { ...study, studyInstanceUid: '1.2.3' }, sourceDatasets: headers }),
    /none of the source DICOM instances given belongs to study 1\.2\.3/,
  );
});

test('a disc level without a SNOMED code gets a private DISC- code that reads back as the same level', () => {
  assert.deepEqual(discLevelCode('L5/S1'), {
    CodeValue: '715056000',
    CodingSchemeDesignator: 'SCT',
    CodeMeaning: 'L5/S1 disc',
  });
  const s1 = discLevelCode('S1/S2');
  assert.deepEqual(s1, { CodeValue: 'DISC-S1-S2', CodingSchemeDesignator: PRIVATE_SCHEME, CodeMeaning: 'S1/S2 disc' });
  assert.equal(levelOfDiscCode(s1), 'S1/S2');
  assert.equal(levelOfDiscCode(discLevelCode('T12/L1')), 'T12/L1');
});

test('a study with two graded series also gets one fused group per level both found, inferred from both images', async (t) => {
  const { volume, headers, findings, study } = await example();
  // A second series of the same study (its own UIDs, series 4), say a T1 that found L4/L5 and L5/S1.
  const t1Headers = headers.map((h, n) => ({
    ...h,
    SeriesInstanceUID: '2.25.4242',
    SeriesNumber: '4',
    SOPInstanceUID: `2.25.4242${n + 1}`,
  }));
  const t2 = study.series[0]!;
  const mid = t2.midSagittalSlice;
  const t1Discs = [
    disc(volume, mid, 'L4/L5', 2, 400, [0, 0.1, 0.25, 0.6, 0.05], [0.7, 0.2, 0.1, 0]),
    disc(volume, mid, 'L5/S1', 1, 500, [0, 0, 0.05, 0.25, 0.7], [0.1, 0.6, 0.2, 0.1]),
  ];
  const t1 = {
    ...t2,
    seriesInstanceUid: '2.25.4242',
    seriesNumber: 4,
    sequence: 'T1' as const,
    midSagittalSopInstanceUid: String(t1Headers[mid]!.SOPInstanceUID),
    discs: t1Discs,
  };
  const mean = (a: number[], b: number[]) => a.map((v, k) => (v + (b[k] as number)) / 2);
  const levels = t2.discs.map(({ geometry: _g, ...rest }) => {
    const other = t1Discs.find((d) => d.level === rest.level);
    if (!other) return { ...rest, fromSeries: [0] };
    const pfirrmann = mean(rest.pfirrmann.probs, other.pfirrmann.probs);
    const modic = mean(rest.modic.probs, other.modic.probs);
    return {
      ...rest,
      pfirrmann: { grade: pfirrmann.indexOf(Math.max(...pfirrmann)) + 1, probs: pfirrmann },
      modic: { grade: modic.indexOf(Math.max(...modic)), probs: modic },
      fromSeries: [0, 1],
    };
  });
  const twoSeries: StudyFindings = { ...study, series: [t2, t1], levels };
  const sr = buildMeasurementReport({
    findings: { ...findings, studies: [twoSeries] },
    study: twoSeries,
    sourceDatasets: [...headers, ...t1Headers],
  });
  const grades = readSrGrades(sr);
  assert.deepEqual(
    grades.map((g) => g.trackingIdentifier),
    [
      'L3/L4 disc, series 3',
      'L4/L5 disc, series 3',
      'L5/S1 disc, series 3',
      'L4/L5 disc, series 4',
      'L5/S1 disc, series 4',
      'L4/L5 disc, fused over series 3 and series 4',
      'L5/S1 disc, fused over series 3 and series 4',
    ],
  );
  const fused = grades.slice(5);
  assert.deepEqual(
    fused.map(({ level, pfirrmann, modic }) => ({ level, pfirrmann, modic })),
    levels.slice(1).map((l) => ({ level: l.level, pfirrmann: l.pfirrmann.grade, modic: l.modic.grade })),
  );
  // The fused Pfirrmann grade names both series' mid-sagittal images as its sources.
  const group = measurementGroups(decodePart10(sr))[5]!;
  const grade = named(itemsOf(group, 'ContentSequence'), PRIVATE.pfirrmannGrade)!;
  assert.deepEqual(
    itemsOf(grade, 'ContentSequence').map((i) => itemsOf(i, 'ReferencedSOPSequence')[0]?.ReferencedSOPInstanceUID),
    [t2.midSagittalSopInstanceUid, t1.midSagittalSopInstanceUid],
  );
  if (!skipWhenMissing(t, programMissing('dciodvfy', 'dicom3tools'))) {
    const file = join(await tempFolder(t), 'sr.dcm');
    await writeFile(file, sr);
    const result = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    assert.deepEqual(
      `${result.stdout}${result.stderr}`.split('\n').filter((l) => l.startsWith('Error')),
      [],
    );
  }
});
