/**
 * The grader's model card: data, training, and every out-of-fold figure of each family (classical,
 * CNN, hybrid, ensemble; same folds, same patients) beside the references.
 */
import type { SpineDataset } from '../../datasets/types.js';
import { PFIRRMANN_REFERENCES, REFERENCE_SOURCES } from '../../evaluation/references.js';
import type { Evaluation, GradedSection, MetricRow } from '../../evaluation/score.js';
import type { CoveragePoint } from '../../grade/calibration.js';
import type { GraderCalibration, GraderVariant } from '../../grade/grader.js';
import { cell, f } from '../common/card.js';

/** What goes into the grader's card. */
export interface GraderCardInput {
  dataset: SpineDataset;
  command: string;
  seed: number;
  folds: number;
  /** Out-of-fold evaluations of each variant compared, in table order. */
  evaluations: Partial<Record<GraderVariant, Evaluation>>;
  coverage: Partial<Record<GraderVariant, readonly CoveragePoint[]>>;
  /** The variant the bundled model uses. */
  shipped: GraderVariant;
  /** Why it was chosen. */
  shippedBecause: string;
  /** Markdown kept from an earlier card (the few-shot section), appended as is. */
  appendix?: string;
  calibration: GraderCalibration;
  /** Seconds: cross-validation (all folds) and the final training. */
  seconds: { crossValidation: number; final: number; crops: number };
  crops: { total: number; labelled: number; correctedLevels: number; bySequence: Record<string, number> };
  localizers: readonly string[];
  config: Record<string, unknown>;
  epochs: number;
  contextEpochs: number;
  /** Measured grading throughput, discs per second (crop → calibrated probabilities, 2 cores). */
  discsPerSecond: number;
  weightsBytes: number;
  notes: readonly string[];
}

const rowOf = (section: GradedSection, measure: string): MetricRow | undefined =>
  section.rows.find((r) => r.measure === measure);

/** How each variant is named in the card's tables. */
export const VARIANT_NAMES: Record<GraderVariant, string> = {
  classical: 'classical (SVM)',
  cnn: 'CNN',
  hybrid: 'hybrid',
  ensemble: 'ensemble',
};

/** Markers around the card's few-shot section, which `train grader` keeps when it rewrites the card. */
export const FEW_SHOT_MARKERS = { start: '<!-- few-shot:start -->', end: '<!-- few-shot:end -->' } as const;

/** The few-shot section of an earlier card (markers included), or undefined. */
export function keptCardSection(card: string): string | undefined {
  const start = card.indexOf(FEW_SHOT_MARKERS.start);
  const end = card.indexOf(FEW_SHOT_MARKERS.end);
  return start >= 0 && end > start ? card.slice(start, end + FEW_SHOT_MARKERS.end.length) : undefined;
}

/** What each family is, in one line. */
const VARIANT_DESCRIPTIONS: Record<GraderVariant, string> = {
  classical:
    'classical: linear SVMs (Pegasos, Platt probabilities) on the quantitative measures, GLCM texture and intensities of the disc band, sequence and level; Pfirrmann as four cumulative SVMs; exact SHAP values per feature',
  cnn: 'CNN: the ResNet on the disc crop alone',
  hybrid: "hybrid: the CNN plus a small transformer across the spine's levels that corrects the CNN's logits",
  ensemble: 'ensemble: the hybrid and the classical model pooled (mean log-probabilities; mean logits for findings)',
};

