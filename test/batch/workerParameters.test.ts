import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseWorkerParametersMessage,
  type WorkerParameters,
  workerParametersMessage,
} from '../../src/batch/workerParameters.js';
import { SpinegradeError } from '../../src/errors.js';

test('worker parameters survive the IPC message, password and model folders included', () => {
  const parameters: WorkerParameters = {
    redis: { host: 'queue.example', port: 6380, db: 2, username: 'u', password: 'p@ss' },
    concurrency: 3,
    model: '/models/grader',
    verbose: false,
  };
  const message = JSON.parse(JSON.stringify(workerParametersMessage(parameters))) as unknown;
  assert.deepEqual(parseWorkerParametersMessage(message), parameters);
});

test('a malformed parameters message is an INTERNAL error saying what is wrong', () => {
  const good = workerParametersMessage({ redis: { host: 'h', port: 6379, db: 0 }, concurrency: 1, verbose: true });
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    [{ ...good, kind: 'other' }, /not a parameters message/],
    [{ ...good, redisUrl: 5 }, /no Redis URL/],
    [{ ...good, concurrency: 0 }, /concurrency/],
    [{ ...good, verbose: 'yes' }, /verbose/],
    [{ ...good, localizer: 7 }, /localizer is not a folder path/],
  ];
  for (const [message, pattern] of cases) {
    assert.throws(
      () => parseWorkerParametersMessage(message),
      (error: unknown) => error instanceof SpinegradeError && error.kind === 'INTERNAL' && pattern.test(error.message),
    );
  }
});
