/** DICOM ImageOrientationPatient → the image plane's axes in the patient (LPS). */
import { SpinegradeError } from '../../errors.js';
import { cross, dot, norm, normalize, type Vec3 } from '../../volume/volume.js';

/** The unit axes of an image plane, from its ImageOrientationPatient. */
export interface PlaneAxes {
  /** Direction along a row (of increasing column index). */
  readonly rowCosine: Vec3;
  /** Direction along a column (of increasing row index). */
  readonly columnCosine: Vec3;
  /** Row cosine × column cosine, normalised: the slice normal. */
  readonly normal: Vec3;
}

/**
 * The row and column cosines and slice normal of an ImageOrientationPatient (6 numbers), normalised;
 * throws `INVALID_HEADER` naming `path` when a cosine is far from unit length or the two are not perpendicular.
 */
export function planeAxesOf(iop: readonly number[], path?: string): PlaneAxes {
  const rowCosine = unitCosine(iop.slice(0, 3) as unknown as Vec3, path);
  const columnCosine = unitCosine(iop.slice(3, 6) as unknown as Vec3, path);
  if (Math.abs(dot(rowCosine, columnCosine)) > 1e-2) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      'ImageOrientationPatient row and column cosines are not perpendicular',
      path,
    );
  }
  return { rowCosine, columnCosine, normal: normalize(cross(rowCosine, columnCosine)) };
}

function unitCosine(v: Vec3, path: string | undefined): Vec3 {
  const length = norm(v);
  if (!(length > 0.5 && length < 1.5)) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      'ImageOrientationPatient holds a vector that is not a unit vector',
      path,
    );
  }
  return normalize(v);
}
