import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import type { DiscMeasures } from '../../src/disc/measures.js';
import type { PixelPoint } from '../../src/disc/predictions.js';
import {
  type DiscFindings,
  FINDINGS_SCHEMA,
  FINDINGS_VERSION,
  type FindingsDocument,
  type FusedLevelFindings,
  RESEARCH_USE_DISCLAIMER,
  type SeriesFindings,
  SPIDER_CREDIT,
  type VertebraFindings,
} from '../../src/report/findings.js';
import { escapeHtml, type HtmlReportInput, renderHtmlReport } from '../../src/report/html.js';
import { describeStudy, sentenceText } from '../../src/report/narrative.js';
import {
  encodeOverlayPng,
  heatThumbnailPng,
  pfirrmannColour,
  renderOverlayRgb,
  VERTEBRA_COLOUR,
} from '../../src/report/overlayImage.js';
import type { Image2D } from '../../src/transforms/resample.js';
import { withPage } from '../helpers/chromium.js';

const LEVELS = ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'] as const;
const VERTEBRAE = ['L1', 'L2', 'L3', 'L4', 'L5', 'S1'] as const;
const SLICE_WIDTH = 160;
const SLICE_HEIGHT = 232;
/** Vertebral bodies are 26 px tall and repeat every 38 px; each disc (8 px tall) lies 2 px below its upper body. */
const PERIOD = 38;
const FIRST_BODY_TOP = 10;
const BODY = { left: 50, right: 110, height: 26 };
const DISC = { left: 52, right: 108, height: 8, gap: 2 };
const HOSTILE_DESCRIPTION = 'Sag T2 <script>alert("x")</script>';
const REPORT_PNG = fileURLToPath(new URL('../../../test-output/report.png', import.meta.url));
const NARRATIVE_PNG = fileURLToPath(new URL('../../../test-output/report-narrative.png', import.meta.url));

function discTop(level: number): number {
  return FIRST_BODY_TOP + level * PERIOD + BODY.height + DISC.gap;
}

function rectangle(left: number, top: number, right: number, bottom: number): PixelPoint[] {
  return [
    [left, top],
    [right, top],
    [right, bottom],
    [left, bottom],
  ];
}

/** A sagittal-like slice: faint texture, grey vertebral bodies, bright discs between them. */
function syntheticSlice(): Image2D {
  const pixels = new Float32Array(SLICE_WIDTH * SLICE_HEIGHT);
  let seed = 7;
  for (let n = 0; n < pixels.length; n++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    pixels[n] = 40 + (seed % 30);
  }
  const fill = (left: number, top: number, right: number, bottom: number, value: number) => {
    for (let y = top; y <= bottom && y < SLICE_HEIGHT; y++)
      for (let x = left; x <= right; x++) pixels[x + y * SLICE_WIDTH] = value;
  };
  VERTEBRAE.forEach((_, n) => {
    const top = FIRST_BODY_TOP + n * PERIOD;
    fill(BODY.left, top, BODY.right, top + BODY.height, 300);
  });
  LEVELS.forEach((_, n) => {
    fill(DISC.left, discTop(n), DISC.right, discTop(n) + DISC.height, 650);
  });
  return { pixels, width: SLICE_WIDTH, height: SLICE_HEIGHT, pixelSpacing: [1, 1] };
}

/** Class probabilities peaked at `index` with `top`, the rest shared out. */
function peaked(size: number, index: number, top: number): number[] {
  return Array.from({ length: size }, (_, n) => (n === index ? top : (1 - top) / (size - 1)));
}

function measures(level: number): DiscMeasures {
  return {
    discHeightAnteriorMm: 9.1 - level * 0.3,
    discHeightMiddleMm: 8.4 - level * 0.3,
    discHeightPosteriorMm: 6.2 - level * 0.2,
    discHeightMm: 7.9 - level * 0.27,
    discHeightIndex: 0.31 - level * 0.01,
    signalIntensityRatio: level === 4 ? null : 1.9 - level * 0.25,
    nucleusAnnulusContrast: 1.6 - level * 0.1,
    endplateSignalRatio: 1.02,
    listhesisMm: level === 3 ? 4.2 : 0.3,
    wedgeAngleDeg: 4 + level,
    discAngleDeg: -3 + level * 4,
  };
}

