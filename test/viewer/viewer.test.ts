/**
 * The browser viewer (viewer/, built into dist/viewer/ by scripts/build-viewer.mjs) against the real
 * server in headless Chromium: open a study (file input, or the PACS list from a real Orthanc), see the
 * level labels drawn on the image where the findings put the discs (checked against cornerstone's own
 * geometry, also after zooming and panning), move a label and see the re-graded table, override a
 * grade, export, store to the PACS. Screenshots go to test-output/viewer-*.png.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, type TestContext, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type Analyzer, createAnalyzer } from '../../src/analyze/analyze.js';
import { describeStudy, narrativeText } from '../../src/report/narrative.js';
import { type RunningServer, type ServerOptions, startServer } from '../../src/server/app.js';
import { withPage } from '../helpers/chromium.js';
import { uploadInstances, withOrthanc } from '../helpers/orthanc.js';

const EXAMPLE_DICOM = 'examples/spider-98-t2space/dicom';
const EXAMPLE_MHA = 'examples/spider-98-t2space/spider-98-t2space.mha';
const EXAMPLE_STUDY_UID = '2.25.291233399420727069973475608700609479904';
const VIEWER_DIR = resolve('dist/viewer');
const OUTPUT = 'test-output';
const LUMBAR = ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'];
/** How far (CSS pixels) a drawn disc may be from where cornerstone puts the findings' point. */
const TOLERANCE_PX = 1.5;

let analyzer: Promise<Analyzer> | undefined;
/** One set of models for every server of this file. */
const sharedAnalyzer = (): Promise<Analyzer> => {
  analyzer ??= createAnalyzer();
  return analyzer;
};

after(async () => {
  if (analyzer) (await analyzer.catch(() => undefined))?.dispose();
});

// biome-ignore lint/suspicious/noExplicitAny: the findings document as parsed JSON
type Json = any;

async function startViewerServer(t: TestContext, options: Partial<ServerOptions> = {}): Promise<RunningServer> {
  assert.ok(
    existsSync(join(VIEWER_DIR, 'index.html')),
    'the viewer is not built (dist/viewer/index.html): run npm run build:viewer (npm test does it in pretest)',
  );
  const server = await startServer({
    port: 0,
    viewerDir: VIEWER_DIR,
    analyzer: sharedAnalyzer,
    log: () => {},
    ...options,
  });
  t.after(() => server.close());
  return server;
}

async function exampleFiles(): Promise<string[]> {
  return (await readdir(EXAMPLE_DICOM))
    .filter((n) => n.endsWith('.dcm'))
    .sort()
    .map((n) => join(EXAMPLE_DICOM, n));
}

async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(OUTPUT, { recursive: true });
  await page.screenshot({ path: join(OUTPUT, `viewer-${name}.png`) });
}

/** Runs a browser test, keeping a screenshot of the page when it fails. */
async function withViewerPage(
  t: TestContext,
  name: string,
  fn: (page: Page, problems: string[]) => Promise<void>,
  viewport?: { width: number; height: number },
): Promise<void> {
  await withPage(
    t,
    async (page, problems) => {
      try {
        await fn(page, problems);
      } catch (error) {
        await screenshot(page, `failed-${name}`).catch(() => undefined);
        throw error;
      }
    },
    viewport,
  );
}

async function openApp(page: Page, server: RunningServer): Promise<void> {
  await page.goto(server.url);
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 30_000 });
}

interface AppState {
  studyId: string | null;
  slice: number;
  slices: number;
  midSlice: number | null;
  revision: number | null;
}

const appState = (page: Page): Promise<AppState> => page.evaluate<AppState>('window.spinegrade.state()');

/**
 * Waits until findings of at least `revision` are drawn (table and labels on the image: the app's
 * state says which revision it drew) and the overlay has settled; fails at once with the app's message
 * when it reports an error instead.
 */
async function waitForLabels(page: Page, revision = 1): Promise<AppState> {
  const drawn = (async () => {
    await page.waitForFunction(
      `(window.spinegrade.state().revision ?? 0) >= ${revision} && document.querySelector('.disc-label') !== null`,
      undefined,
      { timeout: 180_000, polling: 200 },
    );
    return null;
  })();
  const error = page
    .locator('#messages .error')
    .waitFor({ timeout: 180_000 })
    .then(async () => (await page.locator('#messages .error').textContent()) ?? 'an error')
    .catch(() => null);
  const failed = await Promise.race([drawn, error]);
  if (failed) assert.fail(`the viewer reported: ${failed}`);
  await page.waitForTimeout(300); // an animation frame or two for the overlay
  return appState(page);
}

