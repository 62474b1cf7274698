/**
 * The localiser's label maps of one series as a DICOM Segmentation (binary): three segments —
 * intervertebral disc, vertebral body, spinal canal — on the grid of the source images, one frame per
 * segment and labelled slice, each frame referring to its source instance.
 *
 * Label maps come in the display grid of `extractSagittalSlice` (columns anterior → posterior, rows
 * superior → inferior), which may flip the volume's index axes. Every display pixel is mapped back to
 * the source instance's own row and column through its physical (LPS) point and the instance's
 * ImagePositionPatient, ImageOrientationPatient and PixelSpacing, so no flip is assumed.
 */
import { SpinegradeError } from '../errors.js';
import { type NaturalDataset, numberOf, numbersOf, stringOf } from '../io/dicom/dataset.js';
import { planeAxesOf } from '../io/dicom/orientation.js';
import { assignAxes, extractSagittalSlice } from '../volume/orientation.js';
import { dot, type Vec3, type Volume } from '../volume/volume.js';
import {
  type CodedConcept,
  codeOf,
  copyPatientAndStudy,
  DCM,
  decimalString,
  decodePart10,
  dicomDate,
  dicomTime,
  encodePart10,
  itemsOf,
  newUid,
  SCT,
} from './dicomCodes.js';
import { RESEARCH_USE_DISCLAIMER } from './findings.js';

/** SOP Class UID of Segmentation Storage. */
export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

/** One slice's classes in display orientation: 0 background, 1 disc, 2 vertebra, 3 canal. */
export interface LabelMap {
  /** Sagittal slice index, as given to `extractSagittalSlice`. */
  sliceIndex: number;
  /** Row-major classes, `classes[x + y * width]`. */
  classes: Uint8Array;
  width: number;
  height: number;
}

/** What {@link buildSegmentation} writes from. */
export interface SegInput {
  /** The series as read from DICOM (its geometry maps display pixels to patient space). */
  volume: Volume;
  /**
   * Naturalized headers of the series' instances in the volume's slice order, i.e. the order of
   * `volume.metadata.sourcePaths` (e.g. `readDicomHeaders(volume.metadata.sourcePaths)`).
   */
  sourceDatasets: readonly NaturalDataset[];
  /** Label maps of the slices to store; slices without any label are left out. */
  labelMaps: readonly LabelMap[];
  /** spinegrade's version, written as Software Versions and the segments' algorithm version. */
  softwareVersion: string;
  /** Content date and time (default: now). */
  now?: Date;
  /** Series Number of the segmentation (default 901). */
  seriesNumber?: number;
}

/** A segment: its number in the file, the class it holds in the label maps, and its codes. */
export interface SegmentDefinition {
  number: number;
  labelClass: number;
  label: string;
  type: CodedConcept;
  /** Recommended display colour, sRGB 0–255. */
  rgb: readonly [number, number, number];
}

/** The three segments, numbered as the label map classes. */
export const SEGMENTS: readonly SegmentDefinition[] = [
  { number: 1, labelClass: 1, label: 'Intervertebral disc', type: SCT.intervertebralDisc, rgb: [64, 200, 96] },
  { number: 2, labelClass: 2, label: 'Vertebral body', type: SCT.vertebralBody, rgb: [230, 200, 120] },
  { number: 3, labelClass: 3, label: 'Spinal canal', type: SCT.spinalCanal, rgb: [80, 150, 255] },
];

/** Geometry of one source instance. */
interface InstanceGeometry {
  sopClassUid: string;
  sopInstanceUid: string;
  position: Vec3;
  rowCosine: Vec3;
  columnCosine: Vec3;
  normal: Vec3;
  /** Millimetres between rows (PixelSpacing[0]) and between columns (PixelSpacing[1]). */
  rowSpacing: number;
  columnSpacing: number;
  rows: number;
  columns: number;
}

