/**
 * The PACS (DICOMweb) side of the server: importing a study by WADO-RS into a new study, storing the
 * current SR and SEG by STOW-RS, and the PACS's study list (QIDO-RS) in simplified form.
 */

import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OUTPUT_FILES } from '../../analyze/outputs.js';
import { syncFile } from '../../io/atomic.js';
import { type DicomwebClient, DicomwebError, isDicomUid, type QidoQuery } from '../../pacs/client.js';
import { jsonNumber, jsonString, jsonStrings, TAGS } from '../../pacs/dicomJson.js';
import { decodePart10 } from '../../report/dicomCodes.js';
import { SEGMENTATION_STORAGE } from '../../report/seg.js';
import { COMPREHENSIVE_3D_SR_STORAGE } from '../../report/sr.js';
import type { PacsStudy } from '../apiTypes.js';
import { ServiceError, toServiceError } from '../errors.js';
import { acceptFile, fileStem } from '../files.js';
import type { ExportService } from './exports.js';
import type { StudyRecord } from './repository.js';
import type { StudyService } from './studies.js';

/** One instance stored to the PACS. */
export interface StoredInstanceRef {
  kind: 'sr' | 'seg';
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
}

/** Query parameters passed on to QIDO-RS as they are. */
const PASSED_QUERY = [
  'PatientName',
  'PatientID',
  'StudyDate',
  'AccessionNumber',
  'StudyInstanceUID',
  'ModalitiesInStudy',
  'StudyDescription',
  'fuzzymatching',
  'offset',
];

/** A failed import as the study's error: a study the PACS does not have, limits exceeded, or a PACS failure. */
function importError(error: unknown, uid: string, hidePath: string): ServiceError {
  if (error instanceof DicomwebError && error.status === 404) {
    return new ServiceError('NOT_FOUND', `the PACS has no study ${uid}`);
  }
  if (error instanceof DicomwebError && error.status === 413) {
    return new ServiceError(
      'UPLOAD_TOO_LARGE',
      `the study is larger than this server accepts (${error.message.replace(/^WADO-RS retrieval: /, '')})`,
    );
  }
  return toServiceError(error, hidePath);
}

/** The PACS operations of a server (each throws `NO_DICOMWEB` when none is configured). */
export class PacsService {
  readonly client: DicomwebClient | undefined;
  private readonly studies: StudyService;
  private readonly exports: ExportService;
  private readonly log: (line: string) => void;

  constructor(options: {
    client: DicomwebClient | undefined;
    studies: StudyService;
    exports: ExportService;
    log: (line: string) => void;
  }) {
    this.client = options.client;
    this.studies = options.studies;
    this.exports = options.exports;
    this.log = options.log;
  }

  private requireClient(): DicomwebClient {
    if (!this.client) {
      throw new ServiceError(
        'NO_DICOMWEB',
        'this server has no DICOMweb server configured (start it with --dicomweb <url>)',
      );
    }
    return this.client;
  }

  /** Starts a WADO-RS retrieval into a new study; returns it at once (status `importing`). */
  async importStudy(studyInstanceUid: unknown): Promise<StudyRecord> {
    const client = this.requireClient();
    if (!isDicomUid(studyInstanceUid)) {
      throw new ServiceError('BAD_REQUEST', '"studyInstanceUid" must be a DICOM UID (digits and dots)');
    }
    const study = await this.studies.create('dicomweb');
    study.studyInstanceUid = studyInstanceUid;
    const controller = new AbortController();
    this.studies.register(study);
    this.studies.trackImport(study.id, controller);
    void this.retrieve(study, client, studyInstanceUid, controller.signal).then(
      () => {
        this.studies.trackImport(study.id, undefined);
        study.status = 'ready';
        this.studies.save(study);
        this.log(`study ${study.id} imported (${study.files.length} files)`);
      },
      async (error: unknown) => {
        this.studies.trackImport(study.id, undefined);
        const failure = importError(error, studyInstanceUid, study.dir);
        study.status = 'failed';
        study.error = { code: failure.code, message: failure.message };
        this.studies.save(study);
        this.log(`study ${study.id} import failed: ${failure.code}`);
        await rm(study.filesDir, { recursive: true, force: true }).catch(() => undefined);
      },
    );
    return study;
  }

