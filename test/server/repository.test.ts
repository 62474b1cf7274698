import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../../src/server/app.js';
import { InMemoryStudyRepository, type StudyFindings, type StudyRecord } from '../../src/server/services/repository.js';
import { call, sharedAnalyzer, uploadExample, waitJob } from './helpers.js';

/** A store that writes every record (and the findings given with it) through as JSON, as a persistent one would. */
class WriteThroughRepository extends InMemoryStudyRepository {
  readonly written = new Map<string, string>();
  readonly writtenFindings = new Map<string, Partial<Record<keyof StudyFindings, string>>>();

  override add(study: StudyRecord): void {
    super.add(study);
    this.written.set(study.id, JSON.stringify(study));
  }

  override save(study: StudyRecord, findings?: Partial<StudyFindings>): void {
    super.save(study, findings);
    this.written.set(study.id, JSON.stringify(study));
    const texts = Object.fromEntries(Object.entries(findings ?? {}).map(([kind, doc]) => [kind, JSON.stringify(doc)]));
    this.writtenFindings.set(study.id, { ...this.writtenFindings.get(study.id), ...texts });
  }

  override delete(id: string): void {
    super.delete(id);
    this.written.delete(id);
    this.writtenFindings.delete(id);
  }
}

/** The path of the first value in `value` that is not plain data (JSON's kinds, or undefined), if any. */
function notPlainData(value: unknown, path = 'study'): string | undefined {
  if (value === null || value === undefined || ['string', 'number', 'boolean'].includes(typeof value)) return undefined;
  if (Array.isArray(value)) {
    for (const [n, item] of value.entries()) {
      const found = notPlainData(item, `${path}[${n}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      const found = notPlainData(item, `${path}.${key}`);
      if (found) return found;
    }
    return undefined;
  }
  return path;
}

test('a study repository sees every change: the records are plain data, saved after each step', async (t) => {
  const repository = new WriteThroughRepository();
  const server = await startServer({ port: 0, analyzer: await sharedAnalyzer(), repository, log: () => undefined });
  t.after(() => server.close());
  const base = server.url;
  const id = await uploadExample(base);
  const live = (): StudyRecord => server.services.studies.get(id);
  const assertSaved = (step: string): void => {
    assert.equal(notPlainData(live()), undefined, `${step}: the record is plain data`);
    assert.equal(repository.written.get(id), JSON.stringify(live()), `${step}: the store holds the latest record`);
    const findings = repository.findings(id);
    const written = repository.writtenFindings.get(id) ?? {};
    for (const kind of ['original', 'base', 'current'] as const) {
      assert.equal(notPlainData(findings?.[kind]), undefined, `${step}: the ${kind} findings are plain data`);
      assert.equal(written[kind], findings ? JSON.stringify(findings[kind]) : undefined, `${step}: ${kind} written`);
    }
  };
  assertSaved('upload');

  assert.equal((await call(base, `/api/studies/${id}/series`)).status, 200);
  assert.notEqual(live().studyInstanceUid, null);
  assertSaved('series read');

  const analysis = await call(base, `/api/studies/${id}/analyze`, { method: 'POST' });
  assert.equal(analysis.status, 202, analysis.text);
  assert.equal((await waitJob(base, analysis.json.jobId)).status, 'done');
  assert.equal(live().revision, 1);
  assertSaved('analysis');

  const level = repository.findings(id)?.current.studies[0]?.levels.at(-1);
  assert.ok(level);
  const override = await call(base, `/api/studies/${id}/corrections`, {
    method: 'POST',
    body: {
      type: 'grade',
      level: level.level,
      finding: 'modic',
      value: level.modic.grade === 0 ? 1 : 0,
      reason: 'test',
    },
  });
  assert.equal(override.status, 201, override.text);
  assert.equal(live().revision, 2);
  assertSaved('grade override');

  assert.equal((await call(base, `/api/studies/${id}/report.html`)).status, 200);
  assert.equal(live().outputs?.revision, 2);
  assertSaved('exports re-made');

  assert.equal((await call(base, `/api/studies/${id}`, { method: 'DELETE' })).status, 204);
  assert.equal(repository.written.has(id), false, 'a deleted study is deleted from the store');
});