/** The grader's model card as Markdown. */
export function graderCardMarkdown(input: GraderCardInput): string {
  const variants = (Object.keys(VARIANT_NAMES) as GraderVariant[]).filter((v) => input.evaluations[v]);
  const evaluations = variants.map((v) => input.evaluations[v] as Evaluation);
  const first = evaluations[0] as Evaluation;
  const shipped = input.evaluations[input.shipped] as Evaluation;
  const names = variants.map((v) => VARIANT_NAMES[v]);
  const binary = (e: Evaluation, finding: string): MetricRow | undefined =>
    [e.modicAnyFused, ...e.binaryFused].find((s) => s.finding === finding)?.rows[0];
  const target = (measure: string): string =>
    ({
      'kappa (linear)': '≥ 0.85',
      'balanced accuracy': '≥ 0.80',
      'within one grade': '≥ 0.99',
      'ECE (10 bins)': '≤ 0.05',
    })[measure] ?? '';
  const pfMeasures = [
    'kappa (linear)',
    'kappa (quadratic)',
    'balanced accuracy',
    'accuracy',
    'within one grade',
    'mean absolute error',
    'AUC one-vs-rest (macro)',
    'ECE (10 bins)',
    'Brier score',
  ];
  const findings = [first.modicAnyFused, ...first.binaryFused].map((s) => s.finding);
  const pf = shipped.pfirrmannFused;
  return [
    '# Model card: disc grader',
    '',
    'Grades every disc the localiser finds: Pfirrmann 1-5, Modic 0-3, upper and lower endplate defects,',
    'spondylolisthesis, herniation, bulging and narrowing, with calibrated probabilities. A small ResNet (TensorFlow.js,',
    'trained on the WebAssembly backend on 2 CPU cores) reads a 56 × 56 mm crop aligned to the disc axis (the disc, both',
    'endplates, parts of the adjacent vertebral bodies and the canal); the hybrid adds a small transformer that attends',
    "across the levels of the spine over the CNN's disc embeddings plus a level embedding, learning a correction of the",
    "CNN's logits. Temperatures per head are fitted on out-of-fold logits; a disc whose top Pfirrmann probability is",
    `below ${f(input.calibration.reviewThreshold)} (the stated threshold, \`--review-threshold\`) is flagged "needs review"; the coverage/accuracy table below shows what other thresholds would give. Series of one patient are fused by averaging probabilities.`,
    '',
    'Families compared on the same folds, crops and patients:',
    '',
    ...variants.map((v) => `- ${VARIANT_DESCRIPTIONS[v]}`),
    '',
    `**Shipped variant: ${VARIANT_NAMES[input.shipped]}** — ${input.shippedBecause}`,
    '',
    '**Research use only; not a medical device.**',
    '',
    '## Data',
    '',
    `- SPIDER training split: ${input.dataset.patients.length} patients, ${input.dataset.series.length} series (T1, T2, T2 SPACE), ${input.dataset.discs.length} graded patient-discs (thoracic levels included). Every series of a patient carries that patient's grades, so T1, T2 and T2 SPACE crops all train.`,
    `- Crops: ${input.crops.total} discs localised on the mid-sagittal slice of every series, ${input.crops.labelled} with grades (${Object.entries(
      input.crops.bySequence,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(
        ', ',
      )}). Discs were found by ${input.localizers.length > 1 ? `${input.localizers.length} localisers, one per fold, each patient by the one that never saw them` : `the localiser at ${input.localizers[0]}`}; for training, ${input.crops.correctedLevels} crops had their level corrected by the T2 disc keypoints (or those carried over to a same-field-of-view T1). Predictions use the localiser's levels only.`,
    '- SPIDER, CC BY 4.0: van der Graaf J.W. et al., Scientific Data 11, 264 (2024), doi:10.1038/s41597-024-03090-w.',
    '',
    '## Training',
    '',
    `- Command: \`${input.command}\``,
    `- Split: ${input.folds}-fold patient-level cross-validation stratified on the worst Pfirrmann grade, seed ${input.seed}; no patient on both sides. Fixed epoch budget (${input.epochs} CNN epochs, cosine schedule; ${input.contextEpochs} context-model epochs): the held-out fold is never used to pick weights. Calibration for the out-of-fold figures is cross-fitted (each fold's temperatures come from the other folds).`,
    `- Configuration: \`${JSON.stringify(input.config)}\`; augmentation: rotation, zoom, shift, elastic, contrast curves (T1↔T2-like), gamma, contrast, bias field, blur, noise (no flips).`,
    `- Time on this machine (2 cores): crops ${(input.seconds.crops / 60).toFixed(1)} min, cross-validation ${(input.seconds.crossValidation / 60).toFixed(1)} min, final model ${(input.seconds.final / 60).toFixed(1)} min; all grader models from scratch ${((input.seconds.crops + input.seconds.crossValidation + input.seconds.final) / 60).toFixed(1)} min (target ≤ 45 min).`,
    `- Weights: ${(input.weightsBytes / 1024).toFixed(0)} KiB. Grading throughput: ${input.discsPerSecond.toFixed(0)} discs/s (crop → calibrated probabilities, series by series as predict does, 2 cores; target ≥ 200).`,
    `- Calibration shipped: temperature Pfirrmann ${f(input.calibration.pfirrmann)}, Modic ${f(input.calibration.modic)}, findings ${input.calibration.findings.map(f).join(', ')}; review threshold ${f(input.calibration.reviewThreshold)}.`,
    '',
    `## Pfirrmann, per patient-disc, lumbar levels, out of fold (${pf.discs} discs, ${pf.patients} patients; missed discs scored as wrong: ${pf.missed}), 95% bootstrap CI over patients`,
    '',
    `| measure | ${names.join(' | ')} | reference | target |`,
    `|---|${variants.map(() => '---|').join('')}---|---|`,
    ...pfMeasures.map(
      (m) =>
        `| ${m} | ${evaluations.map((e) => cell(rowOf(e.pfirrmannFused, m))).join(' | ')} | ${(PFIRRMANN_REFERENCES[m] ?? []).map((r) => `${r.label} ${r.value}`).join(', ')} | ${target(m)} |`,
    ),
    '',
    `Confusion matrix of the shipped variant (rows: truth 1-5, columns: predicted 1-5): ${pf.confusion.map((r) => r.join(' ')).join(' | ')}`,
    '',
    'Reliability (shipped variant, top-label confidence bins: range, discs, mean confidence, accuracy):',
    '',
    '| bin | discs | confidence | accuracy |',
    '|---|---|---|---|',
    ...pf.reliability
      .filter((b) => b.count > 0)
      .map((b) => `| ${f(b.lower)}-${f(b.upper)} | ${b.count} | ${f(b.meanConfidence)} | ${f(b.accuracy)} |`),
    '',
    'Coverage/accuracy of the Pfirrmann grade per series disc (discs below the threshold are left for review):',
    '',
    `| threshold | ${names.map((n) => `coverage ${n} | accuracy ${n}`).join(' | ')} |`,
    `|---|${variants.map(() => '---|---|').join('')}`,
    ...(input.coverage[variants[0] as GraderVariant] ?? []).map(
      (p, n) =>
        `| ${f(p.threshold)} | ${variants
          .map((v) => {
            const point = input.coverage[v]?.[n];
            return point ? `${f(point.coverage)} | ${f(point.accuracy)}` : ' | ';
          })
          .join(' | ')} |`,
    ),
    '',
    '## Other findings, per patient-disc, out of fold: AUC [95% CI]',
    '',
    `| finding | discs | positive | ${names.join(' | ')} | target |`,
    `|---|---|---|${variants.map(() => '---|').join('')}---|`,
    ...findings.map((finding) => {
      const section = [shipped.modicAnyFused, ...shipped.binaryFused].find((s) => s.finding === finding);
      const goal = finding.startsWith('Modic') ? '≥ 0.90' : finding === 'herniation' ? '≥ 0.85' : '';
      return `| ${finding} | ${section?.discs ?? ''} | ${section?.positives ?? ''} | ${evaluations.map((e) => cell(binary(e, finding))).join(' | ')} | ${goal} |`;
    }),
    '',
    `Modic type 0-3 (shipped variant): ${shipped.modicFused.rows
      .filter((r) => /kappa \(unweighted\)|balanced accuracy/.test(r.measure))
      .map((r) => `${r.measure} ${cell(r)}`)
      .join('; ')}; confusion (rows truth 0-3): ${shipped.modicFused.confusion.map((r) => r.join(' ')).join(' | ')}.`,
    '',
    '## Limits and what was tried',
    '',
    ...input.notes.map((n) => `- ${n}`),
    '',
    ...REFERENCE_SOURCES.map((s) => `Reference: ${s}.`),
    '',
    ...(input.appendix ? [input.appendix.trimEnd(), ''] : []),
  ].join('\n');
}
