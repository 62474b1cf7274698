import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DiscLabel, SeriesRecord, SpineDataset } from '../../src/datasets/types.js';
import { levelOfIvdLabel } from '../../src/disc/levels.js';
import { type DiscPrediction, fusePatients, type PredictionLine } from '../../src/disc/predictions.js';
import { predictDataset, predictWithProgress } from '../../src/evaluation/predict.js';
import { evaluatePredictions } from '../../src/evaluation/score.js';
import { fitClassPrior } from '../../src/grade/prior.js';

/** Pfirrmann grades of patients p0…p5, discs L5/S1 (ivd 1) … L1/L2 (ivd 5). */
const GRADES: Record<string, number[]> = {
  p0: [5, 4, 3, 3, 2],
  p1: [4, 4, 3, 2, 2],
  p2: [3, 3, 2, 2, 1],
  p3: [5, 5, 4, 3, 3],
  p4: [2, 2, 2, 1, 1],
  p5: [4, 3, 3, 3, 2],
};

function dataset(): SpineDataset {
  const discs: DiscLabel[] = [];
  const series: SeriesRecord[] = [];
  for (const [patient, grades] of Object.entries(GRADES)) {
    grades.forEach((pfirrmann, n) => {
      const ivdLabel = n + 1;
      discs.push({
        patient,
        ivdLabel,
        level: levelOfIvdLabel(ivdLabel),
        pfirrmann,
        modic: pfirrmann === 5 ? 2 : 0,
        herniation: pfirrmann >= 4 ? 1 : 0,
      });
    });
    for (const sequence of ['T1', 'T2'] as const) {
      series.push({
        id: `${patient}_${sequence.toLowerCase()}`,
        patient,
        sequence,
        keypoints: sequence === 'T2' ? [{ ivdLabel: 2, level: 'L4/L5', x: 10, y: 10 }] : [],
        loadMidSagittal: async () => ({
          pixels: new Float32Array(400),
          width: 20,
          height: 20,
          pixelSpacing: [0.5, 0.5],
        }),
      });
    }
  }
  return { root: 'memory', layout: 'own', patients: Object.keys(GRADES), series, discs, maskSlices: [], notes: [] };
}

/** A confident prediction of `grade` for a disc. */
function disc(ivdLabel: number, grade: number, outline?: [number, number][]): DiscPrediction {
  const probs = [1, 2, 3, 4, 5].map((g) => (g === grade ? 0.8 : 0.05));
  return {
    level: levelOfIvdLabel(ivdLabel),
    ivdLabel,
    ...(outline ? { outline } : {}),
    pfirrmann: { grade, probs },
    modic: { grade: 0, probs: [0.7, 0.1, 0.1, 0.1] },
    endplateUpper: 0.1,
    endplateLower: 0.1,
    spondylolisthesis: 0.1,
    herniation: grade >= 4 ? 0.9 : 0.2,
    bulging: 0.1,
    narrowing: 0.1,
  };
}

/** Linear-weighted kappa written out from its definition, independently of src/metrics. */
function linearKappaByHand(truth: number[], predicted: number[]): number {
  const k = 5;
  const n = truth.length;
  let observed = 0;
  let expected = 0;
  for (let i = 1; i <= k; i++) {
    for (let j = 1; j <= k; j++) {
      const w = 1 - Math.abs(i - j) / (k - 1);
      const both = truth.filter((t, m) => t === i && predicted[m] === j).length / n;
      const marginal = (truth.filter((t) => t === i).length / n) * (predicted.filter((p) => p === j).length / n);
      observed += w * both;
      expected += w * marginal;
    }
  }
  return (observed - expected) / (1 - expected);
}

