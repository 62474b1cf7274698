/**
 * The findings of one study as a DICOM Comprehensive 3D SR that follows TID 1500 "Measurement
 * Report": one TID 1501 Measurement Group per graded disc of every graded series, with the grades
 * as coded values, their probabilities and the quantitative measures as numbers, each referring to
 * the series' mid-sagittal source image. docs/dicom-outputs.md describes the tree and every code.
 *
 * The content tree is built as plain naturalized dcmjs datasets (dcmjs's own SR template classes are
 * not used) and written as Explicit VR Little Endian.
 */
import type { BinaryFinding } from '../disc/findings.js';
import { MODIC_TYPES, PFIRRMANN_GRADES } from '../disc/predictions.js';
import { SpinegradeError } from '../errors.js';
import { type NaturalDataset, stringOf } from '../io/dicom/dataset.js';
import { uidFromSeed } from '../io/dicom/write.js';
import {
  type CodedConcept,
  codeOf,
  copyPatientAndStudy,
  DCM,
  decimalString,
  decodePart10,
  dicomDate,
  dicomTime,
  discLevelCode,
  encodePart10,
  itemsOf,
  levelOfDiscCode,
  modicCode,
  newUid,
  numberOfPrivateCode,
  OTHER,
  PRIVATE,
  PRIVATE_SCHEME_IDENTIFICATION,
  pfirrmannCode,
  SCT,
  sameCode,
  UCUM,
} from './dicomCodes.js';
import type { DiscFindings, FindingsDocument, FusedLevelFindings, SeriesFindings, StudyFindings } from './findings.js';
import { DRAFT_NOTICE, describeStudy, findingsText, impressionText } from './narrative.js';

/** SOP Class UID of Comprehensive 3D SR Storage. */
export const COMPREHENSIVE_3D_SR_STORAGE = '1.2.840.10008.5.1.4.1.1.88.34';

/** The Device Observer UID of spinegrade (the same for every report). */
const DEVICE_OBSERVER_UID = uidFromSeed('spinegrade device observer');

/** What {@link buildMeasurementReport} writes from. */
export interface SrInput {
  /** The whole findings document (software version, models). */
  findings: FindingsDocument;
  /** The study to report, one of `findings.studies`. */
  study: StudyFindings;
  /**
   * Naturalized headers of the study's source DICOM instances (e.g. from `readDicomHeaders`); patient
   * and study attributes are copied from them, and every one of the study's instances is listed in the
   * image library. Datasets of other studies are ignored.
   */
  sourceDatasets: readonly NaturalDataset[];
  /** Content date and time (default: now). */
  now?: Date;
  /** Series Number of the SR (default 900). */
  seriesNumber?: number;
}

type RelationshipType = 'CONTAINS' | 'HAS OBS CONTEXT' | 'HAS CONCEPT MOD' | 'HAS PROPERTIES' | 'INFERRED FROM';

type ItemBase = {
  RelationshipType: RelationshipType;
  ConceptNameCodeSequence?: CodedConcept[];
  ContentSequence?: ContentItem[];
};

type ContainerItem = ItemBase & {
  ValueType: 'CONTAINER';
  ConceptNameCodeSequence: CodedConcept[];
  ContinuityOfContent: 'SEPARATE' | 'CONTINUOUS';
};

type CodeItem = ItemBase & {
  ValueType: 'CODE';
  ConceptNameCodeSequence: CodedConcept[];
  ConceptCodeSequence: CodedConcept[];
};

type MeasuredValue = {
  NumericValue: string;
  MeasurementUnitsCodeSequence: CodedConcept[];
};

type NumItem = ItemBase & {
  ValueType: 'NUM';
  ConceptNameCodeSequence: CodedConcept[];
  MeasuredValueSequence: MeasuredValue[];
};

type TextItem = ItemBase & { ValueType: 'TEXT'; ConceptNameCodeSequence: CodedConcept[]; TextValue: string };

type UidRefItem = ItemBase & { ValueType: 'UIDREF'; ConceptNameCodeSequence: CodedConcept[]; UID: string };

type SopReference = { ReferencedSOPClassUID: string; ReferencedSOPInstanceUID: string };

