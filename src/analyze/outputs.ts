import { readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SpinegradeError } from '../errors.js';
import type { ExplainTarget } from '../explain/disc.js';
import { assertWritableTarget, buildFolderAtomic, writeFileAtomic } from '../io/atomic.js';
import type { NaturalDataset } from '../io/dicom/dataset.js';
import { readDicomHeaders } from '../report/dicomCodes.js';
import type { FindingsDocument } from '../report/findings.js';
import { type HtmlReportStudyImages, renderHtmlReport } from '../report/html.js';
import { encodeOverlayPng, heatThumbnailPng } from '../report/overlayImage.js';
import { buildSegmentation } from '../report/seg.js';
import { buildMeasurementReport } from '../report/sr.js';
import type { AnalysisResult } from './analyze.js';

/** Where an analysis goes: one findings file, or a report folder. */
export type OutputTarget =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'folder'; readonly path: string };

/** The files of a report folder. */
export const OUTPUT_FILES = {
  findings: 'findings.json',
  overlay: 'overlay.png',
  report: 'report.html',
  sr: 'sr.dcm',
  seg: 'seg.dcm',
} as const;

/** `--out` ending in `.json` is a findings file; anything else a report folder. */
export function outputTarget(out: string): OutputTarget {
  return /\.json$/i.test(out) ? { kind: 'file', path: out } : { kind: 'folder', path: out };
}

/**
 * Throws `OUTPUT_ERROR` unless the target can be written: its parent folder exists; a findings file
 * does not exist (unless overwriting); a report folder does not exist, is empty, or may be replaced.
 * Called before the analysis so a bad `--out` fails at once.
 */
export async function checkOutputTarget(target: OutputTarget, overwrite: boolean): Promise<void> {
  if (target.kind === 'file') return assertWritableTarget(target.path, overwrite);
  const parent = dirname(target.path);
  if (!(await stat(parent).catch(() => undefined))?.isDirectory()) {
    throw new SpinegradeError('OUTPUT_ERROR', `output folder ${parent} does not exist`, target.path);
  }
  const existing = await stat(target.path).catch(() => undefined);
  if (!existing) return;
  if (!existing.isDirectory()) {
    throw new SpinegradeError(
      'OUTPUT_ERROR',
      'output exists and is not a folder (give a new folder, or a file name ending in .json)',
      target.path,
    );
  }
  if (!overwrite && (await readdir(target.path)).length > 0) {
    throw new SpinegradeError(
      'OUTPUT_ERROR',
      'output folder exists and is not empty (pass --overwrite to replace it)',
      target.path,
    );
  }
}

/** An indented JSON array that holds only numbers (a point, a probability vector). */
const NUMBER_ARRAY = /\[\n\s*(-?[\d.eE+-]+(?:,\n\s*-?[\d.eE+-]+)*)\n\s*\]/g;

/**
 * `findings.json` as text: two-space indented, arrays of numbers (points, probabilities) on one line,
 * numbers rounded to 6 decimals.
 */
export function findingsJson(findings: FindingsDocument): string {
  const text = JSON.stringify(
    findings,
    (_key, value) => (typeof value === 'number' && !Number.isInteger(value) ? Number(value.toFixed(6)) : value),
    2,
  );
  return `${text.replace(NUMBER_ARRAY, (_match, numbers: string) => `[${numbers.split(/,\n\s*/).join(', ')}]`)}\n`;
}

const NON_DICOM_NOTE = 'DICOM SR and SEG need DICOM input:';

/** The note recorded when SR and SEG cannot be made (non-DICOM input). */
export function nonDicomNote(format: string): string {
  return `${NON_DICOM_NOTE} ${OUTPUT_FILES.sr} and ${OUTPUT_FILES.seg} were not written (${format} input)`;
}

/** True for the note of {@link nonDicomNote}: about the input's format, not about a series' images. */
export function isFormatNote(warning: string): boolean {
  return warning.startsWith(NON_DICOM_NOTE);
}

/** The findings with `note` added to the warnings of every series of the studies it concerns. */
function withSeriesWarning(
  findings: FindingsDocument,
  concerns: (study: FindingsDocument['studies'][number]) => boolean,
  note: (study: FindingsDocument['studies'][number]) => string,
): FindingsDocument {
  return {
    ...findings,
    studies: findings.studies.map((study) =>
      concerns(study)
        ? { ...study, series: study.series.map((s) => ({ ...s, warnings: [...s.warnings, note(study)] })) }
        : study,
    ),
  };
}

/** What was written, and notes for the user (files that could not be made, and why). */
export interface WrittenOutputs {
  /** Paths written. */
  files: string[];
  notes: string[];
  /** The findings as written (with the output notes in the series warnings). */
  findings: FindingsDocument;
}

