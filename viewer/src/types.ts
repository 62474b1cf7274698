/** The findings document as the server sends it: the project's own schema (src/report/findings.ts). */
export type {
  DiscFindings,
  FindingsDocument,
  FusedLevelFindings,
  SeriesFindings,
  StudyFindings,
  VertebraFindings,
} from '../../src/report/findings.js';