function instanceGeometry(d: NaturalDataset, what: string): InstanceGeometry {
  const sopClassUid = stringOf(d, 'SOPClassUID');
  const sopInstanceUid = stringOf(d, 'SOPInstanceUID');
  const ipp = numbersOf(d, 'ImagePositionPatient', 3);
  const iop = numbersOf(d, 'ImageOrientationPatient', 6);
  const spacing = numbersOf(d, 'PixelSpacing', 2);
  const rows = numberOf(d, 'Rows');
  const columns = numberOf(d, 'Columns');
  if (!sopClassUid || !sopInstanceUid || !ipp || !iop || !spacing || !rows || !columns) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      `${what} lacks SOP UIDs, ImagePositionPatient, ImageOrientationPatient, PixelSpacing or Rows/Columns`,
    );
  }
  const { rowCosine, columnCosine, normal } = planeAxesOf(iop);
  return {
    sopClassUid,
    sopInstanceUid,
    position: ipp as unknown as Vec3,
    rowCosine,
    columnCosine,
    normal,
    rowSpacing: spacing[0] as number,
    columnSpacing: spacing[1] as number,
    rows,
    columns,
  };
}

/** (row, column, distance off the image plane) of a physical point in an instance's grid. */
function gridOf(g: InstanceGeometry, p: Vec3): [number, number, number] {
  const d: Vec3 = [p[0] - g.position[0], p[1] - g.position[1], p[2] - g.position[2]];
  return [dot(d, g.columnCosine) / g.rowSpacing, dot(d, g.rowCosine) / g.columnSpacing, dot(d, g.normal)];
}

const nearInteger = (v: number): boolean => Math.abs(v - Math.round(v)) < 1e-3;

/**
 * Maps a display label map onto its source instance's grid: returns the classes in the instance's
 * own row-major order (`row * columns + column`).
 */
function toSourceGrid(volume: Volume, map: LabelMap, g: InstanceGeometry): Uint8Array {
  const display = extractSagittalSlice(volume, map.sliceIndex);
  if (display.width !== map.width || display.height !== map.height || map.classes.length !== map.width * map.height) {
    throw new SpinegradeError(
      'USAGE',
      `label map of slice ${map.sliceIndex} is ${map.width}×${map.height} (${map.classes.length} values); its display slice is ${display.width}×${display.height}`,
    );
  }
  // The display → instance grid map is affine: find it from three pixels and check it is a signed
  // permutation of whole pixels on the instance's plane (the label map is on that instance's grid).
  const [r0, c0, n0] = gridOf(g, display.pointOf(0, 0));
  const [rx, cx, nx] = gridOf(g, display.pointOf(1, 0)).map((v, i) => v - [r0, c0, n0][i]!) as [number, number, number];
  const [ry, cy, ny] = gridOf(g, display.pointOf(0, 1)).map((v, i) => v - [r0, c0, n0][i]!) as [number, number, number];
  const onPlane = [n0, nx, ny].every((v) => Math.abs(v) < 0.01 + 0.01 * Math.max(g.rowSpacing, g.columnSpacing));
  const wholePixels = [r0, c0, rx, cx, ry, cy].every(nearInteger);
  const permutation = Math.abs(Math.round(rx)) + Math.abs(Math.round(cx)) === 1 && Math.round(rx * ry + cx * cy) === 0;
  if (!onPlane || !wholePixels || !permutation) {
    throw new SpinegradeError(
      'INCONSISTENT_SERIES',
      `display slice ${map.sliceIndex} does not lie on the grid of source instance ${g.sopInstanceUid}`,
    );
  }
  const [R0, C0, RX, CX, RY, CY] = [r0, c0, rx, cx, ry, cy].map(Math.round) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const out = new Uint8Array(g.rows * g.columns);
  for (let y = 0; y < map.height; y++) {
    for (let x = 0; x < map.width; x++) {
      const label = map.classes[x + y * map.width] as number;
      if (label === 0) continue;
      const row = R0 + x * RX + y * RY;
      const column = C0 + x * CX + y * CY;
      if (row < 0 || row >= g.rows || column < 0 || column >= g.columns) {
        throw new SpinegradeError(
          'INCONSISTENT_SERIES',
          `display pixel (${x}, ${y}) of slice ${map.sliceIndex} falls outside source instance ${g.sopInstanceUid}`,
        );
      }
      out[row * g.columns + column] = label;
    }
  }
  return out;
}

