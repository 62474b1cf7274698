/**
 * The main job as a Node API: read a study, pick every gradable sagittal series (T2 first, T1 too),
 * localise it (mid-sagittal slice by the canal, levels voted over the neighbouring slices, corrected by
 * a level override when one is given), grade and measure every disc, fuse the series per level and
 * return `findings.json` with the artefacts the DICOM SR/SEG and HTML writers need.
 *
 * {@link createAnalyzer} loads the models once and analyses any number of studies (CLI, server, batch
 * worker); {@link analyze} is the one-shot form. Nothing here writes to the console or exits: progress
 * goes to a callback and every problem is a {@link SpinegradeError}.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SpinegradeError } from '../errors.js';
import type { DiscHeat, ExplainTarget } from '../explain/disc.js';
import { disposeGrader, type Grader } from '../grade/grader.js';
import type { GradedVolume } from '../grade/volume.js';
import { type LoadedInput, loadStudies, type Study } from '../io/load.js';
import { type Localizer, loadLocalizer } from '../localize/localizer.js';
import { anchorShift, checkLevelOverride, type LevelOverride, shiftVolumeLocalization } from '../localize/override.js';
import { localizeVolume, type VolumeLocalization } from '../localize/volume.js';
import { type EngineChoice, engineFromEnvironment } from '../models/engine.js';
import {
  FINDINGS_SCHEMA,
  FINDINGS_VERSION,
  type FindingsDocument,
  RESEARCH_USE_DISCLAIMER,
  SPIDER_CREDIT,
  type StudyFindings,
} from '../report/findings.js';
import { DEFAULT_LOCALIZER_DIR, DEFAULT_MODEL_DIR, readModel } from '../store/store.js';
import { packageRoot } from '../util/package.js';
import { type DisplaySlice, extractSagittalSlice, sagittalAxis } from '../volume/orientation.js';
import { type GradingSuitability, gradingSuitability } from '../volume/suitability.js';
import { axisDirection, type Vec3, type Volume } from '../volume/volume.js';
import { fuseLevels, selectionReason, seriesFindings, skippedSeries } from './build.js';
import { gradeLocalized } from './grade.js';
import { modelReference } from './models.js';

/** The stages of an analysis, in order, as reported to `onProgress`. */
export type AnalysisStage = 'read' | 'localize' | 'grade' | 'explain';

/** Which models an analyzer loads. */
export interface AnalyzerOptions {
  /** Grader folder (default: the bundled `models/grader`). */
  model?: string;
  /** Localiser folder (default: the bundled `models/localizer`). */
  localizer?: string;
  /** What runs the networks (default `auto`: onnxruntime where it loads, TensorFlow.js otherwise). */
  engine?: EngineChoice;
}

