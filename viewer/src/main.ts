/**
 * The spinegrade viewer app: a queue of studies (uploaded or imported from the PACS), a sagittal
 * viewer with the findings drawn on the mid-sagittal slice, the per-level table, corrections and
 * exports. Everything goes through the server's API (docs/api.md). This module starts the page and
 * wires the others; the state they share is in state.ts.
 */
import * as api from './api.js';
import { bindCompare } from './compare.js';
import { bindCorrections, onLabelDrop } from './corrections.js';
import { byId } from './dom.js';
import { bindDraft } from './draft.js';
import { bindDropZone } from './dropZone.js';
import { bindExports, renderExports } from './exports.js';
import { bindFindings, renderFindings, selectLevel } from './findings.js';
import type { Vec3 } from './geometry.js';
import { initImaging, SagittalViewer } from './imaging.js';
import { askToken, fail, say } from './messages.js';
import { Overlay } from './overlay.js';
import { bindPacs, loadPacs } from './pacs.js';
import { bindQueue, followAnalysis, queueItemOf, renderQueue } from './queue.js';
import {
  addQueueItems,
  currentStudy,
  drawnRevision,
  onTokenEntered,
  queueItems,
  sagittalViewer,
  setComponents,
  setServerHealth,
} from './state.js';
import { bindSeriesSelect } from './study.js';
import { bindTools } from './tools.js';
import { displayToCanvas, redraw } from './viewport.js';

/** Reads the server's state: health, then the studies it holds (resuming their jobs). */
async function start(): Promise<void> {
  let health: api.Health;
  try {
    health = await api.health();
  } catch (error) {
    fail(error, 'The server did not answer');
    return;
  }
  setServerHealth(health);
  byId('token-button').hidden = !health.auth;
  byId('pacs-section').hidden = !health.dicomweb;
  if (health.dicomweb) void loadPacs();
  try {
    const studies = await api.listStudies();
    const known = new Set(queueItems().map((q) => q.id));
    const added = studies.filter((study) => !known.has(study.id)).map(queueItemOf);
    addQueueItems(added, 'end');
    for (const item of added) {
      if ((item.phase === 'queued' || item.phase === 'running') && item.jobId) void followAnalysis(item, item.jobId);
    }
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
  const viewer = new SagittalViewer(element, redraw);
  const overlay = new Overlay(byId('overlay') as unknown as SVGSVGElement, {
    select: selectLevel,
    drop: onLabelDrop,
  });
  setComponents(viewer, overlay);
  bindTools();
  bindDropZone();
  bindPacs();
  bindSeriesSelect();
  bindFindings();
  bindCorrections();
  bindExports();
  bindCompare();
  bindDraft();
  byId('token-button').addEventListener('click', askToken);
  onTokenEntered(() => void start());
  bindQueue();
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
      studyId: currentStudy()?.studyId ?? null,
      slice: sagittalViewer().index,
      slices: sagittalViewer().count,
      midSlice: currentStudy()?.mid?.index ?? null,
      revision: drawnRevision(),
    }),
  };
  document.body.dataset.ready = 'true';
  await start();
}

main().catch((error: unknown) => {
  console.error(error);
  say(`The viewer could not start: ${(error as Error).message}`, 'error');
});