function discFindings(level: number, grade: number, confidence: number, reviewThreshold: number): DiscFindings {
  const top = discTop(level);
  const centerPx: PixelPoint = [(DISC.left + DISC.right) / 2, top + DISC.height / 2];
  return {
    level: LEVELS[level]!,
    ivdLabel: 5 - level,
    pfirrmann: { grade, probs: peaked(5, grade - 1, confidence) },
    modic: { grade: level === 4 ? 1 : 0, probs: peaked(4, level === 4 ? 1 : 0, 0.7) },
    needsReview: confidence < reviewThreshold,
    measures: measures(level),
    geometry: {
      centerPx,
      posteriorPx: [DISC.right, centerPx[1]],
      outlinePx: rectangle(DISC.left, top, DISC.right, top + DISC.height),
      centerMm: [0, -centerPx[0], -centerPx[1]],
      posteriorMm: [0, -DISC.right, -centerPx[1]],
    },
    endplateUpper: 0.05 + level * 0.05,
    endplateLower: 0.08,
    spondylolisthesis: level === 3 ? 0.81 : 0.04,
    herniation: level === 3 ? 0.72 : 0.1,
    bulging: 0.2 + level * 0.1,
    narrowing: level >= 3 ? 0.66 : 0.12,
  };
}

function vertebraFindings(): VertebraFindings[] {
  return VERTEBRAE.map((name, n) => {
    const top = FIRST_BODY_TOP + n * PERIOD;
    const bottom = Math.min(SLICE_HEIGHT - 1, top + BODY.height);
    return {
      name: n === VERTEBRAE.length - 1 ? null : name,
      centerPx: [(BODY.left + BODY.right) / 2, (top + bottom) / 2],
      outlinePx: rectangle(BODY.left, top, BODY.right, bottom),
    };
  });
}

const REVIEW_THRESHOLD = 0.5;
const T2_GRADES = [2, 3, 3, 4, 5];
const T2_CONFIDENCE = [0.81, 0.74, 0.42, 0.66, 0.38];
const T1_GRADES = [2, 3, 4, 4, 5];
const T1_CONFIDENCE = [0.77, 0.7, 0.55, 0.61, 0.58];

function series(
  description: string,
  number: number,
  sequence: string,
  grades: number[],
  confidence: number[],
  warnings: string[],
): SeriesFindings {
  return {
    seriesInstanceUid: `1.2.826.0.1.3680043.8.498.${number}`,
    seriesDescription: description,
    seriesNumber: number,
    sequence,
    selection: `sagittal ${sequence}, 15 slices, in-plane 1.00 mm`,
    midSagittalSlice: 7,
    midSagittalSopInstanceUid: `1.2.826.0.1.3680043.8.498.${number}.7`,
    sliceSize: [SLICE_WIDTH, SLICE_HEIGHT],
    pixelSpacing: [1, 1],
    slicesGraded: 5,
    levelVote: { slices: 5, agreeing: 5, offsetApplied: 0 },
    levelOverride: 0,
    possibleTransitional: false,
    warnings,
    discs: grades.map((grade, n) => discFindings(n, grade, confidence[n]!, REVIEW_THRESHOLD)),
    vertebrae: vertebraFindings(),
  };
}

function fuse(all: SeriesFindings[]): FusedLevelFindings[] {
  return LEVELS.map((_, n) => {
    const discs = all.map((s) => s.discs[n]!);
    const mean = (pick: (d: DiscFindings) => number) => discs.reduce((sum, d) => sum + pick(d), 0) / discs.length;
    const pfirrmannProbs = discs[0]!.pfirrmann.probs.map((_, k) => mean((d) => d.pfirrmann.probs[k]!));
    const modicProbs = discs[0]!.modic.probs.map((_, k) => mean((d) => d.modic.probs[k]!));
    const grade = pfirrmannProbs.indexOf(Math.max(...pfirrmannProbs)) + 1;
    const { geometry: _geometry, shap: _shap, ...rest } = discs[0]!;
    return {
      ...rest,
      pfirrmann: { grade, probs: pfirrmannProbs },
      modic: { grade: modicProbs.indexOf(Math.max(...modicProbs)), probs: modicProbs },
      needsReview: Math.max(...pfirrmannProbs) < REVIEW_THRESHOLD,
      herniation: mean((d) => d.herniation),
      bulging: mean((d) => d.bulging),
      narrowing: mean((d) => d.narrowing),
      endplateUpper: mean((d) => d.endplateUpper),
      endplateLower: mean((d) => d.endplateLower),
      spondylolisthesis: mean((d) => d.spondylolisthesis),
      fromSeries: all.map((_, k) => k),
    };
  });
}

