import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DicomwebClient, DicomwebError, isDicomUid, normalizeDicomwebUrl } from '../../src/pacs/client.js';
import { type DicomJsonDataset, jsonNumbers, jsonString, jsonStrings, TAGS } from '../../src/pacs/dicomJson.js';
import { judgeSeries } from '../../src/pacs/watch.js';
import { freePort, withOrthanc } from '../helpers/orthanc.js';

const EXAMPLE = 'examples/spider-98-t2space/dicom';
const STUDY_UID = '2.25.291233399420727069973475608700609479904';
const SERIES_UID = '2.25.150226236027173309337398904556780097557';

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

async function exampleFiles(): Promise<Uint8Array[]> {
  const names = (await readdir(EXAMPLE)).filter((n) => n.endsWith('.dcm')).sort();
  return Promise.all(names.map((n) => readFile(join(EXAMPLE, n))));
}

test('DICOMweb client against a real Orthanc: STOW-RS, QIDO-RS, WADO-RS metadata and retrieval', async (t) => {
  const orthanc = await withOrthanc(t);
  if (!orthanc) return;
  const client = new DicomwebClient(orthanc.dicomweb);
  const files = await exampleFiles();

  const stow = await client.store(files);
  assert.equal(stow.status, 200);
  assert.equal(stow.failed.length, 0);
  assert.equal(stow.stored.length, files.length);
  assert.ok(stow.stored.every((s) => s.sopClassUid === '1.2.840.10008.5.1.4.1.1.4' && isDicomUid(s.sopInstanceUid)));

  const studies = await client.searchStudies({ ModalitiesInStudy: 'MR', includefield: ['StudyDescription'] });
  assert.deepEqual(
    studies.map((s) => jsonString(s, TAGS.StudyInstanceUID)),
    [STUDY_UID],
  );
  assert.deepEqual(jsonStrings(studies[0], TAGS.ModalitiesInStudy), ['MR']);
  assert.match(jsonString(studies[0], TAGS.StudyDescription) ?? '', /SPIDER lumbar spine example/);
  assert.deepEqual(await client.searchStudies({ PatientID: 'nobody-has-this-id' }), []);

  const series = await client.searchSeries(STUDY_UID, { includefield: ['BodyPartExamined'] });
  assert.equal(series.length, 1);
  assert.equal(jsonString(series[0], TAGS.SeriesInstanceUID), SERIES_UID);
  assert.equal(jsonString(series[0], TAGS.Modality), 'MR');
  const instances = await client.searchInstances(STUDY_UID, SERIES_UID);
  assert.equal(instances.length, files.length);

  const metadata = await client.retrieveMetadata(STUDY_UID, SERIES_UID);
  assert.equal(metadata.length, files.length);
  assert.deepEqual(jsonNumbers(metadata[0], TAGS.ImageOrientationPatient), [0, 1, 0, 0, 0, -1]);
  const verdict = judgeSeries(series[0] as DicomJsonDataset, metadata[0]);
  assert.deepEqual(verdict, { uid: SERIES_UID, pick: true, reason: 'sagittal MR, LSPINE' });

  // Retrieval in the stored transfer syntax (RLE Lossless here): byte for byte the files sent.
  const received: Buffer[] = [];
  const count = await client.retrieveInstances(STUDY_UID, undefined, (headers) => {
    assert.equal(headers['content-type']?.split(';')[0], 'application/dicom');
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => {
        chunks.push(Buffer.from(chunk));
      },
      end: () => {
        received.push(Buffer.concat(chunks));
      },
    };
  });
  assert.equal(count, files.length);
  assert.deepEqual(received.map(sha).sort(), files.map(sha).sort());

  // Limits stop a retrieval with a 413-like error.
  await assert.rejects(
    client.retrieveInstances(STUDY_UID, SERIES_UID, () => ({ write: () => undefined, end: () => undefined }), {
      maxParts: 3,
    }),
    (error: unknown) =>
      error instanceof DicomwebError && error.status === 413 && /more than 3 parts/.test(error.message),
  );
  // Unknown studies and bad UIDs.
  await assert.rejects(
    client.retrieveMetadata('1.2.3.4.5'),
    (error: unknown) => error instanceof DicomwebError && error.status === 404,
  );
  await assert.rejects(client.searchSeries('1.2/../../x'), /is not a DICOM UID/);
});

test('DICOMweb URLs and an unreachable server give clear errors', async () => {
  assert.equal(normalizeDicomwebUrl('http://localhost:8042/dicom-web/'), 'http://localhost:8042/dicom-web');
  assert.throws(() => normalizeDicomwebUrl('ftp://x/'), /http or https/);
  assert.throws(() => normalizeDicomwebUrl('http://user:pw@x/dicom-web'), /credentials/);
  assert.throws(() => normalizeDicomwebUrl('not a url'), /not a URL/);
  const client = new DicomwebClient(`http://127.0.0.1:${await freePort()}/dicom-web`, { timeoutMs: 2000 });
  await assert.rejects(
    client.searchStudies(),
    (error: unknown) => error instanceof DicomwebError && /cannot connect|no answer/.test(error.message),
  );
});

test('series are judged sagittal lumbar MR by orientation, modality and body part', () => {
  const dataset = (fields: Record<string, unknown[]>): DicomJsonDataset =>
    Object.fromEntries(Object.entries(fields).map(([tag, Value]) => [tag, { vr: 'XX', Value }]));
  const series = dataset({ [TAGS.SeriesInstanceUID]: ['1.2'], [TAGS.Modality]: ['MR'] });
  const sagittal = dataset({ [TAGS.ImageOrientationPatient]: [0, 1, 0, 0, 0, -1] });
  const axial = dataset({ [TAGS.ImageOrientationPatient]: [1, 0, 0, 0, 1, 0] });
  const knee = dataset({ [TAGS.ImageOrientationPatient]: [0, 1, 0, 0, 0, -1], [TAGS.BodyPartExamined]: ['KNEE'] });
  assert.equal(judgeSeries(series, sagittal).pick, true);
  assert.deepEqual(judgeSeries(series, axial), { uid: '1.2', pick: false, reason: 'not sagittal' });
  assert.deepEqual(judgeSeries(series, knee), { uid: '1.2', pick: false, reason: 'body part KNEE' });
  assert.deepEqual(judgeSeries(series, undefined), { uid: '1.2', pick: false, reason: 'no ImageOrientationPatient' });
  const ct = dataset({ [TAGS.SeriesInstanceUID]: ['1.3'], [TAGS.Modality]: ['CT'] });
  assert.deepEqual(judgeSeries(ct, sagittal), { uid: '1.3', pick: false, reason: 'modality CT' });
});
