import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DiscLabel } from '../../src/datasets/types.js';
import type { DiscMeasures } from '../../src/disc/measures.js';
import {
  CLASSICAL_FEATURES,
  type ClassicalInput,
  classicalFeatures,
  classicalLogits,
  classicalPfirrmannScore,
  classicalShap,
  loadClassicalModel,
  saveClassicalModel,
  trainClassicalModel,
} from '../../src/grade/classicalModel.js';
import { DEFAULT_CROP_CONFIG } from '../../src/grade/crops.js';
import { ensembleLogits } from '../../src/grade/grader.js';
import { mulberry32 } from '../../src/metrics/random.js';

const SIZE = DEFAULT_CROP_CONFIG.size;

function measuresOf(height: number, sir: number): DiscMeasures {
  return {
    discHeightAnteriorMm: height + 1,
    discHeightMiddleMm: height,
    discHeightPosteriorMm: height - 1,
    discHeightMm: height,
    discHeightIndex: height / 25,
    signalIntensityRatio: sir,
    nucleusAnnulusContrast: sir * 2,
    endplateSignalRatio: null,
    listhesisMm: 0.5,
    wedgeAngleDeg: 3,
    discAngleDeg: 10,
  };
}

/** A crop with a disc band of brightness `disc` at the disc's place (8 mm anterior of the crop centre). */
function cropOf(disc: number): Float32Array {
  const crop = new Float32Array(SIZE * SIZE).fill(0.3);
  const centreU = (SIZE - 1) / 2 - 8;
  for (let v = 24; v <= 31; v++)
    for (let u = Math.round(centreU - 12); u <= centreU + 12; u++) crop[v * SIZE + u] = disc;
  return crop;
}

/** Synthetic discs whose Pfirrmann grade lowers the height and darkens the disc, with noise. */
function synthetic(n: number, seed: number): { input: ClassicalInput; label: DiscLabel }[] {
  const random = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const grade = 1 + (i % 5);
    const height = 12 - grade * 1.2 + (random() - 0.5) * 1.5;
    const sir = 0.7 - grade * 0.1 + (random() - 0.5) * 0.08;
    return {
      input: {
        crop: cropOf(0.9 - grade * 0.12),
        measures: measuresOf(height, sir),
        ivdLabel: 1 + (i % 5),
        sequence: 'T2',
      },
      label: {
        patient: `p${i}`,
        ivdLabel: 1 + (i % 5),
        level: 'L5/S1',
        pfirrmann: grade,
        modic: grade >= 4 ? 2 : 0,
        herniation: grade >= 4 ? 1 : 0,
      },
    };
  });
}

test('the classical features read the measures and the disc band of the crop, in the named order', () => {
  const row = classicalFeatures(
    { crop: cropOf(0.9), measures: measuresOf(10, 0.5), ivdLabel: 1, sequence: 'T1' },
    DEFAULT_CROP_CONFIG,
  );
  assert.equal(row.length, CLASSICAL_FEATURES.length);
  const at = (name: string): number => row[CLASSICAL_FEATURES.indexOf(name)] as number;
  assert.equal(at('discHeightMm'), 10);
  assert.ok(Number.isNaN(at('endplateSignalRatio')), 'a missing measure stays missing until imputation');
  assert.ok(
    Math.abs(at('discMeanIntensity') - 0.9) < 0.05,
    `the disc band is the bright band, got ${at('discMeanIntensity')}`,
  );
  assert.ok(Math.abs(at('vertebraAboveIntensity') - 0.3) < 1e-6);
  assert.equal(at('sequenceT1'), 1);
  assert.equal(at('levelL5S1'), 1);
});

