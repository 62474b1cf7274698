import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { startServer } from '../../src/server/app.js';
import { tempFolder } from '../helpers/tmp.js';
import { assertError, call, uploadExample, waitJob } from './helpers.js';

/**
 * The default server: analyses in the worker-thread pool (models loaded in the workers), Grad-CAM
 * maps per disc served for the viewer's toggle, and still served after a restart on the data folder.
 */
test('analyses run in worker threads; the Grad-CAM map of every graded disc is served per series and level', async (t) => {
  const dataDir = await tempFolder(t);
  let server = await startServer({ port: 0, dataDir, log: () => undefined });
  t.after(() => server.close());
  let base = server.url;
  const id = await uploadExample(base);
  const job = await call(base, `/api/studies/${id}/analyze`, { method: 'POST' });
  const done = await waitJob(base, job.json.jobId);
  assert.equal(done.status, 'done', JSON.stringify(done));

  const check = async (): Promise<void> => {
    const series = (await call(base, `/api/studies/${id}/series`)).json.series;
    const graded = series.find((s: { findingsSeries: number | null }) => s.findingsSeries !== null);
    assert.ok(graded, 'a graded series');
    const levels = (await call(base, `/api/studies/${id}/findings`)).json.findings.studies[0].series[
      graded.findingsSeries
    ].discs.map((d: { level: string }) => d.level);
    assert.ok(graded.heatmaps.length > 0, JSON.stringify(graded));
    assert.deepEqual([...graded.heatmaps].sort(), [...levels].sort());
    for (const s of series) if (s.findingsSeries === null) assert.deepEqual(s.heatmaps, []);
    for (const level of graded.heatmaps) {
      const reply = await call(base, `/api/studies/${id}/series/${graded.index}/heat/${encodeURIComponent(level)}.png`);
      assert.equal(reply.status, 200, reply.text.slice(0, 200));
      assert.equal(reply.headers.get('content-type'), 'image/png');
      const png = PNG.sync.read(reply.bytes);
      assert.equal(png.width, graded.display.width);
      assert.equal(png.height, graded.display.height);
      let opaque = 0;
      let transparent = 0;
      for (let i = 3; i < png.data.length; i += 4) {
        if ((png.data[i] as number) > 0) opaque++;
        else transparent++;
      }
      assert.ok(opaque > 0, `${level}: some heat is shown`);
      assert.ok(transparent > opaque, `${level}: the map is transparent away from the disc`);
    }
    assertError(
      await call(base, `/api/studies/${id}/series/${graded.index}/heat/${encodeURIComponent('T1/T2')}.png`),
      404,
      'NOT_FOUND',
      /no Grad-CAM map/,
    );
  };
  await check();
  await server.close();
  server = await startServer({ port: 0, dataDir, log: () => undefined });
  base = server.url;
  await check();
});
