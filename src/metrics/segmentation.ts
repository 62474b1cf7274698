/** Overlap between label masks. */
import { SpinegradeError } from '../errors.js';

/**
 * The Dice coefficient 2|A∩B| / (|A| + |B|) of the voxels equal to `value` in each mask. When neither
 * mask holds the value (both empty) this returns 1: the masks agree perfectly. Masks of different
 * lengths are a USAGE error.
 */
export function dice(truthMask: ArrayLike<number>, predictedMask: ArrayLike<number>, value: number): number {
  if (truthMask.length !== predictedMask.length) {
    throw new SpinegradeError(
      'USAGE',
      `Dice: truth and predicted masks differ in length (${truthMask.length} vs ${predictedMask.length})`,
    );
  }
  let a = 0;
  let b = 0;
  let both = 0;
  for (let n = 0; n < truthMask.length; n++) {
    const inA = truthMask[n] === value;
    const inB = predictedMask[n] === value;
    if (inA) a++;
    if (inB) b++;
    if (inA && inB) both++;
  }
  return a + b === 0 ? 1 : (2 * both) / (a + b);
}
