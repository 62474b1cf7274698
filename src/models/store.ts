/** Models are data under `models/<name>/`: `model.json` (architecture, weights or statistics) and a model card. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpinegradeError } from '../errors.js';
import type { ClassPriorModel } from '../grade/prior.js';
import { writeFileAtomic } from '../io/atomic.js';
import { packageRoot } from '../util/package.js';

/** Every model kind spinegrade can load. */
export type SpinegradeModel = ClassPriorModel;

/** The folder of the models bundled with the package. */
export const BUNDLED_MODELS_DIR = join(packageRoot(), 'models');

/** The default model: the best bundled one (the class-prior baseline until learned models land). */
export const DEFAULT_MODEL_DIR = join(BUNDLED_MODELS_DIR, 'prior');

/** The bundled disc localiser. */
export const DEFAULT_LOCALIZER_DIR = join(BUNDLED_MODELS_DIR, 'localizer');

/** Reads `model.json` from a model folder, checking it is a model spinegrade knows. */
export async function readModel(folder: string): Promise<SpinegradeModel> {
  const path = join(folder, 'model.json');
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ENOENT';
    throw new SpinegradeError(
      missing ? 'NOT_FOUND' : 'INVALID_HEADER',
      missing ? 'no model.json in this model folder' : 'model.json is not valid JSON',
      path,
    );
  }
  const model = value as Partial<ClassPriorModel>;
  if (model.format !== 'spinegrade-model' || model.version !== 1) {
    throw new SpinegradeError('INVALID_HEADER', 'not a spinegrade model (format/version missing)', path);
  }
  if (model.kind !== 'class-prior')
    throw new SpinegradeError('UNSUPPORTED', `unknown model kind "${String(model.kind)}"`, path);
  return model as ClassPriorModel;
}

/** Writes a model's `model.json` into a folder (atomically). */
export async function writeModel(model: SpinegradeModel, folder: string, overwrite = true): Promise<void> {
  await writeFileAtomic(join(folder, 'model.json'), `${JSON.stringify(model, null, 1)}\n`, { overwrite });
}
