/** Models are data under `models/<name>/`: `model.json` (architecture, weights or statistics) and a model card. */

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpinegradeError } from '../errors.js';
import { type Grader, isGraderDir, loadGrader } from '../grade/grader.js';
import type { ClassPriorModel } from '../grade/prior.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { EngineChoice } from '../models/engine.js';
import { packageRoot } from '../util/package.js';

/** Every model kind spinegrade can load: the class-prior baseline or a trained grader. */
export type SpinegradeModel = ClassPriorModel | Grader;

/** The folder of the models bundled with the package. */
export const BUNDLED_MODELS_DIR = join(packageRoot(), 'models');

/** The bundled class-prior baseline. */
export const PRIOR_MODEL_DIR = join(BUNDLED_MODELS_DIR, 'prior');

/** The bundled grader. */
export const GRADER_MODEL_DIR = join(BUNDLED_MODELS_DIR, 'grader');

/** The default model: the bundled grader when present, else the class-prior baseline. */
export const DEFAULT_MODEL_DIR = existsSync(join(GRADER_MODEL_DIR, 'model.json')) ? GRADER_MODEL_DIR : PRIOR_MODEL_DIR;

/** The bundled disc localiser. */
export const DEFAULT_LOCALIZER_DIR = join(BUNDLED_MODELS_DIR, 'localizer');

/** Reads a model folder (a class prior's `model.json`, or a grader), checking it is a model spinegrade knows. */
export async function readModel(folder: string, options: { engine: EngineChoice }): Promise<SpinegradeModel> {
  if (await isGraderDir(folder)) return loadGrader(folder, options);
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
export async function writeModel(model: ClassPriorModel, folder: string, overwrite = true): Promise<void> {
  await writeFileAtomic(join(folder, 'model.json'), `${JSON.stringify(model, null, 1)}\n`, { overwrite });
}
