/**
 * Geometry against references that are not ours: files written by other software (nibabel's test
 * data: a two-slice Siemens MR series, two NIfTI images; see test/fixtures/third-party/README.md)
 * read by our readers and compared with the values dcmdump (DCMTK) and nibabel report, and files
 * written by our writers read back by dcmdump and nibabel rather than by our own readers. Expected
 * points are worked out here from the published numbers, not with spinegrade's geometry functions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { writeDicomSeries } from '../../src/io/dicom/write.js';
import { loadSingleVolume } from '../../src/io/load.js';
import { readNifti, writeNifti } from '../../src/io/nifti.js';
import type { Volume } from '../../src/volume/volume.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { nibabelMissing, nibabelPython, programMissing, skipWhenMissing } from '../helpers/programs.js';
import { tempFolder } from '../helpers/tmp.js';
import { codedVolume } from '../helpers/volumes.js';

const THIRD_PARTY = join(REPO_ROOT, 'test/fixtures/third-party');
const SIEMENS = join(THIRD_PARTY, 'nibabel-dicom-2-slices');

/** The physical point (LPS) of voxel `index` by the Volume convention: origin + D · diag(spacing) · index. */
function pointOf(volume: Volume, index: readonly number[]): number[] {
  return [0, 1, 2].map(
    (r) =>
      volume.origin[r]! +
      [0, 1, 2].reduce((sum, a) => sum + volume.direction[r * 3 + a]! * volume.spacing[a]! * index[a]!, 0),
  );
}

function assertClose(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((value, n) =>
    assert.ok(
      Math.abs(value - expected[n]!) <= tolerance,
      `${what}: got ${actual.join(', ')}, expected ${expected.join(', ')}`,
    ),
  );
}

/** `a + f·b` for 3-vectors. */
const along = (a: readonly number[], f: number, b: readonly number[]): number[] => a.map((v, n) => v + f * b[n]!);

// ---------------------------------------------------------------------------------------------------
// A DICOM series written by a Siemens TrioTim (nibabel's nicom test data), as dcmdump reports it.

/** (0020,0032) ImagePositionPatient of 0.dcm and 1.dcm. */
const SIEMENS_POSITIONS = [
  [-805.0, -825.019119, -75.097641],
  [-805.0, -825.019119, -72.097641],
];
/** (0020,0037) ImageOrientationPatient: the row direction, then the column direction. */
const SIEMENS_ORIENTATION = [1, 0, 0, 0, 0.999986, -0.005236];
/** (0028,0030) PixelSpacing: between rows, then between columns. */
const SIEMENS_PIXEL_SPACING = [1.796875, 1.796875];

/** The values of `tags` (e.g. `0020,0032`) of a DICOM file as dcmdump prints them, split at `\`. */
function dcmdumpValues(file: string, tags: readonly string[]): Map<string, string[]> {
  const result = spawnSync('dcmdump', ['+L', ...tags.flatMap((tag) => ['+P', tag]), file], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const values = new Map<string, string[]>();
  for (const line of result.stdout.split('\n')) {
    const match = /^\(([0-9a-f]{4},[0-9a-f]{4})\) \S\S (?:\[([^\]]*)\]|(\S+))/.exec(line);
    if (match) values.set(match[1]!, (match[2] ?? match[3] ?? '').split('\\'));
  }
  return values;
}

