/**
 * A study's exports of its current (corrected) findings: the findings document, the HTML report, the
 * overlay, DICOM SR and SEG — written once per findings revision, and re-made on the first request
 * after a grade override.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { findingsJson, type OUTPUT_FILES } from '../../analyze/outputs.js';
import { ServiceError, scrub } from '../errors.js';
import type { AnalysisService } from './analysis.js';
import type { FindingsService } from './findings.js';
import type { Outputs, StudyRecord } from './repository.js';
import type { StudyService } from './studies.js';

/** The name of an export file as the analysis writes it. */
export type ExportName = (typeof OUTPUT_FILES)[keyof typeof OUTPUT_FILES];

/** The exports of the studies. */
export class ExportService {
  private readonly studies: StudyService;
  private readonly analysis: AnalysisService;
  private readonly findings: FindingsService;
  /** The render in progress of a study, by id (one per revision). */
  private readonly rendering = new Map<string, { revision: number; promise: Promise<Outputs> }>();

  constructor(options: { studies: StudyService; analysis: AnalysisService; findings: FindingsService }) {
    this.studies = options.studies;
    this.analysis = options.analysis;
    this.findings = options.findings;
  }

  /** The current findings document as the `findings.json` file's text. */
  findingsJson(study: StudyRecord): string {
    return findingsJson(this.findings.findings(study).findings);
  }

  /** The exports of the current findings, made first when they are out of date. */
  async outputs(study: StudyRecord): Promise<Outputs> {
    this.studies.requireAnalyzed(study);
    if (study.outputs?.revision === study.revision) return study.outputs;
    const running = this.rendering.get(study.id);
    if (running?.revision === study.revision) return running.promise;
    const rendering = { revision: study.revision, promise: this.analysis.renderCurrent(study) };
    this.rendering.set(study.id, rendering);
    rendering.promise
      .finally(() => {
        if (this.rendering.get(study.id) === rendering) this.rendering.delete(study.id);
      })
      .catch(() => undefined);
    return rendering.promise;
  }

  /** One export file's bytes; `EXPORT_UNAVAILABLE` with the reason when it was not made. */
  async file(study: StudyRecord, name: ExportName): Promise<Uint8Array> {
    const outputs = await this.outputs(study);
    const path = join(outputs.dir, name);
    if (!(await stat(path).catch(() => undefined))?.isFile()) {
      const relevant = outputs.notes.filter((n) => n.includes(name));
      const why = relevant.length > 0 ? relevant.join('; ') : 'it was not written for this study';
      throw new ServiceError('EXPORT_UNAVAILABLE', `${name} is not available: ${scrub(why, study.dir)}`);
    }
    return readFile(path);
  }
}
