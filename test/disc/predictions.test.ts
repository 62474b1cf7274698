import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  fusePatients,
  type PredictionLine,
  predictionLineProblem,
  readPredictions,
  toJsonLines,
} from '../../src/disc/predictions.js';
import { SpinegradeError } from '../../src/errors.js';
import { tempFolder } from '../helpers/tmp.js';

const disc = (ivdLabel: number, p: number[]) => ({
  level: ivdLabel === 1 ? 'L5/S1' : 'L4/L5',
  ivdLabel,
  center: [10, 20] as [number, number],
  pfirrmann: { grade: p.indexOf(Math.max(...p)) + 1, probs: p },
  modic: { grade: 0, probs: [1, 0, 0, 0] },
  endplateUpper: 0.2,
  endplateLower: 0.4,
  spondylolisthesis: 0,
  herniation: 1,
  bulging: 0.5,
  narrowing: 0,
});

test('a patient line averages the probabilities of its series and takes the most probable grade', () => {
  const lines: PredictionLine[] = [
    { series: 'a_t1', patient: 'a', sequence: 'T1', discs: [disc(1, [0, 0, 0.6, 0.4, 0]), disc(2, [1, 0, 0, 0, 0])] },
    { series: 'a_t2', patient: 'a', sequence: 'T2', discs: [disc(1, [0, 0, 0.2, 0.8, 0])] },
  ];
  const [fused] = fusePatients(lines);
  assert.equal(fused!.series, null);
  assert.equal(fused!.discs.length, 2);
  const l5 = fused!.discs.find((d) => d.ivdLabel === 1)!;
  assert.deepEqual(
    l5.pfirrmann.probs.map((p) => Number(p.toFixed(6))),
    [0, 0, 0.4, 0.6, 0],
  );
  assert.equal(l5.pfirrmann.grade, 4);
  assert.equal(l5.center, undefined, 'fused lines carry no geometry');
  // The L4/L5 disc was found by one series only: its own probabilities.
  assert.equal(fused!.discs.find((d) => d.ivdLabel === 2)!.pfirrmann.grade, 1);
});

test('predictions survive a JSON Lines round trip and are checked line by line', async (t) => {
  const folder = await tempFolder(t);
  const lines: PredictionLine[] = [
    { series: 'a_t2', patient: 'a', sequence: 'T2', discs: [disc(1, [0.1, 0.2, 0.3, 0.2, 0.2])] },
  ];
  await writeFile(join(folder, 'p.jsonl'), toJsonLines(lines));
  assert.deepEqual(await readPredictions(join(folder, 'p.jsonl')), lines);
  await writeFile(
    join(folder, 'bad.jsonl'),
    `${toJsonLines(lines)}{"patient":"b","series":null,"discs":[{"level":"L5/S1","ivdLabel":1}]}\n`,
  );
  await assert.rejects(
    readPredictions(join(folder, 'bad.jsonl')),
    (e: unknown) =>
      e instanceof SpinegradeError &&
      /line 2: disc 0 \(L5\/S1\): "pfirrmann" needs a grade and 5 probabilities/.test(e.message),
  );
});

test('the contract rejects out-of-range probabilities and malformed geometry', () => {
  const good = { series: 's', patient: 'p', discs: [disc(1, [0.2, 0.2, 0.2, 0.2, 0.2])] };
  assert.equal(predictionLineProblem(good), undefined);
  assert.match(
    predictionLineProblem({ ...good, discs: [{ ...disc(1, [1, 0, 0, 0, 0]), herniation: 1.5 }] })!,
    /herniation/,
  );
  assert.match(
    predictionLineProblem({ ...good, discs: [{ ...disc(1, [1, 0, 0, 0, 0]), outline: [[1, 2, 3]] }] })!,
    /outline/,
  );
  assert.match(predictionLineProblem({ series: 1, patient: 'p', discs: [] })!, /series/);
});
