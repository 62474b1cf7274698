/**
 * The class-prior baseline: every lumbar disc of every series gets the class frequencies of the
 * training discs (add-one smoothed). It looks at no pixel and finds no disc geometry, so it marks
 * the floor every learned model must clear: its Pfirrmann κ is 0 by construction.
 */

import type { DiscLabel } from '../datasets/types.js';
import { BINARY_FINDINGS, type BinaryFinding } from '../disc/findings.js';
import { isLumbarIvdLabel, LUMBAR_IVD_LABELS, levelOfIvdLabel } from '../disc/levels.js';
import { type DiscPrediction, gradedFinding, MODIC_TYPES, PFIRRMANN_GRADES } from '../disc/predictions.js';

/** The fitted class-prior model (stored as `model.json`). */
export interface ClassPriorModel {
  readonly format: 'spinegrade-model';
  readonly version: 1;
  readonly kind: 'class-prior';
  /** What it was fitted on. */
  readonly trainedOn: { dataset: string; patients: string[]; discs: number };
  /** Smoothed Pfirrmann grade frequencies, grades 1-5. */
  readonly pfirrmann: number[];
  /** Smoothed Modic type frequencies, types 0-3. */
  readonly modic: number[];
  /** Smoothed prevalence of each binary finding. */
  readonly binary: Record<BinaryFinding, number>;
}

/** Smoothed frequencies of `classes` among the values (add-one / Laplace). */
function frequencies(values: readonly number[], classes: readonly number[]): number[] {
  return classes.map((c) => (values.filter((v) => v === c).length + 1) / (values.length + classes.length));
}

/** Fits the prior on the lumbar discs of the given patients. */
export function fitClassPrior(
  discs: readonly DiscLabel[],
  patients: readonly string[],
  dataset: string,
): ClassPriorModel {
  const chosen = new Set(patients);
  const train = discs.filter((d) => chosen.has(d.patient) && isLumbarIvdLabel(d.ivdLabel));
  const valuesOf = (pick: (d: DiscLabel) => number | undefined): number[] =>
    train.map(pick).filter((v): v is number => v !== undefined);
  const binary = {} as Record<BinaryFinding, number>;
  for (const finding of BINARY_FINDINGS)
    binary[finding] = frequencies(
      valuesOf((d) => d[finding]),
      [0, 1],
    )[1]!;
  return {
    format: 'spinegrade-model',
    version: 1,
    kind: 'class-prior',
    trainedOn: { dataset, patients: [...chosen].sort(), discs: train.length },
    pfirrmann: frequencies(
      valuesOf((d) => d.pfirrmann),
      PFIRRMANN_GRADES,
    ),
    modic: frequencies(
      valuesOf((d) => d.modic),
      MODIC_TYPES,
    ),
    binary,
  };
}

/** The prior's prediction for one series: the five lumbar discs, no geometry, the same probabilities each. */
export function classPriorDiscs(model: ClassPriorModel): DiscPrediction[] {
  return [...LUMBAR_IVD_LABELS]
    .sort((a, b) => b - a)
    .map((ivdLabel) => {
      const disc = {
        level: levelOfIvdLabel(ivdLabel),
        ivdLabel,
        pfirrmann: gradedFinding(model.pfirrmann, PFIRRMANN_GRADES),
        modic: gradedFinding(model.modic, MODIC_TYPES),
      } as DiscPrediction;
      for (const finding of BINARY_FINDINGS) disc[finding] = model.binary[finding];
      return disc;
    });
}
