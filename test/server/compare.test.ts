import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StudyComparison } from '../../src/report/compare.js';
import type { FindingsDocument } from '../../src/report/findings.js';
import { startServer } from '../../src/server/app.js';
import { assertError, call, sharedAnalyzer, uploadExample, waitJob } from './helpers.js';

/**
 * The viewer's "Compare with…": two studies the server holds compared on their current (corrected)
 * findings, as JSON and as the self-contained page; refused until both are analysed.
 */
test('two analysed studies are compared on their corrected findings, as JSON and as the page', async (t) => {
  const server = await startServer({ port: 0, analyzer: await sharedAnalyzer(), log: () => undefined });
  t.after(() => server.close());
  const base = server.url;
  const baseline = await uploadExample(base);
  const followUp = await uploadExample(base);

  const first = await call(base, `/api/studies/${baseline}/analyze`, { method: 'POST' });
  assert.equal((await waitJob(base, first.json.jobId)).status, 'done');
  assertError(await call(base, `/api/studies/${baseline}/compare/${followUp}`), 409, 'NOT_ANALYZED', /no findings/);
  assertError(await call(base, `/api/studies/${baseline}/compare/${followUp}.html`), 409, 'NOT_ANALYZED');
  const second = await call(base, `/api/studies/${followUp}/analyze`, { method: 'POST' });
  assert.equal((await waitJob(base, second.json.jobId)).status, 'done');

  assertError(await call(base, `/api/studies/${baseline}/compare/${baseline}`), 400, 'BAD_REQUEST', /another/);
  assertError(await call(base, `/api/studies/${baseline}/compare/s-unknown`), 404, 'NOT_FOUND');

  // The follow-up's reader overrides one Pfirrmann grade: the comparison must show it.
  const levels = ((await call(base, `/api/studies/${followUp}/findings`)).json.findings as FindingsDocument).studies[0]!
    .levels;
  assert.ok(levels.length >= 3, `levels found: ${levels.map((l) => l.level)}`);
  const target = levels.find((l) => l.level === 'L4/L5') ?? levels.at(-1)!;
  const value = target.pfirrmann.grade === 2 ? 3 : 2;
  const override = await call(base, `/api/studies/${followUp}/corrections`, {
    method: 'POST',
    body: { type: 'grade', level: target.level, finding: 'pfirrmann', value, reason: 'compare test' },
  });
  assert.equal(override.status, 201, override.text);

  for (const path of [`${followUp}`, `${followUp}.json`]) {
    const reply = await call(base, `/api/studies/${baseline}/compare/${path}`);
    assert.equal(reply.status, 200, reply.text.slice(0, 300));
    assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
    const comparison = reply.json as StudyComparison;
    assert.equal(comparison.schema, 'spinegrade/comparison');
    assert.deepEqual(
      comparison.levels.map((l) => l.level),
      levels.map((l) => l.level),
    );
    assert.deepEqual(comparison.onlyInBaseline, []);
    assert.deepEqual(comparison.onlyInFollowUp, []);
    // The bundled localiser's measured repeatability is the noise.
    assert.match(comparison.noise.source, /repeatability coefficient/);
    assert.ok(comparison.noise.coefficients.discHeightMm! > 0);
    for (const change of comparison.levels) {
      const before = levels.find((l) => l.level === change.level)!;
      assert.equal(change.pfirrmann.baseline, before.pfirrmann.grade);
      if (change.level === target.level) {
        assert.equal(change.pfirrmann.followUp, value);
        // One-hot follow-up: p(changed) = 1 − p_baseline(value).
        const expected = 1 - (before.pfirrmann.probs[value - 1] as number);
        assert.ok(Math.abs(change.pfirrmann.probabilityChanged - expected) < 1e-3, JSON.stringify(change.pfirrmann));
      } else {
        assert.equal(change.pfirrmann.followUp, before.pfirrmann.grade);
      }
      // The same pictures analysed twice: every measure unchanged, within noise.
      const height = change.measures.discHeightMm;
      assert.equal(height.change, 0, JSON.stringify(height));
      assert.equal(height.withinNoise, true);
    }
  }

  const page = await call(base, `/api/studies/${baseline}/compare/${followUp}.html`);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  const report = await call(base, `/api/studies/${baseline}/report.html`);
  assert.equal(page.headers.get('content-security-policy'), report.headers.get('content-security-policy'));
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.match(page.headers.get('content-disposition') ?? '', /^inline/);
  assert.match(page.text, /<table id="changes">/);
  assert.match(page.text, new RegExp(`<tr data-level="${target.level}">`));
  assert.equal((page.text.match(/<img [^>]*class="overlay"/g) ?? []).length, 2, 'both overlays shown');
  assert.doesNotMatch(page.text, /<script/i);
});
