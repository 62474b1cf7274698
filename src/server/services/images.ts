/**
 * A study's images for the viewer: the series as `analyze` reads them (the volumes of a few studies
 * kept in memory), a DICOM series' instances in slice order, sagittal display slices as PNG, and the
 * stored files' bytes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { heatFileName } from '../analysisEngine.js';
import { ServiceError, toServiceError } from '../errors.js';
import { FILE_ID_PATTERN, type StoredFile } from '../files.js';
import { type LoadedSeries, loadSeries, parseWindow, type SeriesInfo, slicePng } from '../images.js';
import type { StudyRecord } from './repository.js';
import type { StudyService } from './studies.js';

/** A series of a study with its loaded volume. */
export interface StudySeries {
  info: SeriesInfo;
  loaded: LoadedSeries;
}

/** One DICOM instance of a series, in slice order. */
export interface InstanceRef {
  sliceIndex: number;
  fileId: string;
  sopInstanceUid: string | null;
}

/** The series, slices and files of the studies. */
export class ImageService {
  /** The loaded series (with volumes) of the studies opened last, most recent last. */
  private readonly loaded = new Map<string, Promise<LoadedSeries[]>>();
  private static readonly SERIES_KEPT = 3;

  constructor(private readonly studies: StudyService) {
    studies.onRemove((id) => this.loaded.delete(id));
  }

  /** The study's series as read (cached for the last few studies); `UNREADABLE_STUDY` when they cannot be read. */
  async series(study: StudyRecord): Promise<StudySeries[]> {
    this.studies.requireReady(study);
    let entry = this.loaded.get(study.id);
    if (entry) {
      this.loaded.delete(study.id);
    } else {
      entry = loadSeries(study.filesDir, study.pixelSpacing).catch((error: unknown) => {
        this.loaded.delete(study.id);
        const failure = toServiceError(error, study.filesDir);
        throw new ServiceError('UNREADABLE_STUDY', `the study's files cannot be read: ${failure.message}`);
      });
    }
    this.loaded.set(study.id, entry);
    while (this.loaded.size > ImageService.SERIES_KEPT) this.loaded.delete(this.loaded.keys().next().value as string);
    const loaded = await entry;
    const studyInstanceUid = loaded[0]?.volume.metadata.studyInstanceUid;
    if (study.studyInstanceUid === null && studyInstanceUid) {
      study.studyInstanceUid = studyInstanceUid;
      this.studies.save(study);
    }
    return loaded.map((l) => {
      const findingsSeries = study.findingsSeriesByFile[l.fileIds[0] ?? ''] ?? null;
      const heatmaps = findingsSeries === null ? [] : [...(study.heatmaps[findingsSeries] ?? [])];
      return { info: { ...l.info, findingsSeries, heatmaps }, loaded: l };
    });
  }

  /**
   * The Grad-CAM map (RGBA PNG on the display slice's grid) of disc `level` on series `n` (the name
   * `<level>.png`, the level URL-encoded); `NOT_FOUND` when that series and level have none.
   */
  async heat(study: StudyRecord, n: string, name: string): Promise<Buffer> {
    const { info } = await this.oneSeries(study, n);
    const level = name.endsWith('.png') ? name.slice(0, -4) : '';
    if (info.findingsSeries === null || !info.heatmaps.includes(level)) {
      throw new ServiceError(
        'NOT_FOUND',
        `no Grad-CAM map of ${level.slice(0, 20) || name.slice(0, 20)} on series ${info.index} (its maps: ${info.heatmaps.join(', ') || 'none'})`,
      );
    }
    const path = join(study.dir, 'heat', `g${study.generation}`, String(info.findingsSeries), heatFileName(level));
    return readFile(path).catch((error: unknown) => {
      throw toServiceError(error);
    });
  }

  /** Series `n` (its index as text) of a study; `NOT_FOUND` when out of range. */
  async oneSeries(study: StudyRecord, n: string): Promise<StudySeries> {
    const all = await this.series(study);
    const index = /^\d{1,4}$/.test(n) ? Number(n) : -1;
    const found = all[index];
    if (!found) {
      throw new ServiceError(
        'NOT_FOUND',
        `no series ${n.slice(0, 20)} (the study has ${all.length}: 0 to ${all.length - 1})`,
      );
    }
    return found;
  }

  /** The DICOM instances of series `n` in slice order; `NOT_DICOM` for other formats. */
  async instances(study: StudyRecord, n: string): Promise<{ series: number; instances: InstanceRef[] }> {
    const { info, loaded } = await this.oneSeries(study, n);
    if (info.format !== 'dicom') {
      throw new ServiceError('NOT_DICOM', `series ${info.index} is ${info.format}, not DICOM: use …/slices/{k}.png`);
    }
    return {
      series: info.index,
      instances: loaded.fileIds.map((fileId, k) => ({
        sliceIndex: k,
        fileId,
        sopInstanceUid: loaded.sopInstanceUids[k] ?? null,
      })),
    };
  }

  /**
   * Sagittal display slice `<k>.png` (`sliceName`) of series `n` of study `id` as an 8-bit PNG, in the
   * window `windowText` (`"<center>,<width>"`) or the slice's robust range.
   */
  async slice(id: string, n: string, sliceName: string, windowText: unknown): Promise<Uint8Array> {
    const match = /^(\d{1,5})\.png$/.exec(sliceName);
    if (!match) throw new ServiceError('NOT_FOUND', `no slice ${sliceName.slice(0, 20)} (use slices/<k>.png)`);
    const window = parseWindow(windowText);
    const { loaded } = await this.oneSeries(this.studies.get(id), n);
    return slicePng(loaded.volume, Number(match[1]), window);
  }

  /** The bytes of stored file `fileId` of study `id`; `NOT_FOUND` when there is none. */
  async file(id: string, fileId: string): Promise<{ file: StoredFile; bytes: Buffer }> {
    const study = this.studies.get(id);
    if (!FILE_ID_PATTERN.test(fileId))
      throw new ServiceError('NOT_FOUND', `no file ${fileId.slice(0, 40)} in study ${id}`);
    this.studies.requireReady(study);
    const file = study.files.find((f) => f.id === fileId);
    if (!file) throw new ServiceError('NOT_FOUND', `no file ${fileId.slice(0, 40)} in study ${study.id}`);
    return { file, bytes: await readFile(join(study.filesDir, file.id)) };
  }
}
