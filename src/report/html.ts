/**
 * The HTML report: one self-contained file per `findings.json` — inline CSS, pictures as `data:` URIs,
 * no scripts and no external requests (a Content-Security-Policy meta tag forbids them) — that reads
 * on screen and prints. Data in, string out: the caller renders the pictures (see `overlayImage.ts`).
 * Every string that comes from the findings is HTML-escaped.
 */

import type { BinaryFinding } from '../disc/findings.js';
import { gradeProbability, MODIC_TYPES, PFIRRMANN_GRADES } from '../disc/grades.js';
import type { DiscMeasures } from '../disc/measures.js';
import { describeIdentity } from '../disc/provenance.js';
import { isPngSignature } from '../io/png.js';
import {
  type DiscFindings,
  type FindingsDocument,
  type ModelReference,
  RESEARCH_USE_DISCLAIMER,
  type SeriesFindings,
  SPIDER_CREDIT,
  type StudyFindings,
} from './findings.js';
import { describeStudy, type NarrativeSentence, UNCERTAIN_MARK } from './narrative.js';
import { PFIRRMANN_COLOURS, VERTEBRA_COLOUR } from './overlayImage.js';

/** A Grad-CAM thumbnail of one disc (see `heatThumbnailPng`). */
export interface HtmlReportHeatThumbnail {
  /** Level it shows, as in the findings (`L4/L5`). */
  level: string;
  /** PNG bytes. */
  thumbnailPng: Uint8Array;
  /** What the heat explains, e.g. `Pfirrmann grade 3`; shown in the caption when given. */
  explains?: string;
}

/** The pictures of one graded series, in the order of the study's `series`. */
export interface HtmlReportSeriesImages {
  /** PNG bytes of the labelled mid-sagittal overlay (see `encodeOverlayPng`). */
  overlayPng: Uint8Array;
  heat?: HtmlReportHeatThumbnail[];
}

/** The pictures of one study, matched to the findings by `studyKey` (the study's `key`). */
export interface HtmlReportStudyImages {
  studyKey: string;
  series: HtmlReportSeriesImages[];
}

/** A model card summary: its title and a few lines (figures, intended use). */
export interface HtmlReportModelCard {
  title: string;
  lines: string[];
}

/** Everything the HTML report shows. */
export interface HtmlReportInput {
  findings: FindingsDocument;
  studies: HtmlReportStudyImages[];
  modelCard: HtmlReportModelCard;
}

/**
 * The start of a self-contained page, up to its open `<head>`: a Content-Security-Policy that allows
 * only inline styles and data: pictures (no scripts, no requests), UTF-8, the viewport.
 */
export const SELF_CONTAINED_HTML_START = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">`;

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** `text` safe to place in HTML text or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character] as string);
}

/** Escapes a value from the findings for HTML, showing null and undefined as an em dash. */
function text(value: string | number | null | undefined): string {
  return value === null || value === undefined ? '—' : escapeHtml(String(value));
}

/** A fragment of an element id made of letters, digits and hyphens (`L4/L5` → `L4-L5`). */
function idPart(value: string): string {
  return value.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Uint8Array): [number, number] | undefined {
  if (png.length < 24) return undefined;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
}

/** An `<img>` of PNG bytes as a data: URI (with its intrinsic size, so printing lays out before decoding). */
export function pngImage(png: Uint8Array, alt: string, attributes: string): string {
  if (!isPngSignature(png)) throw new Error(`HTML report: the picture for "${alt}" is not PNG data`);
  const size = pngSize(png);
  const dimensions = size ? ` width="${size[0]}" height="${size[1]}"` : '';
  const base64 = Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64');
  return `<img ${attributes} src="data:image/png;base64,${base64}"${dimensions} alt="${escapeHtml(alt)}">`;
}

function percent(probability: number): string {
  return Number.isFinite(probability) ? `${Math.round(probability * 100)}%` : '—';
}

function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