/** Options of one analysis. */
export interface AnalyzeOptions {
  /** In-plane spacing (mm, `[x, y]`) of PNG/JPEG slices, which carry none. */
  pixelSpacing?: readonly [number, number];
  /** A correction of the level labels, applied before grading (see `localize/override.ts`). */
  levelOverride?: LevelOverride;
  /** Also compute Grad-CAM heat for every disc of the chosen slice (its predicted Pfirrmann grade). */
  explain?: boolean;
  /** Called as work progresses: `done` of `total` items of `stage` (files read, series localised, …). */
  onProgress?: (stage: AnalysisStage, done: number, total: number) => void;
  /** Stops the analysis between series (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** The Grad-CAM heat of one disc, for its predicted Pfirrmann grade. */
export interface DiscHeatArtefact {
  level: string;
  ivdLabel: number;
  target: ExplainTarget;
  heat: DiscHeat;
}

/** What the report writers need of one graded series, beside its findings. */
export interface SeriesArtefacts {
  /** The series as read. */
  volume: Volume;
  /** The chosen mid-sagittal slice in display orientation (superior up, anterior left). */
  slice: DisplaySlice;
  /** The localisation graded (after any level override); `localization.slice.classes` is the class map of `slice`. */
  localization: VolumeLocalization;
  /** The graded discs, in the order of the series findings' `discs`. */
  graded: GradedVolume;
  /** The source file of the chosen slice (DICOM), or the one file of a single-file series; null otherwise. */
  sourcePath: string | null;
  /** Per-disc Grad-CAM heat on `slice`, when `explain` was asked for. */
  heat?: DiscHeatArtefact[];
}

/** The artefacts of one study, aligned with `findings.studies[n].series`. */
export interface StudyArtefacts {
  key: string;
  series: SeriesArtefacts[];
}

/** Milliseconds spent per stage of one analysis. */
export interface AnalysisTimings {
  read: number;
  localize: number;
  grade: number;
  explain: number;
  findings: number;
  total: number;
}

/** The result of an analysis: the findings document, the artefacts behind it and the time taken. */
export interface AnalysisResult {
  findings: FindingsDocument;
  /** Aligned with `findings.studies`. */
  artefacts: StudyArtefacts[];
  timings: AnalysisTimings;
}

/**
 * What to analyse: paths of files and folders, or studies already read with `loadStudies` (with the
 * paths they were read from, if any, to name in messages; else the study keys are named).
 */
export type AnalysisInput = readonly string[] | (LoadedInput & { readonly paths?: readonly string[] });

/** Models loaded once, ready to analyse studies one after another. */
export interface Analyzer {
  readonly grader: Grader;
  readonly localizer: Localizer;
  /** The model references written into every findings document. */
  readonly models: FindingsDocument['models'];
  /** Milliseconds spent loading the models. */
  readonly loadMs: number;
  /** Analyses the studies under `inputs` (files and folders), or studies already read with `loadStudies`. */
  analyze(inputs: AnalysisInput, options?: AnalyzeOptions): Promise<AnalysisResult>;
  /** Frees the models' tensors; the analyzer cannot be used afterwards. */
  dispose(): void;
}

let softwareVersion: string | undefined;

/** The installed spinegrade version (from its package.json). */
function spinegradeVersion(): string {
  softwareVersion ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string })
    .version;
  return softwareVersion ?? 'unknown';
}

/** Loads the grader and the localiser once; see {@link Analyzer}. */
export async function createAnalyzer(options: AnalyzerOptions = {}): Promise<Analyzer> {
  const started = performance.now();
  const graderDir = resolve(options.model ?? DEFAULT_MODEL_DIR);
  const localizerDir = resolve(options.localizer ?? DEFAULT_LOCALIZER_DIR);
  const engine = options.engine ?? engineFromEnvironment();
  const [model, localizer] = await Promise.all([
    readModel(graderDir, { engine }),
    loadLocalizer(localizerDir, { engine }),
  ]);
  if (model.kind !== 'grader') {
    throw new SpinegradeError('USAGE', `analyze needs a grader model; this folder holds a ${model.kind}`, graderDir);
  }
  const grader = model;
  const [graderReference, localizerReference] = await Promise.all([
    modelReference(grader.dir, grader.variant, grader.network.engine),
    modelReference(localizer.dir, 'localizer', localizer.network.engine),
  ]);
  const models = { grader: graderReference, localizer: localizerReference };
  let disposed = false;
  return {
    grader,
    localizer,
    models,
    loadMs: performance.now() - started,
    analyze(inputs, analyzeOptions = {}) {
      if (disposed) return Promise.reject(new SpinegradeError('USAGE', 'this analyzer was disposed'));
      return runAnalysis(grader, localizer, models, inputs, analyzeOptions);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      void import('../explain/disc.js').then(({ releaseExplainer }) => releaseExplainer(grader));
      void disposeGrader(grader);
      localizer.network.dispose();
    },
  };
}

/** Loads the models, analyses the studies under `inputs` once and frees the models again. */
export async function analyze(
  inputs: AnalysisInput,
  options: AnalyzeOptions & AnalyzerOptions = {},
): Promise<AnalysisResult> {
  const analyzer = await createAnalyzer(options);
  try {
    return await analyzer.analyze(inputs, options);
  } finally {
    analyzer.dispose();
  }
}

