/**
 * Writes a {@link Volume} as a DICOM MR Image Storage series: one uncompressed (Explicit VR Little
 * Endian) file per slice along index axis k, with geometry that reads back exactly.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { SpinegradeError } from '../../errors.js';
import { axisDirection, indexToPhysical, type Volume, valueRange } from '../../volume/volume.js';
import { writeFolderAtomic } from '../atomic.js';
import type { NaturalDataset } from './dataset.js';

const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
/** Explicit VR Little Endian. */
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** spinegrade's Implementation Class UID, in the file meta of every DICOM file it writes. */
export const IMPLEMENTATION_CLASS_UID = uidFromSeed('spinegrade implementation class');

/** Patient, study and series facts written into every file; all optional and non-identifying by default. */
export interface DicomSeriesOptions {
  patientName?: string;
  patientId?: string;
  studyDescription?: string;
  seriesDescription?: string;
  seriesNumber?: number;
  studyDate?: string;
  /** Put the series into this study (default: a UID derived from `uidSeed`). */
  studyInstanceUid?: string;
  /** Seed for study, series, frame-of-reference and instance UIDs, so a rewrite yields the same UIDs. */
  uidSeed?: string;
  /** Replace an existing output folder. */
  overwrite?: boolean;
}

/** A DICOM UID in the `2.25` (UUID-derived) arc, from a seed: the same seed gives the same UID. */
export function uidFromSeed(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

/** The file name of slice `k` in a written series. */
export function dicomSliceFileName(k: number): string {
  return `IM${String(k + 1).padStart(4, '0')}.dcm`;
}

/** Encodes slice `k` of a volume as one DICOM Part 10 file. */
export function encodeDicomSlice(
  volume: Volume,
  k: number,
  options: DicomSeriesOptions = {},
  mapping: StorageMapping = storageMapping(volume),
): Uint8Array {
  const [columns, rows] = volume.size;
  const seed = options.uidSeed ?? `${Date.now()}-${Math.random()}`;
  const { storedValue, slope, intercept, signed } = mapping;
  const pixels = signed ? new Int16Array(columns * rows) : new Uint16Array(columns * rows);
  const base = k * columns * rows;
  for (let n = 0; n < pixels.length; n++) pixels[n] = storedValue(volume.voxels[base + n] as number);
  const meta = volume.metadata;
  const position = indexToPhysical(volume, [0, 0, k]);
  const rowCosine = axisDirection(volume.direction, 0);
  const columnCosine = axisDirection(volume.direction, 1);
  const sopInstanceUid = uidFromSeed(`${seed}/instance/${k}`);
  const dataset: Record<string, unknown> = {
    SOPClassUID: MR_IMAGE_STORAGE,
    SOPInstanceUID: sopInstanceUid,
    ImageType: ['DERIVED', 'SECONDARY', 'OTHER'],
    SpecificCharacterSet: 'ISO_IR 100',
    StudyDate: options.studyDate ?? '20000101',
    StudyTime: '000000',
    ContentDate: options.studyDate ?? '20000101',
    ContentTime: '000000',
    AccessionNumber: '',
    Modality: 'MR',
    Manufacturer: meta.manufacturer ?? 'spinegrade',
    ReferringPhysicianName: '',
    StudyDescription: options.studyDescription ?? meta.studyDescription ?? '',
    SeriesDescription: options.seriesDescription ?? meta.seriesDescription ?? '',
    PatientName: options.patientName ?? 'Anonymous',
    PatientID: options.patientId ?? meta.patientId ?? 'anonymous',
    PatientBirthDate: '',
    PatientSex: '',
    BodyPartExamined: 'LSPINE',
    ScanningSequence: (meta.scanningSequence ?? 'SE').split('\\'),
    SequenceVariant: ['NONE'],
    ScanOptions: '',
    MRAcquisitionType: meta.acquisitionType ?? (volume.size[2] > 1 && volume.spacing[2] < 1.5 ? '3D' : '2D'),
    SequenceName: meta.sequenceName ?? '',
    SliceThickness: format(meta.sliceThickness ?? volume.spacing[2]),
    RepetitionTime: meta.repetitionTime === undefined ? '' : format(meta.repetitionTime),
    EchoTime: meta.echoTime === undefined ? '' : format(meta.echoTime),
    EchoTrainLength: '',
    SpacingBetweenSlices: format(volume.spacing[2]),
    MagneticFieldStrength: meta.fieldStrength === undefined ? '' : format(meta.fieldStrength),
    ProtocolName: meta.protocolName ?? '',
    PatientPosition: 'HFS',
    StudyInstanceUID: options.studyInstanceUid ?? uidFromSeed(`${seed}/study`),
    SeriesInstanceUID: uidFromSeed(`${seed}/series`),
    StudyID: '1',
    SeriesNumber: String(options.seriesNumber ?? meta.seriesNumber ?? 1),
    InstanceNumber: String(k + 1),
    ImagePositionPatient: position.map(format),
    ImageOrientationPatient: [...rowCosine, ...columnCosine].map(format),
    FrameOfReferenceUID: uidFromSeed(`${seed}/frame-of-reference`),
    PositionReferenceIndicator: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: columns,
    PixelSpacing: [format(volume.spacing[1]), format(volume.spacing[0])],
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: signed ? 1 : 0,
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OW' },
  };
  if (slope !== 1 || intercept !== 0) {
    // Not part of the MR IOD (a "standard extended" object, as Philips writes), but every reader honours it.
    Object.assign(dataset, { RescaleIntercept: format(intercept), RescaleSlope: format(slope), RescaleType: 'US' });
  }
  if (meta.inversionTime !== undefined) dataset.InversionTime = format(meta.inversionTime);
  return encodePart10(dataset, MR_IMAGE_STORAGE, sopInstanceUid, '0.1');
}

/**
 * Encodes a naturalized dataset as a Part 10 file: preamble, file meta information (Explicit VR Little
 * Endian) and the dataset.
 */
export function encodePart10(
  dataset: NaturalDataset,
  sopClassUid: string,
  sopInstanceUid: string,
  versionName: string,
): Uint8Array {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUid,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: `SPINEGRADE_${versionName.replace(/[^0-9A-Za-z]+/g, '_')}`.slice(0, 16),
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}

/**
 * Writes every slice of a volume into a new folder as `IM0001.dcm`, `IM0002.dcm`, …; the folder
 * appears only when all files are written.
 */
export async function writeDicomSeries(
  volume: Volume,
  folder: string,
  options: DicomSeriesOptions = {},
): Promise<string[]> {
  const seed = options.uidSeed ?? `${Date.now()}-${Math.random()}`;
  const mapping = storageMapping(volume);
  const files = [];
  for (let k = 0; k < volume.size[2]; k++) {
    files.push({
      name: dicomSliceFileName(k),
      data: encodeDicomSlice(volume, k, { ...options, uidSeed: seed }, mapping),
    });
  }
  await writeFolderAtomic(folder, files, options);
  return files.map((f) => join(folder, f.name));
}

/** DS values are at most 16 characters. */
function format(value: number): string {
  if (!Number.isFinite(value))
    throw new SpinegradeError('INVALID_HEADER', `cannot write ${value} into a DICOM decimal string`);
  for (let digits = 10; digits >= 1; digits--) {
    const text = String(Number(value.toFixed(digits)));
    if (text.length <= 16) return text;
  }
  return value.toExponential(8);
}

/** How voxel values become 16-bit stored values and back (rescale slope and intercept). */
export interface StorageMapping {
  storedValue: (v: number) => number;
  slope: number;
  intercept: number;
  signed: boolean;
}

/** Integer volumes within 16 bits are stored as they are; anything else through a rescale slope. */
function storageMapping(volume: Volume): StorageMapping {
  const [lo, hi] = valueRange(volume.voxels);
  const integral = !(volume.voxels instanceof Float32Array || volume.voxels instanceof Float64Array);
  if (integral && lo >= 0 && hi <= 65535) return { storedValue: (v) => v, slope: 1, intercept: 0, signed: false };
  if (integral && lo >= -32768 && hi <= 32767) return { storedValue: (v) => v, slope: 1, intercept: 0, signed: true };
  const range = hi - lo || 1;
  const slope = range / 65535;
  return { storedValue: (v) => Math.round((v - lo) / slope), slope, intercept: lo, signed: false };
}
