/**
 * `spinegrade finetune`: adapt a grader to a site's own labelled patients (few-shot), and
 * `spinegrade train few-shot`: the vendor-split experiment that measures what that buys.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readDataset } from '../datasets/index.js';
import { SpinegradeError } from '../errors.js';
import { CLASSICAL_JSON } from '../grade/classicalModel.js';
import { saveContextModel } from '../grade/context.js';
import { loadGrader, trainableGrader } from '../grade/grader.js';
import { buildFolderAtomic, writeFileAtomic } from '../io/atomic.js';
import { type Localizer, loadLocalizer } from '../localize/localizer.js';
import { engineFromEnvironment } from '../models/engine.js';
import { saveModel } from '../models/tf/io.js';
import { DEFAULT_LOCALIZER_DIR, GRADER_MODEL_DIR } from '../store/store.js';
import { FEW_SHOT_MARKERS } from '../training/grader/card.js';
import { type FewShotResult, fewShotCurve, fewShotMarkdown, patientsByVendor } from '../training/grader/fewShot.js';
import { DEFAULT_FINE_TUNE, fineTuneGrader } from '../training/grader/finetune.js';
import { collectDiscCrops } from '../training/grader/samples.js';
import { labelCrops } from '../training/grader/train.js';
import type { Progress } from '../util/progress.js';
import { positiveInteger } from './args.js';

/** Options of `finetune`, as given on the command line. */
export interface FineTuneCliOptions {
  model?: string;
  localizer?: string;
  epochs?: string;
  contextEpochs?: string;
  learningRate?: string;
  seed?: string;
  workers?: string;
  overwrite?: boolean;
}

function positiveNumber(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value))
    throw new SpinegradeError('USAGE', `${name} wants a positive number, got "${text}"`);
  return value;
}

function workersOf(text: string | undefined): 1 | 2 {
  const workers = positiveInteger(text, '--workers', 2);
  if (workers > 2) throw new SpinegradeError('USAGE', '--workers must be 1 or 2');
  return workers as 1 | 2;
}

async function localizersOf(list: string | undefined): Promise<Localizer[]> {
  const dirs = (list ?? DEFAULT_LOCALIZER_DIR).split(',').filter((d) => d.length > 0);
  const out: Localizer[] = [];
  for (const dir of dirs) out.push(await loadLocalizer(resolve(dir), { engine: engineFromEnvironment() }));
  return out;
}

