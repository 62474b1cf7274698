/**
 * A model folder's `manifest.json` (docs/models.md, "Manifest"): its name, version, a SHA-256 of its
 * weight files, the (dataset, patient) pairs it learned from and, for a tuned model, its base model,
 * tuning patients and training curve. Written by `npm run manifests` for the bundled models and by
 * `finetune`; a folder without one is described from its `model.json` (version `unversioned`).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ModelIdentity, TrainingPatients } from '../disc/provenance.js';
import { SpinegradeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';

/** The manifest's file name in a model folder. */
export const MANIFEST_FILE = 'manifest.json';

/** The format tag of a manifest. */
export const MANIFEST_FORMAT = 'spinegrade-model-manifest';

/** One dataset's patients a model learned from, with the words its training recorded. */
export interface ManifestTrainingData extends TrainingPatients {
  /** As the training recorded it, e.g. `SPIDER training split`. */
  readonly description: string;
}

/** A tuned model's tuning: the patients and the loss of each epoch. */
export interface ManifestTuning {
  readonly dataset: string;
  readonly patients: readonly string[];
  /** Mean training loss of each epoch of the CNN, in order. */
  readonly lossPerEpoch: readonly number[];
}

/** `manifest.json`. */
export interface ModelManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly formatVersion: 1;
  readonly name: string;
  readonly version: string;
  /** `grader`, `localizer` or `class-prior`. */
  readonly kind: string;
  /** SHA-256 of the `files` lines (see {@link weightsDigest}). */
  readonly sha256: string;
  readonly files: readonly { readonly path: string; readonly bytes: number; readonly sha256: string }[];
  readonly trainingData: readonly ManifestTrainingData[];
  readonly base?: { readonly name: string; readonly version: string; readonly sha256: string };
  readonly tuning?: ManifestTuning;
}

/** The files that make a model what it is: its networks, their weights and its other fitted parts. */
const isWeightFile = (name: string): boolean =>
  ['model.json', 'context.json', 'classical.json'].includes(name) || name.endsWith('.bin') || name.endsWith('.onnx');

/**
 * The weight files of a folder with their SHA-256, and one SHA-256 over them: of the text
 * `<sha256>  <file>\n` per file in name order (what `sha256sum` prints).
 */
export async function weightsDigest(folder: string): Promise<Pick<ModelManifest, 'sha256' | 'files'>> {
  let names: string[];
  try {
    names = (await readdir(folder)).filter(isWeightFile).sort();
  } catch {
    throw new SpinegradeError('NOT_FOUND', 'cannot read this model folder', folder);
  }
  if (names.length === 0) throw new SpinegradeError('NOT_FOUND', 'no model files in this folder', folder);
  const files = [];
  for (const path of names) {
    const bytes = await readFile(join(folder, path));
    files.push({ path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  const listing = files.map((f) => `${f.sha256}  ${f.path}\n`).join('');
  return { sha256: createHash('sha256').update(listing).digest('hex'), files };
}

/** The dataset name of a training record's words: `SPIDER` for any SPIDER split or layout. */
export function datasetOfDescription(description: string): string {
  return /^SPIDER\b/i.test(description.trim()) ? 'SPIDER' : description.trim();
}

/** What a model folder's `model.json` records: its kind and the patients it was trained on. */
async function recordedTraining(folder: string): Promise<{ kind: string; trainingData: ManifestTrainingData[] }> {
  const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8')) as Record<string, unknown>;
  const metadata = (json.userDefinedMetadata ?? json) as Record<string, unknown>;
  const kind =
    typeof json.kind === 'string'
      ? json.kind
      : metadata.graderConfig !== undefined
        ? 'grader'
        : metadata.localizerConfig !== undefined
          ? 'localizer'
          : 'unknown';
  return { kind, trainingData: trainingOfRecord(metadata.trainedOn) };
}

/** The training data of a model's recorded `trainedOn` (`{ dataset, patients }`); empty when it has none. */
export function trainingOfRecord(trainedOn: unknown): ManifestTrainingData[] {
  const record = trainedOn as { dataset?: unknown; patients?: unknown } | undefined;
  if (!record || typeof record.dataset !== 'string' || !Array.isArray(record.patients)) return [];
  return [
    {
      dataset: datasetOfDescription(record.dataset),
      description: record.dataset,
      patients: record.patients.map(String),
    },
  ];
}

/**
 * The manifest of a model folder computed from its files: the hash of its weights and the training
 * data its `model.json` records, plus what the caller knows (name, version, a tuned model's base and tuning).
 */
export async function computeManifest(
  folder: string,
  options: {
    name?: string;
    version: string;
    base?: ModelManifest;
    tuning?: ManifestTuning;
    trainingData?: readonly ManifestTrainingData[];
  },
): Promise<ModelManifest> {
  const digest = await weightsDigest(folder);
  const recorded = await recordedTraining(folder);
  return {
    format: MANIFEST_FORMAT,
    formatVersion: 1,
    name: options.name ?? basename(folder),
    version: options.version,
    kind: recorded.kind,
    ...digest,
    trainingData: options.trainingData ?? recorded.trainingData,
    ...(options.base
      ? { base: { name: options.base.name, version: options.base.version, sha256: options.base.sha256 } }
      : {}),
    ...(options.tuning ? { tuning: options.tuning } : {}),
  };
}

/** Writes `manifest.json` into a model folder (atomically). */
export async function writeManifest(folder: string, manifest: ModelManifest, overwrite = true): Promise<void> {
  await writeFileAtomic(join(folder, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`, { overwrite });
}

function checkManifest(value: unknown, path: string): ModelManifest {
  const m = value as Partial<ModelManifest> | null;
  if (
    !m ||
    m.format !== MANIFEST_FORMAT ||
    m.formatVersion !== 1 ||
    typeof m.name !== 'string' ||
    typeof m.version !== 'string' ||
    typeof m.sha256 !== 'string' ||
    !Array.isArray(m.trainingData)
  )
    throw new SpinegradeError('INVALID_HEADER', 'not a spinegrade model manifest', path);
  return m as ModelManifest;
}

/**
 * The manifest of a model folder: its `manifest.json`, checked against the weights it describes (a
 * mismatch is an error: the manifest would name another model), or one computed from the files
 * (version `unversioned`) when there is none.
 */
export async function readManifest(folder: string): Promise<ModelManifest> {
  const path = join(folder, MANIFEST_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw new SpinegradeError('NOT_FOUND', 'cannot read', path);
  }
  if (text === undefined) return computeManifest(folder, { version: 'unversioned' });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SpinegradeError('INVALID_HEADER', 'manifest.json is not valid JSON', path);
  }
  const manifest = checkManifest(value, path);
  const digest = await weightsDigest(folder);
  if (digest.sha256 !== manifest.sha256)
    throw new SpinegradeError(
      'INVALID_HEADER',
      'the weights are not the ones this manifest describes (rewrite it: npm run manifests, or retrain)',
      path,
    );
  return manifest;
}

/** What outputs carry about a model (no patient lists, no paths). */
export function identityOfManifest(manifest: ModelManifest): ModelIdentity {
  return {
    name: manifest.name,
    version: manifest.version,
    kind: manifest.kind,
    sha256: manifest.sha256,
    trainedOn: manifest.trainingData.map((t) => ({ dataset: t.dataset, patients: t.patients.length })),
    ...(manifest.base ? { base: manifest.base } : {}),
  };
}
