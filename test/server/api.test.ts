import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { validateFindings } from '../../src/analyze/validate.js';
import { levelOfIvdLabel } from '../../src/disc/levels.js';
import { DicomwebClient } from '../../src/pacs/client.js';
import { jsonString, TAGS } from '../../src/pacs/dicomJson.js';
import type { FindingsDocument } from '../../src/report/findings.js';
import { readSegmentation } from '../../src/report/seg.js';
import { readSrGrades } from '../../src/report/sr.js';
import { startServer } from '../../src/server/app.js';
import { withOrthanc } from '../helpers/orthanc.js';
import { assertError, call, EXAMPLE_PHI, EXAMPLE_STUDY_UID, exampleForm, sharedAnalyzer, waitJob } from './helpers.js';

const MHA = 'examples/spider-98-t2space/spider-98-t2space.mha';

type Disc = FindingsDocument['studies'][number]['series'][number]['discs'][number];

/** Every SR measurement group's Pfirrmann grade equals the findings' grade of that level in that series. */
function assertSrMatches(sr: Uint8Array, findings: FindingsDocument): void {
  const grades = readSrGrades(sr);
  const study = findings.studies[0]!;
  const expected = study.series.flatMap((s) => s.discs.map((d) => ({ level: d.level, pfirrmann: d.pfirrmann.grade })));
  assert.equal(grades.length, expected.length, 'one measurement group per graded disc');
  assert.deepEqual(
    grades.map((g) => ({ level: g.level, pfirrmann: g.pfirrmann })),
    expected,
  );
}

