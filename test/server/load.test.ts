import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateFindings } from '../../src/analyze/validate.js';
import type { FindingsDocument } from '../../src/report/findings.js';
import { startServer } from '../../src/server/app.js';
import { call, sharedAnalyzer, uploadExample, waitJob } from './helpers.js';

const STUDIES = 10;
const REQUESTS = 20;
const RSS_LIMIT = 1.5 * 1024 ** 3;

const levelsOf = (f: FindingsDocument): string =>
  JSON.stringify(f.studies[0]?.levels.map((l) => [l.level, l.pfirrmann.probs, l.modic.probs]));

test(`load: ${REQUESTS} concurrent analyses on loopback, bounded, none lost, memory bounded`, async (t) => {
  const server = await startServer({ port: 0, analyzer: await sharedAnalyzer(), concurrency: 2, log: () => undefined });
  t.after(() => server.close());
  const base = server.url;

  const ids: string[] = [];
  for (let n = 0; n < STUDIES; n++) ids.push(await uploadExample(base));

  let maxRss = process.memoryUsage().rss;
  let maxRunning = 0;
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
    maxRunning = Math.max(maxRunning, server.services.queue.stats().running);
  }, 50);
  t.after(() => clearInterval(sampler));

  const started = performance.now();
  const replies = await Promise.all(
    Array.from({ length: REQUESTS }, (_, n) =>
      call(base, `/api/studies/${ids[n % STUDIES]}/analyze`, { method: 'POST' }),
    ),
  );
  assert.deepEqual(
    replies.map((r) => r.status),
    replies.map(() => 202),
    replies.map((r) => r.text).join('\n'),
  );
  const jobIds = replies.map((r) => r.json.jobId as string);
  assert.equal(new Set(jobIds).size, REQUESTS, 'every request got its own job');
  const health = await call(base, '/api/health');
  assert.ok(health.json.queue.running <= 2);

  const jobs = await Promise.all(jobIds.map((id) => waitJob(base, id, {}, 600_000)));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  t.diagnostic(
    `${REQUESTS} analyses in ${seconds.toFixed(1)} s; max RSS ${(maxRss / 1024 ** 2).toFixed(0)} MiB; max running ${maxRunning}`,
  );
  assert.deepEqual(
    jobs.filter((j) => j.status !== 'done').map((j) => j.error),
    [],
    'no job failed',
  );
  assert.ok(maxRunning >= 1 && maxRunning <= 2, `at most 2 analyses ran at once (saw ${maxRunning})`);
  assert.ok(maxRss < RSS_LIMIT, `RSS stayed under 1.5 GiB (max ${(maxRss / 1024 ** 2).toFixed(0)} MiB)`);

  // No lost result: every study holds the result of both of its analyses (revision 2), all alike.
  let reference: string | undefined;
  for (const id of ids) {
    const reply = await call(base, `/api/studies/${id}/findings`);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.revision, REQUESTS / STUDIES);
    assert.deepEqual(validateFindings(reply.json.findings), []);
    const levels = levelsOf(reply.json.findings);
    reference ??= levels;
    assert.equal(levels, reference, 'the same study gives the same findings under load');
  }
  const revisions = jobs.map((j) => j.revision).sort();
  assert.deepEqual(revisions, [...Array(STUDIES).fill(1), ...Array(STUDIES).fill(2)]);

  // The server keeps only the latest analyses in memory: a grade override on an older study
  // re-makes its exports by analysing it again (a `render` job), and they show the override.
  const old = ids[0] as string;
  const findings = (await call(base, `/api/studies/${old}/findings`)).json.findings as FindingsDocument;
  const level = findings.studies[0]!.levels.at(-1)!;
  const value = level.modic.grade === 0 ? 1 : 0;
  const corrected = await call(base, `/api/studies/${old}/corrections`, {
    method: 'POST',
    body: { type: 'grade', level: level.level, finding: 'modic', value, reason: 'load test' },
  });
  assert.equal(corrected.status, 201, corrected.text);
  const report = await call(base, `/api/studies/${old}/report.html`);
  assert.equal(report.status, 200, report.text.slice(0, 300));
  const render = (await call(base, '/api/jobs')).json.jobs.find(
    (j: { kind: string; studyId: string }) => j.kind === 'render' && j.studyId === old,
  );
  assert.equal(render?.status, 'done', JSON.stringify(render));
  const exported = JSON.parse((await call(base, `/api/studies/${old}/findings.json`)).text) as FindingsDocument;
  assert.equal(exported.studies[0]!.levels.at(-1)!.modic.grade, value);
});