type ImageItem = ItemBase & { ValueType: 'IMAGE'; ReferencedSOPSequence: SopReference[] };

type Scoord3dItem = ItemBase & {
  ValueType: 'SCOORD3D';
  ConceptNameCodeSequence: CodedConcept[];
  GraphicType: 'POINT';
  GraphicData: number[];
  ReferencedFrameOfReferenceUID: string;
};

type ContentItem = ContainerItem | CodeItem | NumItem | TextItem | UidRefItem | ImageItem | Scoord3dItem;

const container = (relationship: RelationshipType, name: CodedConcept, children: ContentItem[]): ContainerItem => ({
  RelationshipType: relationship,
  ValueType: 'CONTAINER',
  ConceptNameCodeSequence: [name],
  ContinuityOfContent: 'SEPARATE',
  ContentSequence: children,
});

const withChildren = <T extends ContentItem>(item: T, children: ContentItem[] | undefined): T =>
  children && children.length > 0 ? { ...item, ContentSequence: children } : item;

const codeItem = (
  relationship: RelationshipType,
  name: CodedConcept,
  value: CodedConcept,
  children?: ContentItem[],
): CodeItem =>
  withChildren(
    {
      RelationshipType: relationship,
      ValueType: 'CODE',
      ConceptNameCodeSequence: [name],
      ConceptCodeSequence: [value],
    },
    children,
  );

const numItem = (name: CodedConcept, value: number, unit: CodedConcept, children?: ContentItem[]): NumItem =>
  withChildren(
    {
      RelationshipType: 'CONTAINS',
      ValueType: 'NUM',
      ConceptNameCodeSequence: [name],
      MeasuredValueSequence: [{ NumericValue: decimalString(value), MeasurementUnitsCodeSequence: [unit] }],
    },
    children,
  );

const textItem = (relationship: RelationshipType, name: CodedConcept, value: string): TextItem => ({
  RelationshipType: relationship,
  ValueType: 'TEXT',
  ConceptNameCodeSequence: [name],
  TextValue: value,
});

const uidItem = (relationship: RelationshipType, name: CodedConcept, uid: string): UidRefItem => ({
  RelationshipType: relationship,
  ValueType: 'UIDREF',
  ConceptNameCodeSequence: [name],
  UID: uid,
});

const imageItem = (relationship: RelationshipType, reference: SopReference, name?: CodedConcept): ImageItem => ({
  RelationshipType: relationship,
  ValueType: 'IMAGE',
  ...(name ? { ConceptNameCodeSequence: [name] } : {}),
  ReferencedSOPSequence: [reference],
});

/** The quantitative measures written per disc: field, concept and unit. */
const MEASURES: readonly { field: keyof DiscFindings['measures']; concept: CodedConcept; unit: CodedConcept }[] = [
  { field: 'discHeightAnteriorMm', concept: PRIVATE.discHeightAnterior, unit: UCUM.millimetre },
  { field: 'discHeightMiddleMm', concept: PRIVATE.discHeightMiddle, unit: UCUM.millimetre },
  { field: 'discHeightPosteriorMm', concept: PRIVATE.discHeightPosterior, unit: UCUM.millimetre },
  { field: 'discHeightMm', concept: PRIVATE.discHeightMean, unit: UCUM.millimetre },
  { field: 'discHeightIndex', concept: PRIVATE.discHeightIndex, unit: UCUM.noUnits },
  { field: 'signalIntensityRatio', concept: PRIVATE.signalIntensityRatio, unit: UCUM.noUnits },
  { field: 'nucleusAnnulusContrast', concept: PRIVATE.nucleusAnnulusContrast, unit: UCUM.noUnits },
  { field: 'endplateSignalRatio', concept: PRIVATE.endplateSignalRatio, unit: UCUM.noUnits },
  { field: 'listhesisMm', concept: PRIVATE.listhesis, unit: UCUM.millimetre },
  { field: 'wedgeAngleDeg', concept: PRIVATE.wedgeAngle, unit: UCUM.degree },
  { field: 'discAngleDeg', concept: PRIVATE.discAngle, unit: UCUM.degree },
  { field: 'canalApMm', concept: PRIVATE.canalAp, unit: UCUM.millimetre },
  { field: 'canalApBodyMm', concept: PRIVATE.canalApBody, unit: UCUM.millimetre },
  { field: 'canalApRatio', concept: PRIVATE.canalApRatio, unit: UCUM.noUnits },
];