/** Column title of each binary finding, in table order (a `Record`, so a new finding must be given a column). */
const BINARY_TITLES: Readonly<Record<BinaryFinding, string>> = {
  herniation: 'Herniation',
  bulging: 'Bulging',
  narrowing: 'Narrowing',
  endplateUpper: 'Endplate upper',
  endplateLower: 'Endplate lower',
  spondylolisthesis: 'Listhesis',
};
const BINARY_COLUMNS = (Object.entries(BINARY_TITLES) as [BinaryFinding, string][]).map(([finding, title]) => ({
  finding,
  title,
}));

/** What a level row shows: a series disc or a fused level. */
type LevelRowFindings = Omit<DiscFindings, 'geometry' | 'shap'>;

function uniqueId(base: string, used: Set<string>): string {
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
  used.add(id);
  return id;
}

function levelRow(disc: LevelRowFindings, id: string, extraCells: string): string {
  const pfirrmannP = gradeProbability(disc.pfirrmann, PFIRRMANN_GRADES);
  const modicP = gradeProbability(disc.modic, MODIC_TYPES);
  const binaries = BINARY_COLUMNS.map(({ finding }) => {
    const p = disc[finding];
    return `<td class="binary ${finding}${p >= 0.5 ? ' likely' : ''}">${percent(p)}</td>`;
  }).join('');
  const grade = Number.isInteger(disc.pfirrmann.grade) ? disc.pfirrmann.grade : 0;
  const review = disc.needsReview
    ? '<td class="review flagged"><span class="flag">⚠ needs review</span></td>'
    : '<td class="review">—</td>';
  return (
    `<tr id="${id}" data-level="${text(disc.level)}" data-ivd-label="${text(disc.ivdLabel)}"` +
    `${disc.needsReview ? ' class="needs-review"' : ''}>` +
    `<th scope="row" class="level">${text(disc.level)}</th>` +
    `<td class="pfirrmann g${grade}" data-grade="${text(disc.pfirrmann.grade)}"><span class="swatch"></span>` +
    `${text(disc.pfirrmann.grade)} <span class="prob">(${percent(pfirrmannP)})</span></td>` +
    `<td class="modic" data-type="${text(disc.modic.grade)}">${text(disc.modic.grade)} ` +
    `<span class="prob">(${percent(modicP)})</span></td>` +
    binaries +
    `<td class="num disc-height">${fixed(disc.measures.discHeightMm, 1)}</td>` +
    `<td class="num dhi">${fixed(disc.measures.discHeightIndex, 2)}</td>` +
    `<td class="num sir">${fixed(disc.measures.signalIntensityRatio, 2)}</td>` +
    `<td class="num listhesis-mm">${fixed(disc.measures.listhesisMm, 1)}</td>` +
    extraCells +
    review +
    '</tr>'
  );
}

function levelTable<Row extends LevelRowFindings>(
  discs: readonly Row[],
  options: { id: string; caption: string; rowIdPrefix: string; used: Set<string>; extra?: ExtraColumn<Row> },
): string {
  const binaryHeads = BINARY_COLUMNS.map(({ title }) => `<th scope="col">${title} <small>p</small></th>`).join('');
  const head =
    '<tr><th scope="col">Level</th><th scope="col">Pfirrmann <small>grade (p)</small></th>' +
    `<th scope="col">Modic <small>type (p)</small></th>${binaryHeads}` +
    '<th scope="col">Disc height <small>mm</small></th><th scope="col">DHI</th><th scope="col">SIR</th>' +
    `<th scope="col">Listhesis offset <small>mm</small></th>${options.extra ? `<th scope="col">${options.extra.title}</th>` : ''}` +
    '<th scope="col">Review</th></tr>';
  const rows = discs
    .map((disc) => {
      const id = uniqueId(`${options.rowIdPrefix}-${idPart(disc.level)}`, options.used);
      return levelRow(disc, id, options.extra ? `<td>${options.extra.cell(disc)}</td>` : '');
    })
    .join('\n');
  return (
    `<div class="table-scroll"><table class="levels" id="${options.id}"><caption>${options.caption}</caption>` +
    `<thead>${head}</thead><tbody>\n${rows}\n</tbody></table></div>`
  );
}

