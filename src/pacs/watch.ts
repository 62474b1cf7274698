/**
 * `spinegrade watch`: polls a PACS (QIDO-RS) for MR studies, picks their sagittal lumbar series by
 * metadata (QIDO-RS series level, WADO-RS metadata), analyses each new study once, and stores the SR
 * and SEG back with STOW-RS. What was done is remembered in a JSON state file (written atomically),
 * so a restart never analyses a study twice; a failing study is retried a few times, then left with
 * its reason. The log names studies by Study Instance UID only, never by patient.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Analyzer } from '../analyze/analyze.js';
import { OUTPUT_FILES, writeAnalysisOutputs } from '../analyze/outputs.js';
import { describeError, isSpinegradeError, SpinegradeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { sniff } from '../io/discover.js';
import { SEGMENTATION_STORAGE } from '../report/seg.js';
import { COMPREHENSIVE_3D_SR_STORAGE } from '../report/sr.js';
import { planeOfNormal } from '../volume/orientation.js';
import { cross, norm } from '../volume/volume.js';
import type { DicomwebClient } from './client.js';
import { type DicomJsonDataset, jsonNumbers, jsonString, TAGS } from './dicomJson.js';

/** Where one study stands (`waiting`: seen, not yet analysed, until it stops growing). */
export type WatchStudyStatus = 'waiting' | 'running' | 'done' | 'skipped' | 'failed';

/** What the watcher remembers of one study. */
export interface WatchStudyState {
  status: WatchStudyStatus;
  /** Analyses tried (a `running` entry found at start-up counts as a failed try). */
  attempts: number;
  firstSeen: string;
  lastAttempt: string | null;
  /** Why it was skipped or failed. */
  reason?: string;
  /** The series analysed. */
  series?: string[];
  /** What was stored (SOP Instance UIDs of the SR and SEG). */
  stored?: { sr: string | null; seg: string | null };
  /** While waiting: the instance count the PACS last reported (null when it reports none). */
  instances?: number | null;
  /** While waiting: since when that count has not changed (ISO time). */
  stableSince?: string;
}

/** The state file. */
export interface WatchState {
  version: 1;
  studies: Record<string, WatchStudyState>;
}

/** Options of the watcher. */
export interface WatchOptions {
  client: DicomwebClient;
  /** The JSON state file. */
  statePath: string;
  /** The models (made once, on first need). */
  analyzer: () => Promise<Analyzer>;
  /** Tries per study before it is left as failed (default 3). */
  maxAttempts?: number;
  /** Most bytes retrieved for one study (default 1 GiB). */
  maxStudyBytes?: number;
  /** Most instances retrieved for one study (default 5000). */
  maxInstances?: number;
  /** Folder for temporary retrievals (default: the system's). */
  tempDir?: string;
  /**
   * A new study is analysed only once the instance count the PACS reports for it has not changed for
   * this long (ms), so a study still arriving is not analysed half (default 0: at once).
   */
  settleMs?: number;
  /** The clock (ms since the epoch), for tests. */
  now?: () => number;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** What one poll did. */
export interface PollSummary {
  /** MR studies the PACS listed. */
  seen: number;
  processed: string[];
  skipped: string[];
  failed: string[];
  /** New studies left for a later poll: still growing, or not stable for `settleMs` yet. */
  waiting: string[];
}

/** A series picked for analysis, or the reason it was not. */
interface SeriesVerdict {
  uid: string;
  pick: boolean;
  reason: string;
}

/** Body parts that are not the lumbar spine (BodyPartExamined, upper case). */
const NOT_LUMBAR =
  /^(HEAD|BRAIN|SKULL|NECK|CSPINE|C-SPINE|TSPINE|T-SPINE|CHEST|THORAX|ABDOMEN|PELVIS|HIP|KNEE|ANKLE|FOOT|SHOULDER|ELBOW|WRIST|HAND|BREAST|HEART|CARDIAC|LIVER|PROSTATE|EXTREMITY|LEG|ARM)$/;

/** SeriesDescription of the SR spinegrade writes (a study holding one already has results). */
const SPINEGRADE_SR_DESCRIPTION = 'spinegrade findings';

/** Reads the state file; a missing file is an empty state. Throws on a corrupt one (it is never overwritten blindly). */
export async function readWatchState(path: string): Promise<WatchState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, studies: {} };
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<WatchState>;
  if (parsed.version !== 1 || typeof parsed.studies !== 'object' || parsed.studies === null) {
    throw new Error(`${path} is not a spinegrade watch state file (version 1)`);
  }
  return parsed as WatchState;
}

