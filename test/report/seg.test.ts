import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeDicomSeries } from '../../src/io/dicom/write.js';
import { loadStudies } from '../../src/io/load.js';
import { readDicomHeaders, SCT, sameCode } from '../../src/report/dicomCodes.js';
import { buildSegmentation, type LabelMap, readSegmentation, type SegFrame } from '../../src/report/seg.js';
import { extractSagittalSlice } from '../../src/volume/orientation.js';
import { directionFromAxes, type Vec3, type Volume } from '../../src/volume/volume.js';
import { programMissing, skipWhenMissing } from '../helpers/programs.js';
import { tempFolder } from '../helpers/tmp.js';
import { codedVolume } from '../helpers/volumes.js';

const EXAMPLE = 'examples/spider-98-t2space/dicom';

/** A label map of a display slice with axis-aligned rectangles `[class, x0, x1, y0, y1]` (inclusive). */
function rectangles(
  volume: Volume,
  sliceIndex: number,
  boxes: readonly (readonly [number, number, number, number, number])[],
): LabelMap {
  const { width, height } = extractSagittalSlice(volume, sliceIndex);
  const classes = new Uint8Array(width * height);
  for (const [label, x0, x1, y0, y1] of boxes) {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) classes[x + y * width] = label;
  }
  return { sliceIndex, classes, width, height };
}

/** Inclusive bounding box `[row0, row1, col0, col1]` of a frame's set pixels. */
function boundingBox(frame: SegFrame, columns: number): [number, number, number, number] {
  let [r0, r1, c0, c1] = [Number.POSITIVE_INFINITY, -1, Number.POSITIVE_INFINITY, -1];
  frame.mask.forEach((v, n) => {
    if (!v) return;
    const r = Math.floor(n / columns);
    const c = n % columns;
    [r0, r1, c0, c1] = [Math.min(r0, r), Math.max(r1, r), Math.min(c0, c), Math.max(c1, c)];
  });
  return [r0, r1, c0, c1];
}

/** Physical point of (row, column) of an instance, from its own header. */
function instancePoint(header: Record<string, unknown>, row: number, column: number): Vec3 {
  const ipp = (header.ImagePositionPatient as unknown[]).map(Number);
  const iop = (header.ImageOrientationPatient as unknown[]).map(Number);
  const [rowSpacing, columnSpacing] = (header.PixelSpacing as unknown[]).map(Number) as [number, number];
  return [0, 1, 2].map(
    (a) => ipp[a]! + column * columnSpacing * iop[a]! + row * rowSpacing * iop[3 + a]!,
  ) as unknown as Vec3;
}

async function exampleSeries() {
  const { studies } = await loadStudies([EXAMPLE]);
  const volume = studies[0]!.series[0]!;
  return { volume, headers: await readDicomHeaders(volume.metadata.sourcePaths) };
}

let exampleSeg: Promise<{ seg: Uint8Array; volume: Volume; headers: Awaited<ReturnType<typeof readDicomHeaders>> }>;

/** The example series with a disc, a vertebra and a canal rectangle on the mid slice and a disc on the next. */
function example() {
  exampleSeg ??= (async () => {
    const { volume, headers } = await exampleSeries();
    const mid = Math.floor(volume.size[2] / 2);
    const labelMaps = [
      rectangles(volume, mid, [
        [1, 100, 139, 200, 219],
        [2, 100, 159, 230, 279],
        [3, 300, 309, 50, 549],
      ]),
      rectangles(volume, mid + 1, [[1, 110, 129, 205, 214]]),
      rectangles(volume, 0, []),
    ];
    const seg = buildSegmentation({ volume, sourceDatasets: headers, labelMaps, softwareVersion: '0.1.0' });
    return { seg, volume, headers };
  })();
  return exampleSeg;
}

test('the segmentation has the disc, vertebral body and canal segments with SNOMED types', async () => {
  const { seg } = await example();
  const { segments } = readSegmentation(seg);
  assert.deepEqual(
    segments.map((s) => [s.number, s.label]),
    [
      [1, 'Intervertebral disc'],
      [2, 'Vertebral body'],
      [3, 'Spinal canal'],
    ],
  );
  assert.ok(sameCode(segments[0]!.type, SCT.intervertebralDisc));
  assert.ok(sameCode(segments[1]!.type, SCT.vertebralBody));
  assert.ok(sameCode(segments[2]!.type, SCT.spinalCanal));
});

