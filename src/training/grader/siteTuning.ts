/**
 * Adapting a grader to a site (`spinegrade finetune`: continue training on a site's own labelled
 * patients) and the vendor-split experiment that measures what that buys (`spinegrade train few-shot`).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { datasetName, describeAccount } from '../../datasets/common.js';
import { readDataset } from '../../datasets/index.js';
import { SpinegradeError } from '../../errors.js';
import { CLASSICAL_JSON } from '../../grade/classicalModel.js';
import { saveContextModel } from '../../grade/context.js';
import { loadGrader, trainableGrader } from '../../grade/grader.js';
import { buildFolderAtomic, writeFileAtomic } from '../../io/atomic.js';
import { type Localizer, loadLocalizer } from '../../localize/localizer.js';
import type { EngineChoice } from '../../models/engine.js';
import { computeManifest, readManifest, writeManifest } from '../../models/manifest.js';
import { saveModel } from '../../models/tf/io.js';
import { GRADER_MODEL_DIR } from '../../store/store.js';
import type { Progress } from '../../util/progress.js';
import { FEW_SHOT_MARKERS } from './card.js';
import { type FewShotResult, fewShotCurve, fewShotMarkdown, patientsByVendor } from './fewShot.js';
import { fineTuneGrader } from './finetune.js';
import { collectDiscCrops } from './samples.js';
import { labelCrops } from './train.js';

async function localizersOf(dirs: readonly string[], engine: EngineChoice): Promise<Localizer[]> {
  const out: Localizer[] = [];
  for (const dir of dirs) out.push(await loadLocalizer(resolve(dir), { engine }));
  return out;
}

/** The settings of one fine-tuning run (the command line's options, parsed). */
export interface FineTuneSettings {
  /** The grader folder to start from, as given (it goes into the command recorded in the card). */
  model: string;
  localizerDirs: readonly string[];
  /** The engine the localisers run on (the grader trains on TensorFlow.js). */
  engine: EngineChoice;
  epochs: number;
  contextEpochs: number;
  learningRate: number;
  seed: number;
  workers: 1 | 2;
  /** Replace a non-empty output folder. */
  overwrite: boolean;
}

/** The settings of the few-shot experiment (the command line's options, parsed). */
export interface FewShotSettings {
  /** The `--localizer` option as given, recorded in the command; absent for the default. */
  localizerOption?: string;
  localizerDirs: readonly string[];
  engine: EngineChoice;
  /** The vendors to train on and to adapt to (default: the two largest, target the largest). */
  source?: string;
  target?: string;
  shots: readonly number[];
  seeds: readonly number[];
  epochs: number;
  contextEpochs: number;
  tuneEpochs: number;
  tuneContextEpochs: number;
  learningRate: number;
  workers: 1 | 2;
  resamples: number;
}

