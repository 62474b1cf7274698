import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatInspectReport, type InspectReport, type SeriesReport } from '../../src/io/inspect.js';

function series(overrides: Partial<SeriesReport>): SeriesReport {
  return {
    seriesInstanceUid: null,
    seriesNumber: 4,
    description: 'T2_space_sag_c4',
    format: 'DICOM',
    fileCount: 11,
    firstFile: 'a/IM0001.dcm',
    plane: 'sagittal',
    sequence: 'T2',
    sequenceReason: 'description',
    acquisition: '3D',
    size: [512, 640, 11],
    spacingMm: [0.46875, 0.46875, 1],
    spacingSource: 'header',
    sagittalSlices: 11,
    fieldOfViewMm: [240, 300],
    repetitionTimeMs: null,
    echoTimeMs: null,
    usableForGrading: true,
    reasons: [],
    ...overrides,
  };
}

test('inspect tells apart series that share a number and description (by UID, else first file), and only those', () => {
  const report: InspectReport = {
    version: 1,
    skipped: [],
    usableSeries: 4,
    studies: [
      {
        studyInstanceUid: '1.2.3',
        folder: null,
        patientId: null,
        description: null,
        series: [
          series({ seriesInstanceUid: '1.2.3.4.11111111' }),
          series({ seriesInstanceUid: '1.2.3.4.22222222' }),
          series({ seriesInstanceUid: null, firstFile: 'c/IM0001.dcm' }),
          series({ seriesNumber: 5, description: 'T1_sag', seriesInstanceUid: '1.2.3.5.33333333' }),
        ],
      },
    ],
  };
  const lines = formatInspectReport(report)
    .split('\n')
    .filter((l) => l.startsWith('  Series'));
  assert.deepEqual(lines, [
    '  Series #4 "T2_space_sag_c4" (UID …11111111) [DICOM, 11 files]',
    '  Series #4 "T2_space_sag_c4" (UID …22222222) [DICOM, 11 files]',
    '  Series #4 "T2_space_sag_c4" (c/IM0001.dcm) [DICOM, 11 files]',
    '  Series #5 "T1_sag" [DICOM, 11 files]',
  ]);
});
