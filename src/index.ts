/** The public API of spinegrade. */

export {
  type AnalysisInput,
  type AnalysisResult,
  type AnalysisStage,
  type AnalysisTimings,
  type AnalyzeOptions,
  type Analyzer,
  type AnalyzerOptions,
  analyze,
  createAnalyzer,
  type DiscHeatArtefact,
  type SeriesArtefacts,
  type StudyArtefacts,
} from './analyze/analyze.js';
export { compareStudies, readComparedInput, readComparisonNoise } from './analyze/compare.js';
export { formatFindings, levelTable } from './analyze/format.js';
export { cardHeadlines, modelAccuracy, modelReference } from './analyze/models.js';
export {
  checkOutputTarget,
  findingsJson,
  nonDicomNote,
  OUTPUT_FILES,
  type OutputTarget,
  outputTarget,
  type WrittenOutputs,
  writeAnalysisOutputs,
} from './analyze/outputs.js';
export { assertFindingsDocument, isFindingsDocument, validateFindings } from './analyze/validate.js';
export {
  type CohortPageContext,
  type CohortSummary,
  renderCohortPage,
  summarizeCohort,
  writeCohortPage,
} from './batch/cohortPage.js';
export * from './datasets/index.js';
export { CANAL_AP_THRESHOLDS_MM } from './disc/measures.js';
export * from './disc/predictions.js';
export * from './errors.js';
export { type CanalPair, type CanalValidation, validateCanalMeasures } from './evaluation/canal.js';
export { type DatasetPredictions, type PredictionPlan, predictDataset } from './evaluation/predict.js';
export { measureRepeatability, type RepeatabilityTable } from './evaluation/repeatability.js';
export { type Estimate, type Evaluation, evaluatePredictions, type MetricRow } from './evaluation/score.js';
export { formatEvaluation } from './evaluation/table.js';
export { type DiscHeat, type ExplainTarget, explainDiscs } from './explain/disc.js';
export {
  type GradCamMap,
  type GradCamTarget,
  gradCam,
  gradCamBatch,
  heatToSlice,
  type SliceToCrop,
} from './explain/gradcam.js';
export { heatOverlayRgb, writeHeatOverlayPng } from './explain/overlay.js';
export { type CoveragePoint, coverageAccuracyCurve } from './grade/calibration.js';
export { type CanalMeasures, type ClassMap, canalDiameterMm, measureCanal } from './grade/canal.js';
export {
  type CropPlacement,
  cropDisc,
  cropPlacement,
  DEFAULT_CROP_CONFIG,
  type DiscCrop,
  type DiscCropConfig,
} from './grade/crops.js';
export {
  type DiscToGrade,
  disposeGrader,
  type GradedDisc,
  type Grader,
  type GraderCalibration,
  gradeSeriesDiscs,
  loadGrader,
} from './grade/grader.js';
export { type ClassPriorModel, classPriorDiscs, fitClassPrior } from './grade/prior.js';
export { type GradedVolume, type GradedVolumeDisc, gradeVolume } from './grade/volume.js';
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
export {
  formatInspectReport,
  type InspectReport,
  inspectPaths,
  type SeriesReport,
  type StudyReport,
} from './io/inspect.js';
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
export {
  type ImageLocalization,
  type Localizer,
  loadLocalizer,
  localizeImages,
  localizerForPatient,
} from './localize/localizer.js';
export {
  ANCHOR_REACH_MM,
  anchorShift,
  checkLevelOverride,
  type LevelAnchor,
  type LevelOverride,
  MAX_LEVEL_SHIFT,
  nearestDisc,
  parseLevelOverride,
  shiftVolumeLocalization,
} from './localize/override.js';
export {
  type LocalizedDisc,
  type LocalizedVertebra,
  localizeFromMaps,
  type SliceLocalization,
} from './localize/postprocess.js';
export {
  type LevelVote,
  localizeVolume,
  type PhysicalDisc,
  reconcileLevels,
  type VolumeLocalization,
} from './localize/volume.js';
export * from './metrics/index.js';
export {
  ENGINE_CHOICES,
  type EngineChoice,
  engineFromEnvironment,
  type InferenceEngine,
  type Network,
} from './models/engine.js';
export { loadNetwork } from './models/network.js';
export {
  COMPARISON_SCHEMA,
  COMPARISON_VERSION,
  compareFindings,
  formatComparison,
  renderComparisonHtml,
  type StudyComparison,
} from './report/compare.js';
export {
  type DiscFindings as FindingsDisc,
  FINDINGS_SCHEMA,
  FINDINGS_VERSION,
  type FindingsDocument,
  type FusedLevelFindings,
  type ModelReference,
  RESEARCH_USE_DISCLAIMER,
  type SeriesFindings,
  type ShapValues,
  type SkippedSeries,
  SPIDER_CREDIT,
  type StudyFindings,
  type VertebraFindings,
} from './report/findings.js';
export {
  describeFindings,
  describeStudy,
  narrativeText,
  type StudyNarrative,
  sentenceText,
  UNCERTAIN_MARK,
} from './report/narrative.js';
export {
  DEFAULT_LOCALIZER_DIR,
  DEFAULT_MODEL_DIR,
  GRADER_MODEL_DIR,
  readModel,
  type SpinegradeModel,
  writeModel,
} from './store/store.js';
export * from './transforms/intensity.js';
export * from './transforms/resample.js';
export * from './volume/orientation.js';
export * from './volume/sequence.js';
export * from './volume/suitability.js';
export * from './volume/volume.js';