/** The binary findings (probabilities) written per disc, in report order. */
const BINARY: readonly { field: BinaryFinding; concept: CodedConcept }[] = [
  { field: 'endplateUpper', concept: PRIVATE.endplateUpper },
  { field: 'endplateLower', concept: PRIVATE.endplateLower },
  { field: 'spondylolisthesis', concept: PRIVATE.spondylolisthesis },
  { field: 'herniation', concept: PRIVATE.herniation },
  { field: 'bulging', concept: PRIVATE.bulging },
  { field: 'narrowing', concept: PRIVATE.narrowing },
];

/** Patient and study attributes copied when the source has them. */
const COPIED_OPTIONAL = [
  'IssuerOfPatientID',
  'OtherPatientIDs',
  'PatientAge',
  'PatientSize',
  'PatientWeight',
  'StudyDescription',
] as const;

/** Source instances by series, in the order given, with the facts the report needs. */
interface SourceSeries {
  seriesInstanceUid: string;
  frameOfReferenceUid: string | undefined;
  instances: SopReference[];
}

function groupSources(datasets: readonly NaturalDataset[]): Map<string, SourceSeries> {
  const bySeries = new Map<string, SourceSeries>();
  for (const d of datasets) {
    const seriesInstanceUid = stringOf(d, 'SeriesInstanceUID');
    const sopClass = stringOf(d, 'SOPClassUID');
    const sopInstance = stringOf(d, 'SOPInstanceUID');
    if (seriesInstanceUid === undefined || sopClass === undefined || sopInstance === undefined) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        'a source DICOM instance lacks its series, SOP class or SOP instance UID',
      );
    }
    let series = bySeries.get(seriesInstanceUid);
    if (!series) {
      series = { seriesInstanceUid, frameOfReferenceUid: stringOf(d, 'FrameOfReferenceUID'), instances: [] };
      bySeries.set(seriesInstanceUid, series);
    }
    if (!series.instances.some((i) => i.ReferencedSOPInstanceUID === sopInstance)) {
      series.instances.push({ ReferencedSOPClassUID: sopClass, ReferencedSOPInstanceUID: sopInstance });
    }
  }
  return bySeries;
}

function probabilityOf(probs: readonly number[], classes: readonly number[], grade: number): number {
  const p = probs[classes.indexOf(grade)];
  if (p === undefined || !Number.isFinite(p)) {
    throw new SpinegradeError('INTERNAL', `no probability for grade ${grade} in [${probs.join(', ')}]`);
  }
  return p;
}

function seriesLabel(series: SeriesFindings, index: number): string {
  if (series.seriesNumber !== null) return `series ${series.seriesNumber}`;
  return series.seriesDescription ?? `series #${index + 1}`;
}

/** The series' mid-sagittal source instance (what its discs were localised, measured and graded on). */
function midSagittalReference(
  series: SeriesFindings,
  seriesIndex: number,
  source: SourceSeries | undefined,
): SopReference | undefined {
  if (series.midSagittalSopInstanceUid === null) return undefined;
  const reference = source?.instances.find((i) => i.ReferencedSOPInstanceUID === series.midSagittalSopInstanceUid);
  if (!reference) {
    throw new SpinegradeError(
      'USAGE',
      `the mid-sagittal instance ${series.midSagittalSopInstanceUid} of ${seriesLabel(series, seriesIndex)} is not among the source DICOM instances given`,
    );
  }
  return reference;
}

/** The observation context and concept modifiers that open a measurement group. */
/** The SR's Algorithm Name: spinegrade and the grader model (its name when it has an identity). */
function algorithmName(findings: FindingsDocument, note = ''): string {
  const { identity, variant } = findings.models.grader;
  return `spinegrade (grader: ${identity ? `${identity.name}, ` : ''}${variant}${note})`;
}

