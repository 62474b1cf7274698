/**
 * Comparing two studies the server holds (the viewer's "Compare with…"): the comparison library run
 * on both studies' current (corrected) findings, with the localiser's measured repeatability as the
 * noise, as the comparison document or its self-contained page (docs/compare.md, docs/api.md).
 */
import { readComparisonNoise } from '../../analyze/compare.js';
import { OUTPUT_FILES } from '../../analyze/outputs.js';
import {
  type ComparisonNoise,
  compareFindings,
  renderComparisonHtml,
  type StudyComparison,
} from '../../report/compare.js';
import { ServiceError } from '../errors.js';
import type { ExportService } from './exports.js';
import type { FindingsService } from './findings.js';
import type { StudyRecord } from './repository.js';

/** Comparisons between the server's studies. */
export class CompareService {
  private readonly findings: FindingsService;
  private readonly exports: ExportService;
  private readonly localizerDir: string | undefined;
  private noise: Promise<ComparisonNoise> | undefined;

  constructor(options: { findings: FindingsService; exports: ExportService; localizerDir?: string }) {
    this.findings = options.findings;
    this.exports = options.exports;
    this.localizerDir = options.localizerDir;
  }

  /** The comparison of `baseline` and `followUp`; `NOT_ANALYZED` unless both have findings. */
  async comparison(baseline: StudyRecord, followUp: StudyRecord): Promise<StudyComparison> {
    if (baseline.id === followUp.id) {
      throw new ServiceError('BAD_REQUEST', 'compare a study with another study, not with itself');
    }
    const before = this.findings.findings(baseline).findings;
    const after = this.findings.findings(followUp).findings;
    this.noise ??= readComparisonNoise(this.localizerDir);
    return compareFindings(before, after, await this.noise);
  }

  /** The comparison page: both mid-sagittal overlays (where they could be made) and the change table. */
  async page(baseline: StudyRecord, followUp: StudyRecord): Promise<string> {
    const comparison = await this.comparison(baseline, followUp);
    const [before, after] = await Promise.all([this.overlay(baseline), this.overlay(followUp)]);
    return renderComparisonHtml(comparison, {
      ...(before ? { baseline: before } : {}),
      ...(after ? { followUp: after } : {}),
    });
  }

  /** A study's overlay picture, or undefined when it could not be made (the page says so). */
  private async overlay(study: StudyRecord): Promise<Uint8Array | undefined> {
    try {
      return await this.exports.file(study, OUTPUT_FILES.overlay);
    } catch (error) {
      if (error instanceof ServiceError && error.code === 'EXPORT_UNAVAILABLE') return undefined;
      throw error;
    }
  }
}
