/**
 * Coded concepts used by spinegrade's DICOM outputs (the Measurement Report SR and the Segmentation),
 * and the few encoding helpers both writers share. Every code here is listed, with its source, in
 * docs/dicom-outputs.md; codes of the private scheme {@link PRIVATE_SCHEME} are defined there.
 */
import { randomUUID } from 'node:crypto';
import { readRegularFile } from '../io/binary.js';
import type { NaturalDataset } from '../io/dicom/dataset.js';
import { naturalize, parsePart10 } from '../io/dicom/parse.js';

export { EXPLICIT_VR_LITTLE_ENDIAN, encodePart10, IMPLEMENTATION_CLASS_UID } from '../io/dicom/write.js';

/** One coded concept: an item of a code sequence (Code Sequence Macro, PS3.3 Table 8.8-1). */
export type CodedConcept = {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
};

/** A coded concept. */
export function code(value: string, scheme: string, meaning: string): CodedConcept {
  return { CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning };
}

/** True when two concepts have the same code value and scheme (the meaning is not compared). */
export function sameCode(a: CodedConcept | undefined, b: CodedConcept): boolean {
  return a !== undefined && a.CodeValue === b.CodeValue && a.CodingSchemeDesignator === b.CodingSchemeDesignator;
}

/** Designator of spinegrade's private coding scheme (a `99` prefix marks a local scheme, PS3.16 §8.1). */
export const PRIVATE_SCHEME = '99SPNGRD';

/** The Coding Scheme Identification Sequence item that declares {@link PRIVATE_SCHEME}. */
export const PRIVATE_SCHEME_IDENTIFICATION = {
  CodingSchemeDesignator: PRIVATE_SCHEME,
  CodingSchemeName: 'spinegrade private codes',
  CodingSchemeVersion: '1',
  CodingSchemeResponsibleOrganization: 'spinegrade (see docs/dicom-outputs.md)',
} as const;

/** DICOM Controlled Terminology (DCM) concepts. */
export const DCM = {
  imagingMeasurementReport: code('126000', 'DCM', 'Imaging Measurement Report'),
  languageOfContent: code('121049', 'DCM', 'Language of Content Item and Descendants'),
  observerType: code('121005', 'DCM', 'Observer Type'),
  device: code('121007', 'DCM', 'Device'),
  deviceObserverUid: code('121012', 'DCM', 'Device Observer UID'),
  deviceObserverName: code('121013', 'DCM', 'Device Observer Name'),
  deviceObserverManufacturer: code('121014', 'DCM', 'Device Observer Manufacturer'),
  deviceObserverModelName: code('121015', 'DCM', 'Device Observer Model Name'),
  procedureReported: code('121058', 'DCM', 'Procedure reported'),
  imageLibrary: code('111028', 'DCM', 'Image Library'),
  imageLibraryGroup: code('126200', 'DCM', 'Image Library Group'),
  imagingMeasurements: code('126010', 'DCM', 'Imaging Measurements'),
  measurementGroup: code('125007', 'DCM', 'Measurement Group'),
  trackingIdentifier: code('112039', 'DCM', 'Tracking Identifier'),
  trackingUid: code('112040', 'DCM', 'Tracking Unique Identifier'),
  algorithmName: code('111001', 'DCM', 'Algorithm Name'),
  algorithmVersion: code('111003', 'DCM', 'Algorithm Version'),
  sourceOfMeasurement: code('121112', 'DCM', 'Source of Measurement'),
  center: code('111010', 'DCM', 'Center'),
  comment: code('121106', 'DCM', 'Comment'),
  findings: code('121070', 'DCM', 'Findings'),
  impression: code('121073', 'DCM', 'Impression'),
  sourceImageForProcessing: code('121322', 'DCM', 'Source image for image processing operation'),
  segmentation: code('113076', 'DCM', 'Segmentation'),
} as const;

/** SNOMED CT (SCT) concepts. */
export const SCT = {
  findingSite: code('363698007', 'SCT', 'Finding Site'),
  yes: code('373066001', 'SCT', 'Yes'),
  no: code('373067005', 'SCT', 'No'),
  anatomicalStructure: code('91723000', 'SCT', 'Anatomical Structure'),
  intervertebralDisc: code('360499006', 'SCT', 'Intervertebral disc'),
  vertebralBody: code('3572006', 'SCT', 'Vertebral body'),
  spinalCanal: code('61853006', 'SCT', 'Spinal canal'),
} as const;

/** Other schemes: the report's language (RFC 5646) and the procedure (LOINC, from DICOM CID 100). */
export const OTHER = {
  englishUs: code('en-US', 'RFC5646', 'English (United States)'),
  mriProcedure: code('25056-3', 'LN', 'MRI unspecified body region'),
  /** Qualitative Evaluations container of TID 1500. */
  qualitativeEvaluations: code('C0034375', 'UMLS', 'Qualitative Evaluations'),
} as const;

/** UCUM units. */
export const UCUM = {
  millimetre: code('mm', 'UCUM', 'millimeter'),
  degree: code('deg', 'UCUM', 'degree'),
  /** Dimensionless: probabilities and ratios. */
  noUnits: code('1', 'UCUM', 'no units'),
} as const;

