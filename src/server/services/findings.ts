/**
 * A study's findings and the reader's corrections: the current document (with the applied grade
 * overrides), the original, and recording a correction — a grade override applies at once, a move of
 * the level labels queues a re-grading job.
 */
import type { LevelOverride } from '../../localize/override.js';
import type { FindingsDocument } from '../../report/findings.js';
import {
  applyGradeCorrections,
  type Correction,
  type CorrectionRequest,
  correctionId,
  currentValue,
  type GradeCorrection,
  type LevelsCorrection,
} from '../corrections.js';
import type { JobView } from '../queue.js';
import type { AnalysisService } from './analysis.js';
import type { StudyRecord } from './repository.js';
import type { StudyService } from './studies.js';

/** A study's findings with the original and the corrections. */
export interface FindingsView {
  studyId: string;
  revision: number;
  findings: FindingsDocument;
  original: FindingsDocument;
  levelOverride: LevelOverride | null;
  corrections: Correction[];
}

/** What recording a correction did: the correction, the re-grading job of a level move, the revision. */
export interface CorrectionResult {
  correction: Correction;
  job?: JobView;
  revision: number;
}

/** The findings and corrections of the studies. */
export class FindingsService {
  private readonly studies: StudyService;
  private readonly analysis: AnalysisService;
  private readonly log: (line: string) => void;

  constructor(options: { studies: StudyService; analysis: AnalysisService; log: (line: string) => void }) {
    this.studies = options.studies;
    this.analysis = options.analysis;
    this.log = options.log;
  }

  /** The current findings with the original and the corrections; `NOT_ANALYZED` before an analysis. */
  findings(study: StudyRecord): FindingsView {
    const { current, original } = this.studies.requireAnalyzed(study);
    return {
      studyId: study.id,
      revision: study.revision,
      findings: current,
      original,
      levelOverride: study.levelOverride,
      corrections: study.corrections,
    };
  }

  /** The corrections of a study, oldest first. */
  corrections(study: StudyRecord): Correction[] {
    return study.corrections;
  }

  /** Records a correction: a level move queues a re-grading job; a grade override applies at once. */
  correct(study: StudyRecord, request: CorrectionRequest): CorrectionResult {
    const { base, current } = this.studies.requireAnalyzed(study);
    const at = new Date().toISOString();
    if (request.type === 'levels') {
      const correction: LevelsCorrection = {
        id: correctionId(),
        type: 'levels',
        status: 'pending',
        by: request.by,
        at,
        levelOverride: request.levelOverride,
        jobId: null,
      };
      const job = this.analysis.relabel(study, correction);
      study.corrections.push(correction);
      this.studies.save(study);
      this.log(`study ${study.id}: level correction ${correction.id} queued as ${job.id}`);
      return { correction, job, revision: study.revision };
    }
    const previous = currentValue(current, request.level, request.finding, request.seriesIndex);
    const correction: GradeCorrection = {
      id: correctionId(),
      type: 'grade',
      status: 'applied',
      by: request.by,
      at,
      level: request.level,
      finding: request.finding,
      value: request.value,
      previous,
      reason: request.reason,
      seriesIndex: request.seriesIndex,
    };
    for (const c of study.corrections) {
      if (
        c.type === 'grade' &&
        c.status === 'applied' &&
        c.level === request.level &&
        c.finding === request.finding &&
        c.seriesIndex === request.seriesIndex
      ) {
        c.status = 'replaced';
      }
    }
    study.corrections.push(correction);
    study.revision++;
    this.studies.save(study, { current: applyGradeCorrections(base, study.corrections) });
    this.log(`study ${study.id}: grade override ${correction.id} applied (revision ${study.revision})`);
    return { correction, revision: study.revision };
  }
}
