/**
 * `findings.json`: what `analyze` found in one or more studies — a versioned, documented schema
 * (docs/findings.md). The CLI, the server, the HTML report, DICOM SR and SEG all read this one shape.
 */
import type { BinaryFinding } from '../disc/findings.js';
import type { DiscMeasures } from '../disc/measures.js';
import type { GradedFinding, PixelPoint } from '../disc/predictions.js';
import type { ModelIdentity } from '../disc/provenance.js';

/** Schema identifier and version of `findings.json` (semver: minor = fields added). */
export const FINDINGS_SCHEMA = 'spinegrade/findings' as const;
/** Version of the findings schema. */
export const FINDINGS_VERSION = '1.3.0' as const;

/** A model that contributed, with the measured figures its card states. */
export interface ModelReference {
  /**
   * The model folder's name, never a local path (since schema 1.2): `models/<name>` for a bundled
   * model, the folder's own name otherwise.
   */
  dir: string;
  /** Who the model is: name, version, weights' SHA-256, training data, base model (since schema 1.2). */
  identity?: ModelIdentity;
  /** `cnn`, `hybrid`, `ensemble`, `classical` (grader) or `localizer`. */
  variant: string;
  /** Short summary of its measured accuracy (from its model card), e.g. out-of-fold κ with CI. */
  accuracy: string[];
  /** What ran its networks: `onnx` (onnxruntime) or `tfjs` (TensorFlow.js). Since schema 1.1. */
  engine?: 'onnx' | 'tfjs';
}

/** Per-feature SHAP values (logit units) of the classical model, per finding. */
export type ShapValues = Record<string, Record<string, number>>;

/** Everything found for one disc of one series. Probabilities are calibrated. */
export type DiscFindings = {
  /** Level name (`L4/L5`); reflects a level override when one was given. */
  level: string;
  /** SPIDER IVD label: 1 = L5/S1 … 5 = L1/L2, 6 = T12/L1; 0 = a disc below L5/S1. */
  ivdLabel: number;
  pfirrmann: GradedFinding;
  modic: GradedFinding;
  /** True when the top Pfirrmann probability is below the grader's review threshold. */
  needsReview: boolean;
  measures: DiscMeasures;
  /**
   * Exact SHAP values of the classical model (docs/classical.md), present when the grader has one:
   * part of the grade in the `classical` and `ensemble` variants, a second opinion beside it otherwise.
   */
  shap?: ShapValues;
  /** The classical model's own Pfirrmann grade, which `shap.pfirrmann` explains. */
  classicalPfirrmann?: GradedFinding;
  geometry: {
    /** Pixel `[x, y]` on the series' mid-sagittal display slice (superior up, anterior left). */
    centerPx: PixelPoint;
    posteriorPx: PixelPoint;
    outlinePx: PixelPoint[];
    /** Patient coordinates (DICOM LPS, mm). */
    centerMm: readonly [number, number, number];
    posteriorMm: readonly [number, number, number];
  };
} & Record<BinaryFinding, number>;

/** A vertebral body outlined on the mid-sagittal slice. */
export interface VertebraFindings {
  /** `L5`, `S1`, … or null when it could not be named. */
  name: string | null;
  centerPx: PixelPoint;
  outlinePx: PixelPoint[];
}

/** One graded series. */
export interface SeriesFindings {
  seriesInstanceUid: string | null;
  seriesDescription: string | null;
  seriesNumber: number | null;
  /** Sequence as recognised (`T1`, `T2`, `STIR`, `other`). */
  sequence: string;
  /** Why this series was graded (see `inspect`). */
  selection: string;
  /** Index of the mid-sagittal slice along the sagittal axis. */
  midSagittalSlice: number;
  /** SOP Instance UID of the mid-sagittal slice (DICOM input only). */
  midSagittalSopInstanceUid: string | null;
  /** Display size of the mid-sagittal slice, pixels `[width, height]`, and its spacing (mm). */
  sliceSize: [number, number];
  pixelSpacing: [number, number];
  slicesGraded: number;
  levelVote: { slices: number; agreeing: number; offsetApplied: number };
  /** Level shift applied by the user's override (0 when none). */
  levelOverride: number;
  possibleTransitional: boolean;
  warnings: string[];
  discs: DiscFindings[];
  vertebrae: VertebraFindings[];
}

/** One level, fused over the study's graded series (mean probabilities; T2 first, T1 where present). */
export type FusedLevelFindings = Omit<DiscFindings, 'geometry' | 'shap'> & {
  /** Series (by index into `series`) that contributed. */
  fromSeries: number[];
};

/** A series that was not graded, and why. */
export interface SkippedSeries {
  seriesInstanceUid: string | null;
  seriesDescription: string | null;
  reasons: string[];
}

/** One study. */
export interface StudyFindings {
  /** Study key: Study Instance UID for DICOM, else the input path. */
  key: string;
  studyInstanceUid: string | null;
  /** `dicom`, `nifti`, `metaimage`, `png`, `jpeg`. */
  sourceFormat: string;
  series: SeriesFindings[];
  levels: FusedLevelFindings[];
  skipped: SkippedSeries[];
}

/** The whole `findings.json`. */
export interface FindingsDocument {
  schema: typeof FINDINGS_SCHEMA;
  version: typeof FINDINGS_VERSION;
  createdAt: string;
  software: { name: 'spinegrade'; version: string };
  disclaimer: string;
  credit: string;
  models: { grader: ModelReference; localizer: ModelReference };
  reviewThreshold: number;
  studies: StudyFindings[];
}

/** The research-use statement every output carries. */
export const RESEARCH_USE_DISCLAIMER =
  'Research use only. Not a medical device; not for diagnosis. Every finding must be checked by a qualified reader.';

/** Credit for the data the bundled models learned from. */
export const SPIDER_CREDIT =
  'Models trained on the SPIDER lumbar spine MRI dataset (van der Graaf et al., Scientific Data 2024, CC BY 4.0).';