/** Writes the state file atomically (temporary file, then rename). */
export async function writeWatchState(path: string, state: WatchState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, { overwrite: true });
}

/** Whether a series (by its first instance's metadata and the QIDO series attributes) is a sagittal lumbar MR series. */
export function judgeSeries(series: DicomJsonDataset, firstInstance: DicomJsonDataset | undefined): SeriesVerdict {
  const uid = jsonString(series, TAGS.SeriesInstanceUID) ?? '';
  const modality = jsonString(series, TAGS.Modality) ?? jsonString(firstInstance, TAGS.Modality);
  if (modality !== 'MR') return { uid, pick: false, reason: `modality ${modality ?? 'unknown'}` };
  const bodyPart = (jsonString(firstInstance, TAGS.BodyPartExamined) ?? jsonString(series, TAGS.BodyPartExamined) ?? '')
    .toUpperCase()
    .trim();
  if (bodyPart !== '' && NOT_LUMBAR.test(bodyPart)) return { uid, pick: false, reason: `body part ${bodyPart}` };
  const iop = jsonNumbers(firstInstance, TAGS.ImageOrientationPatient);
  if (iop?.length !== 6) return { uid, pick: false, reason: 'no ImageOrientationPatient' };
  const [r0, r1, r2, c0, c1, c2] = iop as [number, number, number, number, number, number];
  const normal = cross([r0, r1, r2], [c0, c1, c2]);
  if (!(norm(normal) > 0)) return { uid, pick: false, reason: 'degenerate ImageOrientationPatient' };
  if (planeOfNormal(normal) !== 'sagittal') return { uid, pick: false, reason: 'not sagittal' };
  return {
    uid,
    pick: true,
    reason: bodyPart === '' ? 'sagittal MR (body part not stated)' : `sagittal MR, ${bodyPart}`,
  };
}

/** Every MR study the PACS lists (QIDO-RS, paged), with its instance count (null when not reported). */
async function listMrStudies(client: DicomwebClient, signal?: AbortSignal): Promise<Map<string, number | null>> {
  const studies = new Map<string, number | null>();
  const page = 500;
  for (let offset = 0; offset < 100_000; offset += page) {
    const batch = await client.searchStudies(
      { ModalitiesInStudy: 'MR', limit: page, offset, includefield: ['NumberOfStudyRelatedInstances'] },
      signal,
    );
    for (const s of batch) {
      const uid = jsonString(s, TAGS.StudyInstanceUID);
      if (uid) studies.set(uid, jsonNumbers(s, TAGS.NumberOfStudyRelatedInstances)?.[0] ?? null);
    }
    if (batch.length < page) break;
  }
  return studies;
}

/**
 * For a study not analysed yet: true when it may be analysed now — its instance count has stayed
 * the same for `settleMs` — else it is (re)recorded as `waiting` in `state` and false.
 */
function settled(
  state: WatchState,
  uid: string,
  instances: number | null,
  settleMs: number,
  nowMs: number,
  log: (line: string) => void,
): boolean {
  if (settleMs <= 0) return true;
  const known = state.studies[uid];
  const now = new Date(nowMs).toISOString();
  if (!known || known.instances !== instances || known.stableSince === undefined) {
    state.studies[uid] = {
      status: 'waiting',
      attempts: 0,
      firstSeen: known?.firstSeen ?? now,
      lastAttempt: null,
      instances,
      stableSince: now,
    };
    log(
      `study ${uid}: ${known ? 'still growing' : 'new'} (${instances ?? 'unknown'} instances); analysed once it has not changed for ${Math.round(settleMs / 1000)} s`,
    );
    return false;
  }
  return nowMs - Date.parse(known.stableSince) >= settleMs;
}

/**
 * One poll: lists the PACS's MR studies and processes every one not done yet (and failed ones with
 * tries left), one after another, saving the state after each.
 */
