import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { localizerTrainedOn } from '../helpers/datasets.js';
import { tempFolder } from '../helpers/tmp.js';

const MINI = 'test/fixtures/datasets/spider-2d-mini';

/** The arguments of the `spinegrade …` command a warning proposes (up to the next `;`). */
function proposedCommand(warning: string): string[] {
  const match = /spinegrade (evaluate [^;\n]+)/.exec(warning);
  assert.ok(match, `the warning proposes a command: ${warning}`);
  return (match[1] as string).trim().split(/\s+/);
}

test("evaluate's in-sample warning for the bundled grader proposes its out-of-fold predictions, and that command works", () => {
  const run = runCli(['evaluate', MINI, '--resamples', '20']);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /warning: 3 of 3 patients were in the model's and the localiser's training data/);
  assert.match(run.stdout, /--predictions models\/grader\/out-of-fold\.jsonl/);
  assert.doesNotMatch(run.stdout, /--cross-validate/, 'cross-validating the class prior is no remedy for the grader');
  const honest = runCli([...proposedCommand(run.stdout), '--resamples', '20']);
  assert.equal(honest.status, 0, honest.stderr);
  assert.doesNotMatch(honest.stdout, /warning: .* in-sample/);
  assert.match(honest.stdout, /model: predictions from models\/grader\/out-of-fold\.jsonl/);
});

test('when only the localiser saw some patients, the warning proposes --held-out-only, which scores the others', async (t) => {
  const folder = await tempFolder(t);
  const localizer = await localizerTrainedOn(join(folder, 'localizer'), ['1']);
  const args = ['evaluate', MINI, '--cross-validate', '2', '--localizer', localizer, '--resamples', '20'];
  const run = runCli(args);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /warning: 1 of 3 patients were in the localiser's training data/);
  assert.match(run.stdout, /add --held-out-only to score only the patients no localiser saw/);
  const honest = runCli([...args, '--held-out-only']);
  assert.equal(honest.status, 0, honest.stderr);
  assert.doesNotMatch(honest.stdout, /in-sample/);
  assert.match(honest.stdout, /left out: 1 patients: in the localiser's training data \(--held-out-only\) \(1\)/);
});

test('the T1 localisation line counts the carried-over keypoints, then those found at the right level', () => {
  const run = runCli(['evaluate', MINI, '--predictions', 'models/grader/out-of-fold.jsonl', '--resamples', '20']);
  assert.equal(run.status, 0, run.stderr);
  const line =
    /T1: (\d+) T2 keypoints carried over to the same patient's T1 \(same field of view\), (\d+) patients: (\d+) found at the right level \(<= 3 mm\)/.exec(
      run.stdout,
    );
  assert.ok(line, run.stdout);
  assert.ok(Number(line[3]) <= Number(line[1]));
});
