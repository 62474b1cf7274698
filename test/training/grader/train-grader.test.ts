import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPredictions } from '../../../src/disc/predictions.js';
import { gradeSeriesDiscs, loadGrader } from '../../../src/grade/grader.js';
import { runCli } from '../../helpers/cli.js';
import { tempFolder } from '../../helpers/tmp.js';

const MINI = 'test/fixtures/datasets/spider-2d-mini';

test('train grader runs end to end on a tiny dataset, and predict then fills every grade with real probabilities', async (t) => {
  const folder = await tempFolder(t);
  const out = join(folder, 'grader');
  const run = runCli([
    'train',
    'grader',
    '--data',
    MINI,
    '--out',
    out,
    '--folds',
    '2',
    '--epochs',
    '1',
    '--context-epochs',
    '2',
    '--workers',
    '1',
    '--resamples',
    '50',
  ]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /discs cropped/);
  assert.match(
    run.stderr,
    /out-of-fold Pfirrmann linear κ: classical \(SVM\) \S+, CNN \S+, hybrid \S+, ensemble \S+; shipped/,
  );
  for (const file of ['model.json', 'weights.bin', 'MODEL_CARD.md', 'out-of-fold.jsonl', 'classical.json'])
    assert.ok(existsSync(join(out, file)), file);
  const card = await readFile(join(out, 'MODEL_CARD.md'), 'utf8');
  assert.match(card, /\| kappa \(linear\) \|/);
  assert.match(card, /Coverage\/accuracy/);
  assert.match(
    card,
    /\| measure \| classical \(SVM\) \| CNN \| hybrid \| ensemble \|/,
    'the three families and the ensemble side by side',
  );
  assert.match(card, /Shipped variant: .+ — it has the highest out-of-fold Pfirrmann linear κ/);
  const grader = await loadGrader(out, { engine: 'auto' });
  assert.ok(grader.classical, 'the classical model ships with the grader');
  assert.equal(grader.config.cropSize, 56);
  assert.ok(grader.calibration.pfirrmann > 0);
  const outOfFold = await readPredictions(join(out, 'out-of-fold.jsonl'));
  assert.ok(
    outOfFold.some((l) => l.series === null),
    'fused patient lines',
  );

  const predictions = join(folder, 'predictions.jsonl');
  const predict = runCli(['predict', MINI, '--out', predictions, '--model', out]);
  assert.equal(predict.status, 0, predict.stderr);
  const lines = await readPredictions(predictions);
  const discs = lines.flatMap((l) => l.discs);
  assert.ok(discs.length > 0);
  const distinct = new Set(discs.map((d) => d.pfirrmann.probs.map((p) => p.toFixed(4)).join(',')));
  assert.ok(distinct.size > 1, 'each disc gets its own probabilities, not one prior for all');
  for (const d of discs) {
    const sum = d.pfirrmann.probs.reduce((s, p) => s + p, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4);
    assert.equal(typeof d.needsReview, 'boolean');
  }
  for (const d of lines.filter((l) => l.series !== null).flatMap((l) => l.discs)) {
    for (const key of ['discHeightMm', 'discHeightIndex', 'signalIntensityRatio', 'listhesisMm'] as const)
      assert.ok(d.measures && key in d.measures, `measures.${key}`);
    assert.ok((d.measures?.discHeightMm ?? 0) > 0, 'every localised disc has a height');
  }

  // Whichever family won on this tiny data, the ensemble and the classical model grade with SHAP values.
  for (const variant of ['ensemble', 'classical'] as const) {
    const graded = gradeSeriesDiscs({ ...grader, variant }, [
      {
        crop: new Float32Array(56 * 56).fill(0.5),
        ivdLabel: 2,
        level: 'L4/L5',
        measures: lines.find((l) => l.series !== null)?.discs[0]?.measures,
        sequence: 'T2',
      },
    ]);
    const disc = graded[0];
    assert.ok(disc?.shap?.pfirrmann && 'discHeightMm' in disc.shap.pfirrmann, `${variant}: SHAP per feature`);
    assert.ok(Math.abs((disc?.pfirrmann.probs.reduce((a, b) => a + b, 0) ?? 0) - 1) < 1e-4);
  }
});
