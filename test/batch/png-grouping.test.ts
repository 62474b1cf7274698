import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { discoverBatchStudies } from '../../src/batch/studies.js';
import { runCli } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const SLICES = 'test/fixtures/spider-slices';

test('batch groups the PNG slices of a folder into one study, as analyze does: T1 and T2 fused, no format notes as warnings, empty cells null, left-out files accounted for', async (t) => {
  const root = await tempFolder(t);
  const cohort = join(root, 'cohort');
  // SPIDER patient 98's T1 and T2 mid-sagittal slices in one folder, its T2 alone in another.
  await mkdir(join(cohort, 'p98'), { recursive: true });
  await mkdir(join(cohort, 'second'), { recursive: true });
  for (const sequence of ['t1', 't2'])
    await copyFile(join(SLICES, `98_${sequence}.png`), join(cohort, 'p98', `${sequence}.png`));
  await copyFile(join(SLICES, '98_t2.png'), join(cohort, 'second', 't2.png'));
  await writeFile(join(cohort, 'notes.txt'), 'a note, not an image\n');
  const spacing = [0.5859375, 0.5859375] as const;
  const { studies } = await discoverBatchStudies(cohort, { pixelSpacing: spacing });
  assert.deepEqual(
    studies.map((s) => [s.key, s.format, s.inputs.map((p) => p.slice(cohort.length + 1))]),
    [
      ['p98', 'png', ['p98/t1.png', 'p98/t2.png']],
      ['second', 'png', ['second/t2.png']],
    ],
  );

  const out = join(root, 'out');
  const run = runCli(['batch', cohort, '--out', out, '--pixel-spacing', '0.5859375', '--in-process', '--quiet']);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^left out: 1 companion file\(s\)/m, 'the closing lines account for the file left out');
  const rows = (await readFile(join(out, 'cohort.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual([...new Set(rows.map((r) => r.study_id))].sort(), ['p98', 'second'], 'one study per folder');
  assert.ok(rows.every((r) => r.status === 'ok'));
  assert.ok(
    rows
      .filter((r) => r.study_id === 'p98')
      .every((r) => r.n_series === 2 && /T1/.test(String(r.sequences)) && /T2/.test(String(r.sequences))),
    `a level fused over T1 and T2: ${JSON.stringify(rows.map((r) => r.sequences))}`,
  );
  for (const row of rows) {
    assert.doesNotMatch(String(row.warnings), /DICOM SR and SEG need DICOM input/);
    assert.notEqual(row.warnings, '', 'no warnings is null, not ""');
    assert.equal(row.reason, null);
    assert.equal(row.error_kind, null);
    assert.equal(typeof row.skipped_series, 'number');
  }
});