/** Writes the analysis to `target` (see the module comment); nothing is left half-written. */
export async function writeAnalysisOutputs(
  result: AnalysisResult,
  target: OutputTarget,
  options: { overwrite?: boolean } = {},
): Promise<WrittenOutputs> {
  const overwrite = options.overwrite === true;
  if (target.kind === 'file') {
    await writeFileAtomic(target.path, findingsJson(result.findings), { overwrite });
    return { files: [target.path], notes: [], findings: result.findings };
  }
  await checkOutputTarget(target, overwrite);
  const notes: string[] = [];
  const nonDicom = [
    ...new Set(result.findings.studies.filter((s) => s.sourceFormat !== 'dicom').map((s) => s.sourceFormat)),
  ];
  for (const format of nonDicom) notes.push(nonDicomNote(format));
  const findings = withSeriesWarning(
    result.findings,
    (study) => study.sourceFormat !== 'dicom',
    (study) => nonDicomNote(study.sourceFormat),
  );
  const files: { name: string; data: Uint8Array | string }[] = [
    { name: OUTPUT_FILES.findings, data: findingsJson(findings) },
  ];
  files.push(...(await reportFiles(findings, result)));
  await buildFolderAtomic(
    target.path,
    async (dir) => {
      for (const file of files) await writeFile(join(dir, file.name), file.data);
    },
    () => checkOutputTarget(target, overwrite),
  );
  return { files: files.map((f) => join(target.path, f.name)), notes, findings };
}

/** `name.ext` for the first item, `name-2.ext`, `name-3.ext`… for the next ones. */
function numbered(name: string, index: number): string {
  if (index === 0) return name;
  const dot = name.lastIndexOf('.');
  return `${name.slice(0, dot)}-${index + 1}${name.slice(dot)}`;
}

/** A short caption of what a disc's heat map explains. */
function explains(target: ExplainTarget): string {
  if (target.finding === 'pfirrmann') return `Pfirrmann grade ${target.grade}`;
  if (target.finding === 'modic') return `Modic type ${target.type}`;
  return target.finding;
}

/**
 * The report files of an analysis, built from `findings` (which may carry a reader's corrections)
 * and the artefacts behind it: the labelled overlay of every graded series (`overlay.png`,
 * `overlay-2.png`, …), the HTML report, and for DICOM studies one SR per study and one SEG per
 * graded series (`sr.dcm`, `seg.dcm`, then numbered).
 */
export async function reportFiles(
  findings: FindingsDocument,
  result: Pick<AnalysisResult, 'artefacts'>,
): Promise<{ name: string; data: Uint8Array | string }[]> {
  const files: { name: string; data: Uint8Array | string }[] = [];
  const studies: HtmlReportStudyImages[] = [];
  let overlays = 0;
  let srs = 0;
  let segs = 0;
  for (const [s, study] of findings.studies.entries()) {
    const artefacts = result.artefacts[s];
    if (!artefacts) throw new SpinegradeError('INTERNAL', `no artefacts for study ${study.key}`);
    const images: HtmlReportStudyImages = { studyKey: study.key, series: [] };
    const sourceDatasets: NaturalDataset[] = [];
    for (const [n, series] of study.series.entries()) {
      const art = artefacts.series[n];
      if (!art) throw new SpinegradeError('INTERNAL', `no artefacts for series ${n + 1} of study ${study.key}`);
      const overlayPng = encodeOverlayPng(art.slice, series);
      files.push({ name: numbered(OUTPUT_FILES.overlay, overlays++), data: overlayPng });
      const heat = (art.heat ?? []).flatMap((h) => {
        const disc = series.discs.find((d) => d.ivdLabel === h.ivdLabel);
        return disc
          ? [
              {
                level: disc.level,
                thumbnailPng: heatThumbnailPng(art.slice, h.heat.slice, disc.geometry.centerPx),
                explains: explains(h.target),
              },
            ]
          : [];
      });
      images.series.push({ overlayPng, heat });
      if (study.sourceFormat !== 'dicom') continue;
      const datasets = await readDicomHeaders(art.volume.metadata.sourcePaths);
      sourceDatasets.push(...datasets);
      files.push({
        name: numbered(OUTPUT_FILES.seg, segs++),
        data: buildSegmentation({
          volume: art.volume,
          sourceDatasets: datasets,
          labelMaps: [
            {
              sliceIndex: art.localization.sliceIndex,
              classes: art.localization.slice.classes,
              width: art.slice.width,
              height: art.slice.height,
            },
          ],
          softwareVersion: findings.software.version,
        }),
      });
    }
    studies.push(images);
    if (study.sourceFormat === 'dicom' && study.series.length > 0)
      files.push({
        name: numbered(OUTPUT_FILES.sr, srs++),
        data: buildMeasurementReport({ findings, study, sourceDatasets }),
      });
  }
  const { grader, localizer } = findings.models;
  files.push({
    name: OUTPUT_FILES.report,
    data: renderHtmlReport({
      findings,
      studies,
      modelCard: {
        title: `Grader (${grader.variant}) and localiser, trained on SPIDER; figures measured out of fold`,
        lines: [...grader.accuracy, ...localizer.accuracy],
      },
    }),
  });
  return files;
}
