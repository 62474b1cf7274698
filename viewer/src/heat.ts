/** The Grad-CAM map drawn over the selected disc, where the server offers one. */
import * as api from './api.js';
import { byId } from './dom.js';
import { currentStudy, findingsOverlay, heatObjectUrl, setHeatObjectUrl } from './state.js';
import { redraw } from './viewport.js';

/** Levels with a Grad-CAM map on the series shown (the series' `heatmaps`, see docs/api.md). */
function heatLevels(): string[] {
  const current = currentStudy();
  return current?.series.find((s) => s.index === current.seriesIndex)?.heatmaps ?? [];
}

/** Enables the Grad-CAM toggle where the server offers maps for the series shown. */
export function updateHeatToggle(): void {
  const box = byId<HTMLInputElement>('show-heat');
  const available = Boolean(currentStudy()?.graded) && heatLevels().length > 0;
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

/** Shows the map of the selected disc (else the first with one) when the toggle is on, else none. */
export async function updateHeat(): Promise<void> {
  const c = currentStudy();
  const overlay = findingsOverlay();
  const box = byId<HTMLInputElement>('show-heat');
  const previous = heatObjectUrl();
  if (previous) {
    URL.revokeObjectURL(previous);
    setHeatObjectUrl(null);
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
  const url = await api.fetchImage(api.heatUrl(c.studyId, c.seriesIndex, level));
  setHeatObjectUrl(url);
  overlay.setHeat(url);
  redraw();
}
