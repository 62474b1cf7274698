/**
 * Reading the DICOM JSON model (PS3.18 §F.2) that QIDO-RS, WADO-RS metadata and STOW-RS responses
 * carry: attributes keyed by 8-hex-digit tags, each `{ vr, Value }`.
 */

/** One attribute of the DICOM JSON model. */
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

/** A dataset of the DICOM JSON model: tag (`0020000D`) → attribute. */
export type DicomJsonDataset = Record<string, DicomJsonAttribute>;

/** Tags used by the DICOMweb client, the server and the watcher. */
export const TAGS = {
  SpecificCharacterSet: '00080005',
  StudyDate: '00080020',
  StudyTime: '00080030',
  AccessionNumber: '00080050',
  ModalitiesInStudy: '00080061',
  Modality: '00080060',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPClassUID: '00081150',
  ReferencedSOPInstanceUID: '00081155',
  FailureReason: '00081197',
  RetrieveURL: '00081190',
  PatientName: '00100010',
  PatientID: '00100020',
  BodyPartExamined: '00180015',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SeriesNumber: '00200011',
  ImageOrientationPatient: '00200037',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  ProtocolName: '00181030',
} as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when `value` looks like a DICOM JSON dataset (an object whose values are `{ vr }` objects). */
export function isDicomJsonDataset(value: unknown): value is DicomJsonDataset {
  return isObject(value) && Object.values(value).every((a) => isObject(a) && typeof a.vr === 'string');
}

/** The values of an attribute (empty when absent or empty). */
export function jsonValues(dataset: DicomJsonDataset | undefined, tag: string): unknown[] {
  const value = dataset?.[tag]?.Value;
  return Array.isArray(value) ? value : [];
}

/** The first value of an attribute as a string (a person name as its Alphabetic form); undefined when absent. */
export function jsonString(dataset: DicomJsonDataset | undefined, tag: string): string | undefined {
  const first = jsonValues(dataset, tag)[0];
  if (first === undefined || first === null) return undefined;
  if (isObject(first)) return typeof first.Alphabetic === 'string' ? first.Alphabetic : undefined;
  const text = String(first).trim();
  return text === '' ? undefined : text;
}

/** Every value of an attribute as strings. */
export function jsonStrings(dataset: DicomJsonDataset | undefined, tag: string): string[] {
  return jsonValues(dataset, tag)
    .map((v) => (isObject(v) ? (typeof v.Alphabetic === 'string' ? v.Alphabetic : '') : String(v).trim()))
    .filter((v) => v !== '');
}

/** The first value of an attribute as a number; undefined when absent or not numeric. */
export function jsonNumber(dataset: DicomJsonDataset | undefined, tag: string): number | undefined {
  const first = jsonValues(dataset, tag)[0];
  const n = typeof first === 'number' ? first : typeof first === 'string' ? Number(first) : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** Every value of an attribute as numbers (undefined when any is not numeric or there are none). */
export function jsonNumbers(dataset: DicomJsonDataset | undefined, tag: string): number[] | undefined {
  const values = jsonValues(dataset, tag).map((v) => (typeof v === 'number' ? v : Number(v)));
  return values.length > 0 && values.every(Number.isFinite) ? values : undefined;
}

/** The items of a sequence attribute. */
export function jsonItems(dataset: DicomJsonDataset | undefined, tag: string): DicomJsonDataset[] {
  return jsonValues(dataset, tag).filter(isDicomJsonDataset);
}
