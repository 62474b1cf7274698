/** The quantitative measures reported for each disc (what grade/measures.ts computes). */

/** The measures of one disc; `null` where the slice does not show what a measure needs. */
export interface DiscMeasures {
  discHeightAnteriorMm: number;
  discHeightMiddleMm: number;
  discHeightPosteriorMm: number;
  /** Mean of the anterior, middle and posterior heights. */
  discHeightMm: number;
  discHeightIndex: number | null;
  signalIntensityRatio: number | null;
  nucleusAnnulusContrast: number | null;
  endplateSignalRatio: number | null;
  listhesisMm: number | null;
  wedgeAngleDeg: number | null;
  discAngleDeg: number;
  /** Anteroposterior diameter of the spinal canal at the disc level, mm (since findings schema 1.2). */
  canalApMm?: number | null;
  /** Mean AP canal diameter at the middle of the vertebral bodies above and below, mm (since 1.2). */
  canalApBodyMm?: number | null;
  /** `canalApMm / canalApBodyMm` (since 1.2). */
  canalApRatio?: number | null;
}

/**
 * Literature thresholds on the sagittal AP diameter of the lumbar canal, mm: below 10 mm is quoted as
 * absolute, 10–13 mm as relative central stenosis (docs/measures.md). Quoted beside the measure only.
 */
export const CANAL_AP_THRESHOLDS_MM = { absolute: 10, relative: 13 } as const;