/** The SR's Algorithm Version: the software's, and the grader's version and weights' SHA-256 when known. */
function algorithmVersion(findings: FindingsDocument): string {
  const { identity } = findings.models.grader;
  return identity
    ? `${findings.software.version}; model ${identity.version} sha256:${identity.sha256}`
    : findings.software.version;
}

function groupHeader(level: string, trackingIdentifier: string, algorithm: string, version: string): ContentItem[] {
  return [
    textItem('HAS OBS CONTEXT', DCM.trackingIdentifier, trackingIdentifier),
    uidItem('HAS OBS CONTEXT', DCM.trackingUid, newUid()),
    codeItem('HAS CONCEPT MOD', SCT.findingSite, discLevelCode(level)),
    textItem('HAS CONCEPT MOD', DCM.algorithmName, algorithm),
    textItem('HAS CONCEPT MOD', DCM.algorithmVersion, version),
  ];
}

/**
 * The grades, probabilities, review flag and measures of one disc (or fused level); each grade
 * inferred from the `gradedOn` images, each measure from the `measuredOn` image.
 */
function findingItems(
  finding: FusedLevelFindings | DiscFindings,
  gradedOn: readonly SopReference[],
  measuredOn: SopReference | undefined,
): ContentItem[] {
  const graded = (): ContentItem[] | undefined =>
    gradedOn.length > 0 ? gradedOn.map((r) => imageItem('INFERRED FROM', r, DCM.sourceOfMeasurement)) : undefined;
  const measured = (): ContentItem[] | undefined =>
    measuredOn ? [imageItem('INFERRED FROM', measuredOn, DCM.sourceOfMeasurement)] : undefined;
  const { pfirrmann, modic } = finding;
  const items: ContentItem[] = [
    codeItem('CONTAINS', PRIVATE.pfirrmannGrade, pfirrmannCode(pfirrmann.grade), graded()),
    numItem(
      PRIVATE.pfirrmannProbability,
      probabilityOf(pfirrmann.probs, PFIRRMANN_GRADES, pfirrmann.grade),
      UCUM.noUnits,
      graded(),
    ),
    codeItem('CONTAINS', PRIVATE.modicType, modicCode(modic.grade), graded()),
    numItem(PRIVATE.modicProbability, probabilityOf(modic.probs, MODIC_TYPES, modic.grade), UCUM.noUnits, graded()),
  ];
  for (const { field, concept } of BINARY) {
    const p = finding[field];
    if (Number.isFinite(p)) items.push(numItem(concept, p, UCUM.noUnits, graded()));
  }
  items.push(codeItem('CONTAINS', PRIVATE.needsReview, finding.needsReview ? SCT.yes : SCT.no));
  for (const { field, concept, unit } of MEASURES) {
    const value = finding.measures[field];
    if (typeof value === 'number' && Number.isFinite(value)) items.push(numItem(concept, value, unit, measured()));
  }
  return items;
}

function measurementGroup(
  disc: DiscFindings,
  series: SeriesFindings,
  seriesIndex: number,
  source: SourceSeries | undefined,
  findings: FindingsDocument,
): ContainerItem {
  const reference = midSagittalReference(series, seriesIndex, source);
  const items = groupHeader(
    disc.level,
    `${disc.level} disc, ${seriesLabel(series, seriesIndex)}`,
    algorithmName(findings),
    algorithmVersion(findings),
  );
  if (source?.frameOfReferenceUid !== undefined && disc.geometry.centerMm.every(Number.isFinite)) {
    items.push({
      RelationshipType: 'CONTAINS',
      ValueType: 'SCOORD3D',
      ConceptNameCodeSequence: [DCM.center],
      GraphicType: 'POINT',
      GraphicData: [...disc.geometry.centerMm],
      ReferencedFrameOfReferenceUID: source.frameOfReferenceUid,
    });
  }
  items.push(...findingItems(disc, reference ? [reference] : [], reference));
  return container('CONTAINS', DCM.measurementGroup, items);
}

/**
 * The group of one level fused over several series: its grades inferred from every contributing
 * series' mid-sagittal image, its measures from the first one's (where they were measured).
 */
