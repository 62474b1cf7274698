import assert from 'node:assert/strict';
import { test } from 'node:test';
import { levelTrainingSettings } from '../../src/cli/train-levels-command.js';
import { SpinegradeError } from '../../src/errors.js';

test('train levels: canvas and filters become the network config, and the command repeats them', () => {
  const settings = levelTrainingSettings('data', 'out', { canvas: '128', filters: '8,16,32,64,64', final: 'no' });
  assert.equal(settings.config.size, 128);
  assert.deepEqual(settings.config.filters, [8, 16, 32, 64, 64]);
  assert.equal(settings.final, false);
  assert.equal(settings.trainMissing, true);
  assert.equal(settings.trainFolds, undefined);
  assert.deepEqual(levelTrainingSettings('data', 'out', { trainFolds: '2,4' }).trainFolds, [2, 4]);
  assert.match(settings.command, /--canvas 128 --filters 8,16,32,64,64$/);
});

test('train levels: bad filters, a canvas the stages cannot halve, and a bad yes/no are usage errors', () => {
  const usage = (options: Parameters<typeof levelTrainingSettings>[2], message: RegExp) =>
    assert.throws(
      () => levelTrainingSettings('data', 'out', options),
      (error: unknown) => error instanceof SpinegradeError && error.kind === 'USAGE' && message.test(error.message),
    );
  usage({ filters: '8,x' }, /--filters/);
  usage({ filters: '8' }, /--filters/);
  usage({ canvas: '100', filters: '8,16,32' }, /divisible by 2\^3/);
  usage({ final: 'maybe' }, /--final wants yes or no/);
  usage({ trainFolds: '6' }, /--train-folds wants fold numbers from 1 to 5/);
});