function findingsDocument(seriesCount = 2): FindingsDocument {
  const all = [
    series(HOSTILE_DESCRIPTION, 3, 'T2', T2_GRADES, T2_CONFIDENCE, []),
    series('Sag T1 TSE', 2, 'T1', T1_GRADES, T1_CONFIDENCE, [
      'Slice thickness 4.5 mm exceeds the 4 mm the grader was trained on & <b>bold</b> claims',
    ]),
  ].slice(0, seriesCount);
  return {
    schema: FINDINGS_SCHEMA,
    version: FINDINGS_VERSION,
    createdAt: '2025-03-14T09:26:53.000Z',
    software: { name: 'spinegrade', version: '0.1.0' },
    disclaimer: RESEARCH_USE_DISCLAIMER,
    credit: SPIDER_CREDIT,
    models: {
      grader: {
        dir: 'models/grader',
        variant: 'hybrid',
        accuracy: [
          'Pfirrmann: quadratic-weighted κ 0.79 (95% CI 0.75-0.82), out-of-fold',
          'Modic: balanced accuracy 0.71 (95% CI 0.64-0.77)',
        ],
      },
      localizer: {
        dir: 'models/localizer',
        variant: 'localizer',
        accuracy: ['disc detection F1 0.97 (95% CI 0.95-0.98)'],
      },
    },
    reviewThreshold: REVIEW_THRESHOLD,
    studies: [
      {
        key: '1.2.826.0.1.3680043.8.498.1',
        studyInstanceUid: '1.2.826.0.1.3680043.8.498.1',
        sourceFormat: 'dicom',
        series: all,
        levels: fuse(all),
        skipped: [{ seriesInstanceUid: '1.2.3.9', seriesDescription: 'Ax T2', reasons: ['axial, not sagittal'] }],
      },
    ],
  };
}

/** Slice-aligned Grad-CAM-like heat: a Gaussian blob on the disc. */
function blobHeat(center: PixelPoint): Float32Array {
  const heat = new Float32Array(SLICE_WIDTH * SLICE_HEIGHT);
  for (let y = 0; y < SLICE_HEIGHT; y++) {
    for (let x = 0; x < SLICE_WIDTH; x++) {
      heat[x + y * SLICE_WIDTH] = Math.exp(-((x - center[0]) ** 2 + (y - center[1]) ** 2) / (2 * 6 ** 2));
    }
  }
  return heat;
}

function reportInput(document: FindingsDocument): HtmlReportInput {
  const slice = syntheticSlice();
  const study = document.studies[0]!;
  return {
    findings: document,
    studies: [
      {
        studyKey: study.key,
        series: study.series.map((s) => ({
          overlayPng: encodeOverlayPng(slice, s),
          heat: s.discs.map((disc) => ({
            level: disc.level,
            thumbnailPng: heatThumbnailPng(slice, blobHeat(disc.geometry.centerPx), disc.geometry.centerPx),
            explains: `Pfirrmann grade ${disc.pfirrmann.grade}`,
          })),
        })),
      },
    ],
    modelCard: { title: 'spinegrade bundled models', lines: ['Trained on SPIDER (218 patients), 5-fold.'] },
  };
}

function pixel(rgb: Uint8Array, width: number, x: number, y: number): [number, number, number] {
  const at = (Math.round(x) + Math.round(y) * width) * 3;
  return [rgb[at]!, rgb[at + 1]!, rgb[at + 2]!];
}

