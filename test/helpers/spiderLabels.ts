/**
 * SPIDER's gradings and T2 disc keypoints, shipped as fixtures (test/fixtures/spider-labels, CC BY 4.0)
 * so that the model floors run without ../shared.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spiderDiscLabels } from '../../src/datasets/common.js';
import { readCsv } from '../../src/datasets/csv.js';
import type { DiscLabel } from '../../src/datasets/types.js';
import { REPO_ROOT } from './cli.js';

/** The fixture folder. */
export const SPIDER_LABELS = join(REPO_ROOT, 'test/fixtures/spider-labels');

/** Every graded disc of SPIDER's training split (179 patients, thoracic levels and label 0 included). */
export async function spiderGradings(): Promise<DiscLabel[]> {
  const path = join(SPIDER_LABELS, 'radiological_gradings.csv');
  const notes: string[] = [];
  const discs = spiderDiscLabels(await readCsv(path), path, notes);
  if (notes.length > 0) throw new Error(`${path}: ${notes.join('; ')}`);
  return discs;
}

/** One T2 disc keypoint on a mid-sagittal PNG, with the PNG's pixel spacing (mm, [x, y]). */
export interface SpiderKeypoint {
  series: string;
  patient: string;
  ivdLabel: number;
  x: number;
  y: number;
  spacing: [number, number];
}

/** The 860 lumbar T2 disc keypoints (B. Artley's, on SPIDER's mid-sagittal PNGs). */
export async function spiderKeypoints(): Promise<SpiderKeypoint[]> {
  const text = await readFile(join(SPIDER_LABELS, 't2_disc_keypoints.csv'), 'utf8');
  return text
    .trim()
    .split(/\r?\n/)
    .slice(1)
    .map((line) => {
      const [series, ivd, x, y, sx, sy] = line.split(',') as [string, string, string, string, string, string];
      return {
        series,
        patient: series.split('_')[0] as string,
        ivdLabel: Number(ivd),
        x: Number(x),
        y: Number(y),
        spacing: [Number(sx), Number(sy)],
      };
    });
}

/** Key of one disc of one patient or series. */
export const discKey = (owner: string, ivdLabel: number): string => `${owner}#${ivdLabel}`;
