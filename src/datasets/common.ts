/** Pieces the dataset readers share: SPIDER names and gradings, folder checks, mid-sagittal slices. */
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { DiscFindings } from '../disc/findings.js';
import { levelOfIvdLabel } from '../disc/levels.js';
import { SpinegradeError } from '../errors.js';
import { errorCode, fileSystemError } from '../io/binary.js';
import type { Image2D } from '../transforms/resample.js';
import { extractSagittalSlice, midSagittalIndex } from '../volume/orientation.js';
import type { Volume } from '../volume/volume.js';
import type { CsvTable } from './csv.js';
import type {
  DatasetLayout,
  DatasetSequence,
  DiscLabel,
  LeftOut,
  MaskSliceRecord,
  ReaderAccount,
  SeriesRecord,
  SpineDataset,
} from './types.js';

/** Orders patient ids: whole numbers numerically, before any other id, which sort as text. */
export function comparePatientIds(a: string, b: string): number {
  const na = /^\d+$/.test(a) ? Number(a) : undefined;
  const nb = /^\d+$/.test(b) ? Number(b) : undefined;
  if (na !== undefined && nb !== undefined) return na - nb || (a < b ? -1 : a > b ? 1 : 0);
  if (na !== undefined) return -1;
  if (nb !== undefined) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The sorted union of the patient ids of several lists. */
export function sortedPatients(...lists: Iterable<string>[]): string[] {
  const all = new Set<string>();
  for (const list of lists) for (const id of list) all.add(id);
  return [...all].sort(comparePatientIds);
}

/** A dataset from its parts; its patients are everyone with a series, a label or a mask slice. */
export function assembleDataset<L extends DatasetLayout, S extends SeriesRecord, M extends MaskSliceRecord>(parts: {
  root: string;
  layout: L;
  series: S[];
  discs: DiscLabel[];
  maskSlices: M[];
  notes: string[];
  /** What the reader left out, by reason (empty reasons are dropped). */
  leftOut?: LeftOut[];
}): SpineDataset & { layout: L; series: S[]; maskSlices: M[] } {
  const { leftOut = [], ...rest } = parts;
  const seriesPatients = new Set(parts.series.map((s) => s.patient));
  const labelledPatients = new Set(parts.discs.map((d) => d.patient));
  const unlabelled = [...seriesPatients].filter((p) => !labelledPatients.has(p)).sort();
  const imageless = [...labelledPatients].filter((p) => !seriesPatients.has(p)).sort();
  const account: ReaderAccount = {
    read: { series: parts.series.length, patients: seriesPatients.size, gradedDiscs: parts.discs.length },
    leftOut: [
      ...leftOut,
      // Read but not scored: patients with images and no labels, and labels with no images.
      ...(parts.discs.length > 0 ? [leftOutOf('no labels (not scored)', 'patients', unlabelled)] : []),
      leftOutOf('labels without images', 'patients', imageless),
    ].filter((l) => l.count > 0),
  };
  return {
    ...rest,
    patients: sortedPatients(
      parts.series.map((s) => s.patient),
      parts.discs.map((d) => d.patient),
      parts.maskSlices.map((m) => m.patient),
    ),
    account,
  };
}

/** How many examples a reader account keeps per reason. */
const ACCOUNT_EXAMPLES = 5;

/** One reason of a reader account from the things it left out. */
export function leftOutOf(reason: string, unit: string, items: readonly string[]): LeftOut {
  return { reason, unit, count: items.length, examples: items.slice(0, ACCOUNT_EXAMPLES) };
}

/** A reader account in a few lines: what was read, then one line per reason something was left out. */
export function describeAccount(account: ReaderAccount): string[] {
  const { read } = account;
  const lines = [`read: ${read.series} series of ${read.patients} patients, ${read.gradedDiscs} graded discs`];
  if (account.leftOut.length === 0) lines.push('left out: nothing');
  for (const l of account.leftOut) {
    const more = l.count > l.examples.length ? ', …' : '';
    lines.push(`left out: ${l.count} ${l.unit}: ${l.reason} (${l.examples.join(', ')}${more})`);
  }
  return lines;
}

/** The patient of a SPIDER series name: the part before the first `_` (`98_t2_SPACE` → `98`). */
export function spiderPatientOf(seriesId: string): string {
  const cut = seriesId.indexOf('_');
  return cut < 0 ? seriesId : seriesId.slice(0, cut);
}

/** The sequence of a SPIDER series name from its suffix (`_t1`, `_t2`, `_t2_SPACE`); undefined for others. */
export function spiderSequenceOf(seriesId: string): DatasetSequence | undefined {
  const cut = seriesId.indexOf('_');
  if (cut < 0) return undefined;
  const suffix = seriesId.slice(cut + 1).toLowerCase();
  if (suffix === 't1') return 'T1';
  if (suffix === 't2') return 'T2';
  if (suffix === 't2_space') return 'T2SPACE';
  return undefined;
}

/**
 * Parses SPIDER's `PixelSpacing` text, e.g. `[.5859375, .5859375]` (DICOM order: row spacing, then
 * column spacing; not JSON, as numbers may start with a dot), into an {@link Image2D} spacing
 * `[x = column spacing, y = row spacing]`. Undefined unless it holds two positive numbers.
 */
export function parseSpiderPixelSpacing(text: string): [number, number] | undefined {
  const inner = text.trim().replace(/^\[/, '').replace(/\]$/, '');
  const parts = inner.split(/[,\s\\]+/).filter((p) => p !== '');
  if (parts.length !== 2) return undefined;
  const [row, col] = parts.map((p) => parseNumber(p) ?? Number.NaN) as [number, number];
  if (!(row > 0 && col > 0 && Number.isFinite(row) && Number.isFinite(col))) return undefined;
  return [col, row];
}

/** The columns of SPIDER's `radiological_gradings.csv` and the finding each one fills. */
export const SPIDER_GRADING_COLUMNS: readonly { column: string; field: keyof DiscFindings; max: number }[] = [
  { column: 'Pfirrman grade', field: 'pfirrmann', max: 5 },
  { column: 'Modic', field: 'modic', max: 3 },
  { column: 'UP endplate', field: 'endplateUpper', max: 1 },
  { column: 'LOW endplate', field: 'endplateLower', max: 1 },
  { column: 'Spondylolisthesis', field: 'spondylolisthesis', max: 1 },
  { column: 'Disc herniation', field: 'herniation', max: 1 },
  { column: 'Disc bulging', field: 'bulging', max: 1 },
  { column: 'Disc narrowing', field: 'narrowing', max: 1 },
];

/** The smallest valid value of a finding (Pfirrmann starts at 1, the others at 0). */
export function findingMinimum(field: keyof DiscFindings): number {
  return field === 'pfirrmann' ? 1 : 0;
}

/** A whole number in `[min, max]`, or undefined for anything else (blank included). */
export function parseGrade(text: string | undefined, min: number, max: number): number | undefined {
  const t = (text ?? '').trim();
  if (!/^[+-]?\d+(\.0*)?$/.test(t)) return undefined;
  const v = Number(t);
  return v >= min && v <= max ? v : undefined;
}

/**
 * Turns the rows of SPIDER's `radiological_gradings.csv` into disc labels. Rows without a usable
 * patient or IVD label are left out, and values outside a finding's range leave that finding
 * absent; both are counted in `notes`.
 */
export function spiderDiscLabels(table: CsvTable, source: string, notes: string[]): DiscLabel[] {
  const discs: DiscLabel[] = [];
  const badRows: number[] = [];
  const badValues: string[] = [];
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const columns = SPIDER_GRADING_COLUMNS.filter((c) => table.columns.includes(c.column));
  table.rows.forEach((row, r) => {
    const line = table.lines[r] as number;
    const patient = (row.Patient ?? '').trim();
    const ivdLabel = parseGrade(row['IVD label'], 0, 17);
    if (patient === '' || ivdLabel === undefined) {
      badRows.push(line);
      return;
    }
    const key = `${patient}\u0000${ivdLabel}`;
    if (seen.has(key)) {
      duplicates.push(`${patient}/${ivdLabel}`);
      return;
    }
    seen.add(key);
    const disc: { -readonly [K in keyof DiscLabel]: DiscLabel[K] } = {
      patient,
      ivdLabel,
      level: levelOfIvdLabel(ivdLabel),
    };
    for (const { column, field, max } of columns) {
      const text = (row[column] ?? '').trim();
      if (text === '') continue;
      const value = parseGrade(text, findingMinimum(field), max);
      if (value === undefined) badValues.push(`line ${line} ${column}="${text}"`);
      else disc[field] = value;
    }
    discs.push(disc);
  });
  if (badRows.length > 0) {
    notes.push(
      `${source}: ${badRows.length} row(s) without a usable Patient / IVD label were left out (line ${abbreviate(badRows.map(String))})`,
    );
  }
  if (duplicates.length > 0) {
    notes.push(`${source}: ${duplicates.length} repeated disc row(s) were left out (${abbreviate(duplicates)})`);
  }
  if (badValues.length > 0) {
    notes.push(
      `${source}: ${badValues.length} value(s) out of range were treated as not graded (${abbreviate(badValues)})`,
    );
  }
  return discs;
}

/** A finite number written in plain decimal or exponent notation, or undefined (blank included). */
export function parseNumber(text: string | undefined): number | undefined {
  const t = (text ?? '').trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return undefined;
  return Number(t);
}

/** The first few items of a list, then how many more. */
export function abbreviate(items: readonly string[], shown = 5): string {
  if (items.length <= shown) return items.join(', ');
  return `${items.slice(0, shown).join(', ')}, … and ${items.length - shown} more`;
}

/** What sits at a path: a folder, a file, or nothing. Other file-system problems throw. */
export async function pathKind(path: string): Promise<'folder' | 'file' | 'missing'> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? 'folder' : 'file';
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw fileSystemError(error, path);
  }
}