test('the overlay draws each disc outline in its Pfirrmann colour at the outline coordinates, enlarged to a short side of at least 512 px', () => {
  const slice = syntheticSlice();
  const findings = findingsDocument().studies[0]!.series[0]!;
  const { rgb, width, height, scale } = renderOverlayRgb(slice, findings);
  assert.equal(scale, Math.ceil(512 / SLICE_WIDTH));
  assert.deepEqual([width, height], [SLICE_WIDTH * scale, SLICE_HEIGHT * scale]);
  assert.ok(Math.min(width, height) >= 512);
  const toOutput = (v: number) => (v + 0.5) * scale - 0.5;
  for (const disc of findings.discs) {
    const colour = pfirrmannColour(disc.pfirrmann.grade);
    const outline = disc.geometry.outlinePx;
    for (const [n, [x, y]] of outline.entries()) {
      const [nx, ny] = outline[(n + 1) % outline.length]!;
      for (const t of [0, 0.25, 0.5, 0.75]) {
        const px = toOutput(x + (nx - x) * t);
        const py = toOutput(y + (ny - y) * t);
        assert.deepEqual(pixel(rgb, width, px, py), [...colour], `${disc.level} outline at (${px}, ${py})`);
      }
    }
    const [cx, cy] = disc.geometry.centerPx.map(toOutput) as [number, number];
    const [r, g, b] = pixel(rgb, width, cx, cy);
    assert.ok(r === g && g === b && r > 200, `${disc.level}: the bright disc inside its outline stays grey`);
  }
  const [vx, vy] = findings.vertebrae[1]!.outlinePx[0]!;
  assert.deepEqual(pixel(rgb, width, toOutput(vx), toOutput(vy)), [...VERTEBRA_COLOUR]);
});

test('the overlay writes each level name beside its disc in the disc colour', () => {
  const slice = syntheticSlice();
  const findings = findingsDocument().studies[0]!.series[0]!;
  const { rgb, width, scale } = renderOverlayRgb(slice, findings);
  for (const disc of findings.discs) {
    const colour = pfirrmannColour(disc.pfirrmann.grade);
    const top = Math.round(disc.geometry.centerPx[1] * scale) - 12;
    let labelPixels = 0;
    for (let y = top; y < top + 24; y++) {
      for (let x = 0; x < DISC.left * scale - 4; x++) {
        const [r, g, b] = pixel(rgb, width, x, y);
        if (r === colour[0] && g === colour[1] && b === colour[2]) labelPixels++;
      }
    }
    assert.ok(labelPixels > 40, `${disc.level}: ${labelPixels} label pixels anterior of the disc`);
  }
});

test('the overlay PNG and the Grad-CAM thumbnails decode to the promised sizes, the heat in colour', () => {
  const slice = syntheticSlice();
  const findings = findingsDocument().studies[0]!.series[0]!;
  const overlay = PNG.sync.read(encodeOverlayPng(slice, findings));
  const rendered = renderOverlayRgb(slice, findings);
  assert.deepEqual([overlay.width, overlay.height], [rendered.width, rendered.height]);
  const disc = findings.discs[2]!;
  const thumbnail = PNG.sync.read(heatThumbnailPng(slice, blobHeat(disc.geometry.centerPx), disc.geometry.centerPx));
  assert.deepEqual([thumbnail.width, thumbnail.height], [160, 160]);
  const centre = (80 + 80 * 160) * 4;
  const corner = 0;
  const [r, g, b] = [thumbnail.data[centre]!, thumbnail.data[centre + 1]!, thumbnail.data[centre + 2]!];
  assert.ok(r > b + 40, `the hot centre is red-dominant, got ${r},${g},${b}`);
  assert.equal(thumbnail.data[corner], thumbnail.data[corner + 2], 'the cold corner is grey');
});

