/**
 * Checks of grader v2's training data that need no training: do the crops show the disc whose grade
 * they carry? Pfirrmann is read from the disc's T2 signal, so on aligned T2 crops the mean intensity
 * of the crop's centre (where the disc sits) falls as the grade rises, within every level. A join of
 * the wrong disc's grade, a wrong placement or a wrong rotation shows as a correlation near zero.
 */
import type { V2CropConfig } from '../../grade/v2Crops.js';
import { spearman } from '../../metrics/regression.js';
import type { V2Sample } from './v2Samples.js';

/** Mean intensity of the crop's central box, 8 mm along the disc and 4 mm across it (where the disc sits). */
export function discCentreSignal(crop: Float32Array, config: V2CropConfig): number {
  const { size, mmPerPixel } = config;
  const half = (size - 1) / 2;
  const along = 4 / mmPerPixel;
  const across = 2 / mmPerPixel;
  let sum = 0;
  let count = 0;
  for (let v = Math.round(half - across); v <= Math.round(half + across); v++)
    for (let u = Math.round(half - along); u <= Math.round(half + along); u++) {
      if (u < 0 || v < 0 || u >= size || v >= size) continue;
      sum += crop[v * size + u] as number;
      count++;
    }
  return count ? sum / count : 0;
}

/** The alignment check of one group of discs. */
export interface SignalGradeCorrelation {
  /** `all` or a level name. */
  readonly level: string;
  readonly discs: number;
  /** Spearman ρ of the disc-centre signal against the Pfirrmann grade (aligned T2 crops: clearly negative). */
  readonly rho: number;
}

/** Spearman ρ of the disc-centre signal of the unjittered crops against the Pfirrmann grade, over all and per level. */
export function signalGradeCorrelations(samples: readonly V2Sample[], config: V2CropConfig): SignalGradeCorrelation[] {
  const graded = samples.filter((s) => s.label.pfirrmann !== undefined);
  const groups: [string, V2Sample[]][] = [['all', graded]];
  const levels = [...new Set(graded.map((s) => s.level))].sort();
  for (const level of levels) groups.push([level, graded.filter((s) => s.level === level)]);
  return groups.map(([level, group]) => ({
    level,
    discs: group.length,
    rho: spearman(
      group.map((s) => discCentreSignal(s.crops[0] as Float32Array, config)),
      group.map((s) => s.label.pfirrmann as number),
    ),
  }));
}