/** Roman numerals of the Pfirrmann grades, used in code meanings. */
const ROMAN = ['I', 'II', 'III', 'IV', 'V'] as const;

/** spinegrade's private concepts (scheme {@link PRIVATE_SCHEME}); docs/dicom-outputs.md defines each. */
export const PRIVATE = {
  pfirrmannGrade: code('PFIRRMANN', PRIVATE_SCHEME, 'Pfirrmann grade'),
  pfirrmannProbability: code('P-PFIRRMANN', PRIVATE_SCHEME, 'Probability of the Pfirrmann grade'),
  modicType: code('MODIC', PRIVATE_SCHEME, 'Modic type'),
  modicProbability: code('P-MODIC', PRIVATE_SCHEME, 'Probability of the Modic type'),
  needsReview: code('NEEDS-REVIEW', PRIVATE_SCHEME, 'Needs review by a qualified reader'),
  endplateUpper: code('P-ENDPLATE-UP', PRIVATE_SCHEME, 'Probability of an upper endplate defect'),
  endplateLower: code('P-ENDPLATE-LOW', PRIVATE_SCHEME, 'Probability of a lower endplate defect'),
  spondylolisthesis: code('P-LISTHESIS', PRIVATE_SCHEME, 'Probability of spondylolisthesis'),
  herniation: code('P-HERNIATION', PRIVATE_SCHEME, 'Probability of disc herniation'),
  bulging: code('P-BULGING', PRIVATE_SCHEME, 'Probability of disc bulging'),
  narrowing: code('P-NARROWING', PRIVATE_SCHEME, 'Probability of disc narrowing'),
  discHeightAnterior: code('DH-ANTERIOR', PRIVATE_SCHEME, 'Anterior disc height'),
  discHeightMiddle: code('DH-MIDDLE', PRIVATE_SCHEME, 'Middle disc height'),
  discHeightPosterior: code('DH-POSTERIOR', PRIVATE_SCHEME, 'Posterior disc height'),
  discHeightMean: code('DH-MEAN', PRIVATE_SCHEME, 'Mean disc height'),
  discHeightIndex: code('DHI', PRIVATE_SCHEME, 'Disc height index'),
  signalIntensityRatio: code('SIR', PRIVATE_SCHEME, 'Disc to CSF signal intensity ratio'),
  nucleusAnnulusContrast: code('NAC', PRIVATE_SCHEME, 'Nucleus to annulus signal contrast'),
  endplateSignalRatio: code('ESR', PRIVATE_SCHEME, 'Endplate to vertebral body signal ratio'),
  listhesis: code('LISTHESIS-MM', PRIVATE_SCHEME, 'Listhesis offset'),
  wedgeAngle: code('WEDGE-ANGLE', PRIVATE_SCHEME, 'Disc wedge angle'),
  discAngle: code('DISC-ANGLE', PRIVATE_SCHEME, 'Disc angle to the image horizontal'),
  canalAp: code('CANAL-AP', PRIVATE_SCHEME, 'Canal AP diameter at the disc level'),
  canalApBody: code('CANAL-AP-BODY', PRIVATE_SCHEME, 'Canal AP diameter at the adjacent mid-vertebral bodies'),
  canalApRatio: code('CANAL-AP-RATIO', PRIVATE_SCHEME, 'Canal AP diameter ratio, disc level to mid-vertebral bodies'),
} as const;

/** The private code of Pfirrmann grade `grade` (1–5). */
export function pfirrmannCode(grade: number): CodedConcept {
  const roman = ROMAN[grade - 1];
  if (roman === undefined) throw new RangeError(`no Pfirrmann grade ${grade}`);
  return code(`PFIRRMANN-${grade}`, PRIVATE_SCHEME, `Pfirrmann grade ${roman}`);
}

/** The private code of Modic type `type` (0–3; 0 = no Modic change). */
export function modicCode(type: number): CodedConcept {
  if (!Number.isInteger(type) || type < 0 || type > 3) throw new RangeError(`no Modic type ${type}`);
  return code(`MODIC-${type}`, PRIVATE_SCHEME, type === 0 ? 'No Modic change' : `Modic type ${type}`);
}

/** The number a `PREFIX-n` private code stands for (Pfirrmann grade or Modic type); undefined otherwise. */
export function numberOfPrivateCode(
  concept: CodedConcept | undefined,
  prefix: 'PFIRRMANN' | 'MODIC',
): number | undefined {
  if (concept?.CodingSchemeDesignator !== PRIVATE_SCHEME) return undefined;
  const match = new RegExp(`^${prefix}-(\\d)$`).exec(concept.CodeValue);
  return match ? Number(match[1]) : undefined;
}

