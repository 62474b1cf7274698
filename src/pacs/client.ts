/**
 * A small DICOMweb client on Node's own `fetch`: QIDO-RS searches, WADO-RS metadata and instance
 * retrieval (streamed part by part, any transfer syntax), and STOW-RS storage. It never logs; errors
 * are {@link DicomwebError}s whose messages hold the server's status, never patient data of ours.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { type DicomJsonDataset, isDicomJsonDataset, jsonItems, jsonNumber, jsonString, TAGS } from './dicomJson.js';
import {
  buildMultipartRelated,
  MultipartError,
  type MultipartLimits,
  multipartBoundary,
  type PartHeaders,
  type PartSink,
  readMultipart,
} from './multipart.js';

/** A DICOMweb request that failed: the server's HTTP status (undefined when it could not be reached). */
export class DicomwebError extends Error {
  readonly status: number | undefined;

  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DicomwebError';
    this.status = status;
  }
}

/** Options of a {@link DicomwebClient}. */
export interface DicomwebClientOptions {
  /** Extra headers for every request (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** Time limit of a search, metadata request or store, ms (default 60 000). */
  timeoutMs?: number;
  /** Time limit of a retrieval, ms (default 30 minutes). */
  retrieveTimeoutMs?: number;
}

/** Query parameters of a QIDO-RS search; undefined values are left out, arrays repeat the key. */
export type QidoQuery = Record<string, string | number | boolean | readonly string[] | undefined>;

/** One instance a STOW-RS request stored or failed to store. */
export interface StowInstance {
  sopClassUid: string | undefined;
  sopInstanceUid: string | undefined;
  /** Failure Reason code (failed instances only). */
  failureReason?: number;
}

/** What a STOW-RS request did. */
export interface StowResult {
  /** HTTP status: 200 all stored, 202 some stored with warnings or failures, 409 none. */
  status: number;
  stored: StowInstance[];
  failed: StowInstance[];
}