function fusedMeasurementGroup(
  level: FusedLevelFindings,
  study: StudyFindings,
  sources: ReadonlyMap<string, SourceSeries>,
  findings: FindingsDocument,
): ContainerItem {
  const references = level.fromSeries.map((n) => {
    const series = study.series[n];
    if (!series)
      throw new SpinegradeError('INTERNAL', `fused level ${level.level} names series #${n}, which is not there`);
    const source = series.seriesInstanceUid === null ? undefined : sources.get(series.seriesInstanceUid);
    return midSagittalReference(series, n, source);
  });
  const labels = level.fromSeries.map((n) => seriesLabel(study.series[n] as SeriesFindings, n));
  const items = groupHeader(
    level.level,
    `${level.level} disc, fused over ${labels.join(' and ')}`,
    algorithmName(findings, '; mean probabilities over series'),
    algorithmVersion(findings),
  );
  items.push(
    ...findingItems(
      level,
      references.filter((r): r is SopReference => r !== undefined),
      references[0],
    ),
  );
  return container('CONTAINS', DCM.measurementGroup, items);
}

/**
 * Builds the DICOM Comprehensive 3D SR (TID 1500 Measurement Report) of one study's findings as a
 * Part 10 file (Explicit VR Little Endian).
 */
export function buildMeasurementReport(input: SrInput): Uint8Array {
  const { findings, study } = input;
  const now = input.now ?? new Date();
  const studyUid = study.studyInstanceUid;
  if (studyUid === null) {
    throw new SpinegradeError('USAGE', `study ${study.key} was not read from DICOM; a DICOM SR needs DICOM sources`);
  }
  const datasets = input.sourceDatasets.filter((d) => stringOf(d, 'StudyInstanceUID') === studyUid);
  const first = datasets[0];
  if (first === undefined) {
    throw new SpinegradeError('USAGE', `none of the source DICOM instances given belongs to study ${studyUid}`);
  }
  const sources = groupSources(datasets);

  const groups = study.series.flatMap((series, index) =>
    series.discs.map((disc) =>
      measurementGroup(
        disc,
        series,
        index,
        series.seriesInstanceUid === null ? undefined : sources.get(series.seriesInstanceUid),
        findings,
      ),
    ),
  );
  // With several graded series (T1 and T2), each level also as fused (the study's answer).
  if (study.series.length > 1) {
    groups.push(
      ...study.levels
        .filter((level) => level.fromSeries.length > 1)
        .map((level) => fusedMeasurementGroup(level, study, sources, findings)),
    );
  }
  const version = findings.software.version;
  const narrative = describeStudy(study, findings.reviewThreshold);
  const content: ContentItem[] = [
    codeItem('HAS CONCEPT MOD', DCM.languageOfContent, OTHER.englishUs),
    codeItem('HAS OBS CONTEXT', DCM.observerType, DCM.device),
    uidItem('HAS OBS CONTEXT', DCM.deviceObserverUid, DEVICE_OBSERVER_UID),
    textItem('HAS OBS CONTEXT', DCM.deviceObserverName, 'spinegrade'),
    textItem('HAS OBS CONTEXT', DCM.deviceObserverManufacturer, 'spinegrade'),
    textItem('HAS OBS CONTEXT', DCM.deviceObserverModelName, `spinegrade ${version}`),
    codeItem('HAS CONCEPT MOD', DCM.procedureReported, OTHER.mriProcedure),
    container(
      'CONTAINS',
      DCM.imageLibrary,
      [...sources.values()].map((s) =>
        container(
          'CONTAINS',
          DCM.imageLibraryGroup,
          s.instances.map((i) => imageItem('CONTAINS', i)),
        ),
      ),
    ),
    container('CONTAINS', DCM.imagingMeasurements, groups),
    container('CONTAINS', OTHER.qualitativeEvaluations, [
      textItem('CONTAINS', DCM.comment, `${findings.disclaimer} ${findings.credit}`),
      // The report in words (docs/report-text.md): a draft, so it says so in its own text.
      textItem('CONTAINS', DCM.findings, `${DRAFT_NOTICE}\n${findingsText(narrative)}`),
      textItem('CONTAINS', DCM.impression, `${DRAFT_NOTICE}\n${impressionText(narrative)}`),
    ]),
  ];

  const sopInstanceUid = newUid();
  const dataset: NaturalDataset = {
    SpecificCharacterSet: 'ISO_IR 192',
    InstanceCreationDate: dicomDate(now),
    InstanceCreationTime: dicomTime(now),
    SOPClassUID: COMPREHENSIVE_3D_SR_STORAGE,
    SOPInstanceUID: sopInstanceUid,
    Modality: 'SR',
    Manufacturer: 'spinegrade',
    ManufacturerModelName: 'spinegrade',
    SoftwareVersions: version,
    SeriesDescription: 'spinegrade findings',
    SeriesInstanceUID: newUid(),
    SeriesNumber: String(input.seriesNumber ?? 900),
    SeriesDate: dicomDate(now),
    SeriesTime: dicomTime(now),
    StudyInstanceUID: studyUid,
    ReferencedPerformedProcedureStepSequence: [],
    InstanceNumber: '1',
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: [
      {
        StudyInstanceUID: studyUid,
        ReferencedSeriesSequence: [...sources.values()].map((s) => ({
          SeriesInstanceUID: s.seriesInstanceUid,
          ReferencedSOPSequence: s.instances,
        })),
      },
    ],
    CodingSchemeIdentificationSequence: [{ ...PRIVATE_SCHEME_IDENTIFICATION }],
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [DCM.imagingMeasurementReport],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: content,
  };
  copyPatientAndStudy(dataset, first, COPIED_OPTIONAL);
  return encodePart10(dataset, COMPREHENSIVE_3D_SR_STORAGE, sopInstanceUid, version);
}

