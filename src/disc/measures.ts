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
}
