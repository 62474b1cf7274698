import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SpinegradeError } from '../../src/errors.js';
import {
  CONTEXT_BIN,
  CONTEXT_JSON,
  type ContextBatch,
  type ContextModel,
  type ContextModelConfig,
  type ContextTrainingData,
  contextForward,
  createContextModel,
  disposeContextModel,
  loadContextModel,
  predictContext,
  saveContextModel,
  trainContextModel,
} from '../../src/grade/context.js';
import { GRADER_HEADS, type GraderLossWeights } from '../../src/grade/loss.js';
import { mulberry32 } from '../../src/metrics/random.js';
import { initTf, tf } from '../../src/models/tf/backend.js';
import { tempFolder } from '../helpers/tmp.js';

await initTf('wasm');

const WEIGHTS: GraderLossWeights = {
  pfirrmannClass: [1, 1, 1, 1, 1],
  modicClass: [1, 1, 1, 1],
  findingsPositive: [1, 1, 1, 1, 1, 1],
  ordinal: 0,
};

function config(overrides: Partial<ContextModelConfig> = {}): ContextModelConfig {
  return {
    embeddingSize: 8,
    modelSize: 32,
    heads: 2,
    layers: 1,
    levels: 5,
    dropout: 0,
    seed: 7,
    cnnLogitResidual: false,
    ...overrides,
  };
}

/**
 * Spines with random embeddings in [-1, 1), every slot occupied unless `empty` says otherwise, and a
 * Pfirrmann grade index per slot from `grade(embeddingOf, slot)`; other targets unknown.
 */
function task(
  spines: number,
  c: ContextModelConfig,
  seed: number,
  grade: (embeddingOf: (slot: number) => Float32Array, slot: number) => number,
  empty: (spine: number, slot: number) => boolean = () => false,
): ContextTrainingData {
  const { levels: l, embeddingSize: e } = c;
  const random = mulberry32(seed);
  const embeddings = Float32Array.from({ length: spines * l * e }, () => 2 * random() - 1);
  const mask = new Uint8Array(spines * l);
  const pfirrmann = new Float32Array(spines * l * GRADER_HEADS.pfirrmann);
  for (let s = 0; s < spines; s++) {
    const embeddingOf = (slot: number): Float32Array => embeddings.subarray((s * l + slot) * e, (s * l + slot + 1) * e);
    for (let slot = 0; slot < l; slot++) {
      if (empty(s, slot)) continue;
      mask[s * l + slot] = 1;
      pfirrmann[(s * l + slot) * GRADER_HEADS.pfirrmann + grade(embeddingOf, slot)] = 1;
    }
  }
  return {
    spines,
    embeddings,
    mask,
    targets: {
      pfirrmann,
      modic: new Float32Array(spines * l * GRADER_HEADS.modic),
      findings: new Float32Array(spines * l * GRADER_HEADS.findings),
      findingsWeight: new Float32Array(spines * l * GRADER_HEADS.findings),
    },
  };
}

/** Share of the graded slots (restricted to `slots`) whose arg-max Pfirrmann logit is the target grade. */
function accuracy(model: ContextModel, data: ContextTrainingData, slots?: (slot: number) => boolean): number {
  const logits = predictContext(model, data).pfirrmann;
  const k = GRADER_HEADS.pfirrmann;
  let right = 0;
  let total = 0;
  for (let i = 0; i < data.spines * model.config.levels; i++) {
    if (!data.mask[i] || (slots && !slots(i % model.config.levels))) continue;
    const row = Array.from(logits.subarray(i * k, (i + 1) * k));
    const truth = Array.from(data.targets.pfirrmann.subarray(i * k, (i + 1) * k)).indexOf(1);
    right += row.indexOf(Math.max(...row)) === truth ? 1 : 0;
    total++;
  }
  return right / total;
}

function cnnLogits(spines: number, levels: number, seed: number): NonNullable<ContextBatch['cnnLogits']> {
  const random = mulberry32(seed);
  const values = (classes: number): Float32Array =>
    Float32Array.from({ length: spines * levels * classes }, () => 4 * random() - 2);
  return {
    pfirrmann: values(GRADER_HEADS.pfirrmann),
    modic: values(GRADER_HEADS.modic),
    findings: values(GRADER_HEADS.findings),
  };
}

function weightsOf(model: ContextModel): Float32Array[] {
  return model.parameters.map((p) => new Float32Array(p.variable.dataSync()));
}