const isPaths = (inputs: AnalysisInput): inputs is readonly string[] => Array.isArray(inputs);

/** A series that passed the suitability checks, in grading order. */
interface Candidate {
  volume: Volume;
  verdict: GradingSuitability;
}

/** A localised series, ready to grade. */
interface Localized extends Candidate {
  localization: VolumeLocalization;
  slice: DisplaySlice;
}

/** T2 before T1; then by series number and description, so the order does not depend on the file system. */
function gradingOrder(a: Candidate, b: Candidate): number {
  const rank = (c: Candidate): number => (c.verdict.sequence.sequence === 'T2' ? 0 : 1);
  return (
    rank(a) - rank(b) ||
    (a.volume.metadata.seriesNumber ?? 0) - (b.volume.metadata.seriesNumber ?? 0) ||
    (a.volume.metadata.seriesDescription ?? '').localeCompare(b.volume.metadata.seriesDescription ?? '') ||
    (a.volume.metadata.sourcePaths[0] ?? '').localeCompare(b.volume.metadata.sourcePaths[0] ?? '')
  );
}

/** The study key of `findings.json`: the Study Instance UID, else the one input file, else the folder. */
function studyKey(study: Study): string {
  if (!study.key.startsWith('folder:')) return study.key;
  const only = study.series.length === 1 ? study.series[0]?.metadata.sourcePaths : undefined;
  return only?.length === 1 ? (only[0] as string) : study.key.slice('folder:'.length);
}

/** The source file and SOP Instance UID of the chosen slice (DICOM slices stack along the sagittal axis). */
function chosenSource(volume: Volume, sliceIndex: number): { path: string | null; sopInstanceUid: string | null } {
  const meta = volume.metadata;
  if (meta.sourceFormat === 'dicom') {
    if (sagittalAxis(volume) !== 2) return { path: null, sopInstanceUid: null };
    return { path: meta.sourcePaths[sliceIndex] ?? null, sopInstanceUid: meta.sopInstanceUids?.[sliceIndex] ?? null };
  }
  return { path: meta.sourcePaths.length === 1 ? (meta.sourcePaths[0] as string) : null, sopInstanceUid: null };
}

/** Why a localised series is not a spine the grader can read, or undefined when it is. */
function notSpineReason(localization: VolumeLocalization): string | undefined {
  if (localization.slice.discs.length > 0) return undefined;
  return 'no intervertebral disc found on the mid-sagittal slice: not a spine image, or one the localiser cannot read';
}

/** The level shift the override asks of one series of a study; `reference` is the study's first graded series. */
function shiftFor(override: LevelOverride | undefined, series: Localized, reference: Localized): number {
  if (!override) return 0;
  const uid = series.volume.metadata.seriesInstanceUid;
  if (override.seriesUid !== undefined && override.seriesUid !== uid) return 0;
  if ('shift' in override) return override.shift;
  const { anchor } = override;
  let pointMm: Vec3;
  if (anchor.atMm) {
    pointMm = anchor.atMm;
  } else {
    const [x, y] = anchor.atPx as readonly [number, number];
    const { slice } = reference;
    if (!(x >= 0 && y >= 0 && x <= slice.width - 1 && y <= slice.height - 1)) {
      throw new SpinegradeError(
        'USAGE',
        `level override: pixel (${x}, ${y}) is outside the mid-sagittal slice (${slice.width}×${slice.height})`,
      );
    }
    pointMm = reference.slice.pointOf(x, y);
  }
  const where = `series ${uid ?? series.volume.metadata.seriesDescription ?? series.volume.metadata.sourcePaths[0] ?? ''}`;
  const leftRight = axisDirection(series.volume.direction, sagittalAxis(series.volume));
  return anchorShift(series.localization, { level: anchor.level, pointMm }, leftRight, where);
}