/** A column a level table adds before its review column (the fused table's contributing series). */
interface ExtraColumn<Row> {
  title: string;
  cell: (disc: Row) => string;
}

const MEASURE_COLUMNS: readonly { key: keyof DiscMeasures; title: string; unit: string; digits: number }[] = [
  { key: 'discHeightAnteriorMm', title: 'Height anterior', unit: 'mm', digits: 1 },
  { key: 'discHeightMiddleMm', title: 'Height middle', unit: 'mm', digits: 1 },
  { key: 'discHeightPosteriorMm', title: 'Height posterior', unit: 'mm', digits: 1 },
  { key: 'discHeightMm', title: 'Height mean', unit: 'mm', digits: 1 },
  { key: 'discHeightIndex', title: 'Disc height index', unit: 'ratio', digits: 2 },
  { key: 'signalIntensityRatio', title: 'Signal-intensity ratio', unit: 'ratio', digits: 2 },
  { key: 'nucleusAnnulusContrast', title: 'Nucleus/annulus contrast', unit: 'ratio', digits: 2 },
  { key: 'endplateSignalRatio', title: 'Endplate signal ratio', unit: 'ratio', digits: 2 },
  { key: 'listhesisMm', title: 'Listhesis offset', unit: 'mm', digits: 1 },
  { key: 'wedgeAngleDeg', title: 'Wedge angle', unit: '°', digits: 1 },
  { key: 'discAngleDeg', title: 'Disc angle', unit: '°', digits: 1 },
  { key: 'canalApMm', title: 'Canal AP at disc', unit: 'mm', digits: 1 },
  { key: 'canalApBodyMm', title: 'Canal AP at mid-bodies', unit: 'mm', digits: 1 },
  { key: 'canalApRatio', title: 'Canal AP ratio disc/bodies', unit: 'ratio', digits: 2 },
];

function measuresTable(discs: readonly DiscFindings[], id: string): string {
  const head = MEASURE_COLUMNS.map(
    ({ key, title, unit }) => `<th scope="col" data-measure="${key}">${title} <small>${unit}</small></th>`,
  ).join('');
  const rows = discs
    .map(
      (disc) =>
        `<tr data-level="${text(disc.level)}"><th scope="row">${text(disc.level)}</th>` +
        MEASURE_COLUMNS.map(({ key, digits }) => `<td class="num">${fixed(disc.measures[key], digits)}</td>`).join('') +
        '</tr>',
    )
    .join('\n');
  return (
    `<div class="table-scroll"><table class="measures" id="${id}"><caption>Quantitative measures ` +
    '(definitions and references: <code>docs/measures.md</code> in the spinegrade repository; ' +
    '— where the slice does not show what a measure needs)</caption>' +
    `<thead><tr><th scope="col">Level</th>${head}</tr></thead><tbody>\n${rows}\n</tbody></table></div>`
  );
}

function definitionList(entries: readonly [string, string][]): string {
  return `<dl class="facts">${entries.map(([term, value]) => `<div><dt>${term}</dt><dd>${value}</dd></div>`).join('')}</dl>`;
}

function seriesTitle(series: SeriesFindings, index: number): string {
  const number = series.seriesNumber ?? index + 1;
  const description = series.seriesDescription ?? '(no description)';
  return `Series ${text(number)}: ${text(description)} <span class="sequence">${text(series.sequence)}</span>`;
}

function legend(): string {
  const grades = PFIRRMANN_GRADES.map(
    (grade) => `<li><span class="swatch g${grade}"></span>Pfirrmann ${grade}</li>`,
  ).join('');
  return `<ul class="legend">${grades}<li><span class="swatch vertebra"></span>vertebral body</li></ul>`;
}

