/** Disc detection: how many discs were found, and how far a point lies from a disc outline. */
import { SpinegradeError } from '../errors.js';
import { requireNonEmpty } from './checks.js';

/** The fraction of discs that were found (`true` entries). */
export function discDetectionRate(found: readonly boolean[]): number {
  requireNonEmpty('disc detection rate', found.length);
  let hits = 0;
  for (const f of found) if (f) hits++;
  return hits / found.length;
}

/**
 * The distance in mm from `point` to `polygon` (both in pixel coordinates [x, y]): 0 when the point is
 * inside (even-odd rule) or on the outline, else the shortest distance to any edge, measured after
 * scaling x by `spacing[0]` and y by `spacing[1]` (mm per pixel). A polygon with fewer than 3 points
 * encloses nothing and gives Infinity. A spacing that is not positive and finite is a USAGE error.
 */
export function distanceToPolygon(
  point: readonly [number, number],
  polygon: readonly (readonly [number, number])[],
  spacing: readonly [number, number] = [1, 1],
): number {
  const [sx, sy] = spacing;
  if (!(sx > 0 && sy > 0 && Number.isFinite(sx) && Number.isFinite(sy))) {
    throw new SpinegradeError('USAGE', `distance to polygon: spacing must be positive, got [${sx}, ${sy}]`);
  }
  if (polygon.length < 3) return Number.POSITIVE_INFINITY;
  const px = point[0] * sx;
  const py = point[1] * sy;
  if (insideByCrossings(px, rayCrossings(polygon, py, sx, sy))) return 0;
  return distanceToOutline(px, py, polygon, sx, sy);
}

/**
 * Where the horizontal line at `py` (mm) crosses the polygon's edges (x in mm, after scaling by
 * `sx`, `sy`): the even-odd ray test of every point on that line reads these.
 */
export function rayCrossings(polygon: readonly (readonly [number, number])[], py: number, sx = 1, sy = 1): number[] {
  const crossings: number[] = [];
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const ay = (polygon[i] as readonly [number, number])[1] * sy;
    const by = (polygon[j] as readonly [number, number])[1] * sy;
    if (ay > py === by > py) continue;
    const ax = (polygon[i] as readonly [number, number])[0] * sx;
    const bx = (polygon[j] as readonly [number, number])[0] * sx;
    crossings.push(((bx - ax) * (py - ay)) / (by - ay) + ax);
  }
  return crossings;
}

/** Even-odd rule: inside when a ray from `px` towards +x crosses the outline an odd number of times. */
export function insideByCrossings(px: number, crossings: readonly number[]): boolean {
  let inside = false;
  for (const c of crossings) if (px < c) inside = !inside;
  return inside;
}

/** The shortest distance from (px, py) (mm) to any edge of the polygon (pixel coordinates scaled by `sx`, `sy`). */
export function distanceToOutline(
  px: number,
  py: number,
  polygon: readonly (readonly [number, number])[],
  sx = 1,
  sy = 1,
): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [aPx, aPy] = polygon[i] as readonly [number, number];
    const [bPx, bPy] = polygon[j] as readonly [number, number];
    best = Math.min(best, distanceToSegment(px, py, aPx * sx, aPy * sy, bPx * sx, bPy * sy));
  }
  return best;
}

/** The Euclidean distance from (px, py) to the segment from (ax, ay) to (bx, by). */
function distanceToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSquared = dx * dx + dy * dy;
  let t = lengthSquared === 0 ? 0 : ((px - ax) * dx + (py - ay) * dy) / lengthSquared;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}
