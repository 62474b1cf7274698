/** `spinegrade inspect`: lists studies and series and says which can be graded. */
import { SpinegradeError } from '../errors.js';
import { gradingSuitability } from '../volume/suitability.js';
import type { Volume } from '../volume/volume.js';
import type { SkippedFile } from './discover.js';
import { type LoadOptions, loadStudies, type Study } from './load.js';

/** Version of the `inspect --json` document; bumped only on an incompatible change. */
export const INSPECT_JSON_VERSION = 1;

/** One series in the `inspect --json` document (see docs/inspect-json.md). */
export interface SeriesReport {
  seriesInstanceUid: string | null;
  seriesNumber: number | null;
  description: string | null;
  format: string;
  fileCount: number;
  firstFile: string;
  plane: string;
  sequence: string;
  sequenceReason: string;
  acquisition: '2D' | '3D' | null;
  size: number[];
  spacingMm: number[];
  spacingSource: string;
  sagittalSlices: number;
  fieldOfViewMm: number[];
  repetitionTimeMs: number | null;
  echoTimeMs: number | null;
  usableForGrading: boolean;
  reasons: string[];
}

/** One study in the `inspect --json` document. */
export interface StudyReport {
  studyInstanceUid: string | null;
  folder: string | null;
  patientId: string | null;
  description: string | null;
  series: SeriesReport[];
}

/** The whole `inspect --json` document. */
export interface InspectReport {
  version: number;
  studies: StudyReport[];
  skipped: SkippedFile[];
  usableSeries: number;
}

const round = (v: number): number => Number(v.toFixed(6));

/** Describes one series for the inspect report. */
export function reportSeries(volume: Volume): SeriesReport {
  const meta = volume.metadata;
  const verdict = gradingSuitability(volume);
  return {
    seriesInstanceUid: meta.seriesInstanceUid ?? null,
    seriesNumber: meta.seriesNumber ?? null,
    description: meta.seriesDescription ?? null,
    format: meta.sourceFormat,
    fileCount: meta.sourcePaths.length,
    firstFile: meta.sourcePaths[0] ?? '',
    plane: verdict.plane,
    sequence: verdict.sequence.sequence,
    sequenceReason: verdict.sequence.reason,
    acquisition: meta.acquisitionType ?? null,
    size: [...volume.size],
    spacingMm: volume.spacing.map(round),
    spacingSource: meta.spacingSource ?? 'header',
    sagittalSlices: verdict.sagittalSlices,
    fieldOfViewMm: verdict.fieldOfViewMm.map((v) => round(v)),
    repetitionTimeMs: meta.repetitionTime ?? null,
    echoTimeMs: meta.echoTime ?? null,
    usableForGrading: verdict.usable,
    reasons: verdict.reasons,
  };
}

function reportStudy(study: Study): StudyReport {
  const first = study.series[0]?.metadata;
  const series = study.series
    .map(reportSeries)
    .sort((a, b) => (a.seriesNumber ?? 0) - (b.seriesNumber ?? 0) || a.firstFile.localeCompare(b.firstFile));
  return {
    studyInstanceUid: study.key.startsWith('folder:') ? null : study.key,
    folder: study.key.startsWith('folder:') ? study.key.slice('folder:'.length) : null,
    patientId: first?.patientId ?? null,
    description: first?.studyDescription ?? null,
    series,
  };
}

/** Builds the inspect report for the given paths. */
export async function inspectPaths(paths: readonly string[], options: LoadOptions = {}): Promise<InspectReport> {
  const { studies, skipped } = await loadStudies(paths, options);
  const reports = studies.map(reportStudy);
  return {
    version: INSPECT_JSON_VERSION,
    studies: reports,
    skipped,
    usableSeries: reports.reduce((n, s) => n + s.series.filter((r) => r.usableForGrading).length, 0),
  };
}

const mm = (values: readonly number[]): string => values.map((v) => Number(v.toFixed(3))).join('×');

/** The report as text for a terminal. */
export function formatInspectReport(report: InspectReport): string {
  const lines: string[] = [];
  for (const study of report.studies) {
    const title = study.studyInstanceUid ? `Study ${study.studyInstanceUid}` : `Folder ${study.folder}`;
    const extra = [
      study.patientId && `patient ${study.patientId}`,
      study.description && `"${study.description}"`,
    ].filter(Boolean);
    lines.push(`${title}${extra.length ? ` (${extra.join(', ')})` : ''}: ${study.series.length} series`);
    const names = study.series.map(
      (s) =>
        [s.seriesNumber !== null ? `#${s.seriesNumber}` : undefined, s.description ? `"${s.description}"` : undefined]
          .filter(Boolean)
          .join(' ') || s.firstFile,
    );
    for (const [n, s] of study.series.entries()) {
      const name = names[n] as string;
      // Series that share a number and description (copies, re-exports) are told apart by UID or first file.
      const shared = names.filter((other) => other === name).length > 1;
      const apart = shared ? ` (${s.seriesInstanceUid ? `UID …${s.seriesInstanceUid.slice(-8)}` : s.firstFile})` : '';
      lines.push(`  Series ${name}${apart} [${s.format}, ${s.fileCount} file${s.fileCount === 1 ? '' : 's'}]`);
      lines.push(
        `    ${s.plane} · ${s.sequence}${s.acquisition ? ` ${s.acquisition}` : ''} (${s.sequenceReason})` +
          `${s.repetitionTimeMs !== null ? ` · TR ${s.repetitionTimeMs} ms` : ''}${s.echoTimeMs !== null ? ` · TE ${s.echoTimeMs} ms` : ''}`,
      );
      lines.push(
        `    size ${s.size.join('×')} · spacing ${mm(s.spacingMm)} mm${s.spacingSource === 'header' ? '' : ` (${s.spacingSource})`}` +
          ` · ${s.sagittalSlices} sagittal slice${s.sagittalSlices === 1 ? '' : 's'} · field of view ${mm(s.fieldOfViewMm)} mm (AP×SI)`,
      );
      lines.push(
        s.usableForGrading ? '    usable for grading: yes' : `    usable for grading: no — ${s.reasons.join('; ')}`,
      );
    }
  }
  if (report.skipped.length > 0)
    lines.push(`Skipped ${report.skipped.length} file(s) that are not images (--json lists them).`);
  return lines.join('\n');
}

/** Throws `NO_USABLE_SERIES` when nothing in the report can be graded. */
export function assertSomethingUsable(report: InspectReport, paths: readonly string[]): void {
  if (report.usableSeries > 0) return;
  const reasons = [...new Set(report.studies.flatMap((s) => s.series.flatMap((r) => r.reasons)))];
  throw new SpinegradeError('NO_USABLE_SERIES', `no series can be graded (${reasons.join('; ')})`, paths.join(', '));
}
