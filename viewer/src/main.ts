/**
 * The spinegrade viewer app: a queue of studies (uploaded or imported from the PACS), a sagittal
 * viewer with the findings drawn on the mid-sagittal slice, the per-level table, corrections and
 * exports. Everything goes through the server's API (docs/api.md).
 */
import { levelOfIvdLabel } from '../../src/disc/levels.js';
import * as api from './api.js';
import { byId, h } from './dom.js';
import { type Affine, affineFrom, type Vec3 } from './geometry.js';
import { initImaging, type MidSlice, type PrimaryTool, SagittalViewer, type StackImage } from './imaging.js';
import { Overlay, type OverlayModel } from './overlay.js';
import { type LevelRow, type Overrides, renderMeasures, renderTable } from './table.js';
import type { DiscFindings, SeriesFindings } from './types.js';
import { describeFiles, filesFromDrop, filesFromList } from './upload.js';

// ---------------------------------------------------------------------------------------------
// State

/** A study in the queue, as this tab knows it. */
interface QueueItem {
  /** Server id once uploaded/imported; a local key before. */
  id: string;
  uploaded: boolean;
  label: string;
  phase: 'uploading' | 'importing' | 'ready' | 'queued' | 'running' | 'done' | 'failed';
  progress: number | null;
  message: string;
  jobId: string | null;
}

interface Current {
  studyId: string;
  series: api.SeriesInfo[];
  /** Index `n` of the series shown (server's list). */
  seriesIndex: number;
  findings: api.FindingsResponse | null;
  /** The findings of the series shown, when it was graded. */
  graded: SeriesFindings | null;
  gradedIndex: number | null;
  mid: MidSlice | null;
  selected: string | null;
  /** The series whose images are loaded (or loading) in the viewer. */
  loaded: { series: number; promise: Promise<boolean> } | null;
}

const queue: QueueItem[] = [];
let current: Current | null = null;
let health: api.Health | null = null;
let viewer: SagittalViewer;
let overlay: Overlay;
/** The findings revision drawn on the page now (overlay and table), null before any. */
let drawnRevision: number | null = null;
/** Increases on every open, so a slow load of an older study never overwrites a newer one. */
let openToken = 0;

const LABELS_KEY = 'spinegrade-labels';
const labels: Record<string, string> = JSON.parse(sessionStorage.getItem(LABELS_KEY) ?? '{}');
function rememberLabel(id: string, label: string): void {
  labels[id] = label;
  sessionStorage.setItem(LABELS_KEY, JSON.stringify(labels));
}

const STAGES = ['queued', 'read', 'localize', 'grade', 'explain', 'outputs', 'done'];

function jobFraction(job: api.Job): number | null {
  if (job.status === 'done') return 1;
  const stage = STAGES.indexOf(job.stage);
  if (stage < 0) return null;
  const within = job.total ? Math.min(1, (job.done ?? 0) / job.total) : 0;
  return Math.min(1, (Math.max(0, stage - 1) + within) / (STAGES.length - 2));
}

