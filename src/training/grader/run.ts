/**
 * `spinegrade train grader-v2`: collects the keypoint-placed crops, cross-validates one recipe (or
 * the ablation list, one change at a time from the reference), and writes the bundle — the five fold
 * models, `grader-v2.json` (crop, ordinal kind, temperatures per contrast, review threshold),
 * `out-of-fold.jsonl` and `figures.json`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readDataset } from '../../datasets/index.js';
import { SpinegradeError } from '../../errors.js';
import type { V2Fusion } from '../../grade/v2.js';
import { DEFAULT_V2_CROP, type V2CropConfig } from '../../grade/v2Crops.js';
import { initTf } from '../../models/tf/backend.js';
import {
  bundleInfo,
  crossValidateV2,
  DEFAULT_READING,
  evaluateOof,
  REFERENCE_RECIPE,
  type V2Evaluation,
  type V2Reading,
  type V2Recipe,
  writeOofJsonl,
} from './crossValidate.js';
import { alignmentEntry, renderV2Card, type V2AblationRow, type V2TriedEntry } from './v2Card.js';
import { type SignalGradeCorrelation, signalGradeCorrelations } from './v2Checks.js';
import { collectV2Samples, type V2SampleNotes } from './v2Samples.js';

/** The recipes of the ablation, each one change from the reference. */
export const V2_RECIPES: Record<string, V2Recipe> = {
  reference: REFERENCE_RECIPE,
  'monotone-augment': {
    ...REFERENCE_RECIPE,
    name: 'monotone-augment',
    description: 'crop augmentation without contrast curves (no intensity inversion)',
    augment: 'monotone',
  },
  'geometric-augment': {
    ...REFERENCE_RECIPE,
    name: 'geometric-augment',
    description: 'crop augmentation geometric only (no photometric changes)',
    augment: 'geometric',
  },
  corn: { ...REFERENCE_RECIPE, name: 'corn', description: 'CORN ordinal loss instead of cumulative', ordinal: 'corn' },
  't2-only': { ...REFERENCE_RECIPE, name: 't2-only', description: 'T2 crops only in training', trainContrasts: ['T2'] },
  'sqrt-weights': {
    ...REFERENCE_RECIPE,
    name: 'sqrt-weights',
    description: 'grade weights 1/sqrt(frequency) instead of 1/frequency',
    classWeightPower: 0.5,
  },
  wider: {
    ...REFERENCE_RECIPE,
    name: 'wider',
    description: '1.5× the filters (24-24-48-48-96-96)',
    filters: [24, 24, 48, 48, 96, 96],
  },
  longer: { ...REFERENCE_RECIPE, name: 'longer', description: '20 epochs instead of 12', epochs: 20 },
  'no-augment': {
    ...REFERENCE_RECIPE,
    name: 'no-augment',
    description: 'crops as they are (no augmentation)',
    augment: 'none',
  },
  'pfirrmann-only': {
    ...REFERENCE_RECIPE,
    name: 'pfirrmann-only',
    description: 'Pfirrmann loss only (Modic and findings heads not trained)',
    auxiliaryWeight: 0,
  },
  // The reference experiment as it was run: T2 crops only, Pfirrmann only, no augmentation.
  't2-plain': {
    ...REFERENCE_RECIPE,
    name: 't2-plain',
    description: "T2 crops only, no augmentation, Pfirrmann loss only (the issue's reference experiment)",
    trainContrasts: ['T2'],
    augment: 'none',
    auxiliaryWeight: 0,
  },
};

/** Every output averaged over T1 and T2 (the fusion ablation). */
export const MEAN_FUSION: V2Fusion = {
  pfirrmann: { from: ['T2', 'T1'], rule: 'mean' },
  modic: { from: ['T1', 'T2'], rule: 'mean' },
  findings: { from: ['T1', 'T2'], rule: 'mean' },
};

/** Options of {@link runTrainGraderV2}. */
export interface TrainGraderV2Options {
  /** Recipes to run, in order; the first one's bundle goes to the output folder. */
  readonly recipes: readonly string[];
  readonly folds: number;
  readonly seed: number;
  readonly workers: 1 | 2;
  /** Bootstrap resamples of the intervals. */
  readonly resamples: number;
  /** Exact accuracy asked of the discs not flagged for review. */
  readonly reviewAccuracy: number;
  /** The command line, for the card. */
  readonly command: string;
  readonly onLog?: (line: string) => void;
}