/** sRGB (0–255) → DICOM-scaled CIELab (PS3.3 C.10.7.1.1: L 0–100, a and b −128–127, each to 0–65535). */
export function rgbToDicomLab([r, g, b]: readonly [number, number, number]): [number, number, number] {
  const linear = (c: number): number => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const [lr, lg, lb] = [linear(r), linear(g), linear(b)];
  // sRGB → XYZ (D65), normalised by the D65 white point.
  const x = (0.4124 * lr + 0.3576 * lg + 0.1805 * lb) / 0.95047;
  const y = 0.2126 * lr + 0.7152 * lg + 0.0722 * lb;
  const z = (0.0193 * lr + 0.1192 * lg + 0.9505 * lb) / 1.08883;
  const f = (t: number): number => (t > (6 / 29) ** 3 ? Math.cbrt(t) : t / (3 * (6 / 29) ** 2) + 4 / 29);
  const L = 116 * f(y) - 16;
  const A = 500 * (f(x) - f(y));
  const B = 200 * (f(y) - f(z));
  const clamp = (v: number): number => Math.max(0, Math.min(65535, Math.round(v)));
  return [clamp((L * 65535) / 100), clamp(((A + 128) * 65535) / 255), clamp(((B + 128) * 65535) / 255)];
}

/** Patient and study attributes copied when the source has them. */
const COPIED_OPTIONAL = ['IssuerOfPatientID', 'PatientAge', 'StudyDescription'] as const;

/**
 * Builds a binary DICOM Segmentation of a series' label maps, on the source images' grid, as a Part 10
 * file (Explicit VR Little Endian).
 */
