/**
 * The viewer's state, all of it: the queue of studies, the study open, what the server offers, the
 * image viewer and overlay, and the bits of page bookkeeping. Other modules read and change it only
 * through these functions; the queue view follows it through `onQueueChange`.
 */
import type * as api from './api.js';
import type { MidSlice, SagittalViewer } from './imaging.js';
import type { Overlay } from './overlay.js';
import type { SeriesFindings } from './types.js';

/** A study in the queue, as this tab knows it. */
export interface QueueItem {
  /** Server id once uploaded/imported; a local key before. */
  readonly id: string;
  readonly uploaded: boolean;
  readonly label: string;
  readonly phase: 'uploading' | 'importing' | 'ready' | 'queued' | 'running' | 'done' | 'failed';
  readonly progress: number | null;
  readonly message: string;
  readonly jobId: string | null;
}

/** The study open in the viewer. */
export interface OpenStudy {
  readonly studyId: string;
  readonly series: api.SeriesInfo[];
  /** Index `n` of the series shown (server's list). */
  readonly seriesIndex: number;
  readonly findings: api.FindingsResponse | null;
  /** The findings of the series shown, when it was graded. */
  readonly graded: SeriesFindings | null;
  readonly gradedIndex: number | null;
  readonly mid: MidSlice | null;
  readonly selected: string | null;
  /** The series whose images are loaded (or loading) in the viewer. */
  readonly loaded: { series: number; promise: Promise<boolean> } | null;
}

/** What the progress bar shows when no job of the open study runs: images or headers being read. */
export interface Loading {
  label: string;
  fraction: number | null;
}

const LABELS_KEY = 'spinegrade-labels';
const INITIALS_KEY = 'spinegrade-initials';

const state: {
  queue: QueueItem[];
  current: OpenStudy | null;
  health: api.Health | null;
  viewer: SagittalViewer | null;
  overlay: Overlay | null;
  /** The findings revision drawn on the page now (overlay and table), null before any. */
  drawnRevision: number | null;
  /** Increases on every open, so a slow load of an older study never overwrites a newer one. */
  openToken: number;
  loading: Loading | null;
  askingToken: boolean;
  redrawQueued: boolean;
  heatObjectUrl: string | null;
  overrideLevel: string | null;
  labels: Record<string, string>;
} = {
  queue: [],
  current: null,
  health: null,
  viewer: null,
  overlay: null,
  drawnRevision: null,
  openToken: 0,
  loading: null,
  askingToken: false,
  redrawQueued: false,
  heatObjectUrl: null,
  overrideLevel: null,
  labels: JSON.parse(sessionStorage.getItem(LABELS_KEY) ?? '{}'),
};

const listeners: { queue: (() => void)[]; token: (() => void)[] } = { queue: [], token: [] };

/** Calls `listener` whenever the queue or the open study changes. */
export function onQueueChange(listener: () => void): void {
  listeners.queue.push(listener);
}

function queueChanged(): void {
  for (const listener of listeners.queue) listener();
}

/** Calls `listener` whenever an API token has been entered. */
export function onTokenEntered(listener: () => void): void {
  listeners.token.push(listener);
}

/** Tells the listeners that an API token has been entered. */
export function tokenEntered(): void {
  for (const listener of listeners.token) listener();
}

// Queue ------------------------------------------------------------------------------------------

/** The studies in the queue, newest uploads first. */
export const queueItems = (): readonly QueueItem[] => state.queue;

/** The queue item of a study, if the queue holds it. */
export const findQueueItem = (id: string): QueueItem | undefined => state.queue.find((q) => q.id === id);

/** Adds studies to the queue: at the front (new uploads and imports) or at the end (the server's list). */
export function addQueueItems(items: readonly QueueItem[], where: 'front' | 'end'): void {
  if (where === 'front') state.queue.unshift(...items);
  else state.queue.push(...items);
  queueChanged();
}

/** Takes a study out of the queue. */
export function removeQueueItem(item: QueueItem): void {
  const index = state.queue.indexOf(item);
  if (index >= 0) state.queue.splice(index, 1);
  queueChanged();
}

