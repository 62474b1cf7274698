import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT_CODES, type ProblemKind } from '../../src/errors.js';
import { NOBODY, REPO_ROOT, runCli } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

const BAD = 'test/fixtures/bad-input';

interface BadCase {
  name: string;
  /** Input path(s); a function makes them at run time (things git cannot hold). */
  input: string | ((folder: string) => Promise<string>);
  kind: ProblemKind;
  /** The one-line message must match this. */
  message: RegExp;
  /** Also feed the input to `convert` and check no output appears (default true). */
  convert?: boolean;
}

const cases: BadCase[] = [
  {
    name: 'an empty folder',
    input: async (f) => {
      await mkdir(join(f, 'empty'));
      return join(f, 'empty');
    },
    kind: 'NO_IMAGES',
    message: /empty: no image files found \(it is empty\)/,
  },
  {
    name: 'a folder of non-image files',
    input: `${BAD}/only-text`,
    kind: 'NO_IMAGES',
    message: /only-text: no image files found \(2 file\(s\) skipped/,
  },
  {
    name: 'a text file given as an image',
    input: `${BAD}/not-an-image.txt`,
    kind: 'NOT_AN_IMAGE',
    message: /not-an-image\.txt: not an image format/,
  },
  {
    name: 'a truncated DICOM file',
    input: `${BAD}/truncated.dcm`,
    kind: 'TRUNCATED',
    message: /truncated\.dcm: .*(truncated|ends)/,
  },
  {
    name: 'a DICOM image without pixel data',
    input: `${BAD}/no-pixel-data.dcm`,
    kind: 'NO_PIXEL_DATA',
    message: /no-pixel-data\.dcm: DICOM image has no pixel data/,
  },
  {
    name: 'a .dcm file without the DICOM marker',
    input: `${BAD}/no-dicm-marker.dcm`,
    kind: 'NOT_AN_IMAGE',
    message: /no-dicm-marker\.dcm: named like a DICOM file/,
  },
  {
    name: 'a series with mixed matrix sizes',
    input: `${BAD}/mixed-matrix`,
    kind: 'INCONSISTENT_SERIES',
    message: /IM0002\.dcm: mixed matrix sizes in one series: 24×32 here, 32×32/,
  },
  {
    name: 'duplicate slice positions',
    input: `${BAD}/duplicate-positions`,
    kind: 'DUPLICATE_SLICES',
    message: /IM000\d\.dcm: two slices at the same position/,
  },
  {
    name: 'a series with a missing slice',
    input: `${BAD}/missing-slice`,
    kind: 'INCONSISTENT_SERIES',
    message: /irregular slice spacing .*a slice may be missing/,
  },
  {
    name: 'an axial-only study',
    input: `${BAD}/axial-only`,
    kind: 'NO_USABLE_SERIES',
    message: /axial-only: no series can be graded \(axial plane: grading needs sagittal slices/,
    convert: false,
  },
  {
    name: 'a NIfTI file with an impossible header',
    input: `${BAD}/nifti-impossible-header.nii`,
    kind: 'INVALID_HEADER',
    message: /nifti-impossible-header\.nii: /,
  },
  {
    name: 'a header that claims 10^9 voxels',
    input: `${BAD}/nifti-billion-voxels.nii`,
    kind: 'TOO_LARGE',
    message: /nifti-billion-voxels\.nii: .*1000×1000×1000/,
  },
  {
    name: 'a truncated .nii.gz',
    input: `${BAD}/nifti-truncated.nii.gz`,
    kind: 'TRUNCATED',
    message: /nifti-truncated\.nii\.gz: /,
  },
  { name: 'a truncated .mha', input: `${BAD}/mha-truncated.mha`, kind: 'TRUNCATED', message: /mha-truncated\.mha: / },
  {
    name: 'a PNG that is not a PNG',
    input: `${BAD}/not-a-png.png`,
    kind: 'NOT_AN_IMAGE',
    message: /not-a-png\.png: named like a PNG file but its contents are not one/,
  },
  { name: 'a colour PNG', input: `${BAD}/colour.png`, kind: 'UNSUPPORTED', message: /colour\.png: colour PNG/ },
  {
    name: 'a path that does not exist',
    input: `${BAD}/no-such-study`,
    kind: 'NOT_FOUND',
    message: /no-such-study: no such file or folder/,
  },
  {
    name: 'a symlink loop',
    input: async (f) => {
      await symlink(join(f, 'b'), join(f, 'a'));
      await symlink(join(f, 'a'), join(f, 'b'));
      return join(f, 'a');
    },
    kind: 'SYMLINK_LOOP',
    message: /a: symbolic links loop/,
  },
  {
    name: 'a symlink loop inside a study folder',
    input: async (f) => {
      await mkdir(join(f, 'study'));
      await symlink(join(f, 'study', 'y'), join(f, 'study', 'x'));
      await symlink(join(f, 'study', 'x'), join(f, 'study', 'y'));
      return join(f, 'study');
    },
    kind: 'SYMLINK_LOOP',
    message: /study\/x: symbolic links loop/,
  },
  {
    name: 'a DICOM in a transfer syntax spinegrade cannot decode',
    input: 'test/fixtures/dicom-codecs/jpeg-extended-12u.dcm',
    kind: 'UNSUPPORTED',
    message: /jpeg-extended-12u\.dcm: pixel data in JPEG Extended/,
  },
];

for (const c of cases) {
  test(`analyze reports ${c.name} in one line with exit code ${EXIT_CODES[c.kind]} and writes nothing`, async (t) => {
    const folder = await tempFolder(t);
    const input = typeof c.input === 'string' ? c.input : await c.input(folder);
    const out = join(folder, 'analysis');
    const run = runCli(['analyze', input, '--out', out]);
    assert.equal(run.status, EXIT_CODES[c.kind], `stderr: ${run.stderr}`);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line expected, got: ${run.stderr}`);
    assert.match(lines[0]!, /^spinegrade: /);
    assert.match(lines[0]!, c.message);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(run.stdout, '');
    assert.equal(existsSync(out), false, 'no report folder');
  });
  test(`inspect reports ${c.name} in one line with exit code ${EXIT_CODES[c.kind]} (${c.kind})`, async (t) => {
    const folder = await tempFolder(t);
    const input = typeof c.input === 'string' ? c.input : await c.input(folder);
    const run = runCli(['inspect', input]);
    assert.equal(run.status, EXIT_CODES[c.kind], `stderr: ${run.stderr}`);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line expected, got: ${run.stderr}`);
    assert.match(lines[0]!, /^spinegrade: /);
    assert.match(lines[0]!, c.message);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
  if (c.convert === false) continue;
  test(`convert writes nothing for ${c.name}`, async (t) => {
    const folder = await tempFolder(t);
    const input = typeof c.input === 'string' ? c.input : await c.input(folder);
    const outFolder = join(folder, 'out');
    await mkdir(outFolder);
    for (const target of ['volume.nii.gz', 'volume.mha', 'series']) {
      const run = runCli(['convert', input, '--out', join(outFolder, target)]);
      assert.equal(run.status, EXIT_CODES[c.kind], `stderr: ${run.stderr}`);
      assert.deepEqual(await readdir(outFolder), [], `nothing may be left in ${outFolder}`);
    }
  });
}

test('analyze of an unreadable file is refused with exit code 15 (UNREADABLE)', async (t) => {
  const folder = await tempFolder(t);
  const file = join(folder, 'locked.mha');
  await copyFile(join(REPO_ROOT, 'examples/spider-98-t2space/spider-98-t2space.mha'), file);
  // Root reads every file whatever its mode (CI runs as root): there the command runs as nobody,
  // who may enter the folder but not read the file.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await chmod(folder, 0o755);
  await chmod(file, 0o000);
  const run = runCli(['analyze', file], {}, asRoot ? NOBODY : undefined);
  assert.equal(run.status, EXIT_CODES.UNREADABLE, run.stderr);
  assert.match(run.stderr, /locked\.mha: permission denied/);
  // The same file, readable again, is taken by the same user: the refusal was about the mode alone.
  await chmod(file, 0o644);
  const readable = runCli(['inspect', file], {}, asRoot ? NOBODY : undefined);
  assert.equal(readable.status, 0, readable.stderr);
});

test('an unknown command is a usage error', () => {
  const run = runCli(['grade-everything']);
  assert.equal(run.status, EXIT_CODES.USAGE);
  assert.match(run.stderr, /unknown command "grade-everything"/);
});

test('an unknown option is a usage error that names it', () => {
  const run = runCli(['inspect', '--colour', 'x']);
  assert.equal(run.status, EXIT_CODES.USAGE);
  assert.match(run.stderr, /--colour/);
});

test('a malformed --pixel-spacing is a usage error', () => {
  const run = runCli(['inspect', `${BAD}/colour.png`, '--pixel-spacing', '0.5,abc']);
  assert.equal(run.status, EXIT_CODES.USAGE);
  assert.match(run.stderr, /--pixel-spacing wants one or two positive numbers/);
});

test('convert refuses to overwrite an existing output and leaves it untouched', async (t) => {
  const folder = await tempFolder(t);
  const target = join(folder, 'exists.mha');
  await writeFile(target, 'keep me');
  const run = runCli(['convert', 'examples/spider-98-t2space/spider-98-t2space.mha', '--out', target]);
  assert.equal(run.status, EXIT_CODES.OUTPUT_ERROR);
  assert.match(run.stderr, /exists\.mha: output already exists \(pass --overwrite/);
  assert.equal(await readFile(target, 'utf8'), 'keep me', 'the existing file is left as it was');
  assert.deepEqual(await readdir(folder), ['exists.mha'], 'and nothing is written beside it');
});

test('convert into a folder that does not exist is an output error', async (t) => {
  const folder = await tempFolder(t);
  const run = runCli([
    'convert',
    'examples/spider-98-t2space/spider-98-t2space.mha',
    '--out',
    join(folder, 'missing', 'x.nii'),
  ]);
  assert.equal(run.status, EXIT_CODES.OUTPUT_ERROR);
  assert.match(run.stderr, /output folder .*missing does not exist/);
  assert.deepEqual(await readdir(folder), []);
});

test('convert refuses input that holds more than one series', async (t) => {
  const folder = await tempFolder(t);
  const run = runCli(['convert', 'examples/spider-98-t2space', '--out', join(folder, 'x.nii')]);
  assert.equal(run.status, EXIT_CODES.USAGE);
  assert.match(run.stderr, /expected one series but found 2/);
});