/** Waits for the app's success message holding `text`; fails at once with its error message instead. */
async function waitForMessage(page: Page, text: string): Promise<void> {
  const error = page.locator('#messages .error');
  const failed = await Promise.race([
    page
      .locator('#messages .ok', { hasText: text })
      .waitFor({ timeout: 120_000 })
      .then(() => null),
    error.waitFor({ timeout: 120_000 }).then(
      async () => (await error.textContent()) ?? 'an error',
      () => null,
    ),
  ]);
  if (failed) assert.fail(`the viewer reported: ${failed}`);
}

async function findingsOf(server: RunningServer, studyId: string): Promise<Json> {
  const response = await fetch(`${server.url}/api/studies/${studyId}/findings`);
  assert.equal(response.status, 200);
  return response.json();
}

/** The lumbar labels are on the image: each inside the viewport, beside its disc. */
async function assertLabelsOnImage(page: Page): Promise<void> {
  const viewport = await page.locator('#viewport').boundingBox();
  assert.ok(viewport, 'the viewport is shown');
  for (const level of LUMBAR) {
    const label = page.locator(`.disc-label[data-level="${level}"]`);
    assert.equal(await label.count(), 1, `one ${level} label`);
    assert.match((await label.textContent()) ?? '', new RegExp(`^${level.replace('/', '\\/')}`));
    const box = await label.boundingBox();
    assert.ok(box, `${level} label is rendered`);
    const inside =
      box.x >= viewport.x &&
      box.y >= viewport.y &&
      box.x + box.width <= viewport.x + viewport.width &&
      box.y + box.height <= viewport.y + viewport.height;
    assert.ok(inside, `${level} label ${JSON.stringify(box)} lies within the canvas ${JSON.stringify(viewport)}`);
  }
  // Labels top to bottom in anatomical order.
  const ys: number[] = [];
  for (const level of LUMBAR)
    ys.push(Number(await page.locator(`.disc-label[data-level="${level}"]`).getAttribute('data-cy')));
  assert.deepEqual(
    [...ys].sort((a, b) => a - b),
    ys,
    `L1/L2 … L5/S1 run from top to bottom (${ys.join(', ')})`,
  );
}

/**
 * Every disc is drawn where cornerstone puts it: for DICOM, the findings' patient point (centerMm)
 * through cornerstone's worldToCanvas; for PNG slices, the display pixel through cornerstone's image
 * geometry. The outline's box holds that point.
 */
async function assertAligned(page: Page, discs: Json[], how: 'patient' | 'image', when: string): Promise<void> {
  const viewport = await page.locator('#viewport').boundingBox();
  assert.ok(viewport);
  for (const disc of discs) {
    const expected =
      how === 'patient'
        ? await page.evaluate<[number, number]>(
            `window.spinegrade.worldToCanvas(${JSON.stringify(disc.geometry.centerMm)})`,
          )
        : await page.evaluate<[number, number]>(
            `window.spinegrade.imageToCanvas(${disc.geometry.centerPx[0] + 0.5}, ${disc.geometry.centerPx[1] + 0.5})`,
          );
    const label = page.locator(`.disc-label[data-level="${disc.level}"]`);
    const drawn = [Number(await label.getAttribute('data-cx')), Number(await label.getAttribute('data-cy'))];
    const off = Math.hypot((drawn[0] as number) - expected[0], (drawn[1] as number) - expected[1]);
    assert.ok(
      off <= TOLERANCE_PX,
      `${when}: ${disc.level} drawn at ${drawn} but belongs at ${expected} (${off.toFixed(2)} px)`,
    );
    const outline = await page.locator(`polygon.disc[data-level="${disc.level}"]`).boundingBox();
    assert.ok(outline, `${disc.level} outline is drawn`);
    const [x, y] = [expected[0] + viewport.x, expected[1] + viewport.y];
    assert.ok(
      x >= outline.x - 2 &&
        x <= outline.x + outline.width + 2 &&
        y >= outline.y - 2 &&
        y <= outline.y + outline.height + 2,
      `${when}: ${disc.level} outline ${JSON.stringify(outline)} holds its centre (${x}, ${y})`,
    );
  }
}