test('server round trip with a real PACS: import, analyse, correct, export, store, read back', async (t) => {
  const orthanc = await withOrthanc(t);
  if (!orthanc) return;
  const pacs = new DicomwebClient(orthanc.dicomweb);
  const stow = await pacs.store(await exampleBytes());
  assert.equal(stow.failed.length, 0);

  const log: string[] = [];
  const server = await startServer({
    port: 0,
    dicomweb: orthanc.dicomweb,
    analyzer: await sharedAnalyzer(),
    log: (l) => log.push(l),
  });
  t.after(() => server.close());
  const base = server.url;

  // The PACS's study list, through the server (patient names reach the client, not the log).
  const list = await call(base, '/api/dicomweb/studies?PatientName=Example*&ModalitiesInStudy=MR');
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.studies.length, 1);
  assert.equal(list.json.studies[0].studyInstanceUid, EXAMPLE_STUDY_UID);
  assert.equal(list.json.studies[0].patientName, 'Example^SpiderT2Space');
  assert.deepEqual(list.json.studies[0].modalities, ['MR']);
  assert.equal(list.json.studies[0].instances, 11);

  // Import by WADO-RS.
  const created = await call(base, '/api/studies/from-dicomweb', {
    method: 'POST',
    body: { studyInstanceUid: EXAMPLE_STUDY_UID },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.id as string;
  let study = created.json;
  for (let n = 0; n < 200 && study.status === 'importing'; n++) {
    await new Promise((r) => setTimeout(r, 100));
    study = (await call(base, `/api/studies/${id}`)).json;
  }
  assert.equal(study.status, 'ready', JSON.stringify(study));
  assert.equal(study.files, 11);
  assert.equal(study.source, 'dicomweb');

  // Images for the viewer.
  const series = await call(base, `/api/studies/${id}/series`);
  assert.equal(series.status, 200, series.text);
  assert.equal(series.json.series.length, 1);
  const s0 = series.json.series[0];
  assert.equal(s0.instancesAreSagittalSlices, true);
  assert.equal(s0.sagittalSlices, 11);
  assert.equal(s0.findingsSeries, null);
  const instances = await call(base, `/api/studies/${id}/series/0/instances`);
  assert.equal(instances.json.instances.length, 11);
  const first = await call(base, instances.json.instances[0].url);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('content-type'), 'application/dicom');
  assert.equal(first.bytes.subarray(128, 132).toString('latin1'), 'DICM');
  const png = await call(base, `/api/studies/${id}/series/0/slices/5.png`);
  assert.equal(png.headers.get('content-type'), 'image/png');
  assert.deepEqual([...png.bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);

  // Analyse, following the job as Server-Sent Events.
  const started = await call(base, `/api/studies/${id}/analyze`, { method: 'POST' });
  assert.equal(started.status, 202, started.text);
  const events = await fetch(`${base}/api/jobs/${started.json.jobId}/events`);
  assert.match(events.headers.get('content-type') ?? '', /^text\/event-stream/);
  const stream = await events.text();
  const views = stream
    .split('\n\n')
    .filter((block) => block.startsWith('event: job'))
    .map((block) => JSON.parse(block.split('\ndata: ')[1] as string));
  assert.equal(views.at(-1).status, 'done', stream.slice(-500));
  assert.ok(
    views.some((v) => v.stage === 'grade'),
    'progress reports the grade stage',
  );
  assert.equal(views.at(-1).revision, 1);

  const analysed = await call(base, `/api/studies/${id}/findings`);
  assert.equal(analysed.status, 200);
  assert.deepEqual(validateFindings(analysed.json.findings), []);
  assert.deepEqual(analysed.json.findings, analysed.json.original);
  const original = analysed.json.original as FindingsDocument;
  const originalDiscs = original.studies[0]!.series[0]!.discs;
  assert.ok(originalDiscs.length >= 5);
  assert.equal((await call(base, `/api/studies/${id}/series`)).json.series[0].findingsSeries, 0);

  // Move the level labels one level up: every disc re-labelled and re-graded.
  const moved = await call(base, `/api/studies/${id}/corrections`, {
    method: 'POST',
    body: { type: 'levels', levelOverride: { shift: 1 }, by: 'reader A' },
  });
  assert.equal(moved.status, 202, moved.text);
  assert.equal(moved.json.correction.status, 'pending');
  const movedJob = await waitJob(base, moved.json.jobId);
  assert.equal(movedJob.status, 'done', JSON.stringify(movedJob.error));
  assert.equal(movedJob.kind, 'levels');
  const relabelled = (await call(base, `/api/studies/${id}/findings`)).json;
  assert.deepEqual(validateFindings(relabelled.findings), []);
  assert.deepEqual(relabelled.original, original, 'the original is kept');
  assert.deepEqual(relabelled.levelOverride, { shift: 1 });
  assert.equal(relabelled.corrections[0].status, 'applied');
  assert.equal(relabelled.corrections[0].by, 'reader A');
  const newSeries = (relabelled.findings as FindingsDocument).studies[0]!.series[0]!;
  assert.equal(newSeries.levelOverride, 1);
  const byCentre = (d: Disc): string => d.geometry.centerPx.join(',');
  const newByCentre = new Map(newSeries.discs.map((d) => [byCentre(d), d]));
  let probsChanged = 0;
  for (const disc of originalDiscs) {
    const now = newByCentre.get(byCentre(disc));
    if (!now) continue; // a disc pushed beyond the highest label is dropped
    assert.equal(now.ivdLabel, disc.ivdLabel + 1);
    assert.equal(now.level, levelOfIvdLabel(disc.ivdLabel + 1));
    if (now.pfirrmann.probs.some((p, k) => Math.abs(p - (disc.pfirrmann.probs[k] as number)) > 1e-6)) probsChanged++;
  }
  assert.ok(newByCentre.size >= originalDiscs.length - 1);
  assert.ok(probsChanged > 0, 'the grades were computed again with the new levels');

  // Override a grade with a reason.
  const fused = (relabelled.findings as FindingsDocument).studies[0]!.levels;
  const target = fused.find((l) => l.level === 'L4/L5') ?? fused.at(-1)!;
  const value = target.pfirrmann.grade === 2 ? 3 : 2;
  const override = await call(base, `/api/studies/${id}/corrections`, {
    method: 'POST',
    body: {
      type: 'grade',
      level: target.level,
      finding: 'pfirrmann',
      value,
      reason: 'signal preserved on adjacent slices',
      by: 'reader B',
    },
  });
  assert.equal(override.status, 201, override.text);
  assert.equal(override.json.correction.previous, target.pfirrmann.grade);
  const corrected = (await call(base, `/api/studies/${id}/findings`)).json;
  assert.deepEqual(validateFindings(corrected.findings), []);
  const current = corrected.findings as FindingsDocument;
  const fusedNow = current.studies[0]!.levels.find((l) => l.level === target.level)!;
  assert.equal(fusedNow.pfirrmann.grade, value);
  assert.equal(fusedNow.needsReview, false);
  const seriesDisc = current.studies[0]!.series[0]!.discs.find((d) => d.level === target.level)!;
  assert.equal(seriesDisc.pfirrmann.grade, value);
  assert.ok(current.studies[0]!.series[0]!.warnings.some((w) => w.startsWith('reader override: pfirrmann')));
  assert.deepEqual(corrected.original, original);
  assert.deepEqual(
    corrected.corrections.map((c: { type: string; status: string; by: string; at: string }) => [
      c.type,
      c.status,
      c.by,
      typeof c.at,
    ]),
    [
      ['levels', 'applied', 'reader A', 'string'],
      ['grade', 'applied', 'reader B', 'string'],
    ],
  );
  assert.equal(corrected.revision, 3);

  // Exports show the corrected result.
  const findingsFile = await call(base, `/api/studies/${id}/findings.json`);
  assert.match(findingsFile.headers.get('content-disposition') ?? '', /attachment/);
  assert.equal(
    JSON.parse(findingsFile.text).studies[0].levels.find((l: { level: string }) => l.level === target.level).pfirrmann
      .grade,
    value,
  );
  const html = await call(base, `/api/studies/${id}/report.html`);
  assert.equal(html.status, 200, html.text.slice(0, 300));
  assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(html.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  const overlay = await call(base, `/api/studies/${id}/overlay.png`);
  assert.equal(overlay.status, 200, overlay.text.slice(0, 300));
  const sr = await call(base, `/api/studies/${id}/sr.dcm`);
  assert.equal(sr.status, 200, sr.text.slice(0, 300));
  assert.equal(sr.headers.get('content-type'), 'application/dicom');
  assertSrMatches(sr.bytes, current);
  const seg = await call(base, `/api/studies/${id}/seg.dcm`);
  assert.equal(seg.status, 200, seg.text.slice(0, 300));
  assert.ok(readSegmentation(seg.bytes).frames.length > 0);

  // Store SR + SEG to the PACS and read them back.
  const stored = await call(base, `/api/studies/${id}/store`, { method: 'POST' });
  assert.equal(stored.status, 200, stored.text);
  assert.deepEqual(
    stored.json.stored.map((s: { kind: string }) => s.kind),
    ['sr', 'seg'],
  );
  const pacsSeries = await pacs.searchSeries(EXAMPLE_STUDY_UID);
  const modalities = pacsSeries.map((s) => jsonString(s, TAGS.Modality)).sort();
  assert.deepEqual(modalities, ['MR', 'SEG', 'SR']);
  const srRef = stored.json.stored[0];
  const srBack: Buffer[] = [];
  await pacs.retrieveInstances(EXAMPLE_STUDY_UID, srRef.seriesInstanceUid, () => {
    const chunks: Buffer[] = [];
    return { write: (c) => void chunks.push(Buffer.from(c)), end: () => void srBack.push(Buffer.concat(chunks)) };
  });
  assert.equal(srBack.length, 1);
  assertSrMatches(srBack[0] as Buffer, current);

  // A level correction naming a point far from every disc fails with the reason; nothing changes.
  const far = await call(base, `/api/studies/${id}/corrections`, {
    method: 'POST',
    body: { type: 'levels', levelOverride: 'L5/S1=0,0' },
  });
  assert.equal(far.status, 202, far.text);
  const farJob = await waitJob(base, far.json.jobId);
  assert.equal(farJob.status, 'failed');
  assert.equal(farJob.error.code, 'BAD_OVERRIDE');
  assert.match(farJob.error.message, /no disc within 15 mm/);
  const after = (await call(base, `/api/studies/${id}/findings`)).json;
  assert.equal(after.revision, 3);
  assert.deepEqual(after.findings, current);
  assert.deepEqual(
    after.corrections.map((c: { status: string }) => c.status),
    ['applied', 'applied', 'failed'],
  );

  // A study the PACS does not have: the import fails with a reason, and the study cannot be analysed.
  const missing = await call(base, '/api/studies/from-dicomweb', {
    method: 'POST',
    body: { studyInstanceUid: '1.2.3.999' },
  });
  assert.equal(missing.status, 201);
  let missingStudy = missing.json;
  for (let n = 0; n < 100 && missingStudy.status === 'importing'; n++) {
    await new Promise((r) => setTimeout(r, 100));
    missingStudy = (await call(base, `/api/studies/${missing.json.id}`)).json;
  }
  assert.equal(missingStudy.status, 'failed');
  assert.equal(missingStudy.error.code, 'NOT_FOUND');
  assert.match(missingStudy.error.message, /the PACS has no study 1\.2\.3\.999/);
  assertError(
    await call(base, `/api/studies/${missing.json.id}/analyze`, { method: 'POST' }),
    409,
    'STUDY_NOT_READY',
    /failed to import/,
  );

  // Delete.
  assert.equal((await call(base, `/api/studies/${id}`, { method: 'DELETE' })).status, 204);
  assertError(await call(base, `/api/studies/${id}`), 404, 'NOT_FOUND');

  // The log: requests and ids, never a query string or a patient identifier.
  const text = log.join('\n');
  for (const phi of EXAMPLE_PHI) assert.ok(!text.includes(phi), `log holds "${phi}"`);
  assert.ok(!text.includes('?'), 'no query strings in the log');
  assert.match(text, /POST \/api\/studies\/from-dicomweb 201/);
  assert.match(text, new RegExp(`study ${id} imported`));
});

test('a MetaImage study: upload, analysis, PNG slices on the findings grid; SR and SEG refused with the reason', async (t) => {
  const server = await startServer({ port: 0, analyzer: await sharedAnalyzer(), log: () => undefined });
  t.after(() => server.close());
  const base = server.url;
  const upload = new FormData();
  upload.append('file', new Blob([await readFile(MHA)]), 'spider-98-t2space.mha');
  const created = await call(base, '/api/studies', { method: 'POST', raw: upload });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json.kinds, { metaimage: 1 });
  const id = created.json.id as string;
  const series = (await call(base, `/api/studies/${id}/series`)).json.series;
  assert.equal(series.length, 1);
  assert.equal(series[0].format, 'metaimage');
  assert.equal(series[0].instancesAreSagittalSlices, false);
  assert.equal(series[0].displayToInstance, null);
  assertError(await call(base, `/api/studies/${id}/series/0/instances`), 404, 'NOT_DICOM');

  const job = await waitJob(
    base,
    (await call(base, `/api/studies/${id}/analyze`, { method: 'POST', body: {} })).json.jobId,
  );
  assert.equal(job.status, 'done', JSON.stringify(job.error));
  const findings = (await call(base, `/api/studies/${id}/findings`)).json.findings as FindingsDocument;
  assert.deepEqual(validateFindings(findings), []);
  const graded = findings.studies[0]!.series[0]!;
  assert.equal((await call(base, `/api/studies/${id}/series`)).json.series[0].findingsSeries, 0);
  // The PNG of the mid-sagittal slice has the size the findings' pixel coordinates refer to.
  const png = await call(base, `/api/studies/${id}/series/0/slices/${graded.midSagittalSlice}.png?window=300,600`);
  assert.equal(png.status, 200);
  assert.deepEqual([png.bytes.readUInt32BE(16), png.bytes.readUInt32BE(20)], graded.sliceSize);
  assertError(await call(base, `/api/studies/${id}/sr.dcm`), 404, 'EXPORT_UNAVAILABLE', /need DICOM input/);
  assertError(await call(base, `/api/studies/${id}/seg.dcm`), 404, 'EXPORT_UNAVAILABLE', /need DICOM input/);
  assertError(await call(base, `/api/studies/${id}/store`, { method: 'POST' }), 503, 'NO_DICOMWEB');
});

async function exampleBytes(): Promise<Uint8Array[]> {
  const form = await exampleForm();
  const out: Uint8Array[] = [];
  for (const value of form.values()) out.push(new Uint8Array(await (value as Blob).arrayBuffer()));
  return out;
}
