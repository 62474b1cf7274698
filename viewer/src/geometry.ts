/**
 * From the findings' pixel coordinates to the patient: the findings give points on the series'
 * mid-sagittal *display* slice (columns run anterior → posterior, rows superior → inferior; see
 * src/volume/orientation.ts). The stored image may be transposed or flipped against that; this maps
 * display pixels to DICOM patient coordinates (LPS, mm), which is what cornerstone calls world
 * coordinates, so overlays stay on the anatomy whatever the camera does.
 */

export type Vec3 = [number, number, number];

/** What cornerstone's `imagePlaneModule` says about one image. */
export interface ImagePlane {
  rowCosines: Vec3;
  columnCosines: Vec3;
  imagePositionPatient: Vec3;
  /** Millimetres between rows (vertical spacing). */
  rowPixelSpacing: number;
  /** Millimetres between columns (horizontal spacing). */
  columnPixelSpacing: number;
  rows: number;
  columns: number;
}

/**
 * For each patient axis (0 left-right, 1 anterior-posterior, 2 inferior-superior), the index axis that
 * runs along it: one to one, greedy on the largest direction cosine (as `assignAxes` in the project).
 */
export function patientAxisOfIndexAxes(axes: readonly [Vec3, Vec3, Vec3]): [number, number, number] {
  const pairs: { index: number; patient: number; weight: number }[] = [];
  axes.forEach((d, index) => {
    for (let patient = 0; patient < 3; patient++)
      pairs.push({ index, patient, weight: Math.abs(d[patient] as number) });
  });
  pairs.sort((p, q) => q.weight - p.weight);
  const result: [number, number, number] = [-1, -1, -1];
  const usedIndex = new Set<number>();
  for (const p of pairs) {
    if (usedIndex.has(p.index) || result[p.patient] !== -1) continue;
    usedIndex.add(p.index);
    result[p.patient] = p.index;
  }
  return result;
}

/** Maps a display-slice pixel `[x, y]` to patient LPS millimetres. */
export type DisplayToWorld = (x: number, y: number) => Vec3;

/**
 * The map from display pixels to the patient for one stored image, following `extractSagittalSlice`:
 * the image axis closest to anterior-posterior becomes display x (flipped when it points anterior), the
 * one closest to inferior-superior display y (flipped when it points superior).
 */
export function displayToWorld(plane: ImagePlane): DisplayToWorld {
  const { rowCosines: r, columnCosines: c, imagePositionPatient: origin } = plane;
  const normal: Vec3 = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]];
  const columnsRunAP = patientAxisOfIndexAxes([r, c, normal])[1] !== 1;
  const pixelToWorld = (col: number, row: number): Vec3 => [
    origin[0] + col * plane.columnPixelSpacing * r[0] + row * plane.rowPixelSpacing * c[0],
    origin[1] + col * plane.columnPixelSpacing * r[1] + row * plane.rowPixelSpacing * c[1],
    origin[2] + col * plane.columnPixelSpacing * r[2] + row * plane.rowPixelSpacing * c[2],
  ];
  if (columnsRunAP) {
    const flipX = r[1] < 0;
    const flipY = c[2] > 0;
    return (x, y) => pixelToWorld(flipX ? plane.columns - 1 - x : x, flipY ? plane.rows - 1 - y : y);
  }
  // Transposed: image rows run anterior-posterior, columns inferior-superior.
  const flipX = c[1] < 0;
  const flipY = r[2] > 0;
  return (x, y) => pixelToWorld(flipY ? plane.columns - 1 - y : y, flipX ? plane.rows - 1 - x : x);
}

/**
 * The map from display pixels to the patient through the server's `displayToInstance`
 * `[a, b, c, d, e, f]`: (column, row) = (a·x + b·y + c, d·x + e·y + f) of that image.
 */
export function displayToWorldVia(plane: ImagePlane, m: readonly number[]): DisplayToWorld {
  const [a = 1, b = 0, c = 0, d = 0, e = 1, f = 0] = m;
  const { rowCosines: r, columnCosines: k, imagePositionPatient: o } = plane;
  return (x, y) => {
    const col = (a * x + b * y + c) * plane.columnPixelSpacing;
    const row = (d * x + e * y + f) * plane.rowPixelSpacing;
    return [o[0] + col * r[0] + row * k[0], o[1] + col * r[1] + row * k[1], o[2] + col * r[2] + row * k[2]];
  };
}

/** An affine map of the plane `[a, b, c, d, e, f]`: (x, y) → (a x + c y + e, b x + d y + f), as SVG's matrix(). */
export type Affine = [number, number, number, number, number, number];

/** The affine through three point pairs: display (0,0), (1,0), (0,1) and where they land. */
export function affineFrom(o: [number, number], ex: [number, number], ey: [number, number]): Affine {
  return [ex[0] - o[0], ex[1] - o[1], ey[0] - o[0], ey[1] - o[1], o[0], o[1]];
}

/** Applies an affine map to a point. */
export function apply(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]];
}
