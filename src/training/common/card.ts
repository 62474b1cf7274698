/** Model cards: what a model was trained on, how, and how well it does, measured out of fold. */
import { join } from 'node:path';
import type { SpineDataset } from '../../datasets/types.js';
import { PFIRRMANN_REFERENCES, REFERENCE_SOURCES } from '../../evaluation/references.js';
import type { Evaluation, MetricRow } from '../../evaluation/score.js';
import type { ClassPriorModel } from '../../grade/prior.js';
import { writeFileAtomic } from '../../io/atomic.js';

/** What goes into a model card. */
export interface ModelCardInput {
  model: ClassPriorModel;
  evaluation: Evaluation;
  command: string;
  seed: number;
  folds: number;
  seconds: number;
  dataset: SpineDataset;
}

/** A figure with three decimals, `n/a` for NaN. */
export const f = (v: number): string => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));
/** A figure with its 95% CI, `n/a` when the row is missing. */
export const cell = (r: MetricRow | undefined): string =>
  r ? `${f(r.estimate.value)} [${f(r.estimate.lower)}, ${f(r.estimate.upper)}]` : 'n/a';

/** The model card as Markdown. */
export function modelCardMarkdown(input: ModelCardInput): string {
  const { model, evaluation: e, dataset } = input;
  const pf = e.pfirrmannFused;
  const lines = [
    `# Model card: ${model.kind}`,
    '',
    '**What it is.** The class-prior baseline: every lumbar disc of every series is given the grade frequencies of the',
    'training discs (add-one smoothed). It reads no pixels and finds no disc geometry. It is the floor that every',
    'learned model must clear, not a grader: its Pfirrmann kappa is 0 by construction. Its out-of-fold AUCs fall',
    'a little below 0.5: within a fold every disc gets the same probability, and a fold rich in positives leaves a',
    'training set poor in them, so across folds the score runs slightly against the truth (a known artefact of',
    'cross-validating a prior, not a signal).',
    '',
    '**Research use only; not a medical device.**',
    '',
    '## Data',
    '',
    `- ${model.trainedOn.dataset}: ${dataset.patients.length} patients, ${dataset.series.length} series, ${model.trainedOn.discs} graded lumbar discs (L1/L2-L5/S1).`,
    '- SPIDER, CC BY 4.0: van der Graaf J.W. et al., "Lumbar spine segmentation in MR images: a dataset and a public',
    '  benchmark", Scientific Data 11, 264 (2024), doi:10.1038/s41597-024-03090-w, Zenodo 10159290.',
    '',
    '## Training',
    '',
    `- Command: \`${input.command}\``,
    `- Split for the figures below: ${input.folds}-fold patient-level cross-validation stratified on each patient's worst Pfirrmann grade, seed ${input.seed}; every figure is out-of-fold.`,
    `- The bundled model is then fitted on all ${model.trainedOn.patients.length} patients.`,
    `- Time on this machine (2 cores): ${input.seconds.toFixed(1)} s including the cross-validation and the bootstrap.`,
    '',
    '## Fitted frequencies',
    '',
    `- Pfirrmann 1-5: ${model.pfirrmann.map(f).join(', ')}`,
    `- Modic 0-3: ${model.modic.map(f).join(', ')}`,
    `- ${Object.entries(model.binary)
      .map(([k, v]) => `${k} ${f(v)}`)
      .join(', ')}`,
    '',
    `## Pfirrmann, per patient-disc (${pf.discs} discs, ${pf.patients} patients), out of fold, 95% bootstrap CI over patients`,
    '',
    '| measure | value [95% CI] | reference |',
    '|---|---|---|',
    ...pf.rows.map(
      (r) =>
        `| ${r.measure} | ${cell(r)} | ${(PFIRRMANN_REFERENCES[r.measure] ?? []).map((x) => `${x.label} ${x.value}`).join(', ')} |`,
    ),
    '',
    '## Other findings, per patient-disc, out of fold',
    '',
    '| finding | discs | positive | AUC [95% CI] | balanced accuracy [95% CI] |',
    '|---|---|---|---|---|',
    ...[e.modicAnyFused, ...e.binaryFused].map(
      (s) => `| ${s.finding} | ${s.discs} | ${s.positives} | ${cell(s.rows[0]!)} | ${cell(s.rows[1]!)} |`,
    ),
    '',
    '## Limits',
    '',
    '- No localisation: `center`, `posterior` and `outline` are never given, so the localisation rate is 0.',
    '- Assumes five lumbar discs in every series; transitional anatomy is not detected.',
    '',
    ...REFERENCE_SOURCES.map((s) => `Reference: ${s}.`),
    '',
  ];
  return lines.join('\n');
}