test('the classical model learns grades from height and signal, and its probabilities are distributions', () => {
  const model = trainClassicalModel(synthetic(400, 1), DEFAULT_CROP_CONFIG, { seed: 1 });
  const test = synthetic(200, 2);
  const logits = classicalLogits(
    model,
    test.map((t) => t.input),
  );
  let correctWithinOne = 0;
  test.forEach((t, n) => {
    const probs = Array.from(logits.pfirrmann.subarray(n * 5, n * 5 + 5), Math.exp);
    assert.ok(Math.abs(probs.reduce((s, p) => s + p, 0) - 1) < 0.01, 'Pfirrmann probabilities sum to one');
    const grade = 1 + probs.indexOf(Math.max(...probs));
    if (Math.abs(grade - (t.label.pfirrmann as number)) <= 1) correctWithinOne++;
  });
  assert.ok(correctWithinOne / test.length > 0.9, `within one grade ${correctWithinOne}/${test.length}`);
  const mild = classicalLogits(model, [synthetic(5, 3)[0]?.input as ClassicalInput]);
  const severe = classicalLogits(model, [synthetic(5, 3)[4]?.input as ClassicalInput]);
  assert.ok(
    (severe.findings[3] as number) > (mild.findings[3] as number),
    'herniation is likelier on the degenerate disc',
  );
});

test('classical SHAP values add up to the Pfirrmann score minus its training mean, and name every feature', () => {
  const model = trainClassicalModel(synthetic(300, 4), DEFAULT_CROP_CONFIG, { seed: 2 });
  const input = synthetic(5, 5)[3]?.input as ClassicalInput;
  const shap = classicalShap(model, input);
  assert.deepEqual(Object.keys(shap.pfirrmann ?? {}), [...CLASSICAL_FEATURES]);
  for (const finding of ['modic', 'herniation', 'bulging', 'narrowing']) assert.ok(shap[finding], finding);
  const total = Object.values(shap.pfirrmann ?? {}).reduce((s, v) => s + v, 0);
  const base = model.pfirrmann.reduce((s, svm) => s + svm.baseScore, 0);
  assert.ok(
    Math.abs(total - (classicalPfirrmannScore(model, input) - base)) < 0.01,
    `SHAP sum ${total} vs score − base ${classicalPfirrmannScore(model, input) - base}`,
  );
  const height = shap.pfirrmann?.discHeightMm ?? 0;
  const tall = classicalShap(model, synthetic(5, 5)[0]?.input as ClassicalInput).pfirrmann?.discHeightMm ?? 0;
  assert.ok(tall < height, 'a taller disc pushes the grade down more than a low one');
});

test('a saved classical model loads back and predicts the same', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'classical-'));
  try {
    const model = trainClassicalModel(synthetic(100, 6), DEFAULT_CROP_CONFIG, { seed: 3 });
    await saveClassicalModel(model, dir);
    const loaded = await loadClassicalModel(dir);
    const inputs = synthetic(10, 7).map((s) => s.input);
    assert.deepEqual(classicalLogits(loaded, inputs), classicalLogits(model, inputs));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the ensemble pools log-probabilities: agreeing members keep their grade, the mean logit for findings', () => {
  const a = {
    pfirrmann: Float32Array.from([3, 0, 0, 0, 0]),
    modic: Float32Array.from([0, 2, 0, 0]),
    findings: Float32Array.from([1, 1, 1, 1, 1, 1]),
  };
  const b = {
    pfirrmann: Float32Array.from([Math.log(0.6), Math.log(0.1), Math.log(0.1), Math.log(0.1), Math.log(0.1)]),
    modic: Float32Array.from([0, 0, 0, 0]),
    findings: Float32Array.from([-1, 3, 1, 1, 1, 1]),
  };
  const pooled = ensembleLogits([a, b]);
  const p = Array.from(pooled.pfirrmann);
  assert.equal(p.indexOf(Math.max(...p)), 0);
  assert.ok(Math.abs((pooled.findings[0] as number) - 0) < 1e-6);
  assert.ok(Math.abs((pooled.findings[1] as number) - 2) < 1e-6);
});