function jobText(job: api.Job): string {
  if (job.status === 'queued') return job.position ? `queued (${job.position} ahead)` : 'queued';
  if (job.status === 'failed') return `failed: ${job.error?.message ?? 'unknown error'}`;
  if (job.status === 'done') return 'analysed';
  const what = job.kind === 'levels' ? 're-labelling' : job.kind === 'render' ? 'making outputs' : 'analysing';
  return `${what}: ${job.stage}${job.total ? ` ${job.done ?? 0}/${job.total}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Messages and progress

const messages = (): HTMLElement => byId('messages');

function say(text: string, kind: 'info' | 'ok' | 'error' = 'info'): void {
  messages().replaceChildren(h('p', { className: kind }, text));
}

function fail(error: unknown, what: string): void {
  const text = error instanceof Error ? error.message : String(error);
  say(`${what}: ${text}`, 'error');
  if (error instanceof api.ApiError && error.status === 401) askToken();
}

/** What the progress bar may show: the open study's job, or images/headers being read. */
const activity: { loading: { label: string; fraction: number | null } | null } = { loading: null };

function setLoading(label: string | null, fraction: number | null = null): void {
  activity.loading = label === null ? null : { label, fraction };
  renderProgress();
}

/** Shows the open study's running job, else what is loading, else nothing. */
function renderProgress(): void {
  const item = current ? queue.find((q) => q.id === current?.studyId) : undefined;
  const job =
    item && (item.phase === 'queued' || item.phase === 'running')
      ? { label: `${item.label}: ${item.message}`, fraction: item.progress }
      : null;
  const shown = job ?? activity.loading;
  const box = byId('progress');
  // Hidden but keeping its place, so the image does not jump when progress comes and goes.
  box.style.visibility = shown ? 'visible' : 'hidden';
  if (!shown) return;
  byId('progress-label').textContent = shown.label;
  const bar = byId<HTMLProgressElement>('progress-bar');
  if (shown.fraction === null) bar.removeAttribute('value');
  else bar.value = shown.fraction;
}

let askingToken = false;

function askToken(): void {
  if (askingToken) return;
  askingToken = true;
  const value = window.prompt('This server needs an API token (spinegrade serve --token). Token:');
  askingToken = false;
  if (value !== null) {
    api.setToken(value.trim());
    void start();
  }
}

// ---------------------------------------------------------------------------------------------
// Queue

function renderQueue(): void {
  renderProgress();
  const list = byId('queue');
  byId('queue-empty').hidden = queue.length > 0;
  list.replaceChildren(
    ...queue.map((item) => {
      const isCurrent = current?.studyId === item.id;
      return h(
        'li',
        { 'aria-current': isCurrent ? 'true' : 'false', 'data-study': item.id },
        h(
          'button',
          {
            type: 'button',
            className: 'open',
            disabled: !item.uploaded || item.phase === 'importing',
            'aria-label': `Open ${item.label} (${item.phase})`,
            onclick: () => void openStudy(item.id),
          },
          h('span', { className: 'name' }, item.label),
          h('span', { className: `state ${item.phase === 'failed' ? 'failed' : ''}` }, item.message || item.phase),
        ),
        item.phase === 'done' || item.phase === 'failed' || item.phase === 'ready'
          ? null
          : h('progress', {
              max: 1,
              ...(item.progress === null ? {} : { value: item.progress }),
              'aria-label': `${item.label}: ${item.message}`,
            }),
        item.uploaded && item.phase !== 'running' && item.phase !== 'queued'
          ? h(
              'div',
              { className: 'actions' },
              item.phase !== 'importing'
                ? h(
                    'button',
                    {
                      type: 'button',
                      className: 'small',
                      'aria-label': `Analyse ${item.label} again`,
                      onclick: () => void startAnalysis(item),
                    },
                    item.phase === 'done' ? 'Re-analyse' : 'Analyse',
                  )
                : null,
              h(
                'button',
                {
                  type: 'button',
                  className: 'small',
                  'aria-label': `Remove ${item.label} from the server`,
                  onclick: () => void removeStudy(item),
                },
                'Remove',
              ),
            )
          : null,
      );
    }),
  );
}

function queueItem(study: api.Study): QueueItem {
  const a = study.analysis;
  const phase: QueueItem['phase'] =
    study.status === 'importing'
      ? 'importing'
      : study.status === 'failed'
        ? 'failed'
        : a.status === 'none'
          ? 'ready'
          : a.status === 'failed' && a.revision > 0
            ? 'done'
            : a.status;
  const error = typeof study.error === 'string' ? study.error : study.error?.message;
  return {
    id: study.id,
    uploaded: true,
    label: labels[study.id] ?? (study.studyInstanceUid ? `Study …${study.studyInstanceUid.slice(-8)}` : study.id),
    phase,
    progress: null,
    message: phase === 'failed' && error ? `failed: ${error}` : phase === 'done' ? 'analysed' : phase,
    jobId: a.jobId,
  };
}

async function removeStudy(item: QueueItem): Promise<void> {
  if (!window.confirm(`Remove ${item.label} and its files from the server?`)) return;
  try {
    await api.deleteStudy(item.id);
    queue.splice(queue.indexOf(item), 1);
    if (current?.studyId === item.id) closeStudy();
    renderQueue();
  } catch (error) {
    fail(error, 'Could not remove the study');
  }
}

/** Polls a job until it ends, reporting each state. */
async function followJob(jobId: string, onUpdate: (job: api.Job) => void): Promise<api.Job> {
  for (;;) {
    let job: api.Job;
    try {
      job = await api.getJob(jobId);
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 0) {
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      throw error;
    }
    onUpdate(job);
    if (job.status === 'done' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Follows a study's analysis job, keeping its queue item and (if open) the page up to date. */
async function followAnalysis(item: QueueItem, jobId: string): Promise<void> {
  item.jobId = jobId;
  const job = await followJob(jobId, (j) => {
    item.phase = j.status;
    item.progress = jobFraction(j);
    item.message = jobText(j);
    renderQueue();
  });
  if (job.status === 'failed') {
    if (current?.studyId === item.id) say(`${item.label}: analysis ${item.message}`, 'error');
    return;
  }
  if (current?.studyId === item.id) {
    say(`${item.label}: analysed.`, 'ok');
    await refreshFindings(true);
  } else if (!current) await openStudy(item.id);
}

async function startAnalysis(item: QueueItem): Promise<void> {
  try {
    item.phase = 'queued';
    item.message = 'queued';
    renderQueue();
    await followAnalysis(item, await api.analyze(item.id));
  } catch (error) {
    item.phase = 'failed';
    item.message = `failed: ${(error as Error).message}`;
    renderQueue();
    fail(error, `Could not analyse ${item.label}`);
  }
}

async function uploadAndAnalyse(files: api.UploadFile[]): Promise<void> {
  if (!files.length) {
    say('Nothing to upload: no files were found in what was dropped.', 'error');
    return;
  }
  const spacingInput = byId<HTMLInputElement>('pixel-spacing');
  const spacing = spacingInput.value.trim() || null;
  const item: QueueItem = {
    id: `local-${Date.now()}`,
    uploaded: false,
    label: describeFiles(files),
    phase: 'uploading',
    progress: 0,
    message: 'uploading',
    jobId: null,
  };
  queue.unshift(item);
  renderQueue();
  try {
    const result = await api.uploadStudy(files, spacing, (fraction) => {
      item.progress = fraction;
      item.message = `uploading ${Math.round(fraction * 100)}%`;
      renderQueue();
    });
    item.id = result.id;
    item.uploaded = true;
    item.phase = 'ready';
    item.message = `uploaded ${result.files} file(s)${result.skipped.length ? `, ${result.skipped.length} skipped` : ''}`;
    rememberLabel(item.id, item.label);
    renderQueue();
    say(`${item.label}: ${item.message}; analysing.`);
    if (!current) void openStudy(item.id);
    await startAnalysis(item);
  } catch (error) {
    item.phase = 'failed';
    item.progress = null;
    item.message = `failed: ${(error as Error).message}`;
    renderQueue();
    fail(error, `Could not upload ${item.label}`);
  }
}

// ---------------------------------------------------------------------------------------------
// PACS

async function loadPacs(filter = ''): Promise<void> {
  const list = byId('pacs-list');
  list.replaceChildren(h('li', {}, 'Asking the PACS…'));
  try {
    const wanted = filter.trim().toLowerCase();
    const studies = (await api.listPacsStudies()).filter(
      (s) =>
        !wanted ||
        `${s.patientName ?? ''} ${s.patientId ?? ''} ${s.studyDescription ?? ''}`.toLowerCase().includes(wanted),
    );
    if (!studies.length) {
      list.replaceChildren(h('li', {}, 'No studies found.'));
      return;
    }
    list.replaceChildren(
      ...studies.map((s) => {
        const name = (s.patientName ?? '').replace(/\^/g, ' ').trim() || 'Unnamed';
        const label = `${name}${s.studyDescription ? ` — ${s.studyDescription}` : ''}`;
        return h(
          'li',
          { 'data-study-uid': s.studyInstanceUid },
          h('div', { className: 'name' }, label),
          h(
            'div',
            { className: 'hint' },
            [
              formatDate(s.studyDate),
              s.modalities.join('/'),
              s.series !== null ? `${s.series} series` : '',
              s.instances !== null ? `${s.instances} images` : '',
            ]
              .filter(Boolean)
              .join(' · '),
          ),
          h(
            'button',
            {
              type: 'button',
              className: 'small',
              'aria-label': `Open and analyse ${label}`,
              onclick: () => void importAndAnalyse(s.studyInstanceUid, label),
            },
            'Open & analyse',
          ),
        );
      }),
    );
  } catch (error) {
    list.replaceChildren(h('li', {}, `The PACS list failed: ${(error as Error).message}`));
  }
}

function formatDate(date: string | null): string {
  return date && /^\d{8}$/.test(date) ? `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}` : (date ?? '');
}

async function importAndAnalyse(studyInstanceUid: string, label: string): Promise<void> {
  const item: QueueItem = {
    id: `local-${Date.now()}`,
    uploaded: false,
    label,
    phase: 'importing',
    progress: null,
    message: 'retrieving from the PACS',
    jobId: null,
  };
  queue.unshift(item);
  renderQueue();
  try {
    const { id } = await api.importFromPacs(studyInstanceUid);
    item.id = id;
    item.uploaded = true;
    rememberLabel(id, label);
    renderQueue();
    for (;;) {
      const study = await api.getStudy(id);
      if (study.status === 'ready') break;
      if (study.status === 'failed') {
        const error = typeof study.error === 'string' ? study.error : (study.error?.message ?? 'unknown error');
        throw new Error(error);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    item.phase = 'ready';
    item.message = 'retrieved';
    renderQueue();
    if (!current) void openStudy(id);
    await startAnalysis(item);
  } catch (error) {
    item.phase = 'failed';
    item.message = `failed: ${(error as Error).message}`;
    renderQueue();
    fail(error, `Could not import ${label}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Opening a study and showing a series

function closeStudy(): void {
  current = null;
  overlay.setModel(null);
  byId('viewport-message').hidden = false;
  byId('viewport-message').textContent = 'Open a study to begin.';
  renderFindings();
}

/** The series to show first: the first graded one, else the first sagittal one, else the first. */
function preferredSeries(series: readonly api.SeriesInfo[]): number {
  const graded = series
    .filter((s) => s.findingsSeries !== null)
    .sort((a, b) => (a.findingsSeries ?? 0) - (b.findingsSeries ?? 0));
  return (graded[0] ?? series.find((s) => s.plane === 'sagittal') ?? series[0])?.index ?? 0;
}

async function openStudy(studyId: string, seriesIndex?: number): Promise<void> {
  const token = ++openToken;
  drawnRevision = null;
  try {
    setLoading('Reading the study…');
    const series = await api.listSeries(studyId);
    if (token !== openToken) return;
    if (!series.length) throw new Error('the study holds no series');
    const study = await api.getStudy(studyId);
    let findings: api.FindingsResponse | null = null;
    if (study.analysis.revision > 0 || study.analysis.status === 'done') {
      try {
        findings = await api.getFindings(studyId);
      } catch (error) {
        if (!(error instanceof api.ApiError && error.code === 'NOT_ANALYZED')) throw error;
      }
    }
    if (token !== openToken) return;
    current = {
      studyId,
      series,
      seriesIndex: seriesIndex ?? preferredSeries(series),
      findings,
      graded: null,
      gradedIndex: null,
      mid: null,
      selected: null,
      loaded: null,
    };
    renderQueue();
    renderSeriesSelect();
    await showSeries(token);
  } catch (error) {
    if (token === openToken) {
      setLoading(null);
      fail(error, 'Could not open the study');
    }
  }
}

function renderSeriesSelect(): void {
  const select = byId<HTMLSelectElement>('series-select');
  select.disabled = !current;
  select.replaceChildren(
    ...(current?.series ?? []).map((s) =>
      h(
        'option',
        { value: String(s.index), selected: s.index === current?.seriesIndex },
        `${s.seriesNumber ?? s.index + 1}: ${s.seriesDescription ?? s.format} (${s.plane}${s.findingsSeries !== null ? ', graded' : ''})`,
      ),
    ),
  );
}

/** Points `graded` at the findings of the series shown (when it was graded). */
function applyFindings(c: Current): void {
  const info = c.series.find((s) => s.index === c.seriesIndex);
  c.gradedIndex = info?.findingsSeries ?? null;
  c.graded =
    c.findings && c.gradedIndex !== null ? (c.findings.findings.studies[0]?.series[c.gradedIndex] ?? null) : null;
}

/** Loads the series `current.seriesIndex` into the viewer and draws its findings. */
async function showSeries(token: number): Promise<void> {
  const c = current;
  if (!c) return;
  const info = c.series.find((s) => s.index === c.seriesIndex) ?? c.series[0];
  if (!info) return;
  applyFindings(c);
  c.mid = null;
  overlay.setModel(null);
  renderFindings();
  let images: StackImage[];
  if (info.format === 'dicom' && info.instancesAreSagittalSlices) {
    const instances = await api.listInstances(c.studyId, info.index);
    images = instances.map((i) => ({ kind: 'dicom', url: api.apiUrl(i.url), sopInstanceUid: i.sopInstanceUid }));
  } else {
    images = Array.from({ length: info.sagittalSlices }, (_, k) => ({
      kind: 'png',
      url: api.sliceUrl(c.studyId, info.index, k),
      sopInstanceUid: null,
    }));
  }
  if (token !== openToken) return;
  if (!images.length) {
    byId('viewport-message').hidden = false;
    byId('viewport-message').textContent = 'This series has no sagittal slices to show.';
    return;
  }
  const start = c.graded?.midSagittalSlice ?? Math.floor(images.length / 2);
  setLoading('Loading images…', 0);
  const promise = viewer.show(images, { startIndex: start, pixelSpacing: info.display.pixelSpacing }, (done, total) =>
    setLoading(`Loading images ${done}/${total}…`, total ? done / total : null),
  );
  c.loaded = { series: info.index, promise };
  const shown = await promise.finally(() => {
    if (token === openToken) setLoading(null);
  });
  if (!shown || token !== openToken) return;
  byId('viewport-message').hidden = true;
  // The findings may have arrived while the images loaded.
  applyFindings(c);
  updateGeometry();
  if (c.graded && viewer.index !== c.graded.midSagittalSlice) await viewer.goTo(c.graded.midSagittalSlice);
  renderFindings();
  updateHeatToggle();
  drawnRevision = c.findings?.revision ?? null;
}

/** Recomputes the display → patient map of the findings' slice and the overlay model. */
function updateGeometry(): void {
  const c = current;
  if (!c) return;
  const info = c.series.find((s) => s.index === c.seriesIndex);
  const g = c.graded;
  if (!g || !info) {
    c.mid = null;
    overlay.setModel(null);
    redraw();
    return;
  }
  const first = g.discs[0];
  c.mid = viewer.sliceGeometry(
    g.midSagittalSlice,
    info.displayToInstance,
    first ? { px: first.geometry.centerPx, mm: first.geometry.centerMm } : undefined,
  );
  if (c.mid && c.mid.checkMm > 2) {
    say(
      `The outlines may be misplaced: the findings and the images disagree by ${c.mid.checkMm.toFixed(1)} mm.`,
      'error',
    );
  }
  const model: OverlayModel = {
    size: g.sliceSize,
    discs: g.discs.map((d) => ({
      level: d.level,
      grade: d.pfirrmann.grade,
      needsReview: d.needsReview,
      center: d.geometry.centerPx,
      outline: d.geometry.outlinePx,
      description: `${d.level}: Pfirrmann ${d.pfirrmann.grade}${d.needsReview ? ', needs review' : ''}. Select to move this label.`,
    })),
    vertebrae: g.vertebrae.map((v) => ({ name: v.name, center: v.centerPx, outline: v.outlinePx })),
  };
  overlay.setModel(model);
  overlay.setSelected(c.selected);
  redraw();
}

/** The display → canvas map of the findings' slice under the current camera. */
function displayToCanvas(): Affine | null {
  const mid = current?.mid;
  if (!mid) return null;
  const o = viewer.worldToCanvas(mid.toWorld(0, 0));
  const x = viewer.worldToCanvas(mid.toWorld(1, 0));
  const y = viewer.worldToCanvas(mid.toWorld(0, 1));
  return affineFrom(o, x, y);
}

let redrawQueued = false;
/** Redraws the overlay and the status line (at most once per frame). */
function redraw(): void {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    const c = current;
    const index = viewer.index;
    const onMid = c?.mid ? index === c.mid.index : false;
    overlay.update(c?.mid ? displayToCanvas() : null, onMid);
    const count = viewer.count;
    const info = c?.series.find((s) => s.index === c.seriesIndex);
    const sliceText = count
      ? `Slice ${index + 1} of ${count}${onMid ? ' (mid-sagittal: findings drawn here)' : c?.mid ? ` — findings are on slice ${c.mid.index + 1}` : ''}`
      : '';
    byId('slice-info').textContent = sliceText;
    const voi = count ? viewer.voi : null;
    byId('voi-info').textContent = voi ? `W ${Math.round(voi.width)} L ${Math.round(voi.center)}` : '';
    byId('viewport').setAttribute(
      'aria-label',
      count
        ? `${info?.seriesDescription ?? 'Series'}: ${sliceText}. ${c?.graded ? `${c.graded.discs.length} discs outlined.` : 'Not analysed yet.'}`
        : 'No study open',
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Findings: table, corrections, exports

/** The rows of the table: the discs of the series shown, or the fused levels when it was not graded. */
function rowsOf(c: Current): LevelRow[] {
  const study = c.findings?.findings.studies[0];
  if (!study) return [];
  const series = c.gradedIndex !== null ? study.series[c.gradedIndex] : undefined;
  return series ? series.discs : study.levels;
}

/** The grade overrides in force (applied, not superseded or replaced), by `level|finding`. */
function overridesOf(c: Current): Overrides {
  const map = new Map<string, { previous: unknown; reason: string }>();
  for (const k of c.findings?.corrections ?? []) {
    if (k.type !== 'grade' || k.status !== 'applied' || !k.level || !k.finding) continue;
    if (k.seriesIndex !== null && k.seriesIndex !== undefined && k.seriesIndex !== c.gradedIndex) continue;
    map.set(`${k.level}|${k.finding}`, { previous: k.previous, reason: k.reason ?? '' });
  }
  return map;
}

function renderFindings(): void {
  const c = current;
  const summary = byId('findings-summary');
  const table = byId<HTMLTableElement>('levels-table');
  const moveDisc = byId<HTMLSelectElement>('move-disc');
  const moveLevel = byId<HTMLSelectElement>('move-level');
  const findings = c?.findings?.findings;
  if (!c || !findings) {
    summary.textContent = c
      ? 'Not analysed yet: the findings appear here when the analysis is done.'
      : 'No findings yet.';
    renderTable(table, [], new Map(), null, { select() {}, override() {} });
    renderMeasures(byId<HTMLTableElement>('measures-table'), []);
    moveDisc.replaceChildren();
    byId<HTMLButtonElement>('move-apply').disabled = true;
    renderExports();
    renderCorrections();
    return;
  }
  const rows = rowsOf(c);
  const g = c.graded;
  const facts = [
    g ? `${g.sequence} series "${g.seriesDescription ?? ''}"` : 'Levels fused over the graded series',
    g ? `mid-sagittal slice ${g.midSagittalSlice + 1}` : '',
    g?.levelOverride ? `labels shifted by ${g.levelOverride > 0 ? '+' : ''}${g.levelOverride}` : '',
    g?.possibleTransitional ? 'possible transitional anatomy' : '',
    `revision ${c.findings?.revision ?? 0}`,
    `review below p ${findings.reviewThreshold}`,
  ].filter(Boolean);
  summary.replaceChildren(
    h('span', {}, facts.join(' · ')),
    ...(g?.warnings ?? []).map((w) => h('span', { className: 'hint', style: 'display:block' }, `⚠ ${w}`)),
  );
  renderTable(table, rows, overridesOf(c), c.selected, { select: selectLevel, override: openOverride });
  renderMeasures(byId<HTMLTableElement>('measures-table'), rows);
  const discs: readonly DiscFindings[] = g?.discs ?? [];
  moveDisc.replaceChildren(
    ...discs.map((d) =>
      h('option', { value: d.level, selected: d.level === c.selected }, `${d.level} (as labelled now)`),
    ),
  );
  if (!moveLevel.options.length) {
    const levels = Array.from({ length: 9 }, (_, i) => levelOfIvdLabel(8 - i));
    moveLevel.replaceChildren(...levels.map((l) => h('option', { value: l }, l)));
  }
  byId<HTMLButtonElement>('move-apply').disabled = !discs.length;
  renderExports();
  renderCorrections();
}

function selectLevel(level: string): void {
  const c = current;
  if (!c) return;
  c.selected = c.selected === level ? null : level;
  overlay.setSelected(c.selected);
  for (const row of byId<HTMLTableElement>('levels-table').querySelectorAll('tbody tr')) {
    row.classList.toggle('selected', (row as HTMLElement).dataset.level === c.selected);
    row
      .querySelector('.level-button')
      ?.setAttribute('aria-pressed', String((row as HTMLElement).dataset.level === c.selected));
  }
  if (c.selected) {
    byId<HTMLSelectElement>('move-disc').value = c.selected;
    byId<HTMLSelectElement>('move-level').value = c.selected;
  }
  void updateHeat();
}

/** Sends a level correction: the disc now labelled `from` is really `to`. */
async function moveLabel(from: string, to: string): Promise<void> {
  const c = current;
  const disc = c?.graded?.discs.find((d) => d.level === from);
  if (!c || !disc) return;
  if (from === to) {
    say(`${from} is already labelled ${to}.`);
    return;
  }
  // A pixel of the first graded series' slice, or (for any other series) the disc's patient point.
  const anchor =
    c.gradedIndex === 0
      ? { level: to, atPx: [disc.geometry.centerPx[0], disc.geometry.centerPx[1]] as [number, number] }
      : { level: to, atMm: [...disc.geometry.centerMm] as [number, number, number] };
  const item = queue.find((q) => q.id === c.studyId);
  try {
    say(`Re-labelling: the disc labelled ${from} becomes ${to}; grading again…`);
    const jobId = await api.correctLevels(c.studyId, { anchor }, initials());
    const job = await followJob(jobId, (j) => {
      if (item) {
        item.phase = j.status === 'done' ? 'done' : j.status;
        item.progress = jobFraction(j);
        item.message = jobText(j);
        renderQueue();
      } else setLoading(`Re-labelling and re-grading: ${j.stage}`, jobFraction(j));
    });
    setLoading(null);
    if (job.status === 'failed') {
      if (item) {
        item.phase = 'done';
        item.message = 'level correction failed';
        renderQueue();
      }
      say(`The level correction failed: ${job.error?.message ?? 'unknown error'}`, 'error');
      await refreshFindings(false);
      return;
    }
    c.selected = to;
    await refreshFindings(false);
    say(`Labels moved (${from} → ${to}) and discs re-graded.`, 'ok');
  } catch (error) {
    setLoading(null);
    fail(error, 'Could not move the label');
  }
}

function onDrop(level: string, at: [number, number]): void {
  const c = current;
  const g = c?.graded;
  if (!c || !g) return;
  const target = overlay.nearestDisc(at);
  const reach = 15 / Math.min(...g.pixelSpacing);
  if (!target || Math.hypot(target.center[0] - at[0], target.center[1] - at[1]) > reach) {
    say('Drop the label onto a disc (within 15 mm of its centre).', 'error');
    return;
  }
  if (target.level === level) return;
  if (
    !window.confirm(`Name the disc now labelled ${target.level} "${level}"? Every level is re-labelled and re-graded.`)
  )
    return;
  void moveLabel(target.level, level);
}

/** Reads the findings again (after an analysis or a correction) and shows them. */
async function refreshFindings(reloadSeries: boolean): Promise<void> {
  const c = current;
  if (!c) return;
  try {
    if (reloadSeries) {
      c.series = await api.listSeries(c.studyId);
      renderSeriesSelect();
    }
    c.findings = await api.getFindings(c.studyId);
    if (current !== c) return;
    const before = c.graded?.midSagittalSlice;
    const shownGraded = c.series.find((s) => s.index === c.seriesIndex)?.findingsSeries ?? null;
    const wanted = shownGraded === null ? preferredSeries(c.series) : c.seriesIndex;
    if (wanted !== c.seriesIndex || !c.loaded) {
      c.seriesIndex = wanted;
      renderSeriesSelect();
      await showSeries(++openToken);
      return;
    }
    const shown = await c.loaded.promise.catch(() => false);
    if (!shown || current !== c) return;
    applyFindings(c);
    updateGeometry();
    if (c.graded && c.graded.midSagittalSlice !== before) await viewer.goTo(c.graded.midSagittalSlice);
    renderFindings();
    updateHeatToggle();
    drawnRevision = c.findings?.revision ?? null;
  } catch (error) {
    fail(error, 'Could not read the findings');
  }
}

function initials(): string | undefined {
  return localStorage.getItem('spinegrade-initials') || undefined;
}

// Override dialog ------------------------------------------------------------------------------

let overrideLevel: string | null = null;

const FINDINGS: { key: string; label: string; values: { value: string; label: string }[] }[] = [
  {
    key: 'pfirrmann',
    label: 'Pfirrmann grade',
    values: [1, 2, 3, 4, 5].map((v) => ({ value: String(v), label: String(v) })),
  },
  { key: 'modic', label: 'Modic type', values: [0, 1, 2, 3].map((v) => ({ value: String(v), label: String(v) })) },
  ...api.BINARY_FINDINGS.map((key) => ({
    key,
    label: key.replace(/([A-Z])/g, ' $1').toLowerCase(),
    values: [
      { value: 'true', label: 'present' },
      { value: 'false', label: 'absent' },
    ],
  })),
];

function fillOverrideValues(): void {
  const finding = byId<HTMLSelectElement>('override-finding').value;
  const spec = FINDINGS.find((f) => f.key === finding);
  byId<HTMLSelectElement>('override-value').replaceChildren(
    ...(spec?.values ?? []).map((v) => h('option', { value: v.value }, v.label)),
  );
}

function openOverride(level: string): void {
  overrideLevel = level;
  const row = current ? rowsOf(current).find((r) => r.level === level) : undefined;
  byId('override-context').textContent = row
    ? `${level}: the model says Pfirrmann ${row.pfirrmann.grade}, Modic ${row.modic.grade}. Your value replaces it in every export; the model's stays in the original.`
    : level;
  const finding = byId<HTMLSelectElement>('override-finding');
  if (!finding.options.length) finding.replaceChildren(...FINDINGS.map((f) => h('option', { value: f.key }, f.label)));
  finding.value = 'pfirrmann';
  fillOverrideValues();
  if (row) byId<HTMLSelectElement>('override-value').value = String(row.pfirrmann.grade);
  byId<HTMLTextAreaElement>('override-reason').value = '';
  byId<HTMLInputElement>('override-by').value = initials() ?? '';
  byId<HTMLDialogElement>('override-dialog').showModal();
}

async function submitOverride(): Promise<void> {
  const c = current;
  const level = overrideLevel;
  if (!c || !level) return;
  const finding = byId<HTMLSelectElement>('override-finding').value;
  const raw = byId<HTMLSelectElement>('override-value').value;
  const reason = byId<HTMLTextAreaElement>('override-reason').value.trim();
  const by = byId<HTMLInputElement>('override-by').value.trim();
  if (by) localStorage.setItem('spinegrade-initials', by);
  const value = raw === 'true' ? true : raw === 'false' ? false : Number(raw);
  try {
    const revision = await api.correctGrade(c.studyId, { level, finding, value, reason, ...(by ? { by } : {}) });
    say(`${level}: ${finding} set to ${raw} (revision ${revision}).`, 'ok');
    await refreshFindings(false);
  } catch (error) {
    fail(error, 'Could not save the override');
  }
}

// Exports and corrections ------------------------------------------------------------------------

function renderExports(): void {
  const c = current;
  const ready = Boolean(c?.findings);
  const isDicom = Boolean(c?.series.some((s) => s.format === 'dicom'));
  byId('exports').replaceChildren(
    ...api.EXPORTS.map((e) => {
      const available = ready && (isDicom || (e.file !== 'sr.dcm' && e.file !== 'seg.dcm'));
      return h(
        'a',
        {
          href: available && c ? api.exportUrl(c.studyId, e.file) : '#',
          download: e.file === 'report.html' ? false : '',
          target: e.file === 'report.html' ? '_blank' : false,
          rel: 'noopener',
          'aria-disabled': available ? 'false' : 'true',
          'data-export': e.file,
        },
        e.label,
      );
    }),
  );
  const store = byId<HTMLButtonElement>('store-button');
  store.disabled = !(ready && isDicom && health?.dicomweb);
  store.title = !health?.dicomweb
    ? 'The server has no PACS (spinegrade serve --dicomweb <url>)'
    : isDicom
      ? 'STOW-RS the DICOM SR and SEG of the current findings to the PACS'
      : 'Only DICOM studies can be stored';
}

function renderCorrections(): void {
  const list = byId('corrections');
  const corrections = current?.findings?.corrections ?? [];
  if (!corrections.length) {
    list.replaceChildren(h('li', { className: 'hint' }, 'None: the findings are the model’s.'));
    return;
  }
  list.replaceChildren(
    ...corrections.map((k) => {
      const what =
        k.type === 'levels'
          ? `Levels: ${
              k.levelOverride && 'anchor' in k.levelOverride
                ? `disc named ${k.levelOverride.anchor.level}`
                : k.levelOverride && 'shift' in k.levelOverride
                  ? `shift ${k.levelOverride.shift}`
                  : 'moved'
            }`
          : `${k.level} ${k.finding}: ${String(k.previous ?? '?')} → ${String(k.value)} — “${k.reason ?? ''}”`;
      return h(
        'li',
        { 'data-status': k.status },
        what,
        ' ',
        h('span', { className: 'status' }, `(${k.status}, ${k.by}, ${new Date(k.at).toLocaleString()})`),
      );
    }),
  );
}

async function storeToPacs(): Promise<void> {
  const c = current;
  if (!c) return;
  const button = byId<HTMLButtonElement>('store-button');
  button.disabled = true;
  try {
    say('Storing SR and SEG to the PACS…');
    const stored = await api.storeToPacs(c.studyId);
    say(`Stored to the PACS: ${stored.map((s) => s.kind.toUpperCase()).join(' and ')}.`, 'ok');
  } catch (error) {
    fail(error, 'Could not store to the PACS');
  } finally {
    button.disabled = false;
  }
}

// Grad-CAM --------------------------------------------------------------------------------------

let heatObjectUrl: string | null = null;

/** Levels with a Grad-CAM map on the series shown (the series' `heatmaps`, see docs/api.md). */
function heatLevels(): string[] {
  const info = current?.series.find((s) => s.index === current?.seriesIndex) as
    | (api.SeriesInfo & { heatmaps?: unknown })
    | undefined;
  return Array.isArray(info?.heatmaps) ? info.heatmaps.filter((l): l is string => typeof l === 'string') : [];
}

/** Enables the Grad-CAM toggle where the server offers maps for the series shown. */
function updateHeatToggle(): void {
  const box = byId<HTMLInputElement>('show-heat');
  const available = Boolean(current?.graded) && heatLevels().length > 0;
  box.disabled = !available;
  if (!available) box.checked = false;
  box.parentElement?.setAttribute(
    'title',
    available
      ? 'Grad-CAM of the selected disc’s Pfirrmann grade'
      : 'The server offers no Grad-CAM maps for this series',
  );
  void updateHeat();
}

async function updateHeat(): Promise<void> {
  const c = current;
  const box = byId<HTMLInputElement>('show-heat');
  if (heatObjectUrl) {
    URL.revokeObjectURL(heatObjectUrl);
    heatObjectUrl = null;
  }
  if (!c || !box.checked || box.disabled || !c.graded) {
    overlay.setHeat(null);
    return;
  }
  const levels = heatLevels();
  const level = c.selected && levels.includes(c.selected) ? c.selected : levels[0];
  if (!level) {
    overlay.setHeat(null);
    return;
  }
  heatObjectUrl = await api.fetchImage(api.heatUrl(c.studyId, c.seriesIndex, level));
  overlay.setHeat(heatObjectUrl);
  redraw();
}

// ---------------------------------------------------------------------------------------------
// Wiring

function bindTools(): void {
  const buttons = [...document.querySelectorAll<HTMLButtonElement>('[data-tool]')];
  const choose = (tool: PrimaryTool): void => {
    viewer.setPrimaryTool(tool);
    for (const b of buttons) b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
  };
  for (const b of buttons) b.addEventListener('click', () => choose(b.dataset.tool as PrimaryTool));
  byId('zoom-in').addEventListener('click', () => viewer.zoomBy(1.25));
  byId('zoom-out').addEventListener('click', () => viewer.zoomBy(0.8));
  byId('reset-view').addEventListener('click', () => viewer.resetView());
  byId('go-mid').addEventListener('click', () => void goMid());
  byId<HTMLInputElement>('show-outlines').addEventListener('change', (e) =>
    overlay.setOutlinesVisible((e.target as HTMLInputElement).checked),
  );
  byId('show-heat').addEventListener('change', () => void updateHeat());
  byId('viewport').addEventListener('keydown', (event) => {
    const k = event.key;
    const step = event.shiftKey ? 20 : 0;
    const actions: Record<string, () => void> = {
      ArrowUp: () => (step ? viewer.panBy(0, -step) : void viewer.scrollBy(-1)),
      ArrowDown: () => (step ? viewer.panBy(0, step) : void viewer.scrollBy(1)),
      ArrowLeft: () => (step ? viewer.panBy(-step, 0) : void viewer.scrollBy(-1)),
      ArrowRight: () => (step ? viewer.panBy(step, 0) : void viewer.scrollBy(1)),
      PageUp: () => void viewer.scrollBy(-5),
      PageDown: () => void viewer.scrollBy(5),
      Home: () => void viewer.goTo(0),
      End: () => void viewer.goTo(viewer.count - 1),
      m: () => void goMid(),
      M: () => void goMid(),
      '+': () => viewer.zoomBy(1.25),
      '=': () => viewer.zoomBy(1.25),
      '-': () => viewer.zoomBy(0.8),
      '0': () => viewer.resetView(),
      '[': () => viewer.adjustWindow(0.9, 0),
      ']': () => viewer.adjustWindow(1.1, 0),
      ';': () => viewer.adjustWindow(1, -0.05),
      "'": () => viewer.adjustWindow(1, 0.05),
      w: () => byId('viewer-panel').querySelector<HTMLButtonElement>('[data-tool="windowLevel"]')?.click(),
      p: () => byId('viewer-panel').querySelector<HTMLButtonElement>('[data-tool="pan"]')?.click(),
      z: () => byId('viewer-panel').querySelector<HTMLButtonElement>('[data-tool="zoom"]')?.click(),
    };
    const action = actions[k];
    if (action && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      action();
    }
  });
}

async function goMid(): Promise<void> {
  const mid = current?.mid?.index ?? current?.graded?.midSagittalSlice;
  await viewer.goTo(mid ?? Math.floor(viewer.count / 2));
}

function bindOpening(): void {
  const zone = byId('drop-zone');
  let depth = 0;
  document.addEventListener('dragenter', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    depth++;
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove('dragging');
  });
  document.addEventListener('dragover', (e) => {
    if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
  });
  document.addEventListener('drop', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    depth = 0;
    document.body.classList.remove('dragging');
    const data = e.dataTransfer;
    void filesFromDrop(data).then(uploadAndAnalyse, (error: unknown) => fail(error, 'Could not read what was dropped'));
  });
  const fileInput = byId<HTMLInputElement>('file-input');
  const folderInput = byId<HTMLInputElement>('folder-input');
  zone.addEventListener('click', () => fileInput.click());
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      fileInput.click();
    }
  });
  for (const input of [fileInput, folderInput]) {
    input.addEventListener('change', () => {
      const files = filesFromList(input.files);
      input.value = '';
      void uploadAndAnalyse(files);
    });
  }
  byId<HTMLFormElement>('pacs-search').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadPacs(byId<HTMLInputElement>('pacs-filter').value);
  });
}

function bindFindings(): void {
  byId<HTMLSelectElement>('series-select').addEventListener('change', (e) => {
    if (!current) return;
    current.seriesIndex = Number((e.target as HTMLSelectElement).value);
    current.selected = null;
    void showSeries(++openToken).catch((error: unknown) => fail(error, 'Could not show the series'));
  });
  byId<HTMLFormElement>('move-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const from = byId<HTMLSelectElement>('move-disc').value;
    const to = byId<HTMLSelectElement>('move-level').value;
    void moveLabel(from, to);
  });
  byId<HTMLSelectElement>('move-disc').addEventListener('change', (e) => {
    const level = (e.target as HTMLSelectElement).value;
    if (current && current.selected !== level) selectLevel(level);
  });
  byId('store-button').addEventListener('click', () => void storeToPacs());
  byId('override-finding').addEventListener('change', fillOverrideValues);
  byId('override-cancel').addEventListener('click', () => byId<HTMLDialogElement>('override-dialog').close());
  byId<HTMLFormElement>('override-form').addEventListener('submit', (e) => {
    e.preventDefault();
    byId<HTMLDialogElement>('override-dialog').close();
    void submitOverride();
  });
  byId('token-button').addEventListener('click', askToken);
}

