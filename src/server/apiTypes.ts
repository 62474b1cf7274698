/**
 * Shapes of the server's JSON answers that the browser viewer reads too. This module imports nothing,
 * so the viewer (built for the browser, without Node's types) can import its types.
 */

/** One series of a study, as the API lists it (docs/api.md, "Series and images"). */
export interface SeriesInfo {
  index: number;
  seriesInstanceUid: string | null;
  seriesDescription: string | null;
  seriesNumber: number | null;
  modality: string | null;
  format: string;
  plane: string;
  /** Voxel counts along the volume's index axes. */
  size: [number, number, number];
  /** Number of sagittal display slices. */
  sagittalSlices: number;
  display: { width: number; height: number; pixelSpacing: [number, number] };
  /** Number of source files (DICOM instances, or PNG slices, or 1 for a volume file). */
  instances: number;
  /** True when DICOM instance k (slice order) is sagittal display slice k. */
  instancesAreSagittalSlices: boolean;
  /** Display pixel (x, y) → instance pixel (column, row) = (a·x + b·y + c, d·x + e·y + f); null unless the above. */
  displayToInstance: [number, number, number, number, number, number] | null;
  /** Index into `findings.studies[0].series` once analysed, else null. */
  findingsSeries: number | null;
  /** Levels with a Grad-CAM map (`…/series/{n}/heat/{level}.png`); `[]` before analysis or when none. */
  heatmaps: string[];
}

/** One study of the PACS's study list (docs/api.md, "The PACS study list"). */
export interface PacsStudy {
  studyInstanceUid: string | null;
  studyDate: string | null;
  studyTime: string | null;
  studyDescription: string | null;
  accessionNumber: string | null;
  modalities: string[];
  patientName: string | null;
  patientId: string | null;
  series: number | null;
  instances: number | null;
}
