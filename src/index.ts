/** The public API of spinegrade. */

export {
  formatInspectReport,
  type InspectReport,
  inspectPaths,
  type SeriesReport,
  type StudyReport,
} from './cli/inspect.js';
export * from './errors.js';
export { type DicomFile, dicomSeriesToVolume, readDicomFile } from './io/dicom/read.js';
export { type DicomSeriesOptions, encodeDicomSlice, uidFromSeed, writeDicomSeries } from './io/dicom/write.js';
export {
  type Discovery,
  discoverFiles,
  type FileKind,
  type FoundFile,
  type SkippedFile,
  sniff,
} from './io/discover.js';
export { type LoadedInput, type LoadOptions, loadSingleVolume, loadStudies, type Study } from './io/load.js';
export { readMetaImage, writeMetaImage } from './io/metaimage.js';
export { readNifti, writeNifti } from './io/nifti.js';
export {
  encodeGreyPng,
  type PictureReadOptions,
  readPicture,
  SAGITTAL_DISPLAY_DIRECTION,
  writeGreyPng,
} from './io/png.js';
export * from './transforms/intensity.js';
export * from './transforms/resample.js';
export * from './volume/orientation.js';
export * from './volume/sequence.js';
export * from './volume/suitability.js';
export * from './volume/volume.js';