/** Writes `MODEL_CARD.md` into a model folder. */
export async function writeModelCard(folder: string, input: ModelCardInput): Promise<void> {
  await writeFileAtomic(join(folder, 'MODEL_CARD.md'), modelCardMarkdown(input), { overwrite: true });
}

/** What goes into a localiser's model card. */
export interface LocalizerCardInput {
  evaluation: Evaluation;
  dataset: SpineDataset;
  heldOutPatients: readonly string[];
  trainPatients: readonly string[];
  command: string;
  seed: number;
  seconds: number;
  /** Per-epoch training record. */
  history: readonly { epoch: number; meanLoss: number; seconds: number; samplesPerSecond: number; score?: number }[];
  /** Measured inference time per slice, ms (2 cores). */
  inferenceMsPerSlice: number;
  weightsBytes: number;
  config: Record<string, unknown>;
  /** What was tried and what limits the model, in sentences. */
  notes?: readonly string[];
  /** Out-of-fold figures of K localisers trained the same way, one per patient fold. */
  crossValidation?: { evaluation: Evaluation; folds: number; seconds: number; command: string };
}

/** The figures section of the localiser card: the held-out fold, and the K-fold out-of-fold figures when run. */
function localizerFigures(
  input: LocalizerCardInput,
  rowOf: (rows: readonly MetricRow[] | undefined, name: string) => string,
): string[] {
  const cv = input.crossValidation;
  const e = input.evaluation;
  const c = cv?.evaluation;
  const measures: [string, (x: Evaluation | undefined) => string, string, string][] = [
    [
      'lumbar T2 discs found with the right level (keypoint ≤ 3 mm from the outline)',
      (x) => rowOf(x?.localisation?.rows, 'T2 discs'),
      'SpineNet 95.6%, VERIDAH 98.3%',
      '≥ 99%',
    ],
    [
      "same on T1, against the same patient's T2 keypoints carried over where the fields of view match",
      (x) => rowOf(x?.localisation?.rows, 'T1 discs'),
      '—',
      '≥ 97%',
    ],
    ['2D Dice disc, T2 SPACE', (x) => rowOf(x?.dice?.rows, 'Dice disc'), 'SPIDER 3D baseline 0.84', '≥ 0.90'],
    ['2D Dice vertebra, T2 SPACE', (x) => rowOf(x?.dice?.rows, 'Dice vertebra'), '0.93', '≥ 0.94'],
    ['2D Dice spinal canal, T2 SPACE', (x) => rowOf(x?.dice?.rows, 'Dice spinal canal'), '0.92', '≥ 0.93'],
  ];
  const lines = [
    cv
      ? `## Figures (95% bootstrap CI over patients): the ${input.heldOutPatients.length} patients held out from this model, and ${cv.folds}-fold cross-validation`
      : `## Figures on the ${input.heldOutPatients.length} held-out patients (95% bootstrap CI over patients)`,
    '',
    cv
      ? '| measure | held out (this model) | out of fold (all patients) | anchor | target |'
      : '| measure | held out | anchor | target |',
    cv ? '|---|---|---|---|---|' : '|---|---|---|---|',
    ...measures.map(([name, value, anchor, target]) =>
      cv
        ? `| ${name} | ${value(e)} | ${value(c)} | ${anchor} | ${target} |`
        : `| ${name} | ${value(e)} | ${anchor} | ${target} |`,
    ),
    '',
  ];
  const t1 = (c ?? e).localisation?.t1;
  if (t1)
    lines.push(
      `T1 is checked on ${t1.keypoints} T2 keypoints of ${t1.patients} patients carried over to their T1 slice by physical position; ${t1.seriesWithOtherFieldOfView} T1 series with another field of view are not checked. The carried-over point can sit a few mm off the T1 disc (the middle T1 slice need not be the middle T2 slice; patients move between series), so the T1 figure is a lower bound.`,
      '',
    );
  lines.push(
    cv
      ? `Cross-validation: ${cv.folds} localisers trained the same way, one per patient fold (${(cv.seconds / 60).toFixed(0)} min of training in all); each patient is localised by the one that never saw them. Command: \`${cv.command}\`; the figures are also in \`cross-validation.json\`.`
      : 'Only one fold is held out: run with `--cross-validate <folder>` for out-of-fold figures over all patients.',
  );
  return lines;
}

