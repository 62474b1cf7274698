/**
 * The rule for bad input, checked across every fixture in test/fixtures/bad-input and the hostile
 * files made at test time (special files, DICOM structures too large to keep in git): `inspect` and
 * `analyze` end in time with a documented non-zero exit code other than INTERNAL, one line that
 * names the input, and no JavaScript error text.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT_CODES, JAVASCRIPT_ERROR_TEXT, type ProblemKind } from '../../src/errors.js';
import { MAX_SEQUENCE_DEPTH, MAX_SEQUENCE_ITEMS } from '../../src/io/dicom/parse.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { corruptDeflatedDicom, deeplyNestedDicom, manyItemsDicom } from '../helpers/hostileDicom.js';
import { tempFolder } from '../helpers/tmp.js';

const BAD = join(REPO_ROOT, 'test/fixtures/bad-input');
/** A run that takes longer than this is a hang. */
const HANG_MS = 60_000;

/** What a hostile case must give, beyond the rule every case follows. */
interface Expected {
  kind: ProblemKind;
  message: RegExp;
}

/** The kinds and messages expected of the hostile classes (the older fixtures have theirs in bad-input.test.ts). */
const EXPECTED: Record<string, Expected> = {
  'corrupt-rle.dcm': { kind: 'TRUNCATED', message: /compressed pixel data is corrupt or truncated \(RLE Lossless\)/ },
  'corrupt-jpeg-baseline.dcm': { kind: 'TRUNCATED', message: /corrupt or truncated \(JPEG Baseline\)/ },
  'corrupt-jpeg-lossless.dcm': { kind: 'TRUNCATED', message: /corrupt or truncated \(JPEG Lossless\)/ },
  'corrupt-jpegls.dcm': { kind: 'TRUNCATED', message: /corrupt or truncated \(JPEG-LS\)/ },
  'corrupt-j2k.dcm': { kind: 'TRUNCATED', message: /corrupt or truncated \(JPEG 2000\)/ },
  'corrupt-baseline.jpg': { kind: 'TRUNCATED', message: /JPEG data is truncated or corrupt/ },
  'corrupt-deflate.png': { kind: 'TRUNCATED', message: /PNG image data is truncated or corrupt/ },
  'corrupt-gzip.nii.gz': { kind: 'TRUNCATED', message: /gzip stream is truncated or corrupt/ },
  'corrupt-zlib.mha': { kind: 'TRUNCATED', message: /compressed data is truncated or corrupt/ },
  'fifo/IM000001.dcm': { kind: 'UNREADABLE', message: /is a FIFO \(named pipe\), not a regular file/ },
  fifo: { kind: 'NO_IMAGES', message: /no image files found \(1 file\(s\) skipped/ },
  'socket.dcm': { kind: 'UNREADABLE', message: /is a socket, not a regular file/ },
  '/dev/zero': { kind: 'UNREADABLE', message: /is a character device, not a regular file/ },
  'nested-20000.dcm': {
    kind: 'TOO_LARGE',
    message: new RegExp(`DICOM sequences nest deeper than ${MAX_SEQUENCE_DEPTH} levels`),
  },
  'many-items.dcm': {
    kind: 'TOO_LARGE',
    message: new RegExp(`DICOM sequences hold more than ${MAX_SEQUENCE_ITEMS} items`),
  },
  'corrupt-deflated.dcm': { kind: 'TRUNCATED', message: /deflated DICOM data set is truncated or corrupt/ },
};

const DOCUMENTED_FAILURES = new Set<number>(Object.values(EXIT_CODES).filter((code) => code !== EXIT_CODES.INTERNAL));

/** Makes the hostile inputs git cannot hold in `folder`; returns their paths by case name. */
async function makeRuntimeCases(folder: string): Promise<{ paths: Map<string, string>; socket: Server }> {
  const paths = new Map<string, string>();
  const fifoFolder = join(folder, 'fifo');
  await mkdir(fifoFolder);
  const fifo = join(fifoFolder, 'IM000001.dcm');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
  paths.set('fifo/IM000001.dcm', fifo);
  paths.set('fifo', fifoFolder);
  const socketPath = join(folder, 'socket.dcm');
  const socket = createServer();
  await new Promise<void>((resolve) => socket.listen(socketPath, resolve));
  paths.set('socket.dcm', socketPath);
  if (existsSync('/dev/zero')) paths.set('/dev/zero', '/dev/zero');
  const files: Array<[string, Uint8Array]> = [
    ['nested-20000.dcm', deeplyNestedDicom(20_000)],
    ['many-items.dcm', manyItemsDicom(MAX_SEQUENCE_ITEMS + 1)],
    ['corrupt-deflated.dcm', corruptDeflatedDicom()],
  ];
  for (const [name, bytes] of files) {
    await writeFile(join(folder, name), bytes);
    paths.set(name, join(folder, name));
  }
  return { paths, socket };
}

function run(args: readonly string[]) {
  return spawnSync(process.execPath, ['bin/spinegrade.js', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: HANG_MS,
    env: { ...process.env, SPINEGRADE_DEBUG: '' },
  });
}

test('every bad input gets a documented exit code, one line naming it, and no JavaScript error text', async (t) => {
  const folder = await tempFolder(t);
  const { paths, socket } = await makeRuntimeCases(folder);
  t.after(() => socket.close());
  for (const name of (await readdir(BAD)).sort()) paths.set(name, join(BAD, name));
  for (const name of Object.keys(EXPECTED)) {
    if (name !== '/dev/zero' || existsSync(name)) assert.ok(paths.has(name), `fixture ${name} is missing`);
  }

  const failures: string[] = [];
  for (const [name, input] of paths) {
    for (const command of ['inspect', 'analyze'] as const) {
      const args = command === 'analyze' ? [command, input, '--out', join(folder, 'out')] : [command, input];
      const result = run(args);
      const line = result.stderr.trim();
      const problems: string[] = [];
      if (result.signal !== null) problems.push(`killed by ${result.signal} (a hang?)`);
      if (result.status === null || !DOCUMENTED_FAILURES.has(result.status)) {
        problems.push(`exit code ${result.status} is not a documented failure`);
      }
      if (line.includes('\n')) problems.push('more than one line');
      if (!line.startsWith('spinegrade: ')) problems.push('not a spinegrade message');
      if (!line.includes(input)) problems.push('does not name the input');
      if (JAVASCRIPT_ERROR_TEXT.test(line)) problems.push('JavaScript error text');
      const expected = EXPECTED[name];
      if (expected && result.status !== EXIT_CODES[expected.kind]) {
        problems.push(`exit code ${result.status}, expected ${EXIT_CODES[expected.kind]} (${expected.kind})`);
      }
      if (expected && !expected.message.test(line)) problems.push(`message does not match ${expected.message}`);
      if (existsSync(join(folder, 'out'))) problems.push('analyze wrote an output folder');
      if (problems.length > 0) failures.push(`${command} ${name}: ${problems.join('; ')}\n    ${line}`);
    }
  }
  assert.deepEqual(failures, []);
});