export function buildSegmentation(input: SegInput): Uint8Array {
  const { volume, sourceDatasets, labelMaps } = input;
  const now = input.now ?? new Date();
  const axes = assignAxes(volume);
  if (axes.leftRight !== 2) {
    throw new SpinegradeError(
      'UNSUPPORTED',
      'a segmentation needs a sagittally acquired series (its sagittal slices must be the source images)',
    );
  }
  if (sourceDatasets.length !== volume.size[2]) {
    throw new SpinegradeError(
      'USAGE',
      `${sourceDatasets.length} source datasets for a series of ${volume.size[2]} slices; give one per slice, in slice order`,
    );
  }
  const geometries = sourceDatasets.map((d, k) => instanceGeometry(d, `source instance of slice ${k}`));
  const reference = sourceDatasets[0]!;
  const g0 = geometries[0]!;
  for (const g of geometries) {
    if (g.rows !== g0.rows || g.columns !== g0.columns) {
      throw new SpinegradeError('INCONSISTENT_SERIES', 'the source instances differ in matrix size');
    }
  }

  const seen = new Set<number>();
  const slices: { sliceIndex: number; classes: Uint8Array }[] = [];
  for (const map of labelMaps) {
    if (seen.has(map.sliceIndex)) throw new SpinegradeError('USAGE', `two label maps for slice ${map.sliceIndex}`);
    seen.add(map.sliceIndex);
    const g = geometries[map.sliceIndex];
    if (!g) throw new SpinegradeError('USAGE', `label map slice ${map.sliceIndex} is outside the series`);
    const classes = toSourceGrid(volume, map, g);
    if (classes.some((c) => c !== 0)) slices.push({ sliceIndex: map.sliceIndex, classes });
  }
  slices.sort((a, b) => a.sliceIndex - b.sliceIndex);
  if (slices.length === 0) throw new SpinegradeError('USAGE', 'no label map holds any labelled pixel');
  // Dimension index of a position: rank along the slice normal among the stored slices (1-based).
  const positionIndex = new Map(slices.map((s, n) => [s.sliceIndex, n + 1]));

  const frames: { segment: SegmentDefinition; sliceIndex: number; mask: Uint8Array }[] = [];
  for (const segment of SEGMENTS) {
    for (const slice of slices) {
      const mask = slice.classes.map((c) => (c === segment.labelClass ? 1 : 0));
      if (mask.some((v) => v !== 0)) frames.push({ segment, sliceIndex: slice.sliceIndex, mask });
    }
  }
  const pixelsPerFrame = g0.rows * g0.columns;
  const packed = new Uint8Array(Math.ceil((frames.length * pixelsPerFrame) / 16) * 2);
  frames.forEach((frame, f) => {
    const base = f * pixelsPerFrame;
    frame.mask.forEach((v, n) => {
      const bit = base + n;
      if (v !== 0) packed[Math.floor(bit / 8)]! |= 1 << (bit % 8);
    });
  });

  const dimensionOrganizationUid = newUid();
  const sopInstanceUid = newUid();
  const sliceThickness = numberOf(reference, 'SliceThickness') ?? volume.spacing[2];
  const dataset: NaturalDataset = {
    SpecificCharacterSet: 'ISO_IR 192',
    InstanceCreationDate: dicomDate(now),
    InstanceCreationTime: dicomTime(now),
    SOPClassUID: SEGMENTATION_STORAGE,
    SOPInstanceUID: sopInstanceUid,
    ImageType: ['DERIVED', 'PRIMARY'],
    Modality: 'SEG',
    SeriesInstanceUID: newUid(),
    SeriesNumber: String(input.seriesNumber ?? 901),
    SeriesDescription: 'spinegrade segmentation',
    SeriesDate: dicomDate(now),
    SeriesTime: dicomTime(now),
    StudyInstanceUID: stringOf(reference, 'StudyInstanceUID') ?? '',
    FrameOfReferenceUID: stringOf(reference, 'FrameOfReferenceUID') ?? '',
    PositionReferenceIndicator: stringOf(reference, 'PositionReferenceIndicator') ?? '',
    Manufacturer: 'spinegrade',
    ManufacturerModelName: 'spinegrade',
    DeviceSerialNumber: 'none',
    SoftwareVersions: input.softwareVersion,
    InstanceNumber: '1',
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
    ImageComments: RESEARCH_USE_DISCLAIMER,
    ContentLabel: 'SPINEGRADE',
    ContentDescription: 'Discs, vertebral bodies and spinal canal',
    ContentCreatorName: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: g0.rows,
    Columns: g0.columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    // Each pixel of a label map holds one class, so no two segments share a pixel.
    SegmentsOverlap: 'NO',
    SegmentSequence: SEGMENTS.map((s) => ({
      SegmentNumber: s.number,
      SegmentLabel: s.label,
      SegmentedPropertyCategoryCodeSequence: [SCT.anatomicalStructure],
      SegmentedPropertyTypeCodeSequence: [s.type],
      SegmentAlgorithmType: 'AUTOMATIC',
      SegmentAlgorithmName: 'spinegrade',
      RecommendedDisplayCIELabValue: rgbToDicomLab(s.rgb),
    })),
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUid }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionOrganizationUid,
        DimensionIndexPointer: 0x0062000b,
        FunctionalGroupPointer: 0x0062000a,
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      {
        DimensionOrganizationUID: dimensionOrganizationUid,
        DimensionIndexPointer: 0x00200032,
        FunctionalGroupPointer: 0x00209113,
        DimensionDescriptionLabel: 'ImagePositionPatient',
      },
    ],
    SharedFunctionalGroupsSequence: [
      {
        PixelMeasuresSequence: [
          {
            PixelSpacing: [decimalString(g0.rowSpacing), decimalString(g0.columnSpacing)],
            SliceThickness: decimalString(sliceThickness),
          },
        ],
        PlaneOrientationSequence: [
          { ImageOrientationPatient: [...g0.rowCosine, ...g0.columnCosine].map((v) => decimalString(v)) },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: frames.map((frame) => {
      const g = geometries[frame.sliceIndex]!;
      return {
        DerivationImageSequence: [
          {
            SourceImageSequence: [
              {
                ReferencedSOPClassUID: g.sopClassUid,
                ReferencedSOPInstanceUID: g.sopInstanceUid,
                PurposeOfReferenceCodeSequence: [DCM.sourceImageForProcessing],
              },
            ],
            DerivationCodeSequence: [DCM.segmentation],
          },
        ],
        FrameContentSequence: [
          { DimensionIndexValues: [frame.segment.number, positionIndex.get(frame.sliceIndex) as number] },
        ],
        PlanePositionSequence: [{ ImagePositionPatient: g.position.map((v) => decimalString(v)) }],
        SegmentIdentificationSequence: [{ ReferencedSegmentNumber: frame.segment.number }],
      };
    }),
    NumberOfFrames: String(frames.length),
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: stringOf(reference, 'SeriesInstanceUID') ?? '',
        ReferencedInstanceSequence: geometries.map((g) => ({
          ReferencedSOPClassUID: g.sopClassUid,
          ReferencedSOPInstanceUID: g.sopInstanceUid,
        })),
      },
    ],
    PixelData: [packed.buffer],
    _vrMap: { PixelData: 'OB' },
  };
  copyPatientAndStudy(dataset, reference, COPIED_OPTIONAL);
  return encodePart10(dataset, SEGMENTATION_STORAGE, sopInstanceUid, input.softwareVersion);
}

