import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Analyzer } from '../../src/analyze/analyze.js';
import { runWatchCommand } from '../../src/cli/watch-command.js';
import { SpinegradeError } from '../../src/errors.js';
import { DicomwebClient } from '../../src/pacs/client.js';
import { jsonString, TAGS } from '../../src/pacs/dicomJson.js';
import { pollOnce, readWatchState } from '../../src/pacs/watch.js';
import { readSrGrades } from '../../src/report/sr.js';
import { withOrthanc } from '../helpers/orthanc.js';
import { tempFolder } from '../helpers/tmp.js';
import { EXAMPLE, EXAMPLE_PHI, EXAMPLE_STUDY_UID, sharedAnalyzer } from '../server/helpers.js';

test('watch: each new study is analysed once, its SR and SEG stored; failures are retried a few times, then left', async (t) => {
  const orthanc = await withOrthanc(t);
  if (!orthanc) return;
  const client = new DicomwebClient(orthanc.dicomweb);
  const names = (await readdir(EXAMPLE)).sort();
  const stow = await client.store(await Promise.all(names.map((n) => readFile(join(EXAMPLE, n)))));
  assert.equal(stow.failed.length, 0);
  const dir = await tempFolder(t);
  const log: string[] = [];
  const logLine = (line: string): void => void log.push(line);

  // A failing analysis: tried three times, then left with its reason.
  const failing = {
    analyze: async () => Promise.reject(new SpinegradeError('INTERNAL', 'the model fell over')),
  } as unknown as Analyzer;
  const failState = join(dir, 'failing.json');
  const failOptions = { client, statePath: failState, analyzer: async () => failing, maxAttempts: 3, log: logLine };
  for (let attempt = 1; attempt <= 4; attempt++) {
    const summary = await pollOnce(failOptions);
    assert.deepEqual(summary.failed, attempt <= 3 ? [EXAMPLE_STUDY_UID] : [], `poll ${attempt}`);
    if (attempt === 1) {
      // A watcher killed mid-analysis leaves `running`: the next start counts that try as failed.
      const state = await readWatchState(failState);
      (state.studies[EXAMPLE_STUDY_UID] as { status: string }).status = 'running';
      await writeFile(failState, JSON.stringify(state));
    }
  }
  const failed = (await readWatchState(failState)).studies[EXAMPLE_STUDY_UID];
  assert.equal(failed?.status, 'failed');
  assert.equal(failed?.attempts, 3);
  assert.match(failed?.reason ?? '', /the model fell over/);

  // The real thing.
  let analyses = 0;
  const analyzer = await sharedAnalyzer();
  const counting = {
    analyze: (...args: Parameters<Analyzer['analyze']>) => {
      analyses++;
      return analyzer.analyze(...args);
    },
  } as Analyzer;
  const statePath = join(dir, 'state', 'watch.json');
  const options = { client, statePath, analyzer: async () => counting, log: logLine };
  const first = await pollOnce(options);
  assert.deepEqual(
    first,
    { seen: 1, processed: [EXAMPLE_STUDY_UID], skipped: [], failed: [], waiting: [] },
    log.join('\n'),
  );
  assert.equal(analyses, 1);
  const state = await readWatchState(statePath);
  const done = state.studies[EXAMPLE_STUDY_UID];
  assert.equal(done?.status, 'done');
  assert.equal(done?.attempts, 1);
  assert.deepEqual(done?.series, ['2.25.150226236027173309337398904556780097557']);
  assert.ok(done?.stored?.sr && done.stored.seg);

  const series = await client.searchSeries(EXAMPLE_STUDY_UID);
  assert.deepEqual(series.map((s) => jsonString(s, TAGS.Modality)).sort(), ['MR', 'SEG', 'SR']);
  const srSeries = series.find((s) => jsonString(s, TAGS.Modality) === 'SR');
  const srBytes: Buffer[] = [];
  await client.retrieveInstances(EXAMPLE_STUDY_UID, jsonString(srSeries, TAGS.SeriesInstanceUID), () => {
    const chunks: Buffer[] = [];
    return { write: (c) => void chunks.push(Buffer.from(c)), end: () => void srBytes.push(Buffer.concat(chunks)) };
  });
  const grades = readSrGrades(srBytes[0] as Buffer);
  assert.ok(grades.length >= 5);
  assert.ok(grades.every((g) => g.pfirrmann >= 1 && g.pfirrmann <= 5));

  // A restart (state read from the file again) does not redo it.
  const again = await pollOnce(options);
  assert.deepEqual(again, { seen: 1, processed: [], skipped: [], failed: [], waiting: [] });
  assert.equal(analyses, 1);

  // Even with the state file lost, a study already holding spinegrade's SR is not analysed again.
  const fresh = await pollOnce({ ...options, statePath: join(dir, 'lost.json') });
  assert.deepEqual(fresh.skipped, [EXAMPLE_STUDY_UID]);
  assert.equal(analyses, 1);
  assert.match(
    (await readWatchState(join(dir, 'lost.json'))).studies[EXAMPLE_STUDY_UID]?.reason ?? '',
    /already holds spinegrade results/,
  );

  // The command line, one poll: nothing left to do.
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    assert.equal(await runWatchCommand(['--dicomweb', orthanc.dicomweb, '--state', statePath, '--once', '--quiet']), 0);
  } finally {
    process.stdout.write = write;
  }
  assert.match(out.join(''), /1 MR studies: 0 analysed, 0 skipped, 0 failed/);

  const text = log.join('\n');
  for (const phi of EXAMPLE_PHI) assert.ok(!text.includes(phi), `log holds "${phi}"`);
  assert.match(text, new RegExp(`study ${EXAMPLE_STUDY_UID.replace(/\./g, '\\.')}: done`));
});