/** Per row of the grades table: level, Pfirrmann grade and its probabilities (from the cell's title). */
async function tableRows(page: Page): Promise<{ level: string; grade: number; probs: string }[]> {
  const rows = page.locator('#levels-table tbody tr');
  const out: { level: string; grade: number; probs: string }[] = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const row = rows.nth(i);
    const level = (await row.getAttribute('data-level')) ?? '';
    const cell = row.locator('td[data-finding="pfirrmann"]');
    out.push({
      level,
      grade: Number(await cell.getAttribute('data-grade')),
      probs: (await cell.getAttribute('title')) ?? '',
    });
  }
  return out;
}

async function downloadJson(page: Page, file: string): Promise<Json> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator(`a[data-export="${file}"]`).click(),
  ]);
  assert.ok(download.suggestedFilename().endsWith(file), `downloaded as ${download.suggestedFilename()}`);
  const path = await download.path();
  assert.ok(path, 'the download was saved');
  return JSON.parse(await readFile(path, 'utf8'));
}

test('viewer: a study uploaded through the file input shows labelled, graded discs on the image; findings.json exports', {
  timeout: 300_000,
}, async (t) => {
  const server = await startViewerServer(t);
  await withViewerPage(t, 'upload', async (page, problems) => {
    const foreign: string[] = [];
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(`${server.url}/`) && !/^(data|blob):/.test(url)) foreign.push(url);
    });
    await openApp(page, server);
    await page.locator('#file-input').setInputFiles(await exampleFiles());
    const state = await waitForLabels(page);
    assert.equal(state.slices, 11);
    assert.equal(state.slice, state.midSlice, 'opens on the mid-sagittal slice, where the findings are drawn');
    const findings = await findingsOf(server, state.studyId as string);
    const series = findings.findings.studies[0].series[0];
    assert.equal(state.midSlice, series.midSagittalSlice);

    await assertLabelsOnImage(page);
    await assertAligned(page, series.discs, 'patient', 'as opened');
    await screenshot(page, 'upload');

    // The draft report in words: the templates' text for these findings, copied as plain text.
    const draft = await page.locator('#draft-text').inputValue();
    assert.equal(draft, narrativeText(describeStudy(findings.findings.studies[0], findings.findings.reviewThreshold)));
    assert.match(draft, /^L\d\/(L\d|S1): .*Pfirrmann \d, p \d\.\d\d/m);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await page.locator('#draft-copy').click();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), draft);

    // The table: one row per disc, with the document's grades.
    const rows = await tableRows(page);
    assert.deepEqual(
      rows.map((r) => [r.level, r.grade]),
      series.discs.map((d: Json) => [d.level, d.pfirrmann.grade]),
    );
    assert.equal(await page.locator('#measures-table tbody tr').count(), series.discs.length);
    for (const disc of series.discs) {
      const flag = (await page.locator(`#levels-table tr[data-level="${disc.level}"] td.review`).count()) === 1;
      assert.equal(flag, disc.needsReview, `${disc.level} review flag`);
    }

    // Grad-CAM: the server offers a map per disc, so the toggle is enabled and shows one over the slice.
    const heatBox = page.locator('#show-heat');
    await page.waitForFunction(`!document.getElementById('show-heat').disabled`);
    await heatBox.check();
    await page.waitForFunction(
      `(document.querySelector('image.heat')?.getAttribute('href') ?? '').startsWith('blob:')`,
    );
    assert.notEqual(
      await page.locator('image.heat').evaluate((e) => (e as unknown as { style: { display: string } }).style.display),
      'none',
    );
    await screenshot(page, 'gradcam');
    await heatBox.uncheck();
    await page.waitForFunction(`document.querySelector('image.heat').style.display === 'none'`);

    // Zoom (buttons and keyboard) and pan (keyboard): the outlines stay on the discs.
    await page.locator('#zoom-in').click();
    await page.locator('#viewport').focus();
    await page.keyboard.press('+');
    await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Shift+ArrowDown');
    await page.waitForTimeout(300);
    await assertAligned(page, series.discs, 'patient', 'zoomed and panned');
    await screenshot(page, 'zoomed');

    // Another slice: the outlines are those of the mid-sagittal slice, shown faded.
    await page.keyboard.press('ArrowDown');
    await page.waitForFunction(`window.spinegrade.state().slice === ${(state.midSlice as number) + 1}`);
    await page.waitForTimeout(200);
    assert.match((await page.locator('g.labels').getAttribute('class')) ?? '', /off-slice/);
    await page.keyboard.press('m');
    await page.waitForFunction(`window.spinegrade.state().slice === ${state.midSlice}`);

    // Dragging a label onto another disc asks to rename that disc (dismissed here: the PACS test
    // moves a label for real).
    const question = new Promise<string>((resolve) =>
      page.once('dialog', (dialog) => {
        resolve(dialog.message());
        void dialog.dismiss();
      }),
    );
    const from = await page.locator('.disc-label[data-level="L5/S1"] rect').boundingBox();
    const onto = await page.evaluate<[number, number]>(
      `window.spinegrade.worldToCanvas(${JSON.stringify(series.discs.find((d: Json) => d.level === 'L4/L5').geometry.centerMm)})`,
    );
    const viewport = await page.locator('#viewport').boundingBox();
    assert.ok(from && viewport);
    const start = [from.x + from.width / 2, from.y + from.height / 2] as const;
    const end = [viewport.x + onto[0], viewport.y + onto[1]] as const;
    await page.mouse.move(start[0], start[1]);
    await page.mouse.down();
    await page.mouse.move(end[0], end[1], { steps: 8 });
    // While dragged, the label goes with the pointer (it once vanished to the corner).
    const dragged = await page.locator('.disc-label[data-level="L5/S1"] rect').boundingBox();
    assert.ok(dragged, 'the dragged label is drawn');
    const shift = Math.hypot(dragged.x - (from.x + end[0] - start[0]), dragged.y - (from.y + end[1] - start[1]));
    assert.ok(
      shift < 2,
      `the dragged label ${JSON.stringify(dragged)} follows the pointer (${shift.toFixed(1)} px off)`,
    );
    await page.mouse.up();
    assert.match(await question, /now labelled L4\/L5 "L5\/S1"/);

    const exported = await downloadJson(page, 'findings.json');
    assert.equal(exported.schema, 'spinegrade/findings');
    assert.deepEqual(
      exported.studies[0].series[0].discs.map((d: Json) => [d.level, d.pfirrmann.grade]),
      rows.map((r) => [r.level, r.grade]),
    );
    assert.deepEqual(foreign, [], 'the app fetches nothing from another origin');
    assert.deepEqual(problems, []);
  });
});