export async function pollOnce(options: WatchOptions): Promise<PollSummary> {
  const log = options.log ?? (() => undefined);
  const maxAttempts = options.maxAttempts ?? 3;
  const state = await readWatchState(options.statePath);
  // A study left `running` was interrupted: that try failed.
  let dirty = false;
  for (const entry of Object.values(state.studies)) {
    if (entry.status === 'running') {
      entry.status = 'failed';
      entry.reason = 'interrupted (the watcher stopped during the analysis)';
      dirty = true;
    }
  }
  if (dirty) await writeWatchState(options.statePath, state);
  const studies = await listMrStudies(options.client, options.signal);
  const summary: PollSummary = { seen: studies.size, processed: [], skipped: [], failed: [], waiting: [] };
  const clock = options.now ?? Date.now;
  // Waiting studies newly recorded (or grown) since the state was last written: written with the next
  // write, or once after the loop — not once per study, as a first poll may list thousands.
  let waitingChanged = false;
  try {
    for (const [uid, instances] of studies) {
      options.signal?.throwIfAborted();
      const known = state.studies[uid];
      if (known && known.status !== 'waiting' && (known.status !== 'failed' || known.attempts >= maxAttempts)) continue;
      if (
        (!known || known.status === 'waiting') &&
        !settled(state, uid, instances, options.settleMs ?? 0, clock(), log)
      ) {
        summary.waiting.push(uid);
        if (state.studies[uid] !== known) waitingChanged = true;
        continue;
      }
      const now = new Date(clock()).toISOString();
      const entry: WatchStudyState = known ?? { status: 'running', attempts: 0, firstSeen: now, lastAttempt: null };
      delete entry.instances;
      delete entry.stableSince;
      entry.status = 'running';
      entry.attempts += 1;
      entry.lastAttempt = now;
      delete entry.reason;
      state.studies[uid] = entry;
      await writeWatchState(options.statePath, state);
      waitingChanged = false;
      try {
        const outcome = await processStudy(uid, options, log);
        entry.status = outcome.status;
        if (outcome.reason) entry.reason = outcome.reason;
        if (outcome.series) entry.series = outcome.series;
        if (outcome.stored) entry.stored = outcome.stored;
        (outcome.status === 'done' ? summary.processed : summary.skipped).push(uid);
        log(`study ${uid}: ${outcome.status}${outcome.reason ? ` (${outcome.reason})` : ''}`);
      } catch (error) {
        if (options.signal?.aborted) {
          entry.status = 'failed';
          entry.reason = 'interrupted';
          await writeWatchState(options.statePath, state);
          throw error;
        }
        entry.status = 'failed';
        entry.reason = describeError(error).slice(0, 500);
        summary.failed.push(uid);
        const last = entry.attempts >= maxAttempts ? `; giving up after ${entry.attempts} tries` : '';
        log(`study ${uid}: failed (try ${entry.attempts}${last}): ${entry.reason}`);
      }
      await writeWatchState(options.statePath, state);
    }
  } finally {
    if (waitingChanged) await writeWatchState(options.statePath, state);
  }
  return summary;
}

interface Outcome {
  status: 'done' | 'skipped';
  reason?: string;
  series?: string[];
  stored?: { sr: string | null; seg: string | null };
}