/** One frame of a segmentation, as {@link readSegmentation} reads it. */
export interface SegFrame {
  /** 1-based frame number. */
  frameNumber: number;
  segmentNumber: number;
  /** SOP Instance UID of the source image the frame was derived from. */
  referencedSopInstanceUid: string;
  /** ImagePositionPatient of the frame (LPS, mm). */
  imagePositionPatient: number[];
  /** Number of set pixels. */
  pixelCount: number;
  /** The frame's pixels, 0 or 1, row-major (`row * columns + column`). */
  mask: Uint8Array;
}

/** What {@link readSegmentation} returns. */
export interface SegContents {
  rows: number;
  columns: number;
  /** Segments by number, with label and property type. */
  segments: { number: number; label: string; type: CodedConcept | undefined }[];
  frames: SegFrame[];
}

/** Reads a binary Segmentation back: its segments and, per frame, the source reference, segment and pixels. */
export function readSegmentation(buffer: ArrayBuffer | Uint8Array): SegContents {
  const d = decodePart10(buffer);
  const rows = numberOf(d, 'Rows');
  const columns = numberOf(d, 'Columns');
  const frameCount = numberOf(d, 'NumberOfFrames') ?? 1;
  if (!rows || !columns) throw new SpinegradeError('INVALID_HEADER', 'segmentation without Rows/Columns');
  const data = Array.isArray(d.PixelData) ? d.PixelData[0] : d.PixelData;
  const bytes =
    data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : undefined;
  if (!bytes) throw new SpinegradeError('NO_PIXEL_DATA', 'segmentation without pixel data');
  const perFrame = itemsOf(d, 'PerFrameFunctionalGroupsSequence');
  const pixels = rows * columns;
  const frames: SegFrame[] = [];
  for (let f = 0; f < frameCount; f++) {
    const groups = perFrame[f];
    const source = itemsOf(itemsOf(groups, 'DerivationImageSequence')[0], 'SourceImageSequence')[0];
    const segmentNumber = numberOf(
      itemsOf(groups, 'SegmentIdentificationSequence')[0] ?? {},
      'ReferencedSegmentNumber',
    );
    const position = numbersOf(itemsOf(groups, 'PlanePositionSequence')[0] ?? {}, 'ImagePositionPatient', 3);
    const mask = new Uint8Array(pixels);
    let pixelCount = 0;
    for (let n = 0; n < pixels; n++) {
      const bit = f * pixels + n;
      if (((bytes[Math.floor(bit / 8)] ?? 0) >> (bit % 8)) & 1) {
        mask[n] = 1;
        pixelCount++;
      }
    }
    frames.push({
      frameNumber: f + 1,
      segmentNumber: segmentNumber ?? 0,
      referencedSopInstanceUid: source ? (stringOf(source, 'ReferencedSOPInstanceUID') ?? '') : '',
      imagePositionPatient: position ?? [],
      pixelCount,
      mask,
    });
  }
  const segments = itemsOf(d, 'SegmentSequence').map((s) => ({
    number: numberOf(s, 'SegmentNumber') ?? 0,
    label: stringOf(s, 'SegmentLabel') ?? '',
    type: codeOf(s, 'SegmentedPropertyTypeCodeSequence'),
  }));
  return { rows, columns, segments, frames };
}
