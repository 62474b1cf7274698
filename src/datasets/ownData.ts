/**
 * The "own data" layout, for sites that fine-tune on their own cases (documented in docs/datasets.md):
 *
 * ```
 * <root>/labels.csv            patient,level,pfirrmann,modic,endplate_upper,endplate_lower,
 *                              spondylolisthesis,herniation,bulging,narrowing
 * <root>/studies/<patient>/…   any images spinegrade reads (DICOM folders, .mha/.mhd, .nii/.nii.gz, PNG/JPEG)
 * <root>/spacing.csv           optional: file,col_spacing_mm,row_spacing_mm for PNG/JPEG slices
 * ```
 *
 * `level` is a disc level such as `L4/L5`; a blank cell means "not graded". Series ids are
 * `<patient>/<series description or file name>`. Only sagittal series are kept (the dataset gives
 * mid-sagittal slices); pictures without a spacing in `spacing.csv` are left out, with a note.
 */
import { readdir } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import type { DiscFindings } from '../disc/findings.js';
import { ivdLabelOfLevel, levelOfIvdLabel } from '../disc/levels.js';
import { isSpinegradeError, SpinegradeError } from '../errors.js';
import { fileSystemError } from '../io/binary.js';
import { loadSingleVolume, loadStudies } from '../io/load.js';
import { imagePlane } from '../volume/orientation.js';
import { sequenceOf } from '../volume/suitability.js';
import type { Volume } from '../volume/volume.js';
import {
  abbreviate,
  assembleDataset,
  assertFolder,
  leftOutOf,
  midSagittalImage,
  parseGrade,
  parseNumber,
  pathKind,
} from './common.js';
import { readCsv } from './csv.js';
import type { DatasetSequence, DiscLabel, LeftOut, SeriesRecord, SpineDataset } from './types.js';

/** File and folder names of the own-data layout, relative to its root. */
export const OWN_DATA_FILES = { labels: 'labels.csv', studies: 'studies', spacing: 'spacing.csv' } as const;

/** The columns of `labels.csv` after `patient` and `level`, the finding each fills and its largest value. */
export const OWN_LABEL_COLUMNS: readonly { column: string; field: keyof DiscFindings; min: number; max: number }[] = [
  { column: 'pfirrmann', field: 'pfirrmann', min: 1, max: 5 },
  { column: 'modic', field: 'modic', min: 0, max: 3 },
  { column: 'endplate_upper', field: 'endplateUpper', min: 0, max: 1 },
  { column: 'endplate_lower', field: 'endplateLower', min: 0, max: 1 },
  { column: 'spondylolisthesis', field: 'spondylolisthesis', min: 0, max: 1 },
  { column: 'herniation', field: 'herniation', min: 0, max: 1 },
  { column: 'bulging', field: 'bulging', min: 0, max: 1 },
  { column: 'narrowing', field: 'narrowing', min: 0, max: 1 },
];