/** Runs `train grader-v2`; returns a one-line summary. */
export async function runTrainGraderV2(data: string, out: string, options: TrainGraderV2Options): Promise<string> {
  const log = options.onLog ?? (() => {});
  const unknown = options.recipes.filter((r) => !V2_RECIPES[r]);
  if (unknown.length)
    throw new SpinegradeError(
      'USAGE',
      `unknown grader v2 recipe(s) ${unknown.join(', ')}; known: ${Object.keys(V2_RECIPES).join(', ')}`,
    );
  await initTf('wasm');
  const dataset = await readDataset(data);
  const crop = DEFAULT_V2_CROP;
  const { samples, notes } = await collectV2Samples(dataset, crop);
  log(
    `grader v2: ${samples.length} discs placed by keypoints (${samples.filter((s) => s.contrast === 'T2').length} T2, ${samples.filter((s) => s.contrast === 'T1').length} T1 by carried keypoints); left out: ${JSON.stringify(notes)}`,
  );
  const alignment = signalGradeCorrelations(
    samples.filter((s) => s.contrast === 'T2'),
    crop,
  );
  log(`grader v2: ${alignmentEntry(alignment).result}`);
  await mkdir(out, { recursive: true });
  const rows: V2AblationRow[] = [];
  for (const [n, name] of options.recipes.entries()) {
    const recipe = V2_RECIPES[name] as V2Recipe;
    const dir = n === 0 ? out : join(out, 'ablation', recipe.name);
    await mkdir(dir, { recursive: true });
    const { lines, trainSeconds } = await crossValidateV2(dataset, samples, recipe, {
      folds: options.folds,
      seed: options.seed,
      workers: options.workers,
      crop,
      modelDir: dir,
      onLog: log,
    });
    await writeOofJsonl(join(dir, 'out-of-fold.jsonl'), lines);
    const read = (reading: Partial<V2Reading>): V2Evaluation =>
      evaluateOof(lines, recipe.ordinal, { ...DEFAULT_READING, ...reading }, options.reviewAccuracy, options.resamples);
    const single = read({});
    const tta = read({ tta: true });
    const useTta = tta.fused.pfirrmannKappa.estimate > single.fused.pfirrmannKappa.estimate;
    const chosen = useTta ? tta : single;
    const row = (change: string, evaluation: V2Evaluation, withTta: boolean): V2AblationRow => ({
      recipe: recipe.name,
      description: `${recipe.description}${change}`,
      tta: withTta,
      trainSeconds,
      evaluation,
    });
    const recipeRows: V2AblationRow[] = [
      row('', single, false),
      row('; logits averaged over 5 placements (TTA)', tta, true),
    ];
    if (n === 0) {
      // Changes of reading only, on the same out-of-fold logits.
      recipeRows.push(
        row(
          '; Pfirrmann averaged over T1 and T2 (no T2-first fusion)',
          read({ tta: useTta, fusion: MEAN_FUSION }),
          useTta,
        ),
        row('; not calibrated (temperature 1)', read({ tta: useTta, calibrate: false }), useTta),
      );
    }
    rows.push(...recipeRows);
    await writeFile(
      join(dir, 'grader-v2.json'),
      `${JSON.stringify(bundleInfo(recipe, crop, chosen, useTta, options.folds), null, 2)}\n`,
    );
    await writeFile(
      join(dir, 'figures.json'),
      `${JSON.stringify({ recipe, samples: samples.length, notes, alignment, trainSeconds, rows: recipeRows }, null, 2)}\n`,
    );
    await writeFile(join(out, 'ablation.json'), `${JSON.stringify(rows, null, 2)}\n`);
    await writeV2Card(out, options.command);
    const f = chosen.fused;
    log(
      `${recipe.name}${useTta ? ' + TTA' : ''}: fused κ ${f.pfirrmannKappa.estimate.toFixed(3)} [${f.pfirrmannKappa.lower.toFixed(3)}, ${f.pfirrmannKappa.upper.toFixed(3)}], BA ${f.balancedAccuracy.estimate.toFixed(3)}, within one ${f.withinOne.estimate.toFixed(3)}, ECE ${f.ece.estimate.toFixed(3)}, Modic AUC ${f.modicAnyAuc.estimate.toFixed(3)}, herniation AUC ${f.herniationAuc.estimate.toFixed(3)}; ${(trainSeconds / 60).toFixed(1)} min`,
    );
  }
  return `grader v2: ${options.recipes.length} recipe(s) cross-validated; bundle of "${options.recipes[0]}" in ${out}`;
}

/** Writes `MODEL_CARD.md` of a bundle from its `figures.json` and `ablation.json` (the bundle's recipe is the first). */
export async function writeV2Card(out: string, command: string): Promise<void> {
  const rows = JSON.parse(await readFile(join(out, 'ablation.json'), 'utf8')) as V2AblationRow[];
  const figures = JSON.parse(await readFile(join(out, 'figures.json'), 'utf8')) as {
    notes: V2SampleNotes;
    alignment?: SignalGradeCorrelation[];
  };
  const oof = (await readFile(join(out, 'out-of-fold.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { contrast: string });
  const count = (contrast: string): number => oof.filter((l) => l.contrast === contrast).length;
  const info = JSON.parse(await readFile(join(out, 'grader-v2.json'), 'utf8')) as {
    recipe: string;
    tta: boolean;
    crop: V2CropConfig;
  };
  const chosen = rows.find((r) => r.recipe === info.recipe && r.tta === info.tta);
  if (!chosen)
    throw new SpinegradeError('UNREADABLE', `ablation.json has no row of the bundle's recipe ${info.recipe}`, out);
  const tried = await readFile(join(out, 'tried.json'), 'utf8').then(
    (text) => JSON.parse(text) as V2TriedEntry[],
    (): V2TriedEntry[] => [],
  );
  if (figures.alignment) tried.unshift(alignmentEntry(figures.alignment));
  const card = renderV2Card(
    rows,
    chosen,
    { total: oof.length, t2: count('T2'), t1: count('T1'), notes: figures.notes },
    command,
    tried,
    info.crop,
  );
  await writeFile(join(out, 'MODEL_CARD.md'), card);
}
