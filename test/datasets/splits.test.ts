import assert from 'node:assert/strict';
import { test } from 'node:test';
import { foldOfPatient, patientFolds, worstPfirrmannByPatient } from '../../src/datasets/splits.js';
import type { DiscLabel } from '../../src/datasets/types.js';
import { SpinegradeError } from '../../src/errors.js';

/** 53 patients: worst grades 1-5 in uneven numbers, 7 without any Pfirrmann grade. */
function syntheticDataset(): { patients: string[]; discs: DiscLabel[] } {
  const counts: Record<number, number> = { 1: 4, 2: 11, 3: 15, 4: 9, 5: 7 };
  const patients: string[] = [];
  const discs: DiscLabel[] = [];
  let id = 1;
  for (const [grade, count] of Object.entries(counts)) {
    for (let n = 0; n < count; n++, id++) {
      const patient = `${id}`;
      patients.push(patient);
      // Lower discs get lower grades; the worst is `grade`.
      for (let ivd = 1; ivd <= 5; ivd++) {
        discs.push({ patient, ivdLabel: ivd, level: `L${ivd}`, pfirrmann: Math.max(1, Number(grade) - (ivd % 2)) });
      }
      discs.push({ patient, ivdLabel: 6, level: 'T12/L1', pfirrmann: Number(grade) });
    }
  }
  for (let n = 0; n < 7; n++, id++) {
    patients.push(`${id}`);
    discs.push({ patient: `${id}`, ivdLabel: 1, level: 'L5/S1', modic: 0 });
  }
  return { patients, discs };
}

test('the same seed gives the same folds', () => {
  const dataset = syntheticDataset();
  assert.deepEqual(patientFolds(dataset, 5, 42), patientFolds(dataset, 5, 42));
});

test('another seed gives other folds', () => {
  const dataset = syntheticDataset();
  assert.notDeepEqual(
    patientFolds(dataset, 5, 42).map((f) => f.testPatients),
    patientFolds(dataset, 5, 43).map((f) => f.testPatients),
  );
});

test('every patient is in exactly one test fold and never in train and test of one fold', () => {
  const dataset = syntheticDataset();
  const folds = patientFolds(dataset, 5, 7);
  assert.deepEqual(
    folds.map((f) => f.fold),
    [0, 1, 2, 3, 4],
  );
  const tested = folds.flatMap((f) => f.testPatients);
  assert.equal(tested.length, dataset.patients.length);
  assert.deepEqual([...tested].sort(), [...dataset.patients].sort());
  for (const fold of folds) {
    const test = new Set(fold.testPatients);
    assert.ok(fold.trainPatients.every((p) => !test.has(p)));
    assert.equal(fold.trainPatients.length + fold.testPatients.length, dataset.patients.length);
  }
  const map = foldOfPatient(folds);
  assert.equal(map.size, dataset.patients.length);
  for (const fold of folds) for (const p of fold.testPatients) assert.equal(map.get(p), fold.fold);
});

test('fold sizes differ by at most one and each worst-grade stratum is spread within ±1 per fold', () => {
  const dataset = syntheticDataset();
  const worst = worstPfirrmannByPatient(dataset.discs);
  for (const k of [2, 3, 5, 10]) {
    for (const seed of [1, 2, 3]) {
      const folds = patientFolds(dataset, k, seed);
      const sizes = folds.map((f) => f.testPatients.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `k=${k} sizes ${sizes}`);
      for (const stratum of ['1', '2', '3', '4', '5', 'none']) {
        const perFold = folds.map(
          (f) => f.testPatients.filter((p) => String(worst.get(p) ?? 'none') === stratum).length,
        );
        assert.ok(
          Math.max(...perFold) - Math.min(...perFold) <= 1,
          `k=${k} seed=${seed} stratum ${stratum}: ${perFold}`,
        );
      }
    }
  }
});

test("a patient's stratum is the highest Pfirrmann grade of any of their discs", () => {
  const worst = worstPfirrmannByPatient([
    { patient: 'a', ivdLabel: 1, level: 'L5/S1', pfirrmann: 2 },
    { patient: 'a', ivdLabel: 2, level: 'L4/L5', pfirrmann: 4 },
    { patient: 'a', ivdLabel: 3, level: 'L3/L4', pfirrmann: 3 },
    { patient: 'b', ivdLabel: 1, level: 'L5/S1' },
  ]);
  assert.deepEqual([...worst], [['a', 4]]);
});

test('fewer than two folds, or more folds than patients, is a USAGE error', () => {
  const dataset = syntheticDataset();
  for (const k of [1, 0, 2.5, 61]) {
    assert.throws(
      () => patientFolds(dataset, k, 1),
      (error: unknown) => error instanceof SpinegradeError && error.kind === 'USAGE',
    );
  }
});
