/**
 * The server's JSON API (docs/api.md), as the viewer uses it. Every call goes to the origin the app
 * was served from; every error the server sends (`{ error: { code, message } }`) becomes an
 * {@link ApiError}.
 */

import type { PacsStudy, SeriesInfo } from '../../src/server/apiTypes.js';
import type { FindingsDocument } from './types.js';

export { BINARY_FINDINGS } from '../../src/disc/findings.js';
export type { PacsStudy, SeriesInfo } from '../../src/server/apiTypes.js';

/** An HTTP error from the API, with the server's code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `GET /api/health`. */
export interface Health {
  ok: boolean;
  version: string;
  dicomweb: boolean;
  auth: boolean;
  queue?: { running: number; queued: number; concurrency: number };
}

/** The study object. */
export interface Study {
  id: string;
  status: 'importing' | 'ready' | 'failed';
  source: 'upload' | 'dicomweb';
  studyInstanceUid: string | null;
  createdAt: string;
  files: number;
  bytes: number;
  error: string | { code?: string; message?: string } | null;
  analysis: {
    status: 'none' | 'queued' | 'running' | 'done' | 'failed';
    jobId: string | null;
    revision: number;
    analyzedAt: string | null;
    corrections: number;
  };
}

/** One DICOM instance of a series, in slice order. */
export interface Instance {
  sliceIndex: number;
  fileId: string;
  sopInstanceUid: string;
  url: string;
}

/** A job (`GET /api/jobs/{id}`). */
export interface Job {
  id: string;
  studyId: string;
  kind: 'analyze' | 'levels' | 'render';
  status: 'queued' | 'running' | 'done' | 'failed';
  position: number | null;
  stage: string;
  done: number | null;
  total: number | null;
  revision: number | null;
  error: { code: string; message: string } | null;
}

/** A level correction (src/localize/override.ts). */
export type LevelOverride =
  | { shift: number; seriesUid?: string }
  | { anchor: { level: string; atPx?: [number, number]; atMm?: [number, number, number] }; seriesUid?: string };

/** A correction as the server lists it. */
export interface CorrectionRecord {
  id: string;
  type: 'levels' | 'grade';
  status: 'pending' | 'applied' | 'failed' | 'superseded' | 'replaced';
  by: string;
  at: string;
  level?: string;
  finding?: string;
  value?: number | boolean;
  previous?: number | boolean | null;
  reason?: string;
  seriesIndex?: number | null;
  levelOverride?: LevelOverride;
  jobId?: string;
  error?: { code?: string; message?: string } | string | null;
}

/** `GET /api/studies/{id}/findings`. */
export interface FindingsResponse {
  studyId: string;
  revision: number;
  findings: FindingsDocument;
  original: FindingsDocument;
  levelOverride: LevelOverride | null;
  corrections: CorrectionRecord[];
}

/** The exports, by file name under `/api/studies/{id}/`. */
export const EXPORTS = [
  { file: 'report.html', label: 'Report (HTML)' },
  { file: 'findings.json', label: 'Findings (JSON)' },
  { file: 'sr.dcm', label: 'DICOM SR' },
  { file: 'seg.dcm', label: 'DICOM SEG' },
  { file: 'overlay.png', label: 'Overlay (PNG)' },
] as const;

/** The token, when the server asks for one; kept for this tab only. */
let token: string | null = sessionStorage.getItem('spinegrade-token');

/** Sets the API token (Authorization: Bearer) for the rest of this tab's session. */
export function setToken(value: string | null): void {
  token = value || null;
  if (token) sessionStorage.setItem('spinegrade-token', token);
  else sessionStorage.removeItem('spinegrade-token');
}

/** Headers every request carries. */
export function authHeaders(): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Absolute URL of an API path on this origin. */
export function apiUrl(path: string): string {
  return new URL(path, document.baseURI).href;
}

/** A URL the browser fetches by itself (a link, an image): the token goes in the query. */
export function plainUrl(path: string): string {
  const url = new URL(path, document.baseURI);
  if (token) url.searchParams.set('access_token', token);
  return url.href;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the server's error body (`{ error: { code, message } }`). */
function errorOf(status: number, statusText: string, body: unknown): ApiError {
  if (isRecord(body) && isRecord(body.error)) {
    const { code, message } = body.error;
    return new ApiError(status, String(code ?? 'ERROR'), String(message ?? `${status} ${statusText}`));
  }
  return new ApiError(status, 'HTTP', `${status} ${statusText}`.trim());
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(authHeaders())) headers.set(k, v);
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  let response: Response;
  try {
    response = await fetch(apiUrl(path), { ...init, headers });
  } catch (error) {
    throw new ApiError(0, 'NETWORK', `The server could not be reached (${(error as Error).message}).`);
  }
  if (!response.ok) {
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      // not JSON: the status line says it
    }
    throw errorOf(response.status, response.statusText, body);
  }
  return response;
}

async function getJson<T>(path: string): Promise<T> {
  return (await request(path)).json() as Promise<T>;
}

async function send<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const response = await request(path, init);
  return (response.status === 204 ? {} : await response.json()) as T;
}

const studyPath = (id: string): string => `/api/studies/${encodeURIComponent(id)}`;

export const health = (): Promise<Health> => getJson<Health>('/api/health');

export async function listStudies(): Promise<Study[]> {
  return (await getJson<{ studies: Study[] }>('/api/studies')).studies;
}

