/**
 * A data-parallel training worker (started by `trainModel` with `workers: 2`): it rebuilds the model
 * from its module, and for each step receives the current weights and a part of the batch, and returns
 * the loss, the gradients of the trainable weights and the updated non-trainable state (batch-norm
 * moving statistics), all as transferred Float32Arrays.
 */
import { parentPort } from 'node:worker_threads';
import { initTf, type tfl } from './backend.js';
import {
  assignFlatWeights,
  type FromWorker,
  flattenAndDispose,
  flattenWeights,
  importModelModule,
  type LossFunction,
  lossAndGradients,
  type ToWorker,
  weightCount,
  weightShapes,
} from './trainCore.js';

const port = parentPort;
if (port === null) throw new Error('trainWorker must run in a worker thread');

let model: tfl.LayersModel | undefined;
let lossOf: LossFunction | undefined;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

function sameShapes(a: number[][], b: number[][]): boolean {
  return a.length === b.length && a.every((shape, i) => shape.join('x') === b[i]?.join('x'));
}

async function handle(message: ToWorker): Promise<void> {
  if (message.type === 'init') {
    await initTf(message.backend);
    const functions = await importModelModule(message.spec);
    model = functions.build();
    lossOf = functions.lossOf;
    if (
      !sameShapes(weightShapes(model.trainableWeights), message.trainableShapes) ||
      !sameShapes(weightShapes(model.nonTrainableWeights), message.stateShapes)
    ) {
      throw new Error('the model built in the worker differs from the trainer model');
    }
    send({ type: 'ready' });
    return;
  }
  if (model === undefined || lossOf === undefined) throw new Error('worker received a step before init');
  const started = performance.now();
  const trainable = model.trainableWeights;
  const state = model.nonTrainableWeights;
  const split = weightCount(trainable);
  assignFlatWeights(trainable, message.weights.subarray(0, split));
  if (state.length > 0) assignFlatWeights(state, message.weights.subarray(split));
  const { loss, grads } = lossAndGradients(model, lossOf, message.batch);
  const flatGrads = flattenAndDispose(grads);
  const flatState = flattenWeights(state);
  const computeMs = performance.now() - started;
  send({ type: 'result', loss, grads: flatGrads, state: flatState, computeMs }, [
    flatGrads.buffer as ArrayBuffer,
    flatState.buffer as ArrayBuffer,
  ]);
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (message: ToWorker) => {
  queue = queue.then(() =>
    handle(message).catch((error: unknown) => {
      const err = error instanceof Error ? error : new Error(String(error));
      send({ type: 'error', message: err.message, ...(err.stack === undefined ? {} : { stack: err.stack }) });
    }),
  );
});
