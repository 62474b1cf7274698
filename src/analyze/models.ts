/**
 * What `findings.json` says about the models that produced it: their folder, variant and a few
 * measured figures. The figures come from a model's `summary.json` (`{"accuracy": ["…", …]}`) when it
 * ships one, else from the table rows of its `MODEL_CARD.md` that state a κ, an AUC or a level rate.
 */
import { readFile } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { identityOfManifest, readManifest } from '../models/manifest.js';
import type { ModelReference } from '../report/findings.js';
import { BUNDLED_MODELS_DIR } from '../store/store.js';

/** Most accuracy lines a model reference carries. */
export const MAX_ACCURACY_LINES = 4;

/** Table rows of a model card worth quoting: agreement (κ), discrimination (AUC), levels found right. */
const HEADLINE_ROW = /κ|kappa|\bAUC\b|right level|level rate/i;

const cellsOf = (row: string): string[] =>
  row
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((c) => c.trim());

const isSeparator = (row: string): boolean => /^\|[\s|:-]+\|?$/.test(row.trim());

/**
 * The headline figures of a model card: each table row that states a κ, an AUC or a level rate, as
 * `measure: column value; column value…` (empty cells left out), at most {@link MAX_ACCURACY_LINES}.
 */
export function cardHeadlines(markdown: string): string[] {
  const lines: string[] = [];
  let header: string[] | undefined;
  let previous = '';
  for (const raw of markdown.split('\n')) {
    const row = raw.trim();
    if (!row.startsWith('|')) {
      header = undefined;
      previous = '';
      continue;
    }
    if (isSeparator(row)) {
      header = cellsOf(previous);
      continue;
    }
    previous = row;
    if (!header) continue;
    const cells = cellsOf(row);
    const [measure, ...values] = cells;
    if (!measure || !HEADLINE_ROW.test(measure)) continue;
    const parts = values
      .map((value, n) => (value && value !== '—' ? `${header?.[n + 1] ?? ''} ${value}`.trim() : ''))
      .filter((part) => part !== '');
    lines.push(`${measure}: ${parts.join('; ')}`);
    if (lines.length >= MAX_ACCURACY_LINES) break;
  }
  return lines;
}

/** The measured figures of the model in `dir` (see the module comment); empty when it states none. */
export async function modelAccuracy(dir: string): Promise<string[]> {
  try {
    const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as { accuracy?: unknown };
    if (Array.isArray(summary.accuracy) && summary.accuracy.every((a) => typeof a === 'string')) {
      return (summary.accuracy as string[]).slice(0, MAX_ACCURACY_LINES);
    }
  } catch {
    // No summary.json (or not JSON): fall back to the model card.
  }
  try {
    return cardHeadlines(await readFile(join(dir, 'MODEL_CARD.md'), 'utf8'));
  } catch {
    return [];
  }
}

/** A model's reference for `findings.json`. */
export async function modelReference(
  dir: string,
  variant: string,
  engine: ModelReference['engine'],
): Promise<ModelReference> {
  const identity = identityOfManifest(await readManifest(dir));
  return {
    dir: modelFolderName(dir),
    identity,
    variant,
    accuracy: await modelAccuracy(dir),
    ...(engine ? { engine } : {}),
  };
}

/** A model folder as outputs name it, never a local path: `models/<name>` when bundled, else the folder's name. */
export function modelFolderName(dir: string): string {
  const inBundle = relative(BUNDLED_MODELS_DIR, resolve(dir));
  return inBundle !== '' && !inBundle.startsWith('..') && !isAbsolute(inBundle)
    ? `models/${inBundle.split(sep).join('/')}`
    : basename(resolve(dir));
}
