/** Reads everything under the user's paths into studies of series, each series one {@link Volume}. */
import { dirname } from 'node:path';
import { SpinegradeError } from '../errors.js';
import type { Volume } from '../volume/volume.js';
import { type DicomFile, dicomSeriesToVolume, readDicomFile } from './dicom/read.js';
import { discoverFiles, type FoundFile, type SkippedFile } from './discover.js';
import { readMetaImage } from './metaimage.js';
import { readNifti } from './nifti.js';
import { readPicture } from './png.js';

/** One study: the series that share a StudyInstanceUID (or, for non-DICOM files, a folder). */
export interface Study {
  /** StudyInstanceUID for DICOM; `folder:<path>` for files without one. */
  readonly key: string;
  readonly series: Volume[];
}

/** What {@link loadStudies} found. */
export interface LoadedInput {
  readonly studies: Study[];
  readonly skipped: SkippedFile[];
}

/** Options for {@link loadStudies}. */
export interface LoadOptions {
  /** In-plane spacing (mm, `[x, y]`) for PNG/JPEG slices, which carry none. */
  pixelSpacing?: readonly [number, number];
  /** Called after each file is read. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Finds, reads and groups every image under `paths`. Throws a {@link SpinegradeError} naming the
 * file on anything it cannot read, and `NO_IMAGES` when nothing readable is there.
 */
export async function loadStudies(paths: readonly string[], options: LoadOptions = {}): Promise<LoadedInput> {
  const { files, skipped } = await discoverFiles(paths);
  if (files.length === 0) {
    const detail = skipped.length === 0 ? 'it is empty' : `${skipped.length} file(s) skipped, none an image`;
    throw new SpinegradeError('NO_IMAGES', `no image files found (${detail})`, paths.join(', '));
  }
  const total = files.length;
  let done = 0;
  const progress = (): void => options.onProgress?.(++done, total);

  const dicomFiles: DicomFile[] = [];
  const studies = new Map<string, Map<string, Volume | DicomFile[]>>();
  const seriesOf = (studyKey: string): Map<string, Volume | DicomFile[]> => {
    let study = studies.get(studyKey);
    if (!study) {
      study = new Map();
      studies.set(studyKey, study);
    }
    return study;
  };

  for (const file of files) {
    if (file.kind === 'dicom') {
      const dicom = await readDicomFile(file.path);
      if (!dicom.isImage) {
        if (file.explicit)
          throw new SpinegradeError(
            'NO_PIXEL_DATA',
            'DICOM object is not an image (no Rows/Columns, no pixel data)',
            file.path,
          );
        skipped.push({
          path: file.path,
          reason: `DICOM object without pixels (${String(dicom.dataset.Modality ?? 'non-image')})`,
        });
      } else {
        dicomFiles.push(dicom);
      }
    } else {
      seriesOf(`folder:${dirname(file.path)}`).set(file.path, await readOtherFormat(file, options));
    }
    progress();
  }
  for (const dicom of dicomFiles) {
    const study = seriesOf(dicom.studyInstanceUid);
    const existing = study.get(dicom.seriesInstanceUid);
    if (Array.isArray(existing)) existing.push(dicom);
    else study.set(dicom.seriesInstanceUid, [dicom]);
  }
  const result: Study[] = [];
  for (const [key, seriesMap] of studies) {
    const series: Volume[] = [];
    for (const entry of seriesMap.values()) {
      series.push(Array.isArray(entry) ? await dicomSeriesToVolume(entry) : entry);
    }
    result.push({ key, series });
  }
  if (result.length === 0) {
    throw new SpinegradeError(
      'NO_IMAGES',
      `no image files found (${skipped.length} DICOM object(s) without pixels)`,
      paths.join(', '),
    );
  }
  return { studies: result, skipped };
}

async function readOtherFormat(file: FoundFile, options: LoadOptions): Promise<Volume> {
  switch (file.kind) {
    case 'nifti':
      return readNifti(file.path);
    case 'metaimage':
      return readMetaImage(file.path);
    default:
      return readPicture(file.path, options.pixelSpacing ? { pixelSpacing: options.pixelSpacing } : {});
  }
}

/** Reads exactly one series from the paths; throws `USAGE` when they hold several. */
export async function loadSingleVolume(paths: readonly string[], options: LoadOptions = {}): Promise<Volume> {
  const { studies } = await loadStudies(paths, options);
  const all = studies.flatMap((s) => s.series);
  if (all.length !== 1) {
    throw new SpinegradeError(
      'USAGE',
      `expected one series but found ${all.length}; point at a single series`,
      paths.join(', '),
    );
  }
  return all[0]!;
}