/** Fine-tunes a grader on a site's labelled patients (see the module comment); returns what to tell the user. */
export async function fineTuneOnDataset(
  datasetDir: string,
  out: string,
  settings: FineTuneSettings,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const started = Date.now();
  const modelDir = resolve(settings.model);
  const { epochs, contextEpochs, learningRate, seed, workers } = settings;
  if (existsSync(out) && (await readdir(out)).length > 0 && !settings.overwrite)
    throw new SpinegradeError('OUTPUT_ERROR', 'the output folder exists and is not empty (use --overwrite)', out);
  const grader = await loadGrader(modelDir, { engine: 'tfjs' });
  const dataset = await readDataset(datasetDir);
  const localizers = await localizersOf(settings.localizerDirs, settings.engine);
  log(`localising ${dataset.series.length} series of ${dataset.patients.length} patients and cropping their discs`);
  // One total for the whole run (series localised, then CNN epochs), so the progress line never jumps.
  const total = dataset.series.length + epochs;
  const records = await collectDiscCrops(dataset, localizers, {
    crop: grader.crop,
    onProgress: (done) => progress.update(done, total),
  });
  const labelled = labelCrops(records, dataset.discs);
  if (labelled.length < 2)
    throw new SpinegradeError(
      'NO_USABLE_SERIES',
      `fine-tuning needs graded discs that the localiser finds; found ${labelled.length} (${records.length} discs localised, ${dataset.discs.length} graded in the labels; ${(dataset.account ? describeAccount(dataset.account) : []).join('; ')})`,
      datasetDir,
    );
  log(`${labelled.length} graded discs from ${new Set(labelled.map((c) => c.record.patient)).size} patients`);
  if (labelled.length < dataset.discs.length)
    log(`left out: ${dataset.discs.length - labelled.length} graded discs: level not found by the localiser`);
  const tuned = await fineTuneGrader(trainableGrader(grader), records, labelled, dataset.patients, {
    epochs,
    contextEpochs,
    learningRate,
    seed,
    workers,
    onProgress: (p) => progress.update(dataset.series.length + p.epoch, total),
    onLog: (line) => {
      progress.finish();
      log(line);
    },
  });
  progress.finish();
  // The bundled grader is the default: the command names it by no path.
  const modelOption = modelDir === GRADER_MODEL_DIR ? '' : ` --model ${settings.model}`;
  const command = `spinegrade finetune --data ${datasetDir}${modelOption} --out ${out} --epochs ${epochs} --context-epochs ${contextEpochs} --learning-rate ${learningRate} --seed ${seed}`;
  const base = await readManifest(modelDir);
  const site = datasetName(dataset);
  const fineTuned = {
    from: { name: base.name, version: base.version, sha256: base.sha256 },
    dataset: site,
    tunedOn: tuned.patients,
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
    const manifest = await computeManifest(dir, {
      name: `${base.name}-tuned-${site}`,
      version: `${base.version}+${site}`,
      base,
      trainingData: [
        ...base.trainingData,
        { dataset: site, description: `own data ${site}`, patients: tuned.patients },
      ],
      tuning: { dataset: site, patients: tuned.patients, lossPerEpoch: tuned.lossPerEpoch },
    });
    await writeManifest(dir, manifest);
    // What findings.json quotes as this model's accuracy: nothing was measured, said so.
    await writeFile(
      join(dir, 'summary.json'),
      `${JSON.stringify({ accuracy: [`not measured after fine-tuning on ${site} (${tuned.patients.length} patients, nothing held out); the base model ${base.name} ${base.version} states its figures in its card`] }, null, 1)}\n`,
    );
    await writeFile(
      join(dir, 'MODEL_CARD.md'),
      [
        '# Model card: disc grader, fine-tuned on a site’s own data',
        '',
        `Fine-tuned from ${base.name} ${base.version} (weights sha256 \`${base.sha256}\`; its card holds the training data, the out-of-fold figures and the vendor-split few-shot curve) on ${tuned.patients.length} patients of the own-data set "${site}" (${tuned.crops} graded disc crops). This model: ${manifest.name} ${manifest.version}, weights sha256 \`${manifest.sha256}\` (manifest.json).`,
        '',
        `- Tuning patients (${site}): ${tuned.patients.join(', ')}. Evaluated on any of them, its figures are in-sample (\`evaluate\` says so).`,
        `- Training curve, CNN mean loss per epoch: ${tuned.lossPerEpoch.map((loss, epoch) => `${epoch + 1}: ${loss.toFixed(4)}`).join('; ')}.`,
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
  return [
    `wrote ${out} in ${((Date.now() - started) / 60000).toFixed(1)} min (${tuned.crops} crops of ${tuned.patients.length} patients)`,
    ...(dataset.account ? describeAccount(dataset.account) : []),
  ].join('\n');
}

/**
 * `train few-shot`: the vendor-split experiment; writes `few-shot.json` into the grader folder and
 * its section into that folder's MODEL_CARD.md (kept when `train grader` rewrites the card).
 */
export async function fewShotOnDataset(
  datasetDir: string,
  graderDir: string,
  settings: FewShotSettings,
  progress: Progress,
  log: (line: string) => void,
): Promise<string> {
  const dataset = await readDataset(datasetDir);
  const vendors = patientsByVendor(dataset);
  const ranked = [...vendors.entries()].filter(([v]) => v !== 'unknown').sort((a, b) => b[1].length - a[1].length);
  const target = settings.target ?? ranked[0]?.[0];
  const source = settings.source ?? ranked.find(([v]) => v !== target)?.[0];
  if (!source || !target || source === target || !vendors.has(source) || !vendors.has(target))
    throw new SpinegradeError(
      'USAGE',
      `the few-shot experiment needs two vendors; the dataset has ${[...vendors.entries()].map(([v, p]) => `${v} (${p.length} patients)`).join(', ')}`,
      datasetDir,
    );
  const { shots, seeds, workers } = settings;
  const localizers = await localizersOf(settings.localizerDirs, settings.engine);
  log(`localising ${dataset.series.length} series and cropping their discs`);
  const records = await collectDiscCrops(dataset, localizers, { onProgress: progress.update });
  progress.finish();
  const base = {
    epochs: settings.epochs,
    contextEpochs: settings.contextEpochs,
    workers,
    seed: seeds[0] as number,
    reviewThreshold: 0.5,
    onLog: log,
  };
  const fineTune = {
    epochs: settings.tuneEpochs,
    contextEpochs: settings.tuneContextEpochs,
    learningRate: settings.learningRate,
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
      resamples: settings.resamples,
      onLog: log,
    });
  } catch (error) {
    if (error instanceof RangeError) throw new SpinegradeError('USAGE', error.message, datasetDir);
    throw error;
  }
  const command = `spinegrade train few-shot --data ${datasetDir} --out ${graderDir}${settings.localizerOption ? ` --localizer ${settings.localizerOption}` : ''} --source ${source} --target ${target} --shots ${shots.join(',')} --seeds ${seeds.join(',')} --epochs ${base.epochs} --context-epochs ${base.contextEpochs} --tune-epochs ${fineTune.epochs} --tune-context-epochs ${fineTune.contextEpochs} --learning-rate ${fineTune.learningRate} --workers ${workers}`;
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