test('watch waits until a study stops growing before analysing it', async (t) => {
  const orthanc = await withOrthanc(t);
  if (!orthanc) return;
  const client = new DicomwebClient(orthanc.dicomweb);
  const names = (await readdir(EXAMPLE)).filter((n) => n.endsWith('.dcm')).sort();
  const files = await Promise.all(names.map((n) => readFile(join(EXAMPLE, n))));
  assert.equal((await client.store(files.slice(0, 4))).failed.length, 0);
  const dir = await tempFolder(t);
  let seenFiles = -1;
  // An analyzer that notes how many files it was given (then fails: the grading is not the point).
  const counting = {
    analyze: async (inputs: readonly string[]) => {
      seenFiles = (await readdir(inputs[0] as string)).length;
      throw new SpinegradeError('INTERNAL', 'counted');
    },
  } as unknown as Analyzer;
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const log: string[] = [];
  const options = {
    client,
    statePath: join(dir, 'watch.json'),
    analyzer: async () => counting,
    settleMs: 60_000,
    now: () => clock,
    log: (line: string) => void log.push(line),
  };
  const poll = async (): Promise<string> => {
    const summary = await pollOnce(options);
    return summary.waiting.includes(EXAMPLE_STUDY_UID)
      ? 'waiting'
      : summary.failed.includes(EXAMPLE_STUDY_UID)
        ? 'analysed'
        : 'other';
  };
  assert.equal(await poll(), 'waiting', 'a new study waits');
  clock += 120_000;
  assert.equal((await client.store(files.slice(4))).failed.length, 0);
  assert.equal(await poll(), 'waiting', 'it grew since: it waits again');
  clock += 59_000;
  assert.equal(await poll(), 'waiting', 'not stable for the settle time yet');
  assert.equal(seenFiles, -1);
  clock += 1_000;
  assert.equal(await poll(), 'analysed', log.join('\n'));
  assert.equal(seenFiles, files.length, 'the whole study was analysed');
  assert.match(log.join('\n'), /still growing \(11 instances\)/);
});
