/** Logits of discs, flat per head (rows of the head's size): what every grader model returns before calibration. */
export interface Logits {
  pfirrmann: Float32Array;
  modic: Float32Array;
  findings: Float32Array;
}
