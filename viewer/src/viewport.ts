/** The viewport: the findings' slice geometry, the overlay drawn on it and the status line. */
import { byId } from './dom.js';
import { type Affine, affineFrom } from './geometry.js';
import { say } from './messages.js';
import type { OverlayModel } from './overlay.js';
import { currentStudy, findingsOverlay, queueRedraw, redrawStarted, sagittalViewer, updateStudy } from './state.js';

/** Recomputes the display → patient map of the findings' slice and the overlay model. */
export function updateGeometry(): void {
  const c = currentStudy();
  if (!c) return;
  const overlay = findingsOverlay();
  const info = c.series.find((s) => s.index === c.seriesIndex);
  const g = c.graded;
  if (!g || !info) {
    updateStudy(c, { mid: null });
    overlay.setModel(null);
    redraw();
    return;
  }
  const first = g.discs[0];
  const mid = sagittalViewer().sliceGeometry(
    g.midSagittalSlice,
    info.displayToInstance,
    first ? { px: first.geometry.centerPx, mm: first.geometry.centerMm } : undefined,
  );
  updateStudy(c, { mid });
  if (mid && mid.checkMm > 2) {
    say(
      `The outlines may be misplaced: the findings and the images disagree by ${mid.checkMm.toFixed(1)} mm.`,
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
export function displayToCanvas(): Affine | null {
  const mid = currentStudy()?.mid;
  if (!mid) return null;
  const viewer = sagittalViewer();
  const o = viewer.worldToCanvas(mid.toWorld(0, 0));
  const x = viewer.worldToCanvas(mid.toWorld(1, 0));
  const y = viewer.worldToCanvas(mid.toWorld(0, 1));
  return affineFrom(o, x, y);
}

/** Redraws the overlay and the status line (at most once per frame). */
export function redraw(): void {
  if (!queueRedraw()) return;
  requestAnimationFrame(() => {
    redrawStarted();
    const c = currentStudy();
    const viewer = sagittalViewer();
    const index = viewer.index;
    const onMid = c?.mid ? index === c.mid.index : false;
    findingsOverlay().update(c?.mid ? displayToCanvas() : null, onMid);
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