test('the report loads nothing from the network: every picture is an inline data: PNG and no http(s) URL appears', () => {
  const html = renderHtmlReport(reportInput(findingsDocument()));
  assert.doesNotMatch(html, /https?:\/\//i);
  assert.doesNotMatch(html, /<script|<link|<iframe|<object|@import|url\(/i);
  const sources = [...html.matchAll(/\ssrc="([^"]*)"/g)].map((m) => m[1]!);
  assert.equal(sources.length, 2 + 2 * 5, 'two overlays and five thumbnails per series');
  for (const source of sources) assert.match(source, /^data:image\/png;base64,[A-Za-z0-9+/=]+$/);
  const hrefs = [...html.matchAll(/\shref="([^"]*)"/g)].map((m) => m[1]!);
  assert.deepEqual(hrefs, [], 'no links at all; the data credit is plain text');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; img-src data:/);
});

test('a <script> in a series description and markup in a warning are shown as text, never as HTML', () => {
  const html = renderHtmlReport(reportInput(findingsDocument()));
  assert.ok(!html.includes('<script'), 'no script element');
  assert.ok(!html.includes('<b>bold</b>'));
  assert.ok(html.includes(escapeHtml(HOSTILE_DESCRIPTION)));
  assert.ok(html.includes('Sag T2 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
  assert.ok(html.includes('trained on &amp; &lt;b&gt;bold&lt;/b&gt; claims'));
});

test('every level of every series and of the fused table has a row with a stable id and data-level', () => {
  const document = findingsDocument();
  const html = renderHtmlReport(reportInput(document));
  for (const [n] of document.studies[0]!.series.entries()) {
    for (const level of LEVELS) {
      const id = `study0-series${n}-level-${level.replace('/', '-')}`;
      assert.match(html, new RegExp(`<tr id="${id}" data-level="${level}"`), id);
    }
  }
  for (const level of LEVELS)
    assert.match(html, new RegExp(`<tr id="study0-fused-level-${level.replace('/', '-')}" data-level="${level}"`));
  assert.match(html, /id="study0-fused-levels"/);
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
});

test('a single-series study has no fused table', () => {
  const html = renderHtmlReport(reportInput(findingsDocument(1)));
  assert.doesNotMatch(html, /id="study0-fused/);
  assert.doesNotMatch(html, /Levels fused over the series/);
  assert.match(html, /id="study0-series0-levels"/);
});

test('the report states the disclaimer, the measures with units and where they are defined, the model card and the SPIDER credit', () => {
  const document = findingsDocument();
  const html = renderHtmlReport(reportInput(document));
  assert.ok(
    html.indexOf(escapeHtml(RESEARCH_USE_DISCLAIMER)) < html.indexOf('<main>'),
    'disclaimer before the findings',
  );
  assert.ok(html.includes(escapeHtml(SPIDER_CREDIT)));
  assert.match(html, /docs\/measures\.md/);
  assert.match(html, /Height mean <small>mm<\/small>/);
  assert.match(html, /Wedge angle <small>°<\/small>/);
  for (const line of [...document.models.grader.accuracy, ...document.models.localizer.accuracy]) {
    assert.ok(html.includes(escapeHtml(line)), line);
  }
  assert.match(html, /<span class="variant">hybrid<\/span>/);
  assert.ok(html.includes('Trained on SPIDER (218 patients), 5-fold.'));
  assert.ok(html.includes('axial, not sagittal'), 'skipped series are listed');
});

test('in headless Chromium the report shows its pictures, one row per level with its grade, the flagged rows and the disclaimer', async (t) => {
  const document = findingsDocument();
  const html = renderHtmlReport(reportInput(document));
  await withPage(t, async (page, problems) => {
    const requests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('data:')) requests.push(request.url());
    });
    await page.setContent(html, { waitUntil: 'load' });

    const images = await page.evaluate<{ id: string; width: number }[]>(
      '[...document.images].map((img) => ({ id: img.id || img.className, width: img.complete ? img.naturalWidth : 0 }))',
    );
    assert.equal(images.length, 12);
    for (const image of images) assert.ok(image.width > 0, `${image.id} is loaded`);
    assert.ok(images.filter((i) => i.id.endsWith('-overlay')).every((i) => i.width >= 512));

    for (const [n, s] of document.studies[0]!.series.entries()) {
      const rows = page.locator(`#study0-series${n}-levels tbody tr`);
      assert.equal(await rows.count(), LEVELS.length);
      for (const disc of s.discs) {
        const row = page.locator(`#study0-series${n}-levels tr[data-level="${disc.level}"]`);
        const grade = ((await row.locator('td.pfirrmann').textContent()) ?? '').trim();
        assert.match(grade, new RegExp(`^${disc.pfirrmann.grade} \\(\\d+%\\)$`), `${disc.level}: ${grade}`);
        const classes = ((await row.getAttribute('class')) ?? '').split(/\s+/);
        assert.equal(classes.includes('needs-review'), disc.needsReview, `${disc.level} review mark`);
        if (disc.needsReview) assert.match((await row.locator('td.review').textContent()) ?? '', /needs review/);
      }
      const flaggedRows = await page.locator(`#study0-series${n}-levels tr.needs-review`).all();
      const flagged = await Promise.all(flaggedRows.map((row) => row.getAttribute('data-level')));
      assert.deepEqual(
        flagged,
        s.discs.filter((d) => d.needsReview).map((d) => d.level),
      );
    }
    const highlighted = await page.evaluate<string>(
      'getComputedStyle(document.querySelector("tr.needs-review")).backgroundColor',
    );
    assert.notEqual(highlighted, 'rgba(0, 0, 0, 0)', 'flagged rows are highlighted');
    assert.equal(await page.locator('#study0-fused-levels tbody tr').count(), LEVELS.length);

    const disclaimer = page.locator('#disclaimer');
    assert.ok(await disclaimer.isVisible());
    assert.ok(((await disclaimer.textContent()) ?? '').includes(RESEARCH_USE_DISCLAIMER));
    const box = await disclaimer.boundingBox();
    assert.ok(box && box.y + box.height <= 900, 'the disclaimer is in the first screenful');

    assert.equal(await page.locator('script').count(), 0);
    assert.ok(((await page.locator('#study0-series0 h2').textContent()) ?? '').includes(HOSTILE_DESCRIPTION));
    assert.match(
      (await page.locator('#study0-series1-warnings li').first().textContent()) ?? '',
      /4 mm the grader was trained on & <b>bold<\/b> claims/,
    );
    assert.ok(
      await page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth'),
      'wide tables scroll inside their boxes; the page itself does not overflow sideways',
    );
    assert.deepEqual(requests, [], 'no network requests');
    assert.deepEqual(problems, []);

    await page.emulateMedia({ media: 'print' });
    assert.ok(await disclaimer.isVisible(), 'printed with the disclaimer');
    assert.ok(await page.locator('#study0-series0-levels').isVisible(), 'printed with the tables');
    await page.emulateMedia({ media: 'screen' });

    await mkdir(dirname(REPORT_PNG), { recursive: true });
    await page.screenshot({ path: REPORT_PNG, fullPage: true });
    assert.ok((await stat(REPORT_PNG)).size > 10_000);
  });
});

test('in headless Chromium the draft report in words shows a paragraph per level and an impression, uncertain clauses highlighted', async (t) => {
  const document = findingsDocument();
  const study = document.studies[0]!;
  const narrative = describeStudy(study, document.reviewThreshold);
  const html = renderHtmlReport(reportInput(document));
  await withPage(t, async (page, problems) => {
    await page.setContent(html, { waitUntil: 'load' });
    const section = page.locator('#study0-narrative');
    assert.ok(await section.isVisible());
    const paragraphs = await page.locator('#study0-narrative-findings p').allTextContents();
    assert.deepEqual(
      paragraphs,
      narrative.findings.map(sentenceText),
      'the page shows the same text as the plain-text draft (the SR and the viewer copy)',
    );
    assert.deepEqual(
      paragraphs.map((p) => p.split(':')[0]),
      study.levels.map((l) => l.level),
    );
    for (const level of study.levels) {
      const grade = page.locator(`#study0-narrative-findings p[data-level="${level.level}"] .uncertain`).first();
      const gradeUncertain = (await grade.count()) > 0 && ((await grade.textContent()) ?? '').includes('Pfirrmann');
      assert.equal(gradeUncertain, level.needsReview, `${level.level}: grade marked uncertain iff flagged`);
    }
    const impression = await page.locator('#study0-narrative-impression p').allTextContents();
    assert.deepEqual(impression, narrative.impression.map(sentenceText));
    assert.match(impression.join('\n'), /^Disc degeneration at /m);
    const background = await page.evaluate<string>(
      'getComputedStyle(document.querySelector("#study0-narrative-findings .uncertain")).backgroundColor',
    );
    assert.notEqual(background, 'rgba(0, 0, 0, 0)', 'uncertain clauses are highlighted');
    assert.deepEqual(problems, []);
    await mkdir(dirname(NARRATIVE_PNG), { recursive: true });
    await section.screenshot({ path: NARRATIVE_PNG });
    assert.ok((await stat(NARRATIVE_PNG)).size > 5_000);
  });
});