/** Changes fields of a queue item (the same object: holders of it see the change). */
export function updateQueueItem(item: QueueItem, changes: Partial<QueueItem>): void {
  Object.assign(item, changes);
  queueChanged();
}

/** The label remembered for a study in this tab (the names of uploads and imports). */
export const labelOf = (id: string): string | undefined => state.labels[id];

/** Remembers a study's label for this tab's session. */
export function rememberLabel(id: string, label: string): void {
  state.labels[id] = label;
  sessionStorage.setItem(LABELS_KEY, JSON.stringify(state.labels));
}

// The open study ---------------------------------------------------------------------------------

/** The study open in the viewer, or null. */
export const currentStudy = (): OpenStudy | null => state.current;

/** Opens (or, with null, closes) a study. */
export function setCurrentStudy(study: OpenStudy | null): void {
  state.current = study;
  queueChanged();
}

/** Changes fields of an open study (the same object, which may no longer be the current one). */
export function updateStudy(study: OpenStudy, changes: Partial<OpenStudy>): void {
  Object.assign(study, changes);
}

/** Starts a new open (of a study or a series) and returns its token; every earlier one is stale. */
export const nextOpenToken = (): number => ++state.openToken;

/** Whether `token` is of the latest open. */
export const isLatestOpen = (token: number): boolean => token === state.openToken;

/** The findings revision drawn on the page (overlay and table), null until one is. */
export const drawnRevision = (): number | null => state.drawnRevision;

/** Records the findings revision drawn on the page. */
export function setDrawnRevision(revision: number | null): void {
  state.drawnRevision = revision;
}

// Server, components and page bookkeeping --------------------------------------------------------

/** What the server said about itself, once it has. */
export const serverHealth = (): api.Health | null => state.health;

/** Records what the server said about itself. */
export function setServerHealth(health: api.Health): void {
  state.health = health;
}

/** Sets the image viewer and its overlay, once, when the page starts. */
export function setComponents(viewer: SagittalViewer, overlay: Overlay): void {
  state.viewer = viewer;
  state.overlay = overlay;
}

/** The image viewer; throws before the page has started. */
export function sagittalViewer(): SagittalViewer {
  if (!state.viewer) throw new Error('the image viewer has not started');
  return state.viewer;
}

/** The overlay of the findings; throws before the page has started. */
export function findingsOverlay(): Overlay {
  if (!state.overlay) throw new Error('the overlay has not started');
  return state.overlay;
}

/** What is loading (shown by the progress bar when no job of the open study runs), or null. */
export const loading = (): Loading | null => state.loading;

/** Records what is loading, or with null that nothing is. */
export function setLoadingState(value: Loading | null): void {
  state.loading = value;
}

/** Marks that the token prompt is (or is no longer) open; returns false when it already was. */
export function setAskingToken(asking: boolean): boolean {
  if (asking && state.askingToken) return false;
  state.askingToken = asking;
  return true;
}

/** Marks a redraw as queued for the next frame; returns false when one already was. */
export function queueRedraw(): boolean {
  if (state.redrawQueued) return false;
  state.redrawQueued = true;
  return true;
}

/** Marks the queued redraw as running. */
export function redrawStarted(): void {
  state.redrawQueued = false;
}

/** The object URL of the Grad-CAM map shown, or null. */
export const heatObjectUrl = (): string | null => state.heatObjectUrl;

/** Records the object URL of the Grad-CAM map shown. */
export function setHeatObjectUrl(url: string | null): void {
  state.heatObjectUrl = url;
}

/** The level the override dialog is open for, or null. */
export const overrideLevel = (): string | null => state.overrideLevel;

/** Records the level the override dialog is open for. */
export function setOverrideLevel(level: string | null): void {
  state.overrideLevel = level;
}

/** The reader's initials, as last entered (kept in this browser). */
export const initials = (): string | undefined => localStorage.getItem(INITIALS_KEY) || undefined;

/** Keeps the reader's initials in this browser. */
export function rememberInitials(by: string): void {
  localStorage.setItem(INITIALS_KEY, by);
}