/** The localiser's model card as Markdown. */
export function localizerCardMarkdown(input: LocalizerCardInput): string {
  const rowOf = (rows: readonly MetricRow[] | undefined, name: string): string => {
    const row = rows?.find((r) => r.measure.startsWith(name));
    return row ? cell(row) : 'not measured';
  };
  return [
    '# Model card: disc localiser',
    '',
    'A 2D U-Net (TensorFlow.js, trained on the WebAssembly backend on 2 CPU cores) that maps a sagittal slice,',
    'placed on a fixed canvas, to a semantic mask (background, disc, vertebra, spinal canal) and a heatmap of the',
    'lumbar disc keypoints. Post-processing turns disc pixels into instances (outline, centre, posterior point, axis),',
    'and labels the levels from the sacrum upward: of the chain of discs along the spinal column, the lowest disc the',
    'heatmap calls lumbar is L5/S1; a disc below it is reported as possible transitional anatomy (IVD label 0), never',
    'used to shift the levels.',
    '',
    '**Research use only; not a medical device.**',
    '',
    '## Data',
    '',
    '- SPIDER training split, 2D release: 330 T2 SPACE slices with masks (30 patients) and 860 T2 disc keypoints',
    '  (172 series) — a partially-labelled multi-task loss learns the mask where masks exist and the keypoint heatmap',
    '  where keypoints exist. T1 slices are not used yet (no pseudo-labels).',
    '- SPIDER, CC BY 4.0: van der Graaf J.W. et al., Scientific Data 11, 264 (2024), doi:10.1038/s41597-024-03090-w;',
    '  keypoints: B. Artley, "Lumbar Coordinate Pretraining Dataset", CC BY 4.0.',
    '',
    '## Training',
    '',
    `- Command: \`${input.command}\``,
    `- Split: patient-level folds stratified on the worst Pfirrmann grade, seed ${input.seed}; trained on ${input.trainPatients.length} patients, validated (early stopping and every figure below) on ${input.heldOutPatients.length} held-out patients.`,
    `- Configuration: \`${JSON.stringify(input.config)}\`; augmentation: rotation, scale, stretch, translation, elastic, crop-out of the field of view, gamma, contrast, noise, bias field, blur, T1/T2-like contrast curves (no flips).`,
    `- Time: ${(input.seconds / 60).toFixed(1)} min on this machine (2 cores, two data-parallel worker threads).`,
    `- Weights: ${(input.weightsBytes / 1024).toFixed(0)} KiB. Inference: ${input.inferenceMsPerSlice.toFixed(0)} ms per slice (2 cores, wasm, batch of 8 slices).`,
    '',
    '| epoch | mean loss | validation score | samples/s |',
    '|---|---|---|---|',
    ...input.history.map(
      (h) =>
        `| ${h.epoch + 1} | ${h.meanLoss.toFixed(3)} | ${h.score === undefined ? '' : h.score.toFixed(3)} | ${h.samplesPerSecond.toFixed(1)} |`,
    ),
    '',
    ...localizerFigures(input, rowOf),
    '',
    '## Limits and what was tried',
    '',
    '- Below the targets above: a small network trained for a few minutes on 2 CPU cores; the figures say how far.',
    ...(input.notes ?? []).map((n) => `- ${n}`),
    '',
  ].join('\n');
}

/** How a card names the dataset a model was trained on. */
export function datasetName(dataset: SpineDataset): string {
  return dataset.layout === 'spider-2d' || dataset.layout === 'spider-original'
    ? `SPIDER training split (${dataset.layout})`
    : `own data at ${dataset.root}`;
}