/** Reads the server's state: health, then the studies it holds (resuming their jobs). */
async function start(): Promise<void> {
  try {
    health = await api.health();
  } catch (error) {
    fail(error, 'The server did not answer');
    return;
  }
  byId('token-button').hidden = !health.auth;
  byId('pacs-section').hidden = !health.dicomweb;
  if (health.dicomweb) void loadPacs();
  try {
    const studies = await api.listStudies();
    for (const study of studies) {
      if (queue.some((q) => q.id === study.id)) continue;
      const item = queueItem(study);
      queue.push(item);
      if ((item.phase === 'queued' || item.phase === 'running') && item.jobId) void followAnalysis(item, item.jobId);
    }
    renderQueue();
  } catch (error) {
    fail(error, 'Could not list the studies');
  }
  renderExports();
}

/** What the browser tests (and a curious reader in the console) can ask of the app. */
export interface ViewerDebug {
  /** Canvas position (CSS pixels, relative to the viewport) of a patient point. */
  worldToCanvas(point: Vec3): [number, number];
  /** Canvas position of a point of the image shown, cornerstone image coordinates (pixel centres at +0.5). */
  imageToCanvas(column: number, row: number): [number, number] | null;
  /** Canvas position of a display pixel of the findings' slice, or null. */
  displayToCanvas(x: number, y: number): [number, number] | null;
  /** `revision`: the findings revision drawn (overlay and table), null until one is. */
  state(): { studyId: string | null; slice: number; slices: number; midSlice: number | null; revision: number | null };
}