function warningsBlock(series: SeriesFindings, id: string): string {
  const items = [...series.warnings.map((warning) => text(warning))];
  if (series.possibleTransitional) {
    items.push('Possible transitional anatomy: check the level names against a whole-spine view.');
  }
  if (series.levelOverride !== 0) items.push(`Level names shifted by ${text(series.levelOverride)} by the user.`);
  if (items.length === 0) return `<p class="warnings none" id="${id}">No warnings.</p>`;
  return (
    `<section class="warnings has-warnings" id="${id}"><h3>Warnings</h3>` +
    `<ul>${items.map((item) => `<li>${item}</li>`).join('')}</ul></section>`
  );
}

function heatGallery(
  heat: readonly HtmlReportHeatThumbnail[] | undefined,
  id: string,
  used: Set<string>,
  seriesLabel: string,
): string {
  if (!heat || heat.length === 0) return '';
  const figures = heat
    .map((entry) => {
      const what = entry.explains ? `Grad-CAM for ${entry.explains}` : 'Grad-CAM heat';
      const figureId = uniqueId(`${id}-${idPart(entry.level)}`, used);
      return (
        `<figure class="heat" id="${figureId}" data-level="${text(entry.level)}">` +
        pngImage(entry.thumbnailPng, `${entry.level}: ${what}, ${seriesLabel}`, 'class="heat-thumbnail"') +
        `<figcaption><strong>${text(entry.level)}</strong> — ${text(what)}</figcaption></figure>`
      );
    })
    .join('');
  return (
    `<section class="gradcam" id="${id}"><h3>Grad-CAM</h3>` +
    '<p class="note">Where the grader’s network found evidence (warm colours: strongest); ' +
    'a picture of what the model attended to, not a finding.</p>' +
    `<div class="gallery">${figures}</div></section>`
  );
}

function seriesSection(
  series: SeriesFindings,
  images: HtmlReportSeriesImages | undefined,
  prefix: string,
  index: number,
  used: Set<string>,
): string {
  const [sx, sy] = series.pixelSpacing;
  const vote = series.levelVote;
  const facts = definitionList([
    ['Series Instance UID', text(series.seriesInstanceUid)],
    ['Sequence', text(series.sequence)],
    ['Why graded', text(series.selection)],
    [
      'Mid-sagittal slice',
      `${text(series.midSagittalSlice)} (${text(series.sliceSize[0])} × ${text(series.sliceSize[1])} px)`,
    ],
    ['Pixel spacing', `${fixed(sx, 2)} × ${fixed(sy, 2)} mm`],
    ['Slices graded', text(series.slicesGraded)],
    [
      'Level naming',
      `${text(vote.agreeing)} of ${text(vote.slices)} slices agree; offset applied ${text(vote.offsetApplied)}`,
    ],
  ]);
  const plainTitle = `series ${series.seriesNumber ?? index + 1} (${series.seriesDescription ?? 'no description'})`;
  const overlay = images
    ? pngImage(
        images.overlayPng,
        `Mid-sagittal slice of ${plainTitle} with disc outlines coloured by Pfirrmann grade and labelled by level`,
        `class="overlay" id="${prefix}-overlay"`,
      )
    : '<p class="missing">No overlay picture was provided for this series.</p>';
  return (
    `<section class="series" id="${prefix}"><h2>${seriesTitle(series, index)}</h2>${facts}` +
    warningsBlock(series, `${prefix}-warnings`) +
    `<div class="series-body"><figure class="overlay-figure">${overlay}` +
    `<figcaption>Mid-sagittal slice: discs outlined by Pfirrmann grade, vertebral bodies in grey.${legend()}</figcaption>` +
    `</figure><div class="series-side">${heatGallery(images?.heat, `${prefix}-gradcam`, used, plainTitle)}</div></div>` +
    levelTable(series.discs, {
      id: `${prefix}-levels`,
      caption: `Findings per level, ${escapeHtml(plainTitle)} (probabilities calibrated; bold: 50% or more)`,
      rowIdPrefix: `${prefix}-level`,
      used,
    }) +
    measuresTable(series.discs, `${prefix}-measures`) +
    '</section>'
  );
}