test('fused Pfirrmann kappa matches an independent computation, a missed disc scoring as the farthest grade', async () => {
  const data = dataset();
  // Predict each disc one grade too high when it is below 3, exactly otherwise; patient p3 misses L5/S1.
  const seriesLines: PredictionLine[] = data.series.map((s) => ({
    series: s.id,
    patient: s.patient,
    sequence: s.sequence,
    discs: (GRADES[s.patient] as number[])
      .map((g, n) => ({ g, ivd: n + 1 }))
      .filter(({ ivd }) => !(s.patient === 'p3' && ivd === 1))
      .map(({ g, ivd }) => disc(ivd, g < 3 ? g + 1 : g)),
  }));
  const evaluation = await evaluatePredictions(data, [...seriesLines, ...fusePatients(seriesLines)], {
    resamples: 200,
  });
  const truth: number[] = [];
  const predicted: number[] = [];
  for (const [patient, grades] of Object.entries(GRADES)) {
    grades.forEach((g, n) => {
      truth.push(g);
      // p3's L5/S1 (truth 5) is missed: scored as grade 1.
      predicted.push(patient === 'p3' && n === 0 ? 1 : g < 3 ? g + 1 : g);
    });
  }
  const kappa = evaluation.pfirrmannFused.rows.find((r) => r.measure === 'kappa (linear)')!;
  assert.ok(Math.abs(kappa.estimate.value - linearKappaByHand(truth, predicted)) < 1e-12);
  assert.ok(kappa.estimate.lower <= kappa.estimate.value && kappa.estimate.value <= kappa.estimate.upper);
  assert.equal(evaluation.pfirrmannFused.missed, 1);
  assert.equal(evaluation.pfirrmannFused.discs, 30);
  assert.equal(evaluation.pfirrmannFused.patients, 6);
  const exact = truth.filter((t, n) => t === predicted[n]).length / truth.length;
  assert.equal(evaluation.pfirrmannFused.rows.find((r) => r.measure === 'accuracy')!.estimate.value, exact);
  // Per series: both series of each patient carry the same labels.
  assert.equal(evaluation.pfirrmannPerSeries.discs, 60);
  assert.deepEqual(Object.keys(evaluation.pfirrmannPerSequence), ['T1', 'T2']);
});

test('a keypoint counts as found only inside or within 3 mm of the outline of the disc with its level', async () => {
  const data = dataset();
  const square = (x: number, y: number, half: number): [number, number][] => [
    [x - half, y - half],
    [x + half, y - half],
    [x + half, y + half],
    [x - half, y + half],
  ];
  const lines: PredictionLine[] = data.series.map((s, n) => {
    const outlines: Record<number, [number, number][] | undefined> = {
      0: square(10, 10, 2), // contains the keypoint
      1: square(14, 10, 1), // edge at x = 13: 3 px = 1.5 mm away
      2: square(30, 10, 1), // edge at x = 29: 19 px = 9.5 mm away
      3: undefined, // no outline: not localised
    };
    const outline = outlines[Math.floor(n / 2) % 4];
    return { series: s.id, patient: s.patient, sequence: s.sequence, discs: [disc(2, 3, outline)] };
  });
  const evaluation = await evaluatePredictions(data, lines, { resamples: 50 });
  // T2 series of p0 (inside), p1 (1.5 mm), p2 (9.5 mm), p3 (none), p4 (inside), p5 (1.5 mm).
  assert.equal(evaluation.localisation!.keypoints, 6);
  assert.equal(evaluation.localisation!.found, 4);
});