declare global {
  interface Window {
    spinegrade?: ViewerDebug;
  }
}

async function main(): Promise<void> {
  await initImaging();
  const element = byId<HTMLDivElement>('viewport');
  // Focusable: the keyboard drives the viewer (role="application"; keys in #viewport-keys).
  element.tabIndex = 0;
  viewer = new SagittalViewer(element, redraw);
  overlay = new Overlay(byId('overlay') as unknown as SVGSVGElement, {
    select: selectLevel,
    drop: onDrop,
  });
  bindTools();
  bindOpening();
  bindFindings();
  renderFindings();
  renderQueue();
  window.spinegrade = {
    worldToCanvas: (point) => viewer.worldToCanvas(point),
    imageToCanvas: (column, row) => viewer.imageToCanvas(column, row),
    displayToCanvas: (x, y) => {
      const m = displayToCanvas();
      return m ? [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]] : null;
    },
    state: () => ({
      studyId: current?.studyId ?? null,
      slice: viewer.index,
      slices: viewer.count,
      midSlice: current?.mid?.index ?? null,
      revision: drawnRevision,
    }),
  };
  document.body.dataset.ready = 'true';
  await start();
}

main().catch((error: unknown) => {
  console.error(error);
  say(`The viewer could not start: ${(error as Error).message}`, 'error');
});
