/** The viewport's tools: the toolbar (tool, zoom, reset, mid-slice, outlines, Grad-CAM) and its keys. */
import { byId } from './dom.js';
import { updateHeat } from './heat.js';
import type { PrimaryTool } from './imaging.js';
import { currentStudy, findingsOverlay, sagittalViewer } from './state.js';

/** Shows the findings' (mid-sagittal) slice, else the middle one. */
async function goMid(): Promise<void> {
  const current = currentStudy();
  const viewer = sagittalViewer();
  const mid = current?.mid?.index ?? current?.graded?.midSagittalSlice;
  await viewer.goTo(mid ?? Math.floor(viewer.count / 2));
}

/** Wires the toolbar and the viewport's keyboard (keys listed in #viewport-keys). */
export function bindTools(): void {
  const viewer = sagittalViewer();
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
    findingsOverlay().setOutlinesVisible((e.target as HTMLInputElement).checked),
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