/** The stored pixel values of a DICOM file, written out by `dcmdump +W` (16-bit little-endian files). */
async function dcmdumpPixels(file: string, folder: string, signed: boolean): Promise<Int16Array | Uint16Array> {
  const result = spawnSync('dcmdump', ['+W', folder, file], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const raw = (await readdir(folder)).find((name) => name.startsWith(`${basename(file)}.`) && name.endsWith('.raw'));
  assert.ok(raw, `dcmdump wrote no pixel data for ${file}`);
  const bytes = await readFile(join(folder, raw));
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return signed ? new Int16Array(copy) : new Uint16Array(copy);
}

test('a Siemens two-slice series reads with the geometry in its headers', async () => {
  const volume = await loadSingleVolume([SIEMENS]);
  assert.deepEqual(volume.size, [256, 256, 2]);
  const row = SIEMENS_ORIENTATION.slice(0, 3);
  const column = SIEMENS_ORIENTATION.slice(3, 6);
  const [betweenRows, betweenColumns] = SIEMENS_PIXEL_SPACING as [number, number];
  for (const [k, position] of SIEMENS_POSITIONS.entries()) {
    for (const [i, j] of [
      [0, 0],
      [255, 0],
      [0, 255],
      [255, 255],
      [17, 200],
    ] as const) {
      // DICOM: point = position + i · column spacing · row direction + j · row spacing · column direction.
      const expected = along(along(position, i * betweenColumns, row), j * betweenRows, column);
      assertClose(pointOf(volume, [i, j, k]), expected, 2e-3, `voxel (${i}, ${j}, ${k})`);
    }
  }
  // The slices are 3 mm apart by their positions (SpacingBetweenSlices 3), though SliceThickness is 2.5.
  assertClose([volume.spacing[2]], [3], 1e-4, 'slice spacing');
});

test('the Siemens series: dcmdump reports the geometry used above, and the pixels we read', async (t) => {
  if (skipWhenMissing(t, programMissing('dcmdump', 'dcmtk'))) return;
  const volume = await loadSingleVolume([SIEMENS]);
  const folder = await tempFolder(t);
  for (const [k, name] of ['0.dcm', '1.dcm'].entries()) {
    const file = join(SIEMENS, name);
    const tags = dcmdumpValues(file, ['0020,0032', '0020,0037', '0028,0030', '0028,0010', '0028,0011', '0028,0103']);
    assertClose(tags.get('0020,0032')!.map(Number), SIEMENS_POSITIONS[k]!, 1e-9, `${name} position`);
    assertClose(tags.get('0020,0037')!.map(Number), SIEMENS_ORIENTATION, 1e-9, `${name} orientation`);
    assertClose(tags.get('0028,0030')!.map(Number), SIEMENS_PIXEL_SPACING, 1e-9, `${name} pixel spacing`);
    assert.deepEqual([tags.get('0028,0010'), tags.get('0028,0011'), tags.get('0028,0103')], [['256'], ['256'], ['0']]);
    const pixels = await dcmdumpPixels(file, folder, false);
    assert.equal(pixels.length, 256 * 256);
    const slice = volume.voxels.subarray(k * 256 * 256, (k + 1) * 256 * 256);
    assert.ok(
      pixels.every((value, n) => slice[n] === value),
      `${name}: every pixel as dcmdump wrote it out`,
    );
  }
});

// ---------------------------------------------------------------------------------------------------
// NIfTI files from nibabel's test data, with the affines nibabel reports (RAS+ world coordinates).

/** What nibabel reports for a NIfTI file: its affine (RAS+), shape and a few voxel values and their sum. */
interface NibabelView {
  affine: number[][];
  shape: number[];
  values: number[];
  sum: number;
}

const NIBABEL_SCRIPT = `
import json, sys
import nibabel as nib, numpy as np
img = nib.load(sys.argv[1])
data = np.asanyarray(img.get_fdata())
picks = json.loads(sys.argv[2])
print(json.dumps({
  "affine": img.affine.tolist(), "qform": img.get_qform().tolist(), "shape": list(img.shape),
  "values": [float(data[tuple(p)]) for p in picks], "sum": float(data.sum()),
  "code_error": float(np.abs(data - sum(c * i for c, i in zip((1, 7, 31), np.indices(img.shape)))+ 200).max()) if data.ndim == 3 else None,
}))
`;

function nibabelView(
  file: string,
  picks: readonly (readonly number[])[],
): NibabelView & {
  qform: number[][];
  code_error: number | null;
} {
  const python = nibabelPython();
  assert.ok(python);
  const result = spawnSync(python, ['-c', NIBABEL_SCRIPT, file, JSON.stringify(picks)], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

interface PublishedNifti {
  file: string;
  view: NibabelView;
  picks: number[][];
}

const NIBABEL_FILES: PublishedNifti[] = [
  {
    // nibabel's tests: "anatomical.nii has a diagonal -2, 2 2 affine"; big-endian int16.
    file: 'anatomical.nii',
    view: {
      affine: [
        [-2, 0, 0, 32],
        [0, 2, 0, -40],
        [0, 0, 2, -16],
        [0, 0, 0, 1],
      ],
      shape: [33, 41, 25],
      values: [10712, 2971, 11881, 2971],
      sum: 284166082,
    },
    picks: [
      [0, 0, 0],
      [5, 7, 3],
      [16, 20, 12],
      [32, 40, 24],
    ],
  },
  {
    // sform only (code 2), zooms 1, 3, 2; gzipped uint8.
    file: 'standard.nii.gz',
    view: {
      affine: [
        [1, 0, 0, 0],
        [0, 3, 0, 0],
        [0, 0, 2, 0],
        [0, 0, 0, 1],
      ],
      shape: [4, 5, 7],
      values: [255, 255],
      sum: 7650,
    },
    picks: [
      [1, 2, 3],
      [3, 4, 6],
    ],
  },
];

/** The point (LPS) of `index` under a RAS+ affine: the affine's point with x and y negated. */
function lpsPointOfAffine(affine: number[][], index: readonly number[]): number[] {
  const ras = [0, 1, 2].map((r) => affine[r]![3]! + [0, 1, 2].reduce((s, a) => s + affine[r]![a]! * index[a]!, 0));
  return [-ras[0]!, -ras[1]!, ras[2]!];
}

for (const published of NIBABEL_FILES) {
  test(`nibabel's ${published.file} reads with its published affine and voxel values`, async () => {
    const volume = await readNifti(join(THIRD_PARTY, published.file));
    const { affine, shape, values, sum } = published.view;
    assert.deepEqual(volume.size, shape);
    const last = shape.map((n) => n - 1);
    for (const index of [[0, 0, 0], last, [1, 2, 3], [last[0]!, 0, last[2]!]]) {
      assertClose(pointOf(volume, index), lpsPointOfAffine(affine, index), 1e-4, `${published.file} voxel ${index}`);
    }
    const at = (p: readonly number[]) => volume.voxels[p[0]! + shape[0]! * (p[1]! + shape[1]! * p[2]!)];
    assert.deepEqual(published.picks.map(at), values);
    let total = 0;
    for (const v of volume.voxels) total += Number(v);
    assert.equal(total, sum);
  });
}

test("nibabel itself reports the affines and values used above (the fixtures are nibabel's own files)", (t) => {
  if (skipWhenMissing(t, nibabelMissing())) return;
  for (const published of NIBABEL_FILES) {
    const view = nibabelView(join(THIRD_PARTY, published.file), published.picks);
    assert.deepEqual(
      { affine: view.affine, shape: view.shape, values: view.values, sum: view.sum },
      published.view,
      published.file,
    );
  }
});

// ---------------------------------------------------------------------------------------------------
// Our writers, read by outside readers.

test('nibabel reads the NIfTI we write with the geometry and voxel values we wrote', async (t) => {
  if (skipWhenMissing(t, nibabelMissing())) return;
  const volume = codedVolume(); // oblique sagittal; voxel value i + 7j + 31k - 200
  const file = join(await tempFolder(t), 'coded.nii.gz');
  await writeNifti(volume, file);
  const view = nibabelView(file, [
    [0, 0, 0],
    [12, 10, 4],
  ]);
  assert.deepEqual(view.shape, [...volume.size]);
  assert.deepEqual(view.values, [-200, 12 + 70 + 124 - 200]);
  assert.equal(view.code_error, 0, 'every voxel holds i + 7j + 31k - 200');
  // RAS+ = LPS with x and y negated: row r of the affine is flip[r] · (D · diag(spacing) | origin).
  const flip = [-1, -1, 1];
  const expected = [0, 1, 2].map((r) => [
    ...[0, 1, 2].map((a) => flip[r]! * volume.direction[r * 3 + a]! * volume.spacing[a]!),
    flip[r]! * volume.origin[r]!,
  ]);
  for (const [name, affine] of [
    ['sform', view.affine],
    ['qform', view.qform],
  ] as const) {
    for (let r = 0; r < 3; r++) assertClose(affine[r]!, expected[r]!, 1e-4, `${name} row ${r}`);
  }
});

test('dcmdump reads the DICOM series we write with the geometry and voxel values we wrote', async (t) => {
  if (skipWhenMissing(t, programMissing('dcmdump', 'dcmtk'))) return;
  const volume = codedVolume();
  const folder = await tempFolder(t);
  const files = await writeDicomSeries(volume, join(folder, 'series'), { uidSeed: 'outside-reader' });
  assert.equal(files.length, volume.size[2]);
  const column = (a: number) => [0, 1, 2].map((r) => volume.direction[r * 3 + a]!);
  const [nx, ny] = volume.size;
  for (const [k, file] of files.entries()) {
    const tags = dcmdumpValues(file, [
      '0020,0032',
      '0020,0037',
      '0028,0030',
      '0028,0010',
      '0028,0011',
      '0028,0103',
      '0028,1052',
      '0028,1053',
    ]);
    assertClose(
      tags.get('0020,0032')!.map(Number),
      along(volume.origin, k * volume.spacing[2], column(2)),
      1e-5,
      `slice ${k} position`,
    );
    assertClose(tags.get('0020,0037')!.map(Number), [...column(0), ...column(1)], 1e-6, `slice ${k} orientation`);
    assertClose(
      tags.get('0028,0030')!.map(Number),
      [volume.spacing[1], volume.spacing[0]],
      1e-9,
      `slice ${k} pixel spacing`,
    );
    assert.deepEqual([tags.get('0028,0010'), tags.get('0028,0011')], [[String(ny)], [String(nx)]]);
    const slope = Number(tags.get('0028,1053')?.[0] ?? 1);
    const intercept = Number(tags.get('0028,1052')?.[0] ?? 0);
    const stored = await dcmdumpPixels(file, folder, tags.get('0028,0103')?.[0] === '1');
    assert.equal(stored.length, nx * ny);
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const value = stored[i + nx * j]! * slope + intercept;
        assert.ok(Math.abs(value - (i + 7 * j + 31 * k - 200)) < 1e-6, `slice ${k} pixel (${i}, ${j}): ${value}`);
      }
    }
  }
});
