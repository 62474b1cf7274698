/** The public API of spinegrade. */

export {
  formatInspectReport,
  type InspectReport,
  inspectPaths,
  type SeriesReport,
  type StudyReport,
} from './cli/inspect.js';
export * from './datasets/index.js';
export * from './errors.js';
export { type DatasetPredictions, type PredictionPlan, predictDataset } from './evaluation/predict.js';
export { type Estimate, type Evaluation, evaluatePredictions, type MetricRow } from './evaluation/score.js';
export { formatEvaluation } from './evaluation/table.js';
export { type ClassPriorModel, classPriorDiscs, fitClassPrior } from './grade/prior.js';
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
export { type ImageLocalization, type Localizer, loadLocalizer, localizeImages } from './localize/localizer.js';
export {
  type LocalizedDisc,
  type LocalizedVertebra,
  localizeFromMaps,
  type SliceLocalization,
} from './localize/postprocess.js';
export { localizeVolume, type PhysicalDisc, type VolumeLocalization } from './localize/volume.js';
export * from './metrics/index.js';
export { DEFAULT_MODEL_DIR, readModel, type SpinegradeModel, writeModel } from './models/store.js';
export * from './report/predictions.js';
export * from './transforms/intensity.js';
export * from './transforms/resample.js';
export * from './volume/orientation.js';
export * from './volume/sequence.js';
export * from './volume/suitability.js';
export * from './volume/volume.js';
