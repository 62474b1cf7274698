/**
 * Patient-level K-fold splits, stratified on each patient's worst (highest) Pfirrmann grade.
 *
 * Rule: patients fall into strata by worst grade (1 … 5, then one stratum for patients without a
 * Pfirrmann grade). Each stratum, in that order, is sorted by patient id, shuffled with one seeded
 * mulberry32 generator, and dealt to folds round-robin; the round-robin position carries on from one
 * stratum to the next, so fold sizes differ by at most one and each stratum's share of a fold differs
 * by at most one between folds. The same dataset, `k` and seed always give the same folds.
 */
import { SpinegradeError } from '../errors.js';
import { mulberry32, shuffleInPlace } from '../metrics/random.js';
import { comparePatientIds } from './common.js';
import type { SpineDataset } from './types.js';

/** One fold: its held-out (test) patients and the rest (train), both sorted. */
export interface PatientFold {
  /** 0-based fold number. */
  readonly fold: number;
  readonly trainPatients: string[];
  readonly testPatients: string[];
}

/** Each patient's worst (highest) Pfirrmann grade; patients without a grade are absent. */
export function worstPfirrmannByPatient(discs: SpineDataset['discs']): Map<string, number> {
  const worst = new Map<string, number>();
  for (const disc of discs) {
    if (disc.pfirrmann === undefined) continue;
    const before = worst.get(disc.patient);
    if (before === undefined || disc.pfirrmann > before) worst.set(disc.patient, disc.pfirrmann);
  }
  return worst;
}

/** Deterministic, seeded, patient-level K-fold splits stratified on the worst Pfirrmann grade. */
export function patientFolds(
  dataset: Pick<SpineDataset, 'patients' | 'discs'>,
  k: number,
  seed: number,
): PatientFold[] {
  const patients = [...new Set(dataset.patients)].sort(comparePatientIds);
  if (!Number.isInteger(k) || k < 2)
    throw new SpinegradeError('USAGE', `the fold count must be a whole number of at least 2, got ${k}`);
  if (k > patients.length) {
    throw new SpinegradeError('USAGE', `${k} folds need at least ${k} patients; the dataset has ${patients.length}`);
  }
  const random = mulberry32(seed);
  const worst = worstPfirrmannByPatient(dataset.discs);
  const strata = new Map<string, string[]>();
  for (const patient of patients) {
    const grade = worst.get(patient);
    const key = grade === undefined ? 'none' : String(grade);
    const stratum = strata.get(key);
    if (stratum) stratum.push(patient);
    else strata.set(key, [patient]);
  }
  const keys = [...strata.keys()].sort((a, b) => (a === 'none' ? 1 : b === 'none' ? -1 : Number(a) - Number(b)));
  const tests: string[][] = Array.from({ length: k }, () => []);
  let position = 0;
  for (const key of keys) {
    for (const patient of shuffleInPlace(strata.get(key) as string[], random)) {
      (tests[position % k] as string[]).push(patient);
      position++;
    }
  }
  return tests.map((test, fold) => {
    const held = new Set(test);
    return {
      fold,
      trainPatients: patients.filter((p) => !held.has(p)),
      testPatients: [...test].sort(comparePatientIds),
    };
  });
}

/** The test fold of every patient in a set of folds. */
export function foldOfPatient(folds: readonly PatientFold[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const { fold, testPatients } of folds) for (const patient of testPatients) map.set(patient, fold);
  return map;
}