test('viewer at 1024 px: the override column is in sight; after a reload the queue tells two uploads of a study apart', {
  timeout: 420_000,
}, async (t) => {
  const server = await startViewerServer(t);
  await withViewerPage(
    t,
    'narrow',
    async (page, problems) => {
      await openApp(page, server);
      await page.locator('#file-input').setInputFiles(await exampleFiles());
      await waitForLabels(page);
      const width = 1024;
      assert.ok(
        (await page.evaluate<number>('document.documentElement.scrollWidth')) <= width,
        'the page does not scroll sideways',
      );
      assert.ok(
        await page.evaluate<boolean>(
          `(() => { const wrap = document.querySelector('#levels-table').closest('.table-wrap'); return wrap.scrollWidth <= wrap.clientWidth; })()`,
        ),
        'the grades table fits its panel without scrolling sideways',
      );
      const panel = await page.locator('.findings').boundingBox();
      assert.ok(panel, 'the findings panel is shown');
      // One look at every ✎ button in the page itself, so a re-render between two steps cannot split the check.
      const buttons = await page.evaluate<{ x: number; y: number; width: number; height: number; hit: boolean }[]>(
        `[...document.querySelectorAll('#levels-table button.override-button')].map((b) => {
          const r = b.getBoundingClientRect();
          const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
          return { x: r.x, y: r.y, width: r.width, height: r.height, hit: top !== null && top.closest('button.override-button') === b };
        })`,
      );
      assert.equal(buttons.length, await page.locator('#levels-table tbody tr').count());
      assert.ok(buttons.length >= LUMBAR.length);
      for (const [i, box] of buttons.entries()) {
        assert.ok(box.width > 0 && box.height > 0, `the ✎ button ${i} is rendered`);
        assert.ok(
          box.x >= panel.x && box.x + box.width <= Math.min(width, panel.x + panel.width),
          `✎ ${JSON.stringify(box)} lies within the panel ${JSON.stringify(panel)}`,
        );
        assert.ok(box.hit, `✎ button ${i} is not covered`);
      }
      await screenshot(page, 'narrow');

      // The same study uploaded again; after a reload (labels of this tab forgotten) both entries differ.
      await page.locator('#file-input').setInputFiles(await exampleFiles());
      await page.waitForFunction(`document.querySelectorAll('#queue li').length === 2`, undefined, { timeout: 60_000 });
      await page.waitForFunction(
        `[...document.querySelectorAll('#queue li button.open')].every((b) => !b.disabled)`,
        undefined,
        { timeout: 120_000 },
      );
      await page.evaluate('sessionStorage.clear()');
      await page.reload();
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 30_000 });
      await page.waitForFunction(`document.querySelectorAll('#queue li').length === 2`, undefined, { timeout: 30_000 });
      const names = await page.locator('#queue li .name').allTextContents();
      assert.equal(new Set(names).size, 2, `queue entries differ: ${names.join(' | ')}`);
      for (const name of names) assert.match(name, /Study …09479904/);

      // "Compare with…" the other analysed upload: the link opens the comparison page in a new tab.
      await page.locator('#queue li button.open').first().click();
      await waitForLabels(page);
      await page.waitForFunction(`document.querySelectorAll('#compare-with option').length === 2`, undefined, {
        timeout: 60_000,
      });
      const other = (await page.locator('#compare-with option').nth(1).getAttribute('value')) ?? '';
      assert.match(other, /^s-[0-9a-f]{12}$/);
      await page.locator('#compare-with').selectOption(other);
      const href = (await page.locator('#compare-open').getAttribute('href')) ?? '';
      const open = (await appState(page)).studyId;
      assert.equal(new URL(href).pathname, `/api/studies/${other}/compare/${open}.html`);
      const [tab] = await Promise.all([page.waitForEvent('popup'), page.locator('#compare-open').click()]);
      await tab.locator('#changes tbody tr').first().waitFor({ timeout: 60_000 });
      const levels = await tab
        .locator('#changes tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-level')));
      for (const level of LUMBAR) assert.ok(levels.includes(level), `${level} in the change table: ${levels}`);
      assert.equal(await tab.locator('img.overlay').count(), 2, 'both overlays side by side');
      await screenshot(tab, 'compare');
      await tab.close();
      assert.deepEqual(problems, []);
    },
    { width: 1024, height: 768 },
  );
});