/** `finetune`: see the module comment; returns what to tell the user. */
export async function runFineTune(
  datasetDir: string,
  out: string,
  options: FineTuneCliOptions,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const started = Date.now();
  const modelDir = resolve(options.model ?? GRADER_MODEL_DIR);
  const epochs = positiveInteger(options.epochs, '--epochs', DEFAULT_FINE_TUNE.epochs);
  const contextEpochs = positiveInteger(options.contextEpochs, '--context-epochs', DEFAULT_FINE_TUNE.contextEpochs);
  const learningRate = positiveNumber(options.learningRate, '--learning-rate', DEFAULT_FINE_TUNE.learningRate);
  const seed = positiveInteger(options.seed, '--seed', 1);
  const workers = workersOf(options.workers);
  if (existsSync(out) && (await readdir(out)).length > 0 && options.overwrite !== true)
    throw new SpinegradeError('OUTPUT_ERROR', 'the output folder exists and is not empty (use --overwrite)', out);
  const grader = await loadGrader(modelDir, { engine: 'tfjs' });
  const dataset = await readDataset(datasetDir);
  const localizers = await localizersOf(options.localizer);
  log(`localising ${dataset.series.length} series of ${dataset.patients.length} patients and cropping their discs`);
  const records = await collectDiscCrops(dataset, localizers, { crop: grader.crop, onProgress: progress.update });
  progress.finish();
  const labelled = labelCrops(records, dataset.discs);
  if (labelled.length < 2)
    throw new SpinegradeError(
      'NO_USABLE_SERIES',
      `fine-tuning needs graded discs that the localiser finds; found ${labelled.length} (${records.length} discs localised, ${dataset.discs.length} graded in the labels)`,
      datasetDir,
    );
  log(`${labelled.length} graded discs from ${new Set(labelled.map((c) => c.record.patient)).size} patients`);
  const tuned = await fineTuneGrader(trainableGrader(grader), records, labelled, dataset.patients, {
    epochs,
    contextEpochs,
    learningRate,
    seed,
    workers,
    onProgress: (p) =>
      progress.update(p.epoch * (p.stepsPerEpoch ?? p.step) + p.step, p.epochs * (p.stepsPerEpoch ?? p.step)),
    onLog: (line) => {
      progress.finish();
      log(line);
    },
  });
  progress.finish();
  const command = `spinegrade finetune --data ${datasetDir} --model ${options.model ?? GRADER_MODEL_DIR} --out ${out} --epochs ${epochs} --context-epochs ${contextEpochs} --learning-rate ${learningRate} --seed ${seed}`;
  const fineTuned = {
    from: modelDir,
    dataset: datasetDir,
    patients: dataset.patients.length,
    crops: tuned.crops,
    epochs,
    contextEpochs,
    learningRate,
    seed,
    seconds: tuned.seconds,
    command,
  };
  await buildFolderAtomic(out, async (dir) => {
    await saveModel(tuned.cnn, dir, { ...grader.metadata, fineTuned });
    if (tuned.context) await saveContextModel(tuned.context, dir);
    if (existsSync(join(modelDir, CLASSICAL_JSON)))
      await copyFile(join(modelDir, CLASSICAL_JSON), join(dir, CLASSICAL_JSON));
    await writeFile(
      join(dir, 'MODEL_CARD.md'),
      [
        '# Model card: disc grader, fine-tuned on a site’s own data',
        '',
        `Fine-tuned from \`${modelDir}\` (its card holds the training data, the out-of-fold figures and the vendor-split few-shot curve) on ${dataset.patients.length} patients of \`${datasetDir}\` (${tuned.crops} graded disc crops).`,
        '',
        `- Command: \`${command}\``,
        `- The CNN continued from the original weights for ${epochs} epochs at learning rate ${learningRate}; the context model for ${contextEpochs} epochs on the fine-tuned CNN's embeddings. The classical model and the calibration (temperatures, review threshold) are the original's: a few patients are too few to refit them honestly.`,
        `- Time: ${(tuned.seconds / 60).toFixed(1)} min on this machine.`,
        '- **Not measured on this site**: nothing was held out. Measure it on patients it did not see (`spinegrade evaluate <held-out-data> --model <this folder> --localizer …`) before relying on it. The few-shot curve in the original card shows what fine-tuning bought between SPIDER’s two vendors.',
        '',
        '**Research use only; not a medical device.**',
        '',
      ].join('\n'),
    );
  });
  tuned.cnn.dispose();
  return `wrote ${out} in ${((Date.now() - started) / 60000).toFixed(1)} min (${tuned.crops} crops of ${dataset.patients.length} patients)`;
}

/** Options of `train few-shot`, as given on the command line. */
export interface FewShotCliOptions {
  localizer?: string;
  source?: string;
  target?: string;
  shots?: string;
  seeds?: string;
  epochs?: string;
  contextEpochs?: string;
  tuneEpochs?: string;
  tuneContextEpochs?: string;
  learningRate?: string;
  workers?: string;
  resamples?: string;
}

function integerList(text: string | undefined, name: string, fallback: number[], allowZero: boolean): number[] {
  if (text === undefined) return fallback;
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < (allowZero ? 0 : 1)))
    throw new SpinegradeError('USAGE', `${name} wants a comma-separated list of whole numbers, got "${text}"`);
  return values;
}

/**
 * `train few-shot`: the vendor-split experiment; writes `few-shot.json` into the grader folder and
 * its section into that folder's MODEL_CARD.md (kept when `train grader` rewrites the card).
 */
