/** Opening a study, showing one of its series with its findings, and reading the findings again. */
import * as api from './api.js';
import { byId, h } from './dom.js';
import { renderFindings } from './findings.js';
import { updateHeatToggle } from './heat.js';
import type { StackImage } from './imaging.js';
import { fail } from './messages.js';
import { setLoading } from './progress.js';
import {
  currentStudy,
  findingsOverlay,
  isLatestOpen,
  nextOpenToken,
  type OpenStudy,
  sagittalViewer,
  setCurrentStudy,
  setDrawnRevision,
  updateStudy,
} from './state.js';
import { updateGeometry } from './viewport.js';

/** Closes the open study: the viewer shows its invitation and the findings panel empties. */
export function closeStudy(): void {
  setCurrentStudy(null);
  findingsOverlay().setModel(null);
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

/** Opens a study: its series list, its findings if any, then the series to show. */
export async function openStudy(studyId: string, seriesIndex?: number): Promise<void> {
  const token = nextOpenToken();
  setDrawnRevision(null);
  try {
    setLoading('Reading the study…');
    const series = await api.listSeries(studyId);
    if (!isLatestOpen(token)) return;
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
    if (!isLatestOpen(token)) return;
    setCurrentStudy({
      studyId,
      series,
      seriesIndex: seriesIndex ?? preferredSeries(series),
      findings,
      graded: null,
      gradedIndex: null,
      mid: null,
      selected: null,
      loaded: null,
    });
    renderSeriesSelect();
    await showSeries(token);
  } catch (error) {
    if (isLatestOpen(token)) {
      setLoading(null);
      fail(error, 'Could not open the study');
    }
  }
}

function renderSeriesSelect(): void {
  const current = currentStudy();
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
function applyFindings(c: OpenStudy): void {
  const info = c.series.find((s) => s.index === c.seriesIndex);
  const gradedIndex = info?.findingsSeries ?? null;
  updateStudy(c, {
    gradedIndex,
    graded: c.findings && gradedIndex !== null ? (c.findings.findings.studies[0]?.series[gradedIndex] ?? null) : null,
  });
}

/** Loads the series `seriesIndex` of the open study into the viewer and draws its findings. */
async function showSeries(token: number): Promise<void> {
  const c = currentStudy();
  if (!c) return;
  const info = c.series.find((s) => s.index === c.seriesIndex) ?? c.series[0];
  if (!info) return;
  const viewer = sagittalViewer();
  applyFindings(c);
  updateStudy(c, { mid: null });
  findingsOverlay().setModel(null);
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
  if (!isLatestOpen(token)) return;
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
  updateStudy(c, { loaded: { series: info.index, promise } });
  const shown = await promise.finally(() => {
    if (isLatestOpen(token)) setLoading(null);
  });
  if (!shown || !isLatestOpen(token)) return;
  byId('viewport-message').hidden = true;
  // The findings may have arrived while the images loaded.
  applyFindings(c);
  updateGeometry();
  if (c.graded && viewer.index !== c.graded.midSagittalSlice) await viewer.goTo(c.graded.midSagittalSlice);
  renderFindings();
  updateHeatToggle();
  setDrawnRevision(c.findings?.revision ?? null);
}

/** Reads the findings again (after an analysis or a correction) and shows them. */
export async function refreshFindings(reloadSeries: boolean): Promise<void> {
  const c = currentStudy();
  if (!c) return;
  try {
    if (reloadSeries) {
      updateStudy(c, { series: await api.listSeries(c.studyId) });
      renderSeriesSelect();
    }
    updateStudy(c, { findings: await api.getFindings(c.studyId) });
    if (currentStudy() !== c) return;
    const before = c.graded?.midSagittalSlice;
    const shownGraded = c.series.find((s) => s.index === c.seriesIndex)?.findingsSeries ?? null;
    const wanted = shownGraded === null ? preferredSeries(c.series) : c.seriesIndex;
    if (wanted !== c.seriesIndex || !c.loaded) {
      updateStudy(c, { seriesIndex: wanted });
      renderSeriesSelect();
      await showSeries(nextOpenToken());
      return;
    }
    const shown = await c.loaded.promise.catch(() => false);
    if (!shown || currentStudy() !== c) return;
    applyFindings(c);
    updateGeometry();
    const viewer = sagittalViewer();
    if (c.graded && c.graded.midSagittalSlice !== before) await viewer.goTo(c.graded.midSagittalSlice);
    renderFindings();
    updateHeatToggle();
    setDrawnRevision(c.findings?.revision ?? null);
  } catch (error) {
    fail(error, 'Could not read the findings');
  }
}

/** Wires the series choice: showing another series of the open study. */
export function bindSeriesSelect(): void {
  byId<HTMLSelectElement>('series-select').addEventListener('change', (e) => {
    const current = currentStudy();
    if (!current) return;
    updateStudy(current, { seriesIndex: Number((e.target as HTMLSelectElement).value), selected: null });
    void showSeries(nextOpenToken()).catch((error: unknown) => fail(error, 'Could not show the series'));
  });
}