/** Throws `NOT_FOUND` unless `root` is an existing folder. */
export async function assertFolder(root: string): Promise<void> {
  const kind = await pathKind(root);
  if (kind === 'missing') throw new SpinegradeError('NOT_FOUND', 'no such dataset folder', root);
  if (kind === 'file') throw new SpinegradeError('NOT_FOUND', 'is a file; a dataset is a folder', root);
}

/** The geometric mid-sagittal slice of a volume in display orientation, as an {@link Image2D}. */
export function midSagittalImage(volume: Volume): Image2D {
  const slice = extractSagittalSlice(volume, midSagittalIndex(volume));
  return { pixels: slice.pixels, width: slice.width, height: slice.height, pixelSpacing: slice.pixelSpacing };
}

/** The dataset restricted to some patients. */
export function restrictToPatients(
  dataset: SpineDataset,
  patients: ReadonlySet<string>,
  reason?: string,
): SpineDataset {
  const series = dataset.series.filter((s) => patients.has(s.patient));
  const discs = dataset.discs.filter((d) => patients.has(d.patient));
  const removed = dataset.patients.filter((p) => !patients.has(p));
  const account: ReaderAccount | undefined =
    dataset.account && reason !== undefined
      ? {
          read: {
            series: series.length,
            patients: new Set(series.map((s) => s.patient)).size,
            gradedDiscs: discs.length,
          },
          leftOut: [...dataset.account.leftOut, leftOutOf(reason, 'patients', removed)].filter((l) => l.count > 0),
        }
      : dataset.account;
  return {
    ...dataset,
    patients: dataset.patients.filter((p) => patients.has(p)),
    series,
    discs,
    maskSlices: dataset.maskSlices.filter((m) => patients.has(m.patient)),
    ...(account ? { account } : {}),
  };
}

/**
 * The name that identifies a dataset in model provenance (docs/models.md): `SPIDER` for either SPIDER
 * layout, the root folder's name for own data. In-sample checks compare (this name, patient id) pairs.
 */
export function datasetName(dataset: Pick<SpineDataset, 'root' | 'layout'>): string {
  return dataset.layout === 'own' ? basename(resolve(dataset.root)) : 'SPIDER';
}
