import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { SpinegradeError } from '../../src/errors.js';
import { readPicture, writeGreyPng } from '../../src/io/png.js';
import { extractSagittalSlice, imagePlane } from '../../src/volume/orientation.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

test('a SPIDER PNG reads as one sagittal slice in display orientation with the given spacing', async () => {
  const volume = await readPicture(join(REPO_ROOT, 'test/fixtures/spider-slices/98_t2.png'), {
    pixelSpacing: [0.5859375, 0.5859375],
  });
  assert.deepEqual(volume.size, [512, 512, 1]);
  assert.equal(imagePlane(volume), 'sagittal');
  assert.equal(volume.metadata.spacingSource, 'user');
  const slice = extractSagittalSlice(volume, 0);
  // Display orientation is the PNG's own layout: pixel (x, y) of the slice is pixel (x, y) of the file.
  assert.equal(slice.pixels[100 + 200 * 512], volume.voxels[100 + 200 * 512]);
  assert.deepEqual(slice.pixelSpacing, [0.5859375, 0.5859375]);
});

test('a PNG without a spacing is marked as assumed 1 mm', async () => {
  const volume = await readPicture(join(REPO_ROOT, 'test/fixtures/spider-slices/98_t1.png'));
  assert.deepEqual(volume.spacing, [1, 1, 1]);
  assert.equal(volume.metadata.spacingSource, 'assumed');
});

test('8-bit greyscale PNGs round-trip through writeGreyPng exactly', async (t) => {
  const folder = await tempFolder(t);
  const pixels = Uint8Array.from({ length: 6 * 4 }, (_, n) => n * 10);
  await writeGreyPng(join(folder, 'a.png'), pixels, 6, 4);
  const volume = await readPicture(join(folder, 'a.png'));
  assert.deepEqual(Array.from(volume.voxels), Array.from(pixels));
  assert.deepEqual(volume.size, [6, 4, 1]);
});

test('16-bit greyscale PNGs keep their full values', async (t) => {
  const folder = await tempFolder(t);
  const png = new PNG({ width: 3, height: 2, colorType: 0, inputColorType: 0, bitDepth: 16, inputHasAlpha: false });
  const values = [0, 1000, 4095, 30000, 65535, 7];
  // pngjs takes 16-bit input as one Uint16 word per sample.
  png.data = new Uint16Array(values) as unknown as Buffer;
  const bytes = PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 16, inputHasAlpha: false });
  await writeFile(join(folder, 'b.png'), bytes);
  const volume = await readPicture(join(folder, 'b.png'));
  assert.ok(volume.voxels instanceof Uint16Array);
  assert.deepEqual(Array.from(volume.voxels), values);
});

test('a greyscale JPEG reads as one slice within JPEG rounding', async (t) => {
  const folder = await tempFolder(t);
  const width = 16;
  const height = 8;
  const data = new Uint8Array(width * height * 4);
  for (let n = 0; n < width * height; n++) data.set([n, n, n, 255], n * 4);
  await writeFile(join(folder, 'c.jpg'), jpeg.encode({ data, width, height }, 100).data);
  const volume = await readPicture(join(folder, 'c.jpg'), { pixelSpacing: [0.7, 0.8] });
  assert.equal(volume.metadata.sourceFormat, 'jpeg');
  assert.deepEqual(volume.spacing, [0.7, 0.8, 1]);
  const error = Array.from(volume.voxels).reduce((sum, v, n) => sum + Math.abs(v - n), 0) / (width * height);
  assert.ok(error < 3, `mean error ${error}`);
});

test('a truncated PNG is reported as truncated', async (t) => {
  const folder = await tempFolder(t);
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(join(REPO_ROOT, 'test/fixtures/spider-slices/98_t2.png'));
  await writeFile(join(folder, 'cut.png'), bytes.subarray(0, 5000));
  await assert.rejects(
    readPicture(join(folder, 'cut.png')),
    (e: unknown) => e instanceof SpinegradeError && e.kind === 'TRUNCATED',
  );
});