test('logits are [spines, levels, classes] and an empty slot does not affect any other slot', () => {
  const c = config({ layers: 2, levels: 6 });
  const model = createContextModel(c);
  const data = task(
    3,
    c,
    1,
    () => 0,
    (s, slot) => (s + slot) % 3 === 0,
  );
  const logits = contextForward(model, data, false);
  assert.deepEqual(logits.pfirrmann.shape, [3, 6, 5]);
  assert.deepEqual(logits.modic.shape, [3, 6, 4]);
  assert.deepEqual(logits.findings.shape, [3, 6, 6]);
  tf.dispose([logits.pfirrmann, logits.modic, logits.findings]);

  const before = predictContext(model, data);
  const emptySlot = Array.from(data.mask).indexOf(0);
  const changed = { ...data, embeddings: data.embeddings.slice() };
  changed.embeddings.fill(50, emptySlot * c.embeddingSize, (emptySlot + 1) * c.embeddingSize);
  const after = predictContext(model, changed);
  for (const head of ['pfirrmann', 'modic', 'findings'] as const) {
    const k = GRADER_HEADS[head];
    for (let slot = 0; slot < 3 * c.levels; slot++) {
      if (slot === emptySlot) continue;
      assert.deepEqual(after[head].subarray(slot * k, (slot + 1) * k), before[head].subarray(slot * k, (slot + 1) * k));
    }
  }
  // Whereas changing an occupied slot does change its neighbours.
  const occupied = Array.from(data.mask).indexOf(1);
  const moved = { ...data, embeddings: data.embeddings.slice() };
  moved.embeddings.fill(50, occupied * c.embeddingSize, (occupied + 1) * c.embeddingSize);
  const neighbour = occupied + 1;
  assert.equal(data.mask[neighbour], 1);
  const k = GRADER_HEADS.pfirrmann;
  assert.notDeepEqual(
    predictContext(model, moved).pfirrmann.subarray(neighbour * k, (neighbour + 1) * k),
    before.pfirrmann.subarray(neighbour * k, (neighbour + 1) * k),
  );
  disposeContextModel(model);
});

test('attention learns a grade that depends only on the neighbouring disc', async () => {
  const c = config();
  // The grade of slot i is the sign of the first feature of slot i+1 (of slot i−1 for the top slot):
  // the disc's own embedding, drawn independently, says nothing about it.
  const neighbourOf = (slot: number): number => (slot < c.levels - 1 ? slot + 1 : slot - 1);
  const grade = (embeddingOf: (slot: number) => Float32Array, slot: number): number =>
    (embeddingOf(neighbourOf(slot))[0] ?? 0) > 0 ? 2 : 0;
  const train = task(200, c, 11, grade);
  const heldOut = task(100, c, 12, grade);
  const model = createContextModel(c);
  await trainContextModel(model, train, { epochs: 10, learningRate: 3e-3, weights: WEIGHTS });
  const learned = accuracy(model, heldOut);
  assert.ok(learned > 0.85, `held-out accuracy ${learned.toFixed(3)}`);

  // Replace the odd slots with another spine's discs: the even slots keep their own embedding but lose
  // their neighbours (all odd), and fall to chance.
  const e = c.embeddingSize;
  const swapped = { ...heldOut, embeddings: heldOut.embeddings.slice() };
  for (let s = 0; s < heldOut.spines; s++) {
    const donor = (s + 1) % heldOut.spines;
    for (let slot = 1; slot < c.levels; slot += 2) {
      const from = (donor * c.levels + slot) * e;
      swapped.embeddings.set(heldOut.embeddings.subarray(from, from + e), (s * c.levels + slot) * e);
    }
  }
  const withoutNeighbours = accuracy(model, swapped, (slot) => slot % 2 === 0);
  assert.ok(withoutNeighbours < 0.7, `accuracy without the true neighbours ${withoutNeighbours.toFixed(3)}`);
  disposeContextModel(model);
});

test('the level embedding learns a grade that depends only on the level slot', async () => {
  const c = config();
  const train = task(
    60,
    c,
    21,
    (_, slot) => (slot * 2) % 5,
    (s, slot) => (s * 7 + slot) % 4 === 0,
  );
  const model = createContextModel(c);
  await trainContextModel(model, train, { epochs: 15, learningRate: 3e-3, weights: WEIGHTS });
  const learned = accuracy(
    model,
    task(40, c, 22, (_, slot) => (slot * 2) % 5),
  );
  assert.ok(learned > 0.95, `accuracy ${learned.toFixed(3)}`);
  disposeContextModel(model);
});