  private async retrieve(study: StudyRecord, client: DicomwebClient, uid: string, signal: AbortSignal): Promise<void> {
    const { maxUploadBytes, maxFiles, maxFileBytes } = this.studies.limits;
    const received: { stem: string; temporary: string; bytes: number }[] = [];
    await client.retrieveInstances(
      uid,
      undefined,
      (_headers, index) => {
        const stem = fileStem(index + 1);
        const temporary = join(study.filesDir, `.${stem}.part`);
        const entry = { stem, temporary, bytes: 0 };
        received.push(entry);
        const out = createWriteStream(temporary, { flags: 'wx', mode: 0o600 });
        return {
          write: (chunk) =>
            new Promise<void>((resolve, reject) => {
              entry.bytes += chunk.length;
              out.write(chunk, (error) => (error ? reject(error) : resolve()));
            }),
          end: () => new Promise<void>((resolve) => out.end(() => resolve())),
        };
      },
      { maxBytes: maxUploadBytes, maxParts: maxFiles, maxPartBytes: maxFileBytes },
      signal,
    );
    if (received.length === 0) throw new ServiceError('NOT_FOUND', `the PACS returned no instances of study ${uid}`);
    for (const [n, part] of received.entries()) {
      await syncFile(part.temporary);
      const { file } = await acceptFile(
        study.filesDir,
        part.temporary,
        part.stem,
        undefined,
        part.bytes,
        `instance ${n + 1}`,
      );
      if (file.kind !== 'dicom') throw new ServiceError('PACS_ERROR', `instance ${n + 1} from the PACS is not DICOM`);
      this.studies.addFile(study, file);
    }
    await this.studies.syncStudy(study);
  }

  /** STOW-RS of the SR and SEG of the current findings; `PACS_ERROR` when the PACS refuses them. */
  async store(study: StudyRecord): Promise<StoredInstanceRef[]> {
    const client = this.requireClient();
    this.studies.requireAnalyzed(study);
    const sr = await this.exports.file(study, OUTPUT_FILES.sr);
    const seg = await this.exports.file(study, OUTPUT_FILES.seg);
    const refs = [
      { kind: 'sr' as const, data: sr },
      { kind: 'seg' as const, data: seg },
    ].map(({ kind, data }) => {
      const header = decodePart10(data, true);
      return {
        kind,
        sopClassUid: String(header.SOPClassUID ?? (kind === 'sr' ? COMPREHENSIVE_3D_SR_STORAGE : SEGMENTATION_STORAGE)),
        sopInstanceUid: String(header.SOPInstanceUID ?? ''),
        seriesInstanceUid: String(header.SeriesInstanceUID ?? ''),
      };
    });
    let result: Awaited<ReturnType<DicomwebClient['store']>>;
    try {
      result = await client.store([sr, seg], study.studyInstanceUid ?? undefined);
    } catch (error) {
      throw toServiceError(error);
    }
    if (result.status === 409 || result.failed.length > 0) {
      const reasons = result.failed
        .map((f) => `${f.sopInstanceUid ?? '?'}: reason ${f.failureReason ?? '?'}`)
        .join('; ');
      throw new ServiceError(
        'PACS_ERROR',
        `the PACS refused ${result.failed.length || 'the'} instance(s) (HTTP ${result.status}) ${reasons}`,
      );
    }
    this.log(`study ${study.id}: SR and SEG stored to the PACS`);
    return refs;
  }

  /** The PACS's studies matching `query` (the parameters of docs/api.md; `limit` 1-1000, default 100). */
  async search(query: Record<string, unknown>): Promise<PacsStudy[]> {
    const client = this.requireClient();
    const qido: QidoQuery = {};
    for (const key of PASSED_QUERY) {
      const value = query[key];
      if (value === undefined) continue;
      if (typeof value !== 'string' || value.length > 200) {
        throw new ServiceError('BAD_REQUEST', `${key} must be one string of at most 200 characters`);
      }
      qido[key] = value;
    }
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
      throw new ServiceError('BAD_REQUEST', 'limit must be a whole number from 1 to 1000');
    }
    qido.limit = limit;
    qido.includefield = [
      'StudyDescription',
      'ModalitiesInStudy',
      'NumberOfStudyRelatedSeries',
      'NumberOfStudyRelatedInstances',
    ];
    let results: Awaited<ReturnType<DicomwebClient['searchStudies']>>;
    try {
      results = await client.searchStudies(qido);
    } catch (error) {
      throw toServiceError(error);
    }
    return results.map((s) => ({
      studyInstanceUid: jsonString(s, TAGS.StudyInstanceUID) ?? null,
      studyDate: jsonString(s, TAGS.StudyDate) ?? null,
      studyTime: jsonString(s, TAGS.StudyTime) ?? null,
      studyDescription: jsonString(s, TAGS.StudyDescription) ?? null,
      accessionNumber: jsonString(s, TAGS.AccessionNumber) ?? null,
      modalities: jsonStrings(s, TAGS.ModalitiesInStudy),
      patientName: jsonString(s, TAGS.PatientName) ?? null,
      patientId: jsonString(s, TAGS.PatientID) ?? null,
      series: jsonNumber(s, TAGS.NumberOfStudyRelatedSeries) ?? null,
      instances: jsonNumber(s, TAGS.NumberOfStudyRelatedInstances) ?? null,
    }));
  }
}