function studySection(
  study: StudyFindings,
  images: HtmlReportStudyImages | undefined,
  index: number,
  findings: FindingsDocument,
  used: Set<string>,
): string {
  const prefix = `study${index}`;
  const facts = definitionList([
    ['Study key', text(study.key)],
    ['Study Instance UID', text(study.studyInstanceUid)],
    ['Source format', text(study.sourceFormat)],
    ['Analysed', `<time datetime="${text(findings.createdAt)}">${text(findings.createdAt)}</time>`],
    ['Series graded', text(study.series.length)],
  ]);
  const series = study.series
    .map((s, n) => seriesSection(s, images?.series[n], `${prefix}-series${n}`, n, used))
    .join('\n');
  const fused =
    study.series.length > 1
      ? `<section class="fused" id="${prefix}-fused"><h2>Levels fused over the series</h2>` +
        levelTable(study.levels, {
          id: `${prefix}-fused-levels`,
          caption: 'Mean probabilities over the series that found each level',
          rowIdPrefix: `${prefix}-fused-level`,
          used,
          extra: {
            title: 'From series',
            cell: (disc) => text(disc.fromSeries.map((n) => study.series[n]?.seriesNumber ?? n + 1).join(', ')),
          },
        }) +
        '</section>'
      : '';
  const skipped =
    study.skipped.length > 0
      ? `<section class="skipped" id="${prefix}-skipped"><h2>Series not graded</h2><ul>${study.skipped
          .map(
            (s) =>
              `<li><strong>${text(s.seriesDescription ?? s.seriesInstanceUid ?? '(unnamed series)')}</strong>: ` +
              `${s.reasons.map((r) => text(r)).join('; ')}</li>`,
          )
          .join('')}</ul></section>`
      : '';
  return (
    `<article class="study" id="${prefix}" data-study-key="${text(study.key)}">` +
    `<header class="study-header"><h1>Study ${text(study.key)}</h1>${facts}</header>` +
    `${narrativeSection(study, findings.reviewThreshold, prefix)}${series}${fused}${skipped}</article>`
  );
}

function narrativeSentenceHtml(sentence: NarrativeSentence): string {
  const clauses = sentence.clauses
    .map((c) =>
      c.uncertain
        ? `<span class="uncertain" title="below the review threshold">${text(c.text)} <small>${UNCERTAIN_MARK}</small></span>`
        : text(c.text),
    )
    .join(escapeHtml(sentence.separator));
  const level = sentence.level === null ? '' : ` data-level="${text(sentence.level)}"`;
  const lead = sentence.level === null ? text(sentence.lead) : `<strong>${text(sentence.lead)}</strong>`;
  return `<p${level}>${lead}${clauses}.</p>`;
}

/** The draft report in words (src/report/narrative.ts), uncertain clauses highlighted. */
function narrativeSection(study: StudyFindings, reviewThreshold: number, prefix: string): string {
  const narrative = describeStudy(study, reviewThreshold);
  return (
    `<section class="narrative" id="${prefix}-narrative"><h2>Draft report</h2>` +
    '<p class="note">Generated from the findings by fixed templates (no language model); ' +
    `<span class="uncertain">${UNCERTAIN_MARK}</span> marks a statement whose probability is below the review ` +
    `threshold ${fixed(reviewThreshold, 2)}. A draft for a qualified reader to check, not a report.</p>` +
    `<h3>Findings</h3><div class="narrative-findings" id="${prefix}-narrative-findings">` +
    `${narrative.findings.map(narrativeSentenceHtml).join('')}</div>` +
    `<h3>Impression</h3><div class="narrative-impression" id="${prefix}-narrative-impression">` +
    `${narrative.impression.map(narrativeSentenceHtml).join('')}</div></section>`
  );
}