export const getStudy = (id: string): Promise<Study> => getJson<Study>(studyPath(id));

export const deleteStudy = (id: string): Promise<unknown> => send('DELETE', studyPath(id));

/** A file to upload and the path it had in what was dropped (for the user's eyes only). */
export interface UploadFile {
  file: File;
  path: string;
}

/**
 * Uploads one study's files (multipart); `onProgress` gets the fraction sent. XMLHttpRequest, since
 * fetch reports no upload progress.
 */
export function uploadStudy(
  files: readonly UploadFile[],
  pixelSpacing: string | null,
  onProgress: (fraction: number) => void,
): Promise<{ id: string; files: number; skipped: unknown[] }> {
  const form = new FormData();
  if (pixelSpacing) form.append('pixelSpacing', pixelSpacing);
  for (const { file, path } of files) form.append('files', file, path);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiUrl('/api/studies'));
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'The upload failed: the server could not be reached.'));
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // handled below
      }
      if (xhr.status < 200 || xhr.status >= 300) reject(errorOf(xhr.status, xhr.statusText, body));
      else if (isRecord(body) && typeof body.id === 'string') {
        resolve({
          id: body.id,
          files: Number(body.files ?? files.length),
          skipped: Array.isArray(body.skipped) ? body.skipped : [],
        });
      } else reject(new ApiError(xhr.status, 'BAD_ANSWER', 'The server answered the upload without a study id.'));
    };
    xhr.send(form);
  });
}

/** Starts importing a study from the PACS; poll {@link getStudy} until it is ready. */
export const importFromPacs = (studyInstanceUid: string): Promise<{ id: string; status: string }> =>
  send('POST', '/api/studies/from-dicomweb', { studyInstanceUid });

export async function listPacsStudies(): Promise<PacsStudy[]> {
  return (await getJson<{ studies: PacsStudy[] }>('/api/dicomweb/studies')).studies;
}

export async function listSeries(studyId: string): Promise<SeriesInfo[]> {
  return (await getJson<{ series: SeriesInfo[] }>(`${studyPath(studyId)}/series`)).series;
}

export async function listInstances(studyId: string, n: number): Promise<Instance[]> {
  return (await getJson<{ instances: Instance[] }>(`${studyPath(studyId)}/series/${n}/instances`)).instances;
}

/** URL of sagittal display slice `k` of series `n` as a PNG. */
export const sliceUrl = (studyId: string, n: number, k: number): string =>
  apiUrl(`${studyPath(studyId)}/series/${n}/slices/${k}.png`);

/** Queues an analysis. */
export async function analyze(studyId: string, levelOverride?: LevelOverride): Promise<string> {
  const body = await send<{ jobId: string }>(
    'POST',
    `${studyPath(studyId)}/analyze`,
    levelOverride ? { levelOverride } : {},
  );
  return body.jobId;
}

export const getJob = (jobId: string): Promise<Job> => getJson<Job>(`/api/jobs/${encodeURIComponent(jobId)}`);

export const getFindings = (studyId: string): Promise<FindingsResponse> =>
  getJson<FindingsResponse>(`${studyPath(studyId)}/findings`);

/** Moves the level labels; answers with the job that re-labels and re-grades. */
export async function correctLevels(studyId: string, levelOverride: LevelOverride, by?: string): Promise<string> {
  const body = await send<{ jobId: string }>('POST', `${studyPath(studyId)}/corrections`, {
    type: 'levels',
    levelOverride,
    ...(by ? { by } : {}),
  });
  return body.jobId;
}

/** Overrides one grade with a reason. */
export async function correctGrade(
  studyId: string,
  correction: {
    level: string;
    finding: string;
    value: number | boolean;
    reason: string;
    seriesIndex?: number;
    by?: string;
  },
): Promise<number> {
  const body = await send<{ revision: number }>('POST', `${studyPath(studyId)}/corrections`, {
    type: 'grade',
    ...correction,
  });
  return body.revision;
}

/** STOW-RS of SR + SEG to the PACS. */
export async function storeToPacs(studyId: string): Promise<{ kind: string; sopInstanceUid: string }[]> {
  return (await send<{ stored: { kind: string; sopInstanceUid: string }[] }>('POST', `${studyPath(studyId)}/store`))
    .stored;
}

/** Link to an export file (the token rides in the query, as links cannot send headers). */
export const exportUrl = (studyId: string, file: string): string => plainUrl(`${studyPath(studyId)}/${file}`);

/** URL of the comparison page of two studies (see "Comparing two studies" in docs/api.md). */
export const comparisonUrl = (baselineId: string, followUpId: string): string =>
  plainUrl(`${studyPath(baselineId)}/compare/${encodeURIComponent(followUpId)}.html`);

/** URL of the Grad-CAM heat map of one disc (see "Viewer requests" in docs/api.md). */
export const heatUrl = (studyId: string, n: number, level: string): string =>
  apiUrl(`${studyPath(studyId)}/series/${n}/heat/${encodeURIComponent(level)}.png`);

/** Fetches an image with the token and answers an object URL for it, or null when there is none. */
export async function fetchImage(url: string): Promise<string | null> {
  try {
    const response = await fetch(url, { headers: authHeaders() });
    if (!response.ok) return null;
    return URL.createObjectURL(await response.blob());
  } catch {
    return null;
  }
}