async function processStudy(uid: string, options: WatchOptions, log: (line: string) => void): Promise<Outcome> {
  const { client, signal } = options;
  const series = await client.searchSeries(
    uid,
    { includefield: ['SeriesDescription', 'BodyPartExamined', 'SeriesNumber', 'NumberOfSeriesRelatedInstances'] },
    signal,
  );
  if (
    series.some(
      (s) =>
        jsonString(s, TAGS.Modality) === 'SR' && jsonString(s, TAGS.SeriesDescription) === SPINEGRADE_SR_DESCRIPTION,
    )
  ) {
    return { status: 'skipped', reason: 'the study already holds spinegrade results' };
  }
  const verdicts: SeriesVerdict[] = [];
  for (const s of series) {
    const seriesUid = jsonString(s, TAGS.SeriesInstanceUID);
    if (!seriesUid) continue;
    if (jsonString(s, TAGS.Modality) !== 'MR') continue;
    const metadata = await client.retrieveMetadata(uid, seriesUid, signal);
    verdicts.push(judgeSeries(s, metadata[0]));
  }
  const picked = verdicts.filter((v) => v.pick).map((v) => v.uid);
  if (picked.length === 0) {
    const why = verdicts.map((v) => v.reason).join(', ') || 'no MR series';
    return { status: 'skipped', reason: `no sagittal lumbar MR series (${why})` };
  }
  const work = await mkdtemp(join(options.tempDir ?? tmpdir(), 'spinegrade-watch-'));
  try {
    const files = join(work, 'files');
    await mkdir(files);
    let count = 0;
    let bytes = 0;
    const maxBytes = options.maxStudyBytes ?? 1024 ** 3;
    const maxInstances = options.maxInstances ?? 5000;
    for (const seriesUid of picked) {
      await client.retrieveInstances(
        uid,
        seriesUid,
        () => {
          count++;
          const out = createWriteStream(join(files, `i${String(count).padStart(5, '0')}.dcm`), { flags: 'wx' });
          return {
            write: (chunk) =>
              new Promise<void>((resolve, reject) => {
                bytes += chunk.length;
                out.write(chunk, (error) => (error ? reject(error) : resolve()));
              }),
            end: () => new Promise<void>((resolve) => out.end(() => resolve())),
          };
        },
        { maxBytes: Math.max(1, maxBytes - bytes), maxParts: Math.max(1, maxInstances - count) },
        signal,
      );
    }
    for (let n = 1; n <= count; n++) {
      const path = join(files, `i${String(n).padStart(5, '0')}.dcm`);
      if ((await sniff(path)) !== 'dicom') throw new Error(`instance ${n} retrieved from the PACS is not DICOM`);
    }
    log(`study ${uid}: retrieved ${count} instances of ${picked.length} series; analysing`);
    const analyzer = await options.analyzer();
    let result: Awaited<ReturnType<Analyzer['analyze']>>;
    try {
      result = await analyzer.analyze([files], signal ? { signal } : {});
    } catch (error) {
      if (isSpinegradeError(error) && error.kind === 'NO_USABLE_SERIES') {
        return {
          status: 'skipped',
          reason: describeError(error).split(`${files}/`).join('').split(files).join('<study>'),
          series: picked,
        };
      }
      throw error;
    }
    const out = join(work, 'out');
    const written = await writeAnalysisOutputs(result, { kind: 'folder', path: out });
    const read = async (name: string): Promise<Uint8Array> => {
      try {
        return await readFile(join(out, name));
      } catch {
        const why = written.notes.filter((n) => n.includes(name)).join('; ') || 'not written';
        throw new Error(`${name} could not be made: ${why}`);
      }
    };
    const sr = await read(OUTPUT_FILES.sr);
    const seg = await read(OUTPUT_FILES.seg);
    const stow = await client.store([sr, seg], uid, signal);
    if (stow.status === 409 || stow.failed.length > 0) {
      throw new Error(`the PACS refused ${stow.failed.length || 'the'} instance(s) (HTTP ${stow.status})`);
    }
    const find = (sopClass: string): string | null =>
      stow.stored.find((s) => s.sopClassUid === sopClass)?.sopInstanceUid ?? null;
    return {
      status: 'done',
      series: picked,
      stored: { sr: find(COMPREHENSIVE_3D_SR_STORAGE), seg: find(SEGMENTATION_STORAGE) },
    };
  } catch (error) {
    // Messages name the temporary files; keep them short and free of server paths.
    const message = describeError(error).split(`${work}/files/`).join('').split(work).join('<study>');
    if (isSpinegradeError(error)) throw new SpinegradeError(error.kind, message, undefined, { cause: error });
    throw new Error(message, { cause: error });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Polls every `intervalMs` until `signal` aborts (resolves then). A poll that fails (PACS down) is
 * logged and tried again at the next interval.
 */
export async function runWatch(options: WatchOptions & { intervalMs: number }): Promise<void> {
  const log = options.log ?? (() => undefined);
  while (!options.signal?.aborted) {
    try {
      const summary = await pollOnce(options);
      log(
        `poll: ${summary.seen} MR studies, ${summary.processed.length} analysed, ${summary.skipped.length} skipped, ${summary.failed.length} failed`,
      );
    } catch (error) {
      if (options.signal?.aborted) break;
      log(`poll failed: ${describeError(error)}`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.intervalMs);
      options.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}