function modelSection(modelCard: HtmlReportModelCard, findings: FindingsDocument): string {
  const model = (role: string, reference: ModelReference) =>
    `<div class="model"><h3>${role}: <span class="variant">${text(reference.variant)}</span></h3>` +
    `<p class="model-dir">${reference.identity ? text(describeIdentity(reference.identity)) : `<code>${text(reference.dir)}</code>`}</p>` +
    (reference.accuracy.length > 0
      ? `<ul class="accuracy">${reference.accuracy.map((line) => `<li>${text(line)}</li>`).join('')}</ul>`
      : '<p>No accuracy figures stated.</p>') +
    '</div>';
  return (
    `<section class="model-card" id="model-card"><h2>Model card: ${text(modelCard.title)}</h2>` +
    (modelCard.lines.length > 0
      ? `<ul class="card-lines">${modelCard.lines.map((line) => `<li>${text(line)}</li>`).join('')}</ul>`
      : '') +
    `<div class="models">${model('Grader', findings.models.grader)}${model('Localizer', findings.models.localizer)}</div>` +
    `<p>A disc is flagged <span class="flag">⚠ needs review</span> when its top Pfirrmann probability is below ` +
    `${fixed(findings.reviewThreshold, 2)}.</p></section>`
  );
}

function colour([r, g, b]: readonly [number, number, number]): string {
  return `rgb(${r} ${g} ${b})`;
}

