/** One interface over every dataset layout spinegrade reads (SPIDER 2D, SPIDER original, own data). */
import type { DiscFindings } from '../disc/findings.js';
import type { Image2D } from '../transforms/resample.js';

/** The sequence of a dataset series. */
export type DatasetSequence = 'T1' | 'T2' | 'T2SPACE' | 'STIR' | 'other';

/** The graded findings of one disc of one patient (grades hold for every series of that patient). */
export interface DiscLabel extends DiscFindings {
  readonly patient: string;
  /** SPIDER numbering: 1 = L5/S1, 2 = L4/L5, …; 0 = a disc below L5/S1. */
  readonly ivdLabel: number;
  /** Level name, e.g. `L4/L5`. */
  readonly level: string;
}

/** A disc point marked on a series' mid-sagittal image (SPIDER: posterior disc margin, T2 only). */
export interface DiscKeypoint {
  readonly ivdLabel: number;
  readonly level: string;
  /** Pixel column and row in that series' mid-sagittal image (display orientation). */
  readonly x: number;
  readonly y: number;
}

/** One series of a dataset. */
export interface SeriesRecord {
  /** Unique within the dataset, e.g. `11_t2`. */
  readonly id: string;
  readonly patient: string;
  readonly sequence: DatasetSequence;
  /** Scanner manufacturer, when the dataset says (SPIDER: `Manufacturer` of `overview.csv`; own data: the DICOM header). */
  readonly manufacturer?: string;
  /** Disc keypoints on the mid-sagittal image, when the dataset has them. */
  readonly keypoints: readonly DiscKeypoint[];
  /**
   * The series' mid-sagittal slice in display orientation (superior up, anterior left) with its true
   * pixel spacing: the PNG itself for the SPIDER 2D layout, the middle sagittal slice of the volume otherwise.
   */
  loadMidSagittal(): Promise<Image2D>;
}

/** One 2D slice with a reference mask. */
export interface MaskSliceRecord {
  /** File name used for predicted masks, e.g. `98_t2_SPACE_slice61.png`. */
  readonly id: string;
  readonly patient: string;
  /** The series the slice belongs to. */
  readonly series: string;
  loadImage(): Promise<Image2D>;
  /** Semantic mask of the same size: 0 background, 29 disc, 76 vertebra, 150 spinal canal. */
  loadMask(): Promise<Uint8Array>;
}

/** Semantic mask values (SPIDER 2D release convention). */
export const MASK_VALUES = { background: 0, disc: 29, vertebra: 76, canal: 150 } as const;

/** The layouts spinegrade reads. */
export type DatasetLayout = 'spider-2d' | 'spider-original' | 'own';

/** A labelled dataset: series, per-disc labels, keypoints and mask slices, all keyed by patient. */
export interface SpineDataset {
  readonly root: string;
  readonly layout: DatasetLayout;
  /** Every patient with a series or a label, sorted. */
  readonly patients: readonly string[];
  readonly series: readonly SeriesRecord[];
  readonly discs: readonly DiscLabel[];
  readonly maskSlices: readonly MaskSliceRecord[];
  /** Things the reader noticed and worked around (missing folders, unreadable rows). */
  readonly notes: readonly string[];
  /** What the reader read and what it left out, by reason (docs/datasets.md, "Reader account"). */
  readonly account?: ReaderAccount;
}

/** Things a reader left out for one reason. */
export interface LeftOut {
  /** Why, in words: `no pixel spacing`, `not sagittal`, `unreadable`, `duplicate slices`, … */
  readonly reason: string;
  /** What was left out: `files`, `series`, `patient folders`, `patients`. */
  readonly unit: string;
  readonly count: number;
  /** The first few of them (paths relative to the dataset, or patient ids). */
  readonly examples: readonly string[];
}

/** What a dataset reader read and left out: every file or series it met is in one or the other. */
export interface ReaderAccount {
  readonly read: { readonly series: number; readonly patients: number; readonly gradedDiscs: number };
  readonly leftOut: readonly LeftOut[];
}