/** Reads `labels.csv`; any malformed row is an `INVALID_HEADER` error naming the line. */
export async function readOwnLabels(path: string, notes: string[] = []): Promise<DiscLabel[]> {
  const table = await readCsv(path, { required: ['patient', 'level'] });
  const known = new Set(['patient', 'level', ...OWN_LABEL_COLUMNS.map((c) => c.column)]);
  const unused = table.columns.filter((c) => !known.has(c));
  if (unused.length > 0)
    notes.push(`${OWN_DATA_FILES.labels}: column(s) ${unused.map((c) => `"${c}"`).join(', ')} are not used`);
  const columns = OWN_LABEL_COLUMNS.filter((c) => table.columns.includes(c.column));
  const discs: DiscLabel[] = [];
  const seen = new Map<string, number>();
  table.rows.forEach((row, r) => {
    const line = table.lines[r] as number;
    const patient = (row.patient ?? '').trim();
    const levelText = (row.level ?? '').trim();
    if (patient === '') throw new SpinegradeError('INVALID_HEADER', `line ${line}: the patient is blank`, path);
    const ivdLabel = ivdLabelOfLevel(levelText);
    if (ivdLabel === undefined) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `line ${line}: "${levelText}" is no disc level (write e.g. L4/L5)`,
        path,
      );
    }
    const key = `${patient}\u0000${ivdLabel}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `line ${line}: patient ${patient} level ${levelOfIvdLabel(ivdLabel)} was already graded on line ${earlier}`,
        path,
      );
    }
    seen.set(key, line);
    const disc: { -readonly [K in keyof DiscLabel]: DiscLabel[K] } = {
      patient,
      ivdLabel,
      level: levelOfIvdLabel(ivdLabel),
    };
    for (const { column, field, min, max } of columns) {
      const text = (row[column] ?? '').trim();
      if (text === '') continue;
      const value = parseGrade(text, min, max);
      if (value === undefined) {
        throw new SpinegradeError(
          'INVALID_HEADER',
          `line ${line}: ${column} "${text}" must be a whole number ${min}-${max} (or blank for not graded)`,
          path,
        );
      }
      disc[field] = value;
    }
    discs.push(disc);
  });
  return discs;
}

/** Reads `spacing.csv` into a map from a picture's path (relative to `studies/`, with `/`) to `[x, y]` mm. */
export async function readOwnSpacing(path: string): Promise<Map<string, [number, number]>> {
  const table = await readCsv(path, { required: ['file', 'col_spacing_mm', 'row_spacing_mm'] });
  const spacing = new Map<string, [number, number]>();
  table.rows.forEach((row, r) => {
    const file = normalizeRelative(row.file ?? '');
    const col = parseNumber(row.col_spacing_mm);
    const rowSpacing = parseNumber(row.row_spacing_mm);
    if (file === '' || !(col !== undefined && col > 0) || !(rowSpacing !== undefined && rowSpacing > 0)) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `line ${table.lines[r]}: needs a file and two positive spacings in mm`,
        path,
      );
    }
    spacing.set(file, [col, rowSpacing]);
  });
  return spacing;
}

/** A path written in spacing.csv, relative to `studies/`, with `/` separators and no leading `./` or `studies/`. */
function normalizeRelative(text: string): string {
  return text
    .trim()
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '')
    .replace(/^studies\//, '');
}

/** The dataset sequence of a volume: the sequence guess, with 3D (or SPACE/CUBE/VISTA-named) T2 as `T2SPACE`. */
export function datasetSequenceOf(volume: Volume): DatasetSequence {
  const guess = sequenceOf(volume).sequence;
  if (guess !== 'T2') return guess;
  const meta = volume.metadata;
  const names = [meta.seriesDescription, meta.protocolName, meta.sequenceName, basename(meta.sourcePaths[0] ?? '')];
  if (meta.acquisitionType === '3D' || names.some((n) => n !== undefined && /space|cube|vista/i.test(n))) {
    return 'T2SPACE';
  }
  return 'T2';
}

/** Applies a picture's spacing from spacing.csv; undefined when the picture has none there. */
function withPictureSpacing(
  volume: Volume,
  studiesFolder: string,
  spacing: ReadonlyMap<string, [number, number]>,
): Volume | undefined {
  const format = volume.metadata.sourceFormat;
  if (format !== 'png' && format !== 'jpeg') return volume;
  const file = volume.metadata.sourcePaths[0];
  if (file === undefined) return undefined;
  const key = relative(studiesFolder, file).split(sep).join('/');
  const given = spacing.get(key);
  if (!given) return undefined;
  return {
    ...volume,
    spacing: [given[0], given[1], volume.spacing[2]],
    metadata: { ...volume.metadata, spacingSource: 'user' },
  };
}

/** Reads a folder in the own-data layout (see the module comment and docs/datasets.md). */
export async function readOwnDataset(root: string): Promise<SpineDataset> {
  await assertFolder(root);
  const notes: string[] = [];
  const labelsPath = join(root, OWN_DATA_FILES.labels);
  const studiesFolder = join(root, OWN_DATA_FILES.studies);
  const spacingPath = join(root, OWN_DATA_FILES.spacing);
  const [labelsKind, studiesKind, spacingKind] = await Promise.all([
    pathKind(labelsPath),
    pathKind(studiesFolder),
    pathKind(spacingPath),
  ]);
  if (labelsKind !== 'file' && studiesKind !== 'folder') {
    throw new SpinegradeError(
      'NO_IMAGES',
      `not an own-data dataset folder: it has neither ${OWN_DATA_FILES.labels} nor ${OWN_DATA_FILES.studies}/`,
      root,
    );
  }
  const discs = labelsKind === 'file' ? await readOwnLabels(labelsPath, notes) : [];
  if (labelsKind !== 'file') notes.push(`no ${OWN_DATA_FILES.labels}: the dataset has no disc labels`);
  const spacing = spacingKind === 'file' ? await readOwnSpacing(spacingPath) : new Map<string, [number, number]>();

  const series: SeriesRecord[] = [];
  const leftOut: LeftOut[] = [];
  if (studiesKind === 'folder') {
    let entries: { name: string; isDirectory(): boolean }[];
    try {
      entries = await readdir(studiesFolder, { withFileTypes: true });
    } catch (error) {
      throw fileSystemError(error, studiesFolder);
    }
    const patients = entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    const looseFiles = entries.filter((e) => !e.isDirectory()).map((e) => e.name);
    if (looseFiles.length > 0) {
      notes.push(
        `${looseFiles.length} file(s) directly in ${OWN_DATA_FILES.studies}/ belong to no patient folder and were left out (${abbreviate(looseFiles.sort())})`,
      );
    }
    leftOut.push(leftOutOf('outside a patient folder', 'files', looseFiles.sort()));
    const noSpacing: string[] = [];
    const notSagittal: string[] = [];
    const unreadable: string[] = [];
    const duplicateSlices: string[] = [];
    for (const patient of patients) {
      const folder = join(studiesFolder, patient);
      let volumes: Volume[];
      try {
        volumes = (await loadStudies([folder])).studies.flatMap((s) => s.series);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        notes.push(`patient ${patient}: no series read (${message})`);
        // Copies of one study in several folders of a patient read as one series with repeated slices.
        (isSpinegradeError(error) && error.kind === 'DUPLICATE_SLICES' ? duplicateSlices : unreadable).push(patient);
        continue;
      }
      const usedIds = new Set<string>();
      const ordered = volumes
        .map((v) => ({ volume: v, name: seriesName(v) }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const { volume: raw, name } of ordered) {
        const volume = withPictureSpacing(raw, studiesFolder, spacing);
        const path = raw.metadata.sourcePaths[0] ?? folder;
        if (!volume) {
          noSpacing.push(relative(studiesFolder, path).split(sep).join('/'));
          continue;
        }
        if (imagePlane(volume) !== 'sagittal') {
          notSagittal.push(`${patient}/${name} (${imagePlane(volume)})`);
          continue;
        }
        let id = `${patient}/${name}`;
        for (let n = 2; usedIds.has(id); n++) id = `${patient}/${name} #${n}`;
        usedIds.add(id);
        const sourcePaths = [...raw.metadata.sourcePaths];
        series.push({
          id,
          patient,
          sequence: datasetSequenceOf(volume),
          ...(volume.metadata.manufacturer ? { manufacturer: volume.metadata.manufacturer } : {}),
          keypoints: [],
          loadMidSagittal: async () => {
            const again = withPictureSpacing(await loadSingleVolume(sourcePaths), studiesFolder, spacing);
            if (!again)
              throw new SpinegradeError('USAGE', 'the pixel spacing of this picture is unknown', sourcePaths[0]);
            return midSagittalImage(again);
          },
        });
      }
    }
    if (noSpacing.length > 0) {
      notes.push(
        `${noSpacing.length} picture(s) have no row in ${OWN_DATA_FILES.spacing} (pixel spacing unknown) and were left out (${abbreviate(noSpacing)})`,
      );
    }
    if (notSagittal.length > 0) {
      notes.push(`${notSagittal.length} series are not sagittal and were left out (${abbreviate(notSagittal)})`);
    }
    leftOut.push(
      leftOutOf(`no pixel spacing (no row in ${OWN_DATA_FILES.spacing})`, 'files', noSpacing),
      leftOutOf('not sagittal', 'series', notSagittal),
      leftOutOf('unreadable', 'patient folders', unreadable),
      leftOutOf('duplicate slices (one study copied into several folders?)', 'patient folders', duplicateSlices),
    );
  } else {
    notes.push(`no ${OWN_DATA_FILES.studies}/ folder: the dataset has no series`);
  }

  return assembleDataset({ root, layout: 'own', series, discs, maskSlices: [], notes, leftOut });
}

/** A series' name within its patient: the DICOM series description, else its file name. */
function seriesName(volume: Volume): string {
  const meta = volume.metadata;
  if (meta.sourceFormat === 'dicom') {
    const description = meta.seriesDescription?.trim();
    if (description) return description.replace(/[/\\]/g, '-');
    return meta.seriesNumber !== undefined ? `series ${meta.seriesNumber}` : (meta.seriesInstanceUid ?? 'series');
  }
  return basename(meta.sourcePaths[0] ?? 'series');
}
