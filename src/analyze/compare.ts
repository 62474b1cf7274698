/**
 * `compareStudies`: what `spinegrade compare <baseline> <follow-up>` runs. Each side is an `analyze
 * --out` folder (its `findings.json`, and `overlay.png` when present) or a `findings.json` file; the
 * noise is the bundled localiser's measured repeatability (`repeatability.json`, written by
 * scripts/measure-repeatability.mjs). Writes `comparison.json` and `comparison.html` into one folder,
 * whole or not at all.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SpinegradeError } from '../errors.js';
import { writeFolderAtomic } from '../io/atomic.js';
import {
  COMPARED_MEASURES,
  type ComparedMeasure,
  type ComparisonNoise,
  compareFindings,
  renderComparisonHtml,
  type StudyComparison,
} from '../report/compare.js';
import type { FindingsDocument } from '../report/findings.js';
import { DEFAULT_LOCALIZER_DIR } from '../store/store.js';
import { assertFindingsDocument } from './validate.js';

/** One side of a comparison as read from disk. */
export interface ComparedInput {
  findings: FindingsDocument;
  overlayPng?: Uint8Array;
}

/** Reads an `analyze --out` folder or a `findings.json` file. */
export async function readComparedInput(path: string): Promise<ComparedInput> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new SpinegradeError('NOT_FOUND', 'no such file or folder', path);
  const findingsPath = info.isDirectory() ? join(path, 'findings.json') : path;
  let text: string;
  try {
    text = await readFile(findingsPath, 'utf8');
  } catch {
    throw new SpinegradeError(
      'NOT_FOUND',
      'no findings.json here: give an analyze --out folder or a findings.json file',
      findingsPath,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      `not JSON (${error instanceof Error ? error.message : String(error)})`,
      findingsPath,
    );
  }
  const findings = assertFindingsDocument(parsed, findingsPath);
  if (findings.studies.length === 0) throw new SpinegradeError('NO_USABLE_SERIES', 'no study in it', findingsPath);
  const overlayPng = info.isDirectory()
    ? await readFile(join(path, 'overlay.png')).then(
        (b) => new Uint8Array(b),
        () => undefined,
      )
    : undefined;
  return overlayPng ? { findings, overlayPng } : { findings };
}

/** The measured repeatability coefficients of the localiser in `localizerDir` (null where not measured). */
export async function readComparisonNoise(localizerDir: string = DEFAULT_LOCALIZER_DIR): Promise<ComparisonNoise> {
  const path = join(localizerDir, 'repeatability.json');
  const none = Object.fromEntries(COMPARED_MEASURES.map((m) => [m, null])) as Record<ComparedMeasure, number | null>;
  let table: { method?: string; patients?: number; measures?: Record<string, { coefficient?: number }> };
  try {
    table = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return { source: `no repeatability measured for ${localizerDir}`, coefficients: none };
  }
  const coefficients = { ...none };
  for (const m of COMPARED_MEASURES) {
    const c = table.measures?.[m]?.coefficient;
    coefficients[m] = typeof c === 'number' && Number.isFinite(c) ? Math.round(c * 1000) / 1000 : null;
  }
  return {
    source: `repeatability coefficient, ${table.method ?? 'measured'} (${table.patients ?? '?'} patients)`,
    coefficients,
  };
}

/** Compares two analysed studies; with `out`, writes comparison.json and comparison.html there. */
export async function compareStudies(
  baselinePath: string,
  followUpPath: string,
  options: { out?: string; overwrite?: boolean; localizerDir?: string; now?: Date } = {},
): Promise<StudyComparison> {
  const baseline = await readComparedInput(baselinePath);
  const followUp = await readComparedInput(followUpPath);
  const noise = await readComparisonNoise(options.localizerDir);
  const comparison = compareFindings(baseline.findings, followUp.findings, noise, options.now);
  if (options.out) {
    const html = renderComparisonHtml(comparison, { baseline: baseline.overlayPng, followUp: followUp.overlayPng });
    await writeFolderAtomic(
      options.out,
      [
        { name: 'comparison.json', data: `${JSON.stringify(comparison, null, 2)}\n` },
        { name: 'comparison.html', data: html },
      ],
      { overwrite: options.overwrite ?? false },
    );
  }
  return comparison;
}
