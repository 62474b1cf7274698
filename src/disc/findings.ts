/** The findings graded per disc: Pfirrmann grade, Modic type and the binary findings. */

/** Per-disc findings; a field is absent when the dataset does not grade it for that disc. */
export interface DiscFindings {
  /** Pfirrmann grade 1-5. */
  pfirrmann?: number;
  /** Modic type 0-3. */
  modic?: number;
  /** Endplate defect of the upper endplate of the disc space (0/1). */
  endplateUpper?: number;
  /** Endplate defect of the lower endplate of the disc space (0/1). */
  endplateLower?: number;
  spondylolisthesis?: number;
  herniation?: number;
  bulging?: number;
  narrowing?: number;
}

/** The binary findings, in report order. */
export const BINARY_FINDINGS = [
  'endplateUpper',
  'endplateLower',
  'spondylolisthesis',
  'herniation',
  'bulging',
  'narrowing',
] as const;

/** The name of a binary finding. */
export type BinaryFinding = (typeof BINARY_FINDINGS)[number];