export async function runFewShot(
  datasetDir: string,
  graderDir: string,
  options: FewShotCliOptions,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const dataset = await readDataset(datasetDir);
  const vendors = patientsByVendor(dataset);
  const ranked = [...vendors.entries()].filter(([v]) => v !== 'unknown').sort((a, b) => b[1].length - a[1].length);
  const target = options.target ?? ranked[0]?.[0];
  const source = options.source ?? ranked.find(([v]) => v !== target)?.[0];
  if (!source || !target || source === target || !vendors.has(source) || !vendors.has(target))
    throw new SpinegradeError(
      'USAGE',
      `the few-shot experiment needs two vendors; the dataset has ${[...vendors.entries()].map(([v, p]) => `${v} (${p.length} patients)`).join(', ')}`,
      datasetDir,
    );
  const shots = integerList(options.shots, '--shots', [0, 5, 10, 20], true);
  const seeds = integerList(options.seeds, '--seeds', [1, 2, 3], false);
  const workers = workersOf(options.workers);
  const localizers = await localizersOf(options.localizer);
  log(`localising ${dataset.series.length} series and cropping their discs`);
  const records = await collectDiscCrops(dataset, localizers, { onProgress: progress.update });
  progress.finish();
  const base = {
    epochs: positiveInteger(options.epochs, '--epochs', 16),
    contextEpochs: positiveInteger(options.contextEpochs, '--context-epochs', 10),
    workers,
    seed: seeds[0] as number,
    reviewThreshold: 0.5,
    onLog: log,
  };
  const fineTune = {
    epochs: positiveInteger(options.tuneEpochs, '--tune-epochs', DEFAULT_FINE_TUNE.epochs),
    contextEpochs: positiveInteger(options.tuneContextEpochs, '--tune-context-epochs', DEFAULT_FINE_TUNE.contextEpochs),
    learningRate: positiveNumber(options.learningRate, '--learning-rate', DEFAULT_FINE_TUNE.learningRate),
    workers,
  };
  let result: FewShotResult;
  try {
    result = await fewShotCurve(dataset, records, {
      source,
      target,
      shots,
      seeds,
      base,
      fineTune,
      resamples: positiveInteger(options.resamples, '--resamples', 1000),
      onLog: log,
    });
  } catch (error) {
    if (error instanceof RangeError) throw new SpinegradeError('USAGE', error.message, datasetDir);
    throw error;
  }
  const command = `spinegrade train few-shot --data ${datasetDir} --out ${graderDir}${options.localizer ? ` --localizer ${options.localizer}` : ''} --source ${source} --target ${target} --shots ${shots.join(',')} --seeds ${seeds.join(',')} --epochs ${base.epochs} --context-epochs ${base.contextEpochs} --tune-epochs ${fineTune.epochs} --tune-context-epochs ${fineTune.contextEpochs} --learning-rate ${fineTune.learningRate} --workers ${workers}`;
  await mkdir(graderDir, { recursive: true });
  await writeFileAtomic(join(graderDir, 'few-shot.json'), `${JSON.stringify({ command, ...result }, null, 1)}\n`, {
    overwrite: true,
  });
  const cardPath = join(graderDir, 'MODEL_CARD.md');
  const card = existsSync(cardPath) ? await readFile(cardPath, 'utf8') : '';
  const section = fewShotMarkdown(result, command);
  const start = card.indexOf(FEW_SHOT_MARKERS.start);
  const end = card.indexOf(FEW_SHOT_MARKERS.end);
  const updated =
    start >= 0 && end > start
      ? `${card.slice(0, start)}${section}${card.slice(end + FEW_SHOT_MARKERS.end.length)}`
      : `${card.trimEnd()}\n\n${section}\n`;
  await writeFileAtomic(cardPath, updated, { overwrite: true });
  return `wrote ${join(graderDir, 'few-shot.json')} and the few-shot section of ${cardPath}`;
}
