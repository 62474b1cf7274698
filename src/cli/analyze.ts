/**
 * `spinegrade analyze <path...> --out report.json`: the main job on one study — read it, pick every
 * gradable sagittal series, find, outline and label the discs, grade them with calibrated
 * probabilities and measure them; write one JSON report (other report formats come later).
 */
import { resolve } from 'node:path';
import { SpinegradeError } from '../errors.js';
import { type GradedVolume, gradeVolume } from '../grade/volume.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadStudies } from '../io/load.js';
import { loadLocalizer } from '../localize/localizer.js';
import { DEFAULT_LOCALIZER_DIR, DEFAULT_MODEL_DIR, readModel } from '../models/store.js';
import { gradingSuitability, sequenceOf } from '../volume/suitability.js';
import type { Volume } from '../volume/volume.js';
import type { Progress } from './progress.js';

/** Version of the analyze report; bumped only on an incompatible change. */
export const ANALYZE_REPORT_VERSION = 1;

/** Options of `analyze`. */
export interface AnalyzeOptions {
  out: string;
  model?: string;
  localizer?: string;
  pixelSpacing?: readonly [number, number];
  overwrite?: boolean;
}

function seriesReport(volume: Volume, graded: GradedVolume) {
  const { localization } = graded;
  return {
    seriesInstanceUid: volume.metadata.seriesInstanceUid ?? null,
    seriesDescription: volume.metadata.seriesDescription ?? null,
    sequence: sequenceOf(volume).sequence,
    sourcePaths: volume.metadata.sourcePaths.length,
    midSagittalSlice: localization.sliceIndex,
    slicesGraded: graded.slicesGraded,
    levelVote: localization.levelVote,
    possibleTransitional: localization.slice.possibleTransitional,
    warnings: localization.slice.warnings,
    discs: graded.discs.map((d) => ({
      level: d.level,
      ivdLabel: d.ivdLabel,
      pfirrmann: d.pfirrmann,
      modic: d.modic,
      endplateUpper: d.endplateUpper,
      endplateLower: d.endplateLower,
      spondylolisthesis: d.spondylolisthesis,
      herniation: d.herniation,
      bulging: d.bulging,
      narrowing: d.narrowing,
      needsReview: d.needsReview,
      measures: d.measures,
      centerMm: d.centerMm,
      posteriorMm: d.posteriorMm,
      center: d.center,
      posterior: d.posterior,
      outline: d.outline,
    })),
  };
}

/** Runs the analysis; returns the text summary for the terminal. */
export async function runAnalyze(
  paths: readonly string[],
  options: AnalyzeOptions,
  progress: Progress,
): Promise<string> {
  const grader = await readModel(resolve(options.model ?? DEFAULT_MODEL_DIR));
  if (grader.kind !== 'grader')
    throw new SpinegradeError(
      'USAGE',
      `analyze needs a grader model; ${options.model ?? DEFAULT_MODEL_DIR} is a ${grader.kind}`,
    );
  const localizer = await loadLocalizer(resolve(options.localizer ?? DEFAULT_LOCALIZER_DIR));
  const { studies } = await loadStudies(paths, {
    ...(options.pixelSpacing ? { pixelSpacing: options.pixelSpacing } : {}),
    onProgress: progress.update,
  });
  progress.finish();
  const reasons: string[] = [];
  const report = [];
  const summary: string[] = [];
  for (const study of studies) {
    const series = [];
    for (const volume of study.series) {
      const verdict = gradingSuitability(volume);
      if (!verdict.usable) {
        reasons.push(...verdict.reasons);
        continue;
      }
      const graded = await gradeVolume(grader, localizer, volume);
      series.push(seriesReport(volume, graded));
      summary.push(`${volume.metadata.seriesDescription ?? 'series'} (${verdict.sequence.sequence}):`);
      for (const d of graded.discs) {
        const p = Math.max(...d.pfirrmann.probs);
        summary.push(
          `  ${d.level.padEnd(8)} Pfirrmann ${d.pfirrmann.grade} (p ${p.toFixed(2)})  Modic ${d.modic.grade}  herniation ${d.herniation.toFixed(2)}  height ${d.measures.discHeightMm.toFixed(1)} mm${d.needsReview ? '  needs review' : ''}`,
        );
      }
      for (const warning of graded.localization.slice.warnings) summary.push(`  warning: ${warning}`);
    }
    if (series.length) report.push({ study: study.key, series });
  }
  if (report.length === 0) {
    throw new SpinegradeError(
      'NO_USABLE_SERIES',
      `no series can be graded (${[...new Set(reasons)].join('; ')})`,
      paths.join(', '),
    );
  }
  const document = {
    version: ANALYZE_REPORT_VERSION,
    disclaimer: 'Research use only; not a medical device.',
    models: {
      grader: grader.dir,
      graderVariant: grader.context ? 'hybrid' : 'cnn',
      reviewThreshold: grader.calibration.reviewThreshold,
      localizer: localizer.dir,
    },
    studies: report,
  };
  await writeFileAtomic(options.out, `${JSON.stringify(document, null, 1)}\n`, {
    overwrite: options.overwrite === true,
  });
  return [...summary, `wrote ${options.out}`].join('\n');
}