/** SNOMED CT codes of the thoracic and lumbar intervertebral discs (DICOM CID 7604 "Intervertebral Disc"). */
export const DISC_LEVEL_CODES: Readonly<Record<string, string>> = {
  'T1/T2': '40908007',
  'T2/T3': '6004007',
  'T3/T4': '2620004',
  'T4/T5': '82965004',
  'T5/T6': '72692000',
  'T6/T7': '74401007',
  'T7/T8': '28693002',
  'T8/T9': '9188009',
  'T9/T10': '113209001',
  'T10/T11': '34959001',
  'T11/T12': '1537001',
  'T12/L1': '76206002',
  'L1/L2': '80064006',
  'L2/L3': '67459009',
  'L3/L4': '62551000',
  'L4/L5': '84020006',
  'L5/S1': '715056000',
};

/**
 * The finding-site code of a disc level (`L4/L5` → SCT 84020006 "L4/L5 disc"); a level with no SNOMED
 * code (e.g. `S1/S2` of transitional anatomy) gets the private code `DISC-S1-S2` "S1/S2 disc".
 */
export function discLevelCode(level: string): CodedConcept {
  const name = level.trim().toUpperCase();
  const sct = DISC_LEVEL_CODES[name];
  if (sct !== undefined) return code(sct, 'SCT', `${name} disc`);
  const value = `DISC-${name.replace(/[^A-Z0-9]+/g, '-')}`.slice(0, 16);
  return code(value, PRIVATE_SCHEME, `${name} disc`);
}

/** The level name of a finding-site code written by {@link discLevelCode} (`L4/L5 disc` → `L4/L5`). */
export function levelOfDiscCode(concept: CodedConcept): string {
  for (const [level, value] of Object.entries(DISC_LEVEL_CODES)) {
    if (concept.CodingSchemeDesignator === 'SCT' && concept.CodeValue === value) return level;
  }
  return concept.CodeMeaning.replace(/\s*disc$/i, '').trim();
}

/** Every private code the outputs can use (except per-level `DISC-…` codes), for documentation checks. */
export function allPrivateCodes(): CodedConcept[] {
  return [...Object.values(PRIVATE), ...[1, 2, 3, 4, 5].map(pfirrmannCode), ...[0, 1, 2, 3].map(modicCode)];
}

// ---- Encoding helpers shared by the SR and SEG writers ----

/** A new, unique UID in the `2.25` arc (a random UUID as a decimal integer). */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

/** DICOM DA (`YYYYMMDD`) of a date, in UTC. */
export function dicomDate(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

/** DICOM TM (`HHMMSS.FFF`) of a time, in UTC. */
export function dicomTime(date: Date): string {
  return date.toISOString().slice(11, 23).replace(/:/g, '');
}

/** A number as a DICOM decimal string (DS, at most 16 characters). */
export function decimalString(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`cannot write ${value} as a DICOM decimal string`);
  for (let digits = 10; digits >= 0; digits--) {
    const text = String(Number(value.toFixed(digits)));
    if (text.length <= 16) return text;
  }
  return value.toExponential(6);
}

/** Parses a Part 10 file into a naturalized dataset (with pixel data unless `headerOnly`). */
export function decodePart10(bytes: ArrayBuffer | Uint8Array, headerOnly = false, path?: string): NaturalDataset {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return naturalize(parsePart10(view, path, { untilPixelData: headerOnly }).dict, path);
}

/** Reads the headers (everything but the pixel data) of DICOM files, in the order given. */
export async function readDicomHeaders(paths: readonly string[]): Promise<NaturalDataset[]> {
  const out: NaturalDataset[] = [];
  for (const path of paths) out.push(decodePart10(await readRegularFile(path), true, path));
  return out;
}

/** The items of a sequence element of a naturalized dataset (dcmjs gives one item as an object). */
export function itemsOf(dataset: NaturalDataset | undefined, keyword: string): NaturalDataset[] {
  const value = dataset?.[keyword];
  if (Array.isArray(value)) return value.filter((v): v is NaturalDataset => typeof v === 'object' && v !== null);
  return typeof value === 'object' && value !== null ? [value as NaturalDataset] : [];
}

/** The first item of a code sequence, as a coded concept; undefined when absent or incomplete. */
export function codeOf(dataset: NaturalDataset | undefined, keyword: string): CodedConcept | undefined {
  const item = itemsOf(dataset, keyword)[0];
  if (!item) return undefined;
  const value = item.CodeValue;
  const scheme = item.CodingSchemeDesignator;
  const meaning = item.CodeMeaning;
  if (typeof value !== 'string' || typeof scheme !== 'string') return undefined;
  return code(value, scheme, typeof meaning === 'string' ? meaning : '');
}

/** Patient and study attributes every derived object copies from its source (type 2: written empty when absent). */
const COPIED_TYPE2 = [
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'PatientSex',
  'StudyDate',
  'StudyTime',
  'ReferringPhysicianName',
  'StudyID',
  'AccessionNumber',
] as const;

/** Copies the patient and study attributes of `source` into `dataset`, and the `optional` ones it has. */
export function copyPatientAndStudy(
  dataset: NaturalDataset,
  source: NaturalDataset,
  optional: readonly string[],
): void {
  for (const keyword of COPIED_TYPE2) dataset[keyword] = source[keyword] ?? '';
  for (const keyword of optional) {
    if (source[keyword] !== undefined && source[keyword] !== '') dataset[keyword] = source[keyword];
  }
}
