/** The graded classes (Pfirrmann grades, Modic types) and a graded finding; no Node imports, so the viewer can use them. */

/** Pfirrmann grades, in the order of `pfirrmann.probs`. */
export const PFIRRMANN_GRADES = [1, 2, 3, 4, 5] as const;
/** Modic types, in the order of `modic.probs`. */
export const MODIC_TYPES = [0, 1, 2, 3] as const;

/** A graded finding with its class probabilities. */
export interface GradedFinding {
  grade: number;
  probs: number[];
}

/** The probability of the graded class (`grade` among `classes`), or the top probability when it is not found. */
export function gradeProbability(finding: GradedFinding, classes: readonly number[]): number {
  const index = classes.indexOf(finding.grade);
  const value = index >= 0 ? finding.probs[index] : undefined;
  return value !== undefined && Number.isFinite(value) ? value : Math.max(...finding.probs);
}