test("T1 levels are checked against the same patient's T2 keypoints, carried over by position where the fields of view match", async () => {
  const data = dataset();
  // p5's T1 has another field of view: 20 × 20 px at 0.25 mm is 5 × 5 mm, its T2 10 × 10 mm.
  const series = data.series.map((s) =>
    s.id === 'p5_t1'
      ? {
          ...s,
          loadMidSagittal: async () => ({
            pixels: new Float32Array(400),
            width: 20,
            height: 20,
            pixelSpacing: [0.25, 0.25] as [number, number],
          }),
        }
      : s,
  );
  // p1's T1 is 40 × 40 px at 0.25 mm: the same 10 × 10 mm field, so its keypoint (10, 10) at 0.5 mm lands at (20, 20).
  const withBigT1 = series.map((s) =>
    s.id === 'p1_t1'
      ? {
          ...s,
          loadMidSagittal: async () => ({
            pixels: new Float32Array(1600),
            width: 40,
            height: 40,
            pixelSpacing: [0.25, 0.25] as [number, number],
          }),
        }
      : s,
  );
  const square = (x: number, y: number, half: number): [number, number][] => [
    [x - half, y - half],
    [x + half, y - half],
    [x + half, y + half],
    [x - half, y + half],
  ];
  const lines: PredictionLine[] = withBigT1.map((s) => {
    const outline =
      s.sequence === 'T2'
        ? square(10, 10, 2)
        : s.patient === 'p1'
          ? square(20, 20, 2) // found only with the keypoint carried over by physical position
          : s.patient === 'p2' || s.patient === 'p3'
            ? square(10, 30, 2) // 18 px away: the wrong place
            : square(10, 10, 2);
    return { series: s.id, patient: s.patient, sequence: s.sequence, discs: [disc(2, 3, outline)] };
  });
  const evaluation = await evaluatePredictions({ ...data, series: withBigT1 }, lines, { resamples: 50 });
  const t1 = evaluation.localisation!.t1;
  assert.equal(t1.seriesWithOtherFieldOfView, 1, "p5's T1");
  assert.equal(t1.keypoints, 5);
  assert.equal(t1.found, 3, 'p0, p1 and p4');
  const row = evaluation.localisation!.rows.find((r) => r.measure.startsWith('T1'))!;
  assert.equal(row.estimate.value, 3 / 5);
});

test('one class prior grades every disc alike: kappa 0 and AUC 0.5', async () => {
  const data = dataset();
  const model = fitClassPrior(data.discs, data.patients, 'memory');
  const evaluation = await evaluatePredictions(data, (await predictDataset(data, { mode: 'model', model })).lines, {
    resamples: 100,
  });
  assert.equal(evaluation.pfirrmannFused.rows.find((r) => r.measure === 'kappa (linear)')!.estimate.value, 0);
  assert.equal(evaluation.pfirrmannFused.missed, 0);
  assert.equal(evaluation.binaryFused.find((s) => s.finding === 'herniation')!.rows[0]!.estimate.value, 0.5);
});

test('out-of-fold prediction fits each fold without the patients it predicts', async () => {
  const data = dataset();
  const predictions = await predictDataset(data, { mode: 'cross-validate', folds: 3, seed: 7 });
  assert.equal(predictions.inSamplePatients, 0);
  assert.equal(predictions.folds!.length, 3);
  for (const fold of predictions.folds!) {
    assert.deepEqual(
      fold.fittedOn.filter((p) => fold.predicted.includes(p)),
      [],
    );
  }
  assert.deepEqual(predictions.folds!.flatMap((f) => f.predicted).sort(), [...data.patients].sort());
  assert.equal(predictions.lines.filter((l) => l.series !== null).length, data.series.length);
});

test('a model fitted on the evaluated patients is reported as in-sample', async () => {
  const data = dataset();
  const model = fitClassPrior(data.discs, ['p0', 'p1'], 'memory');
  const predictions = await predictDataset(data, { mode: 'model', model });
  assert.equal(predictions.inSamplePatients, 2);
  assert.equal(predictions.lines.filter((l) => l.series === null).length, 6);
});

test('predictWithProgress finishes its progress after the last series, not before the first', async () => {
  const data = dataset();
  const events: string[] = [];
  const progress = {
    update: (done: number, total: number) => events.push(`${done}/${total}`),
    finish: () => events.push('finish'),
  };
  await predictWithProgress(data, { mode: 'cross-validate', folds: 3, seed: 7 }, progress);
  assert.equal(events.at(-1), 'finish');
  assert.equal(events.at(-2), `${data.series.length}/${data.series.length}`);
  assert.equal(events.filter((e) => e === 'finish').length, 1);
});
