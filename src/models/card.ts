/** Model cards: what a model was trained on, how, and how well it does, measured out of fold. */
import { join } from 'node:path';
import type { SpineDataset } from '../datasets/types.js';
import { PFIRRMANN_REFERENCES, REFERENCE_SOURCES } from '../evaluation/references.js';
import type { Evaluation, MetricRow } from '../evaluation/score.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { SpinegradeModel } from './store.js';

/** What goes into a model card. */
export interface ModelCardInput {
  model: SpinegradeModel;
  evaluation: Evaluation;
  command: string;
  seed: number;
  folds: number;
  seconds: number;
  dataset: SpineDataset;
}

const f = (v: number): string => (Number.isNaN(v) ? 'n/a' : v.toFixed(3));
const cell = (r: MetricRow): string => `${f(r.estimate.value)} [${f(r.estimate.lower)}, ${f(r.estimate.upper)}]`;

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
