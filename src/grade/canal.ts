/**
 * Spinal canal measures on the mid-sagittal slice, from the canal class of the localiser's semantic
 * mask (docs/measures.md): the anteroposterior (AP) diameter of the canal at a disc level and at the
 * middle of the vertebral bodies above and below it, and their ratio. Measures in mm, never a
 * diagnosis; the literature thresholds are quoted beside them, not applied.
 *
 * The AP diameter along a line is the length of the first run of canal pixels that the line meets
 * behind its start (short gaps of at most {@link GAP_MM} bridged), the line running along the disc
 * axis (anterior → posterior). Each diameter is the median over five parallel lines 0.5 mm apart,
 * so that one ragged mask edge does not decide it.
 */
import { vertebraAboveDisc } from '../disc/levels.js';
import type { LocalizedDisc, LocalizedVertebra } from '../localize/postprocess.js';

/** The canal class in the localiser's class map. */
const CANAL = 3;
/** Sampling step along a line, mm. */
const STEP_MM = 0.1;
/** Longest gap inside one run of canal that is bridged, mm. */
const GAP_MM = 0.6;
/** How far behind its start a line looks for the canal, mm. */
const REACH_MM = 60;
/** Offsets of the parallel lines, mm, across the line direction. */
const OFFSETS_MM = [-1, -0.5, 0, 0.5, 1];

/** A class map of one slice with its geometry. */
export interface ClassMap {
  readonly width: number;
  readonly height: number;
  /** Pixel spacing `[x, y]`, mm. */
  readonly pixelSpacing: readonly [number, number];
  /** Class of each pixel (3 = canal). */
  readonly classes: Uint8Array;
}

/** The canal measures of one disc level; null where the slice does not show the canal there. */
export interface CanalMeasures {
  /** AP diameter of the canal at the disc level, mm. */
  canalApMm: number | null;
  /** Mean AP diameter at the middle of the vertebral bodies above and below (those found), mm. */
  canalApBodyMm: number | null;
  /** `canalApMm / canalApBodyMm`. */
  canalApRatio: number | null;
}

/** Unit direction in mm (x, y) of a disc axis given in pixels, pointing posterior (+x). */
export function axisMm(axis: readonly [number, number], pixelSpacing: readonly [number, number]): [number, number] {
  let dx = axis[0] * pixelSpacing[0];
  let dy = axis[1] * pixelSpacing[1];
  const norm = Math.hypot(dx, dy) || 1;
  dx /= norm;
  dy /= norm;
  return dx < 0 ? [-dx, -dy] : [dx, dy];
}

function isCanal(map: ClassMap, xMm: number, yMm: number): boolean {
  const x = Math.round(xMm / map.pixelSpacing[0]);
  const y = Math.round(yMm / map.pixelSpacing[1]);
  return x >= 0 && y >= 0 && x < map.width && y < map.height && map.classes[x + y * map.width] === CANAL;
}

/** Length (mm) of the first canal run along one line from `start` (mm) in `direction`, or null. */
function runAlong(
  map: ClassMap,
  start: readonly [number, number],
  direction: readonly [number, number],
): number | null {
  let first: number | null = null;
  let last = 0;
  for (let u = 0; u <= REACH_MM; u += STEP_MM) {
    const inside = isCanal(map, start[0] + u * direction[0], start[1] + u * direction[1]);
    if (inside) {
      first ??= u;
      last = u;
    } else if (first !== null && u - last > GAP_MM) {
      break;
    }
  }
  return first === null ? null : last - first + STEP_MM;
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The AP diameter (mm) of the canal met along `direction` (unit, mm) from the pixel `startPx`: the
 * median over the parallel lines that meet it (at least three of five), else null.
 */
export function canalDiameterMm(
  map: ClassMap,
  startPx: readonly [number, number],
  direction: readonly [number, number],
): number | null {
  const [sx, sy] = map.pixelSpacing;
  const across: [number, number] = [-direction[1], direction[0]];
  const runs = OFFSETS_MM.flatMap((offset) => {
    const start: [number, number] = [startPx[0] * sx + offset * across[0], startPx[1] * sy + offset * across[1]];
    const run = runAlong(map, start, direction);
    return run === null ? [] : [run];
  });
  return runs.length >= 3 ? median(runs) : null;
}

const round2 = (v: number | null): number | null =>
  v === null || !Number.isFinite(v) ? null : Math.round(v * 100) / 100;

/** The vertebra with a level name, nearest the disc (a name can repeat on posterior elements). */
export function vertebraNamed(
  vertebrae: readonly LocalizedVertebra[],
  name: string | undefined,
  disc: LocalizedDisc,
): LocalizedVertebra | undefined {
  if (!name) return undefined;
  return vertebrae
    .filter((v) => v.level === name)
    .sort(
      (a, b) =>
        Math.hypot(a.center[0] - disc.center[0], a.center[1] - disc.center[1]) -
        Math.hypot(b.center[0] - disc.center[0], b.center[1] - disc.center[1]),
    )[0];
}

/**
 * The canal measures of one disc: at the disc level along its axis from its centre, and at the
 * centres of the named vertebral bodies above and below along the same direction.
 */
export function measureCanal(
  map: ClassMap,
  slice: { readonly vertebrae: readonly LocalizedVertebra[] },
  disc: LocalizedDisc,
): CanalMeasures {
  const direction = axisMm(disc.axis, map.pixelSpacing);
  const atDisc = canalDiameterMm(map, disc.center, direction);
  const above = vertebraNamed(slice.vertebrae, vertebraAboveDisc(disc.ivdLabel), disc);
  const below = vertebraNamed(
    slice.vertebrae,
    disc.ivdLabel >= 1 ? vertebraAboveDisc(disc.ivdLabel - 1) : undefined,
    disc,
  );
  const bodies = [above, below].flatMap((v) => {
    const d = v ? canalDiameterMm(map, v.center, direction) : null;
    return d === null ? [] : [d];
  });
  const body = bodies.length ? bodies.reduce((s, v) => s + v, 0) / bodies.length : null;
  return {
    canalApMm: round2(atDisc),
    canalApBodyMm: round2(body),
    canalApRatio: atDisc !== null && body ? Math.round((atDisc / body) * 1000) / 1000 : null,
  };
}