/** Grad-CAM heat of each graded disc for its own predicted Pfirrmann grade. */
async function heatOfDiscs(grader: Grader, series: Localized, graded: GradedVolume): Promise<DiscHeatArtefact[]> {
  // Grad-CAM needs TensorFlow.js (gradients): loaded only when asked for.
  const { explainDiscs } = await import('../explain/disc.js');
  const placements = new Map(series.localization.slice.discs.map((d) => [d.ivdLabel, d]));
  const out: DiscHeatArtefact[] = [];
  const grades = [...new Set(graded.discs.map((d) => d.pfirrmann.grade))];
  for (const grade of grades) {
    const discs = graded.discs.filter((d) => d.pfirrmann.grade === grade && placements.has(d.ivdLabel));
    const target: ExplainTarget = { finding: 'pfirrmann', grade };
    const heats = await explainDiscs(
      grader,
      series.slice,
      discs.map((d) => placements.get(d.ivdLabel) as NonNullable<ReturnType<typeof placements.get>>),
      target,
    );
    discs.forEach((d, n) => {
      out.push({ level: d.level, ivdLabel: d.ivdLabel, target, heat: heats[n] as DiscHeat });
    });
  }
  const order = new Map(graded.discs.map((d, n) => [d.ivdLabel, n]));
  return out.sort((a, b) => (order.get(a.ivdLabel) ?? 0) - (order.get(b.ivdLabel) ?? 0));
}