/** The `Accept` header that asks WADO-RS for Part 10 instances in their stored transfer syntax. */
export const WADO_ACCEPT_ANY_SYNTAX = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/** Checks a DICOMweb base URL (http or https, no credentials, no query) and returns it without a trailing slash. */
export function normalizeDicomwebUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DicomwebError(`"${url}" is not a URL (expected e.g. http://localhost:8042/dicom-web)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new DicomwebError(`a DICOMweb URL must be http or https, not ${parsed.protocol}`);
  }
  if (parsed.username || parsed.password)
    throw new DicomwebError('give DICOMweb credentials as a header, not in the URL');
  if (parsed.search || parsed.hash) throw new DicomwebError('a DICOMweb base URL takes no query or fragment');
  return parsed.href.replace(/\/+$/, '');
}

/** A UID as DICOM allows it (digits and dots, at most 64 characters); anything else cannot be put into a URL path. */
export function isDicomUid(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9]+(\.[0-9]+)*$/.test(value) && value.length <= 64;
}

function assertUid(value: unknown, what: string): void {
  if (!isDicomUid(value)) throw new DicomwebError(`${what} "${String(value).slice(0, 80)}" is not a DICOM UID`);
}

/** A DICOMweb (QIDO-RS, WADO-RS, STOW-RS) client for one server. */
export class DicomwebClient {
  /** The base URL, without a trailing slash. */
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly retrieveTimeoutMs: number;

  constructor(baseUrl: string, options: DicomwebClientOptions = {}) {
    this.baseUrl = normalizeDicomwebUrl(baseUrl);
    this.headers = { ...(options.headers ?? {}) };
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.retrieveTimeoutMs = options.retrieveTimeoutMs ?? 30 * 60_000;
  }

  /** QIDO-RS `GET /studies`. */
  async searchStudies(query: QidoQuery = {}, signal?: AbortSignal): Promise<DicomJsonDataset[]> {
    return this.search('/studies', query, signal);
  }

  /** QIDO-RS `GET /studies/{study}/series`. */
  async searchSeries(
    studyInstanceUid: string,
    query: QidoQuery = {},
    signal?: AbortSignal,
  ): Promise<DicomJsonDataset[]> {
    assertUid(studyInstanceUid, 'Study Instance UID');
    return this.search(`/studies/${studyInstanceUid}/series`, query, signal);
  }

  /** QIDO-RS `GET /studies/{study}[/series/{series}]/instances`. */
  async searchInstances(
    studyInstanceUid: string,
    seriesInstanceUid?: string,
    query: QidoQuery = {},
    signal?: AbortSignal,
  ): Promise<DicomJsonDataset[]> {
    assertUid(studyInstanceUid, 'Study Instance UID');
    if (seriesInstanceUid !== undefined) assertUid(seriesInstanceUid, 'Series Instance UID');
    const path = seriesInstanceUid === undefined ? '' : `/series/${seriesInstanceUid}`;
    return this.search(`/studies/${studyInstanceUid}${path}/instances`, query, signal);
  }

  /** WADO-RS metadata of a study or one of its series: one DICOM JSON dataset per instance (no bulk data). */
  async retrieveMetadata(
    studyInstanceUid: string,
    seriesInstanceUid?: string,
    signal?: AbortSignal,
  ): Promise<DicomJsonDataset[]> {
    assertUid(studyInstanceUid, 'Study Instance UID');
    if (seriesInstanceUid !== undefined) assertUid(seriesInstanceUid, 'Series Instance UID');
    const path = `/studies/${studyInstanceUid}${seriesInstanceUid === undefined ? '' : `/series/${seriesInstanceUid}`}/metadata`;
    const response = await this.request(
      path,
      { headers: { Accept: 'application/dicom+json' } },
      this.timeoutMs,
      signal,
    );
    return datasetsOf(await readJson(response, path));
  }

  /**
   * WADO-RS retrieval of a study's (or one series') instances as Part 10 files in whatever transfer
   * syntax the server holds them: each instance is streamed to the sink `onPart` returns. Resolves with
   * the number of instances; throws {@link DicomwebError} on an HTTP error, a malformed response or a
   * limit exceeded (`status` 413 then).
   */
  async retrieveInstances(
    studyInstanceUid: string,
    seriesInstanceUid: string | undefined,
    onPart: (headers: PartHeaders, index: number) => PartSink | Promise<PartSink>,
    limits: MultipartLimits = {},
    signal?: AbortSignal,
  ): Promise<number> {
    assertUid(studyInstanceUid, 'Study Instance UID');
    if (seriesInstanceUid !== undefined) assertUid(seriesInstanceUid, 'Series Instance UID');
    const path = `/studies/${studyInstanceUid}${seriesInstanceUid === undefined ? '' : `/series/${seriesInstanceUid}`}`;
    const response = await this.request(
      path,
      { headers: { Accept: WADO_ACCEPT_ANY_SYNTAX } },
      this.retrieveTimeoutMs,
      signal,
    );
    if (!response.body) throw new DicomwebError(`WADO-RS ${path}: empty response`, response.status);
    let boundary: string;
    try {
      boundary = multipartBoundary(response.headers.get('content-type'));
    } catch (error) {
      await response.body.cancel().catch(() => undefined);
      throw new DicomwebError(`WADO-RS retrieval: ${(error as Error).message}`, response.status);
    }
    const stream = Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>);
    try {
      return await readMultipart(stream, boundary, onPart, limits);
    } catch (error) {
      stream.destroy();
      if (error instanceof MultipartError) {
        throw new DicomwebError(`WADO-RS retrieval: ${error.message}`, error.limit ? 413 : 502, { cause: error });
      }
      if (error instanceof DicomwebError) throw error;
      if (signal?.aborted) throw error;
      throw new DicomwebError(`WADO-RS retrieval failed: ${(error as Error).message}`, undefined, { cause: error });
    }
  }

  /**
   * STOW-RS of Part 10 instances (all to one study when `studyInstanceUid` is given). Resolves with
   * what the server stored and refused; throws {@link DicomwebError} when the request itself fails.
   */
  async store(instances: readonly Uint8Array[], studyInstanceUid?: string, signal?: AbortSignal): Promise<StowResult> {
    if (instances.length === 0) return { status: 200, stored: [], failed: [] };
    if (studyInstanceUid !== undefined) assertUid(studyInstanceUid, 'Study Instance UID');
    const { body, contentType } = buildMultipartRelated(
      instances.map((data) => ({ contentType: 'application/dicom', data })),
    );
    const path = studyInstanceUid === undefined ? '/studies' : `/studies/${studyInstanceUid}`;
    const response = await this.request(
      path,
      { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body },
      this.timeoutMs,
      signal,
      [409],
    );
    const text = await response.text();
    let parsed: unknown = {};
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new DicomwebError(`STOW-RS: the response is not DICOM JSON (HTTP ${response.status})`, response.status);
      }
    }
    const dataset = Array.isArray(parsed) ? parsed[0] : parsed;
    const result = isDicomJsonDataset(dataset) ? dataset : {};
    const instance = (item: DicomJsonDataset): StowInstance => {
      const reason = jsonNumber(item, TAGS.FailureReason);
      return {
        sopClassUid: jsonString(item, TAGS.ReferencedSOPClassUID),
        sopInstanceUid: jsonString(item, TAGS.ReferencedSOPInstanceUID),
        ...(reason !== undefined ? { failureReason: reason } : {}),
      };
    };
    return {
      status: response.status,
      stored: jsonItems(result, TAGS.ReferencedSOPSequence).map(instance),
      failed: jsonItems(result, TAGS.FailedSOPSequence).map(instance),
    };
  }

  private async search(path: string, query: QidoQuery, signal?: AbortSignal): Promise<DicomJsonDataset[]> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) params.append(key, String(v));
      else params.append(key, String(value));
    }
    const suffix = params.size > 0 ? `?${params.toString()}` : '';
    const response = await this.request(
      `${path}${suffix}`,
      { headers: { Accept: 'application/dicom+json' } },
      this.timeoutMs,
      signal,
    );
    if (response.status === 204) return [];
    return datasetsOf(await readJson(response, path));
  }

  private async request(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: Buffer },
    timeoutMs: number,
    signal: AbortSignal | undefined,
    acceptStatuses: readonly number[] = [],
  ): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const what = `${init.method ?? 'GET'} ${this.baseUrl}${path.split('?')[0]}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: init.method ?? 'GET',
        headers: { ...this.headers, ...(init.headers ?? {}) },
        ...(init.body ? { body: init.body } : {}),
        signal: combined,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      const reason = timeout.aborted ? `no answer within ${Math.round(timeoutMs / 1000)} s` : describeFetchError(error);
      throw new DicomwebError(`${what}: ${reason}`, undefined, { cause: error });
    }
    if (!response.ok && !acceptStatuses.includes(response.status)) {
      const detail = (await response.text().catch(() => '')).replace(/\s+/g, ' ').trim().slice(0, 200);
      throw new DicomwebError(
        `${what}: HTTP ${response.status} ${response.statusText}${detail ? ` (${detail})` : ''}`,
        response.status,
      );
    }
    return response;
  }
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `cannot connect (${cause.code})`;
  if (cause?.message) return `cannot connect (${cause.message})`;
  return (error as Error).message ?? String(error);
}

async function readJson(response: Response, path: string): Promise<unknown> {
  const text = await response.text();
  if (text.trim() === '') return [];
  try {
    return JSON.parse(text);
  } catch {
    throw new DicomwebError(`${path}: the response is not JSON`, response.status);
  }
}

function datasetsOf(value: unknown): DicomJsonDataset[] {
  if (!Array.isArray(value)) throw new DicomwebError('the DICOMweb response is not a JSON array of datasets');
  return value.filter(isDicomJsonDataset);
}