test('the same seed gives identical weights and training history, another seed different ones', async () => {
  const c = config({ dropout: 0.2 });
  const data = task(24, c, 31, (embeddingOf, slot) => ((embeddingOf(slot)[1] ?? 0) > 0 ? 1 : 3));
  const run = async (modelSeed: number, trainSeed: number) => {
    const model = createContextModel({ ...c, seed: modelSeed });
    const initial = weightsOf(model);
    const { history } = await trainContextModel(model, data, {
      epochs: 3,
      batchSize: 8,
      seed: trainSeed,
      weights: WEIGHTS,
    });
    const trained = weightsOf(model);
    disposeContextModel(model);
    return { initial, history, trained };
  };
  const a = await run(1, 5);
  const b = await run(1, 5);
  assert.deepEqual(b.initial, a.initial);
  assert.deepEqual(b.history, a.history);
  assert.deepEqual(b.trained, a.trained);
  assert.equal(a.history.length, 3);

  const otherModel = await run(2, 5);
  assert.notDeepEqual(otherModel.initial, a.initial);
  const otherShuffle = await run(1, 6);
  assert.deepEqual(otherShuffle.initial, a.initial);
  assert.notDeepEqual(otherShuffle.history, a.history);
});

test('with the CNN-logit residual an untrained model reproduces the CNN logits, and needs them', () => {
  const c = config({ cnnLogitResidual: true });
  const model = createContextModel(c);
  const data = task(
    4,
    c,
    41,
    () => 0,
    (_, slot) => slot === 4,
  );
  const cnn = cnnLogits(4, c.levels, 42);
  assert.deepEqual(predictContext(model, { ...data, cnnLogits: cnn }), cnn);
  assert.throws(
    () => predictContext(model, data),
    (error: unknown) => error instanceof SpinegradeError && error.kind === 'USAGE',
  );
  disposeContextModel(model);
});

test('save and load round trip gives identical predictions; damaged files give clear errors', async (t) => {
  const dir = join(await tempFolder(t), 'context');
  const c = config({ cnnLogitResidual: true, layers: 2, dropout: 0.1 });
  const data = { ...task(16, c, 51, (_, slot) => slot % 5), cnnLogits: cnnLogits(16, c.levels, 52) };
  const model = createContextModel(c);
  await trainContextModel(model, data, { epochs: 2, weights: WEIGHTS });
  await saveContextModel(model, dir);
  await saveContextModel(model, dir);
  const json = JSON.parse(await readFile(join(dir, CONTEXT_JSON), 'utf8'));
  assert.equal(json.format, 'spinegrade-context-model');
  assert.equal(json.version, 1);
  assert.deepEqual(json.config, c);
  const loaded = await loadContextModel(dir);
  assert.deepEqual(predictContext(loaded, data), predictContext(model, data));
  assert.deepEqual(weightsOf(loaded), weightsOf(model));
  disposeContextModel(loaded);
  disposeContextModel(model);

  const rejectsWith = (kind: string, pattern: RegExp) => (error: unknown) =>
    error instanceof SpinegradeError && error.kind === kind && pattern.test(error.message);
  const bin = await readFile(join(dir, CONTEXT_BIN));
  await writeFile(join(dir, CONTEXT_BIN), bin.subarray(0, bin.byteLength - 10));
  await assert.rejects(loadContextModel(dir), rejectsWith('TRUNCATED', /context\.bin: weights hold \d+ bytes/));
  const flipped = Buffer.from(bin);
  flipped[100] = (flipped[100] ?? 0) ^ 1;
  await writeFile(join(dir, CONTEXT_BIN), flipped);
  await assert.rejects(loadContextModel(dir), rejectsWith('INVALID_HEADER', /checksum/));
  await rm(join(dir, CONTEXT_BIN));
  await assert.rejects(loadContextModel(dir), rejectsWith('NOT_FOUND', /weights file is missing/));
  await writeFile(join(dir, CONTEXT_BIN), bin);

  await writeFile(join(dir, CONTEXT_JSON), JSON.stringify({ ...json, config: { ...c, modelSize: 16 } }));
  await assert.rejects(
    loadContextModel(dir),
    rejectsWith('INVALID_HEADER', /context\.json: weight 2 .* needs input\/kernel/),
  );
  await writeFile(join(dir, CONTEXT_JSON), '{"format": "spinegrade-context');
  await assert.rejects(loadContextModel(dir), rejectsWith('INVALID_HEADER', /not valid JSON/));
  await rm(join(dir, CONTEXT_JSON));
  await assert.rejects(loadContextModel(dir), rejectsWith('NOT_FOUND', /context model description is missing/));
});

test('forward, predict and training leave no tensors behind', async () => {
  const c = config({ dropout: 0.1, layers: 2 });
  const model = createContextModel(c);
  const data = task(
    10,
    c,
    61,
    (_, slot) => slot,
    (_, slot) => slot === 3,
  );
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const logits = contextForward(model, data, true);
    tf.dispose([logits.pfirrmann, logits.modic, logits.findings]);
    predictContext(model, data);
  }
  await trainContextModel(model, data, { epochs: 2, batchSize: 4, weights: WEIGHTS });
  assert.equal(tf.memory().numTensors, before);
  disposeContextModel(model);
});