async function runAnalysis(
  grader: Grader,
  localizer: Localizer,
  models: FindingsDocument['models'],
  inputs: AnalysisInput,
  options: AnalyzeOptions,
): Promise<AnalysisResult> {
  const started = performance.now();
  const timings: AnalysisTimings = { read: 0, localize: 0, grade: 0, explain: 0, findings: 0, total: 0 };
  const progress = options.onProgress ?? (() => undefined);
  const { signal } = options;
  const override = options.levelOverride;
  if (override) checkLevelOverride(override);
  const paths = isPaths(inputs) ? inputs : undefined;
  if (paths?.length === 0) throw new SpinegradeError('USAGE', 'analyze needs at least one file or folder');
  signal?.throwIfAborted();

  let mark = performance.now();
  const { studies } = paths
    ? await loadStudies(paths, {
        ...(options.pixelSpacing ? { pixelSpacing: options.pixelSpacing } : {}),
        onProgress: (done, total) => progress('read', done, total),
      })
    : (inputs as LoadedInput);
  timings.read = performance.now() - mark;
  const named = paths ?? (inputs as { paths?: readonly string[] }).paths;
  const where = named?.length ? named.join(', ') : studies.map((s) => studyKey(s)).join(', ');

  // Suitability, then localisation of every candidate (the content check and the override need it).
  const plans = studies.map((study) => {
    const candidates: Candidate[] = [];
    const skipped: { volume: Volume; reasons: string[] }[] = [];
    for (const volume of study.series) {
      const verdict = gradingSuitability(volume);
      if (verdict.usable) candidates.push({ volume, verdict });
      else skipped.push({ volume, reasons: verdict.reasons });
    }
    candidates.sort(gradingOrder);
    return { study, candidates, skipped, localized: [] as Localized[] };
  });
  const toLocalize = plans.reduce((n, p) => n + p.candidates.length, 0);
  let localizedCount = 0;
  mark = performance.now();
  for (const plan of plans) {
    for (const candidate of plan.candidates) {
      signal?.throwIfAborted();
      const localization = localizeVolume(localizer, candidate.volume);
      const reason = notSpineReason(localization);
      if (reason) plan.skipped.push({ volume: candidate.volume, reasons: [reason] });
      else {
        const slice = extractSagittalSlice(candidate.volume, localization.sliceIndex);
        plan.localized.push({ ...candidate, localization, slice });
      }
      progress('localize', ++localizedCount, toLocalize);
    }
  }
  timings.localize = performance.now() - mark;

  if (plans.every((p) => p.localized.length === 0)) {
    const reasons = [...new Set(plans.flatMap((p) => p.skipped.flatMap((s) => s.reasons)))];
    throw new SpinegradeError('NO_USABLE_SERIES', `no series can be graded (${reasons.join('; ')})`, where);
  }
  if (override?.seriesUid !== undefined) {
    const known = plans.some((p) =>
      p.localized.some((s) => s.volume.metadata.seriesInstanceUid === override.seriesUid),
    );
    if (!known) {
      throw new SpinegradeError(
        'USAGE',
        `level override: no graded series has Series Instance UID ${override.seriesUid}`,
      );
    }
  }

  // Levels (override), grading, explanation.
  const toGrade = plans.reduce((n, p) => n + p.localized.length, 0);
  let gradedCount = 0;
  const graded: { plan: (typeof plans)[number]; series: Localized; result: GradedVolume; shift: number }[] = [];
  for (const plan of plans) {
    const reference = plan.localized.find((s) => s.volume.metadata.seriesInstanceUid === override?.seriesUid);
    for (const series of plan.localized) {
      signal?.throwIfAborted();
      const shift = shiftFor(override, series, reference ?? (plan.localized[0] as Localized));
      series.localization = shiftVolumeLocalization(series.localization, shift);
      mark = performance.now();
      const result = await gradeLocalized(grader, localizer, series.volume, series.localization);
      timings.grade += performance.now() - mark;
      graded.push({ plan, series, result, shift });
      progress('grade', ++gradedCount, toGrade);
    }
  }
  const heats = new Map<Localized, DiscHeatArtefact[]>();
  if (options.explain) {
    mark = performance.now();
    for (const [n, { series, result }] of graded.entries()) {
      signal?.throwIfAborted();
      heats.set(series, await heatOfDiscs(grader, series, result));
      progress('explain', n + 1, graded.length);
    }
    timings.explain = performance.now() - mark;
  }

  mark = performance.now();
  const reviewThreshold = grader.calibration.reviewThreshold;
  const studyFindings: StudyFindings[] = [];
  const artefacts: StudyArtefacts[] = [];
  for (const plan of plans) {
    const mine = graded.filter((g) => g.plan === plan);
    const series = mine.map(({ series: s, result, shift }, n) => {
      const source = chosenSource(s.volume, s.localization.sliceIndex);
      return {
        findings: seriesFindings({
          volume: s.volume,
          verdict: s.verdict,
          selection: selectionReason(s.volume, s.verdict, n === 0 ? 'first' : 'fused'),
          localization: result.localization,
          slice: s.slice,
          graded: result,
          levelOverride: shift,
          sopInstanceUid: source.sopInstanceUid,
        }),
        artefacts: {
          volume: s.volume,
          slice: s.slice,
          localization: result.localization,
          graded: result,
          sourcePath: source.path,
          ...(heats.has(s) ? { heat: heats.get(s) as DiscHeatArtefact[] } : {}),
        } satisfies SeriesArtefacts,
      };
    });
    const first = plan.study.series[0]?.metadata;
    const key = studyKey(plan.study);
    studyFindings.push({
      key,
      studyInstanceUid: first?.studyInstanceUid ?? null,
      sourceFormat: first?.sourceFormat ?? 'unknown',
      series: series.map((s) => s.findings),
      levels: fuseLevels(
        series.map((s) => s.findings),
        reviewThreshold,
      ),
      skipped: plan.skipped.map((s) => skippedSeries(s.volume, s.reasons)),
    });
    artefacts.push({ key, series: series.map((s) => s.artefacts) });
  }
  const findings: FindingsDocument = {
    schema: FINDINGS_SCHEMA,
    version: FINDINGS_VERSION,
    createdAt: new Date().toISOString(),
    software: { name: 'spinegrade', version: spinegradeVersion() },
    disclaimer: RESEARCH_USE_DISCLAIMER,
    credit: SPIDER_CREDIT,
    models,
    reviewThreshold,
    studies: studyFindings,
  };
  timings.findings = performance.now() - mark;
  timings.total = performance.now() - started;
  return { findings, artefacts, timings };
}