test('viewer: a MetaImage study is shown as PNG slices with its outlines', { timeout: 300_000 }, async (t) => {
  const server = await startViewerServer(t);
  await withViewerPage(t, 'png-slices', async (page, problems) => {
    await openApp(page, server);
    await page.locator('#file-input').setInputFiles([EXAMPLE_MHA]);
    const state = await waitForLabels(page);
    assert.equal(state.slices, 11);
    const series = (await findingsOf(server, state.studyId as string)).findings.studies[0].series[0];
    await assertLabelsOnImage(page);
    await assertAligned(page, series.discs, 'image', 'PNG slices');
    // No DICOM: no SR/SEG export, no store.
    assert.equal(await page.locator('a[data-export="sr.dcm"]').getAttribute('aria-disabled'), 'true');
    assert.ok(await page.locator('#store-button').isDisabled());
    await screenshot(page, 'png-slices');
    assert.deepEqual(problems, []);
  });
});

test('viewer: from the PACS list to labels, a moved label re-grades, a grade override, exports and STOW back', {
  timeout: 480_000,
}, async (t) => {
  const orthanc = await withOrthanc(t);
  if (!orthanc) return;
  await uploadInstances(orthanc, await Promise.all((await exampleFiles()).map((f) => readFile(f))));
  const server = await startViewerServer(t, { dicomweb: orthanc.dicomweb });
  await withViewerPage(t, 'pacs', async (page, problems) => {
    await openApp(page, server);
    const entry = page.locator(`#pacs-list li[data-study-uid="${EXAMPLE_STUDY_UID}"]`);
    await entry.waitFor({ timeout: 30_000 });
    await entry.locator('button').click();
    const state = await waitForLabels(page);
    const before = (await findingsOf(server, state.studyId as string)).findings.studies[0].series[0];
    await assertLabelsOnImage(page);
    await assertAligned(page, before.discs, 'patient', 'from the PACS');
    await screenshot(page, 'pacs');
    const rowsBefore = await tableRows(page);

    // Move a label: the disc labelled L5/S1 is really L4/L5 → every label moves up one level, and the
    // discs are graded again with their new levels.
    await page.locator('#move-disc').selectOption('L5/S1');
    await page.locator('#move-level').selectOption('L4/L5');
    await page.locator('#move-apply').click();
    const moved = await waitForLabels(page, (state.revision as number) + 1);
    const after = (await findingsOf(server, moved.studyId as string)).findings.studies[0].series[0];
    assert.equal(after.levelOverride, 1, 'the labels were shifted by one level');
    const rowsAfter = await tableRows(page);
    // The same discs (by their place in the findings), one level higher each; the table follows.
    assert.deepEqual(
      rowsAfter.map((r) => r.level),
      after.discs.map((d: Json) => d.level),
    );
    const place = (d: Json): [number, number] => d.geometry.centerPx;
    const sameDisc = (d: Json): Json =>
      before.discs.reduce((best: Json, o: Json) =>
        Math.hypot(place(o)[0] - place(d)[0], place(o)[1] - place(d)[1]) <
        Math.hypot(place(best)[0] - place(d)[0], place(best)[1] - place(d)[1])
          ? o
          : best,
      );
    const formerL5S1 = before.discs.find((d: Json) => d.level === 'L5/S1');
    const nowL4L5 = after.discs.find((d: Json) => d.level === 'L4/L5');
    assert.ok(nowL4L5 && sameDisc(nowL4L5) === formerL5S1, 'the former L5/S1 disc now carries the L4/L5 label');
    assert.equal(
      await page.locator('.disc-label[data-level="L5/S1"]').count(),
      0,
      'no disc is labelled L5/S1 any more',
    );
    const regraded = after.discs.filter((d: Json) => {
      const was = rowsBefore.find((r) => r.level === sameDisc(d).level);
      const now = rowsAfter.find((r) => r.level === d.level);
      return was && now && was.probs !== now.probs;
    });
    assert.ok(regraded.length > 0, 'the table shows the grades made again with the new levels');
    await assertAligned(page, after.discs, 'patient', 'after moving the labels');
    await screenshot(page, 'relabelled');

    // Override a grade, with a reason.
    const target = rowsAfter.find((r) => r.level === 'L3/L4');
    assert.ok(target);
    const newGrade = target.grade === 5 ? 4 : target.grade + 1;
    await page.locator('#levels-table tr[data-level="L3/L4"] button.override-button').click();
    await page.locator('#override-finding').selectOption('pfirrmann');
    await page.locator('#override-value').selectOption(String(newGrade));
    await page.locator('#override-reason').fill('nucleus signal lower on the adjacent slices');
    await page.locator('#override-form button[value="save"]').click();
    const cell = page.locator('#levels-table tr[data-level="L3/L4"] td[data-finding="pfirrmann"]');
    await page.waitForFunction(
      `document.querySelector('#levels-table tr[data-level="L3/L4"] td[data-finding="pfirrmann"]')?.dataset.grade === '${newGrade}'`,
      undefined,
      { timeout: 30_000 },
    );
    assert.match((await cell.getAttribute('class')) ?? '', /override/);
    assert.match(
      (await page.locator('#corrections').textContent()) ?? '',
      /L3\/L4 pfirrmann: .*→ .*nucleus signal lower/,
    );

    // What is exported is the corrected result.
    const exported = await downloadJson(page, 'findings.json');
    const exportedSeries = exported.studies[0].series[0];
    assert.equal(exportedSeries.levelOverride, 1);
    assert.equal(exportedSeries.discs.find((d: Json) => d.level === 'L3/L4').pfirrmann.grade, newGrade);

    // Store SR + SEG to the PACS, and find them there.
    await page.locator('#store-button').click();
    await waitForMessage(page, 'Stored to the PACS');
    const qido = await fetch(`${orthanc.dicomweb}/studies/${EXAMPLE_STUDY_UID}/series`, {
      headers: { accept: 'application/dicom+json' },
    });
    const modalities = ((await qido.json()) as Json[]).map((s) => s['00080060']?.Value?.[0]).sort();
    assert.deepEqual(modalities, ['MR', 'SEG', 'SR']);
    await screenshot(page, 'stored');
    assert.deepEqual(problems, []);
  });
});