test('each frame refers to the example instance of its slice, at that instance position, with the labelled pixels', async () => {
  const { seg, volume, headers } = await example();
  const mid = Math.floor(volume.size[2] / 2);
  const { frames, rows, columns } = readSegmentation(seg);
  assert.deepEqual([rows, columns], [640, 512]);
  const uids = headers.map((h) => String(h.SOPInstanceUID));
  // Only labelled slices get frames: disc on two slices, vertebra and canal on the mid slice.
  assert.deepEqual(
    frames.map((f) => [f.segmentNumber, uids.indexOf(f.referencedSopInstanceUid), f.pixelCount]),
    [
      [1, mid, 40 * 20],
      [1, mid + 1, 20 * 10],
      [2, mid, 60 * 50],
      [3, mid, 10 * 500],
    ],
  );
  for (const frame of frames) {
    const header = headers[uids.indexOf(frame.referencedSopInstanceUid)]!;
    assert.deepEqual(frame.imagePositionPatient, (header.ImagePositionPatient as unknown[]).map(Number));
  }
  // This series' rows already run superior → inferior and its columns anterior → posterior, so the
  // display rectangle lands on the same rows and columns of the source image.
  assert.deepEqual(boundingBox(frames[0]!, columns), [200, 219, 100, 139]);
  assert.deepEqual(boundingBox(frames[3]!, columns), [50, 549, 300, 309]);
});

test('on a series stored anterior-to-left and inferior-to-top, display pixels land on the flipped source rows and columns', async (t) => {
  const folder = await tempFolder(t);
  // i runs anterior, j superior: the display (columns anterior → posterior, rows superior → inferior)
  // flips both. 13 × 11 pixels, so frames do not end on byte boundaries in the bit-packed pixel data.
  const original = codedVolume({
    size: [13, 11, 4],
    direction: directionFromAxes([0, -1, 0], [0, 0, 1], [1, 0, 0]),
  });
  await writeDicomSeries(original, join(folder, 'flipped'), { uidSeed: 'seg-flip' });
  const { studies } = await loadStudies([join(folder, 'flipped')]);
  const volume = studies[0]!.series[0]!;
  const headers = await readDicomHeaders(volume.metadata.sourcePaths);
  const labelMaps = [
    rectangles(volume, 1, [[1, 2, 5, 3, 6]]),
    rectangles(volume, 2, [
      [1, 0, 0, 0, 0],
      [3, 12, 12, 9, 10],
    ]),
  ];
  const seg = buildSegmentation({ volume, sourceDatasets: headers, labelMaps, softwareVersion: '0.1.0' });
  const { frames, rows, columns } = readSegmentation(seg);
  assert.deepEqual([rows, columns], [11, 13]);
  assert.deepEqual(
    frames.map((f) => [f.segmentNumber, f.referencedSopInstanceUid, f.pixelCount]),
    [
      [1, headers[1]!.SOPInstanceUID, 16],
      [1, headers[2]!.SOPInstanceUID, 1],
      [3, headers[2]!.SOPInstanceUID, 2],
    ],
  );
  // Display x 2..5 → column 12 − x = 7..10; display y 3..6 → row 10 − y = 4..7.
  assert.deepEqual(boundingBox(frames[0]!, columns), [4, 7, 7, 10]);
  assert.deepEqual(boundingBox(frames[1]!, columns), [10, 10, 12, 12]);
  assert.deepEqual(boundingBox(frames[2]!, columns), [0, 1, 0, 0]);
  // And every segmented source pixel sits at the physical point of the display pixel it came from.
  const display = extractSagittalSlice(volume, 1);
  const at = instancePoint(headers[1]!, 4, 7);
  const expected = display.pointOf(5, 6);
  at.forEach((v, a) => assert.ok(Math.abs(v - expected[a]!) < 1e-3));
});

test('the segmentation passes the dicom3tools IOD validator without errors (skipped where dciodvfy is absent)', async (t) => {
  if (skipWhenMissing(t, programMissing('dciodvfy', 'dicom3tools'))) return;
  const { seg } = await example();
  const file = join(await tempFolder(t), 'seg.dcm');
  await writeFile(file, seg);
  const result = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  const lines = `${result.stdout}${result.stderr}`.split('\n');
  assert.match(lines[0] ?? '', /Segmentation/);
  for (const warning of lines.filter((l) => l.startsWith('Warning'))) t.diagnostic(warning);
  assert.deepEqual(
    lines.filter((l) => l.startsWith('Error')),
    [],
  );
});

test('label maps of the wrong size, repeated slices or no labels at all are refused', async () => {
  const { volume, headers } = await exampleSeries();
  const good = rectangles(volume, 3, [[1, 10, 20, 10, 20]]);
  const build = (labelMaps: LabelMap[]) =>
    buildSegmentation({ volume, sourceDatasets: headers, labelMaps, softwareVersion: '0.1.0' });
  assert.throws(() => build([{ ...good, width: good.height, height: good.width }]), /label map of slice 3 is 640×512/);
  assert.throws(() => build([good, good]), /two label maps for slice 3/);
  assert.throws(() => build([rectangles(volume, 3, [])]), /no label map holds any labelled pixel/);
  assert.throws(
    () => buildSegmentation({ volume, sourceDatasets: headers.slice(1), labelMaps: [good], softwareVersion: '0.1.0' }),
    /10 source datasets for a series of 11 slices/,
  );
});
