import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { balancedClassWeights, graderLoss } from '../../src/grade/loss.js';
import { initTf, tf } from '../../src/models/tf/backend.js';

before(async () => {
  await initTf('wasm');
});

const WEIGHTS = {
  pfirrmannClass: [1, 1, 1, 1, 1],
  modicClass: [1, 1, 1, 1],
  findingsPositive: [1, 1, 1, 1, 1, 1],
  ordinal: 1,
};

function logSoftmax(row: number[]): number[] {
  const max = Math.max(...row);
  const sum = row.reduce((s, z) => s + Math.exp(z - max), 0);
  return row.map((z) => z - max - Math.log(sum));
}

test('the grader loss equals cross-entropy + ordinal term + Modic cross-entropy + binary cross-entropy, written out by hand', () => {
  const pf = [0.5, 1, -0.2, 0.3, 0];
  const mo = [1, 0, 0.5, -1];
  const fi = [0.3, -2, 1, 0, 0.5, -0.5];
  const loss = tf.tidy(
    () =>
      graderLoss(
        tf,
        { pfirrmann: tf.tensor2d([pf]), modic: tf.tensor2d([mo]), findings: tf.tensor2d([fi]) },
        {
          pfirrmann: tf.tensor2d([[0, 0, 1, 0, 0]]),
          modic: tf.tensor2d([[0, 1, 0, 0]]),
          findings: tf.tensor2d([[1, 0, 0, 1, 0, 0]]),
          findingsWeight: tf.tensor2d([[1, 1, 0, 1, 1, 1]]),
        },
        WEIGHTS,
      ).dataSync()[0] as number,
  );
  const lp = logSoftmax(pf);
  const probs = lp.map(Math.exp);
  const expected = probs.reduce((s, p, k) => s + p * k, 0);
  const ce = -(lp[2] as number);
  const ordinal = (expected - 2) ** 2 / 16;
  const modicCe = -(logSoftmax(mo)[1] as number);
  const bce = (z: number, y: number): number =>
    -(y * Math.log(1 / (1 + Math.exp(-z))) + (1 - y) * Math.log(1 - 1 / (1 + Math.exp(-z))));
  const labels = [1, 0, 0, 1, 0, 0];
  const graded = [0, 1, 3, 4, 5];
  const findings = graded.reduce((s, k) => s + bce(fi[k] as number, labels[k] as number), 0) / graded.length;
  assert.ok(Math.abs(loss - (ce + ordinal + modicCe + findings)) < 1e-4, `${loss}`);
});

test('ungraded discs and findings contribute nothing to the loss', () => {
  const run = (pfTarget: number[], weight: number[]): number =>
    tf.tidy(
      () =>
        graderLoss(
          tf,
          {
            pfirrmann: tf.tensor2d([
              [0, 0, 3, 0, 0],
              [5, -5, 0, 0, 9],
            ]),
            modic: tf.tensor2d([
              [1, 0, 0, 0],
              [0, 0, 0, 9],
            ]),
            findings: tf.tensor2d([
              [0, 0, 0, 0, 0, 0],
              [9, 9, 9, 9, 9, 9],
            ]),
          },
          {
            pfirrmann: tf.tensor2d([[0, 0, 1, 0, 0], pfTarget]),
            modic: tf.tensor2d([
              [1, 0, 0, 0],
              [0, 0, 0, 0],
            ]),
            findings: tf.tensor2d([
              [0, 0, 0, 0, 0, 0],
              [0, 0, 0, 0, 0, 0],
            ]),
            findingsWeight: tf.tensor2d([[1, 1, 1, 1, 1, 1], weight]),
          },
          WEIGHTS,
        ).dataSync()[0] as number,
    );
  const alone = tf.tidy(
    () =>
      graderLoss(
        tf,
        {
          pfirrmann: tf.tensor2d([[0, 0, 3, 0, 0]]),
          modic: tf.tensor2d([[1, 0, 0, 0]]),
          findings: tf.tensor2d([[0, 0, 0, 0, 0, 0]]),
        },
        {
          pfirrmann: tf.tensor2d([[0, 0, 1, 0, 0]]),
          modic: tf.tensor2d([[1, 0, 0, 0]]),
          findings: tf.tensor2d([[0, 0, 0, 0, 0, 0]]),
          findingsWeight: tf.tensor2d([[1, 1, 1, 1, 1, 1]]),
        },
        WEIGHTS,
      ).dataSync()[0] as number,
  );
  assert.ok(Math.abs(run([0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]) - alone) < 1e-5);
  assert.ok(run([1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]) > alone + 1, 'a graded second disc does count');
});

test('class weights grow for rare classes, average 1 over the present ones, and are capped', () => {
  const w = balancedClassWeights([100, 25, 0, 1], 0.5, 5);
  assert.equal(w[2], 0);
  assert.ok((w[1] as number) > (w[0] as number));
  assert.ok((w[3] as number) <= 5);
  const uncapped = balancedClassWeights([100, 25], 0.5, 100);
  assert.ok(Math.abs(((uncapped[0] as number) + (uncapped[1] as number)) / 2 - 1) < 1e-12);
});