/** The grades of one Measurement Group of a spinegrade SR, as {@link readSrGrades} reads them. */
export interface SrGrade {
  /** Level name from the finding site (`L4/L5`). */
  level: string;
  /** Tracking Identifier of the group (`L4/L5 disc, series 3`). */
  trackingIdentifier: string;
  pfirrmann: number;
  modic: number;
  needsReview: boolean;
}

/**
 * Reads back the grades of every Measurement Group of a Measurement Report written by
 * {@link buildMeasurementReport}, in document order.
 */
export function readSrGrades(buffer: ArrayBuffer | Uint8Array): SrGrade[] {
  const root = decodePart10(buffer);
  const measurements = itemsOf(root, 'ContentSequence').find((item) =>
    sameCode(codeOf(item, 'ConceptNameCodeSequence'), DCM.imagingMeasurements),
  );
  if (!measurements) throw new SpinegradeError('INVALID_HEADER', 'the SR has no Imaging Measurements container');
  const out: SrGrade[] = [];
  for (const group of itemsOf(measurements, 'ContentSequence')) {
    if (!sameCode(codeOf(group, 'ConceptNameCodeSequence'), DCM.measurementGroup)) continue;
    const children = itemsOf(group, 'ContentSequence');
    const named = (concept: CodedConcept): NaturalDataset | undefined =>
      children.find((c) => sameCode(codeOf(c, 'ConceptNameCodeSequence'), concept));
    const site = codeOf(named(SCT.findingSite), 'ConceptCodeSequence');
    const pfirrmann = numberOfPrivateCode(codeOf(named(PRIVATE.pfirrmannGrade), 'ConceptCodeSequence'), 'PFIRRMANN');
    const modic = numberOfPrivateCode(codeOf(named(PRIVATE.modicType), 'ConceptCodeSequence'), 'MODIC');
    if (site === undefined || pfirrmann === undefined || modic === undefined) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        'a Measurement Group lacks its finding site, Pfirrmann grade or Modic type',
      );
    }
    const tracking = named(DCM.trackingIdentifier)?.TextValue;
    out.push({
      level: levelOfDiscCode(site),
      trackingIdentifier: typeof tracking === 'string' ? tracking : '',
      pfirrmann,
      modic,
      needsReview: sameCode(codeOf(named(PRIVATE.needsReview), 'ConceptCodeSequence'), SCT.yes),
    });
  }
  return out;
}