const STYLE = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #5b6470; --line: #d5dae1; --warn: #fff4d6; --warn-ink: #7a4b00; --alert: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 16px 24px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 22px; margin: 24px 0 8px; } h2 { font-size: 18px; margin: 24px 0 8px; } h3 { font-size: 15px; margin: 16px 0 6px; }
.report-header { border-bottom: 2px solid var(--ink); padding-bottom: 8px; }
.report-header p { margin: 4px 0; color: var(--muted); }
.disclaimer { margin: 12px 0 16px; padding: 12px 16px; border: 2px solid var(--alert); border-radius: 6px; background: #fdecea; color: var(--alert); font-weight: 600; font-size: 15px; }
.disclaimer p { margin: 2px 0; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 4px 0 12px; }
.facts div { display: flex; gap: 6px; } .facts dt { color: var(--muted); } .facts dd { margin: 0; word-break: break-all; }
.sequence { display: inline-block; padding: 0 6px; border-radius: 4px; background: #e8eef7; font-size: 13px; }
.series { border-top: 1px solid var(--line); margin-top: 16px; }
.series-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.overlay-figure { margin: 0; flex: 0 1 520px; max-width: 100%; }
.overlay { display: block; max-width: 100%; height: auto; background: #000; border-radius: 4px; }
.series-side { flex: 1 1 360px; min-width: 0; }
.series-side h3 { margin-top: 0; }
.table-scroll { max-width: 100%; overflow-x: auto; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
.legend { list-style: none; padding: 0; margin: 4px 0 0; display: flex; flex-wrap: wrap; gap: 4px 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; border: 1px solid #0003; border-radius: 2px; vertical-align: -1px; }
${PFIRRMANN_GRADES.map((g) => `.g${g} .swatch, .swatch.g${g} { background: ${colour(PFIRRMANN_COLOURS[g])}; }`).join('\n')}
.swatch.vertebra { background: ${colour(VERTEBRA_COLOUR)}; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; width: 100%; }
caption { text-align: left; color: var(--muted); font-size: 12px; padding-bottom: 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
thead th { background: #f3f5f8; font-weight: 600; vertical-align: bottom; } small { color: var(--muted); font-weight: 400; }
td.num, td.binary { text-align: right; font-variant-numeric: tabular-nums; }
td.binary.likely { font-weight: 700; }
.prob { color: var(--muted); font-size: 12px; }
tr.needs-review { background: var(--warn); } tr.needs-review th { box-shadow: inset 4px 0 0 var(--warn-ink); }
.flag { color: var(--warn-ink); font-weight: 700; white-space: nowrap; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; }
.heat { margin: 0; width: 168px; } .heat img { display: block; width: 160px; height: auto; border-radius: 4px; }
.note { color: var(--muted); font-size: 12px; margin: 2px 0 8px; }
.narrative p { margin: 4px 0; max-width: 110ch; } .uncertain { background: var(--warn); color: var(--warn-ink); border-radius: 3px; padding: 0 2px; }
.warnings.has-warnings { background: var(--warn); border-left: 4px solid var(--warn-ink); padding: 4px 12px; }
.warnings ul { margin: 4px 0; padding-left: 20px; } .warnings.none { color: var(--muted); margin: 4px 0 12px; }
.models { display: flex; flex-wrap: wrap; gap: 8px 32px; } .model-dir { margin: 0; color: var(--muted); }
footer { margin-top: 32px; border-top: 1px solid var(--line); padding-top: 8px; color: var(--muted); font-size: 12px; }
code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 12px; }
@media print {
  @page { margin: 12mm; }
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .series, .fused, .model-card { break-before: page; }
  .study > .series:first-of-type { break-before: auto; }
  tr, figure, .disclaimer { break-inside: avoid; }
  thead { display: table-header-group; }
  .table-scroll { overflow: visible; }
  .overlay-figure { flex-basis: 100%; } .overlay { max-height: 150mm; width: auto; }
  table { font-size: 9pt; }
}
`;

/**
 * The report as one self-contained HTML document: a header with the studies, the research-use
 * disclaimer, and per study and series the labelled overlay picture, a table of findings per level
 * (rows `<tr data-level="L4/L5" id="study0-series0-level-L4-L5">`, `class="needs-review"` where
 * flagged), the quantitative measures with units, Grad-CAM thumbnails, warnings; the levels fused
 * over the series when there are several; the model card; the data credit. Pictures are matched to
 * studies by key and to series by position.
 */
export function renderHtmlReport(input: HtmlReportInput): string {
  const { findings, modelCard } = input;
  const used = new Set<string>();
  const imagesByKey = new Map(input.studies.map((study) => [study.studyKey, study]));
  const studies = findings.studies.map((study, n) =>
    studySection(study, imagesByKey.get(study.key), n, findings, used),
  );
  const title =
    findings.studies.length === 1
      ? `spinegrade report — ${findings.studies[0]!.key}`
      : `spinegrade report — ${findings.studies.length} studies`;
  const extraDisclaimer =
    findings.disclaimer && findings.disclaimer !== RESEARCH_USE_DISCLAIMER ? `<p>${text(findings.disclaimer)}</p>` : '';
  const extraCredit = findings.credit && findings.credit !== SPIDER_CREDIT ? `<p>${text(findings.credit)}</p>` : '';
  return `${SELF_CONTAINED_HTML_START}
<meta name="generator" content="spinegrade ${text(findings.software.version)}">
<title>${text(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header class="report-header">
<h1>${text(title)}</h1>
<p>Analysed <time datetime="${text(findings.createdAt)}">${text(findings.createdAt)}</time> by spinegrade ${text(findings.software.version)} · findings schema ${text(findings.version)}</p>
</header>
<section class="disclaimer" id="disclaimer" role="note" aria-label="Research use only">
<p>${escapeHtml(RESEARCH_USE_DISCLAIMER)}</p>${extraDisclaimer}
</section>
<main>
${studies.join('\n')}
${modelSection(modelCard, findings)}
</main>
<footer id="credit">
<p>${escapeHtml(SPIDER_CREDIT)}</p>${extraCredit}
<p>Generated by spinegrade ${text(findings.software.version)}. This file is self-contained: it loads nothing from the network.</p>
</footer>
</body>
</html>
`;
}
