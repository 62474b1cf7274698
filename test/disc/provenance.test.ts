import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeIdentity, patientsInTraining } from '../../src/disc/provenance.js';
import { datasetOfDescription, trainingOfRecord } from '../../src/models/manifest.js';

test('in-sample patients are matched by (dataset, patient): a site patient "34" is not SPIDER patient 34', () => {
  const spider = [{ dataset: 'SPIDER', patients: ['1', '5', '34'] }];
  const tuned = [...spider, { dataset: 'site-a', patients: ['34', '77'] }];
  assert.deepEqual(patientsInTraining('site-b', ['1', '5', '34'], [spider]), []);
  assert.deepEqual(patientsInTraining('SPIDER', ['1', '2', '34'], [spider]), ['1', '34']);
  assert.deepEqual(patientsInTraining('site-a', ['34', '35', '77'], [tuned]), ['34', '77']);
  assert.deepEqual(patientsInTraining('site-b', ['34', '77'], [tuned]), []);
});

test("a model's recorded training split is named by its dataset: every SPIDER split or layout is SPIDER", () => {
  assert.equal(datasetOfDescription('SPIDER training split'), 'SPIDER');
  assert.equal(datasetOfDescription('SPIDER training split (spider-2d)'), 'SPIDER');
  assert.equal(datasetOfDescription('own data site-a'), 'own data site-a');
  assert.deepEqual(trainingOfRecord({ dataset: 'SPIDER training split', patients: ['3', 4] }), [
    { dataset: 'SPIDER', description: 'SPIDER training split', patients: ['3', '4'] },
  ]);
  assert.deepEqual(trainingOfRecord(undefined), []);
});

test('a model is described by name, version, hash, training data and base', () => {
  const line = describeIdentity({
    name: 'grader-tuned-site',
    version: '0.1.0+site',
    kind: 'grader',
    sha256: 'ab'.repeat(32),
    trainedOn: [
      { dataset: 'SPIDER', patients: 179 },
      { dataset: 'site', patients: 2 },
    ],
    base: { name: 'grader', version: '0.1.0', sha256: 'cd'.repeat(32) },
  });
  assert.equal(
    line,
    'grader-tuned-site 0.1.0+site (sha256 abababababab; trained on SPIDER 179 patients + site 2 patients; tuned from grader 0.1.0)',
  );
});
