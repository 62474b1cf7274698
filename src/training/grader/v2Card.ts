/**
 * The grader v2 model card (`MODEL_CARD.md`), written from the cross-validation's own figures: the
 * must-reach measures next to the v1 grader's and the anchors, per contrast and fused per
 * patient-disc, the ablation table (one change at a time, with 95% intervals over patients), where
 * the model is weak (per level, confusion), calibration and the review threshold.
 */
import { DEFAULT_V2_CROP, type V2CropConfig } from '../../grade/v2Crops.js';
import type { V2Evaluation } from './crossValidate.js';
import type { Figure, V2Figures } from './figures.js';
import type { SignalGradeCorrelation } from './v2Checks.js';
import type { V2SampleNotes } from './v2Samples.js';

/** One ablation row: recipe, placement (single or TTA) and its figures. */
export interface V2AblationRow {
  recipe: string;
  description: string;
  tta: boolean;
  trainSeconds: number;
  evaluation: V2Evaluation;
}

const f1 = (x: number, digits = 0): string => x.toFixed(digits);
const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const withCi = (f: Figure): string => `${f3(f.estimate)} [${f3(f.lower)}, ${f3(f.upper)}]`;

/** The issue's must-reach figures (out of fold, per patient-disc, lumbar), and which way is better. */
export const V2_TARGETS: readonly {
  key: keyof V2Figures;
  name: string;
  target: number;
  higher: boolean;
  v1: string;
}[] = [
  { key: 'pfirrmannKappa', name: 'Pfirrmann linear κ', target: 0.68, higher: true, v1: '0.516' },
  { key: 'balancedAccuracy', name: 'Pfirrmann balanced accuracy', target: 0.62, higher: true, v1: '0.50' },
  { key: 'withinOne', name: 'within one grade', target: 0.95, higher: true, v1: '0.86' },
  { key: 'ece', name: 'ECE (Pfirrmann)', target: 0.05, higher: false, v1: '0.070' },
  { key: 'modicAnyAuc', name: 'Modic any-vs-none AUC', target: 0.86, higher: true, v1: '0.79' },
  { key: 'herniationAuc', name: 'herniation AUC', target: 0.82, higher: true, v1: '0.76' },
];

function figureRow(label: string, f: V2Figures): string {
  return `| ${label} | ${f.discs} | ${V2_TARGETS.map((t) => withCi(f[t.key] as Figure)).join(' | ')} |`;
}

/** One entry of the card's "what was tried" section (`tried.json` of the bundle): a check or run and what it measured. */
export interface V2TriedEntry {
  /** What was checked or run, with the command or recipe. */
  what: string;
  /** What it measured. */
  result: string;
}

/** The "what was tried" entry of the crop-alignment check (see `v2Checks.signalGradeCorrelations`). */
export function alignmentEntry(correlations: readonly SignalGradeCorrelation[]): V2TriedEntry {
  const all = correlations.find((c) => c.level === 'all');
  const levels = correlations.filter((c) => c.level !== 'all');
  return {
    what: "crop/label alignment without training: Spearman ρ of the T2 crops' disc-centre mean intensity (8 × 4 mm box) against the Pfirrmann grade",
    result: `ρ ${all ? all.rho.toFixed(2) : 'n/a'} over ${all?.discs ?? 0} T2 discs; per level ${levels.map((c) => `${c.level} ${c.rho.toFixed(2)}`).join(', ')} — the crops show the disc whose grade they carry (a wrong join or placement gives ρ ≈ 0)`,
  };
}

function triedSection(tried: readonly V2TriedEntry[]): string {
  if (tried.length === 0) return '';
  return `
## What was tried

Checks and quick runs behind the recipe, in the order they were made (fold-0 figures cover that
fold's 35 patients only; T2 κ per series, not calibrated, unless said).

| what | result |
|---|---|
${tried.map((t) => `| ${t.what.replaceAll('|', '\\|')} | ${t.result.replaceAll('|', '\\|')} |`).join('\n')}
`;
}

/** Renders the card of a bundle from its ablation rows (the bundle's own recipe first). */
export function renderV2Card(
  rows: readonly V2AblationRow[],
  chosen: V2AblationRow,
  samples: { total: number; t2: number; t1: number; notes: V2SampleNotes },
  command: string,
  tried: readonly V2TriedEntry[] = [],
  crop: V2CropConfig = DEFAULT_V2_CROP,
): string {
  const ev = chosen.evaluation;
  const fused = ev.fused;
  const header = `| | discs | ${V2_TARGETS.map((t) => t.name).join(' | ')} |\n|---|---|${V2_TARGETS.map(() => '---').join('|')}|`;
  const mustReach = V2_TARGETS.map((t) => {
    const f = fused[t.key] as Figure;
    const met = t.higher ? f.estimate >= t.target : f.estimate <= t.target;
    return `| ${t.name} | ${t.v1} | ${withCi(f)} | ${t.higher ? '≥' : '≤'} ${t.target} | ${met ? 'yes' : 'no'} |`;
  }).join('\n');
  const ablation = rows
    .map(
      (r) =>
        `| ${r.recipe}${r.tta ? ' + TTA' : ''} | ${r.description} | ${V2_TARGETS.map((t) => withCi(r.evaluation.fused[t.key] as Figure)).join(' | ')} | ${(r.trainSeconds / 60).toFixed(1)} |`,
    )
    .join('\n');
  const levels = ['5', '4', '3', '2', '1'];
  const levelNames = ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'];
  const perLevel = (['T2', 'T1'] as const)
    .filter((c) => ev.perContrast[c])
    .map(
      (c) =>
        `| ${c} | ${levels.map((l) => f3((ev.perContrast[c] as V2Figures).kappaByLevel[l] as number)).join(' | ')} |`,
    )
    .join('\n');
  const confusion = fused.confusion.map((row, k) => `| ${k + 1} | ${row.join(' | ')} |`).join('\n');
  const coverage = ev.review.curve
    .filter((p) => p.threshold <= 0.9 && Math.round(p.threshold * 100) % 10 === 0)
    .map((p) => `| ${p.threshold.toFixed(1)} | ${f3(p.coverage)} | ${f3(p.accuracy)} |`)
    .join('\n');
  const t = ev.temperatures;
  return `# Grader v2 (lumbar discs; Pfirrmann, Modic, findings)

Trained on SPIDER (van der Graaf et al., *Lumbar spine segmentation in MR images: a dataset and a
public benchmark*, Scientific Data 2024; CC BY 4.0) with the T2 disc keypoints of the
LumbarCoordinates set (MIT). Research use only, not a medical device.

## What it is

One point per lumbar level on a sagittal slice (the posterior disc margin) places each crop: ${crop.size} × ${crop.size}
pixels over ${f1(crop.size * crop.mmPerPixel)} mm (${f1(crop.mmPerPixel, 2)} mm each) **by the spine's own scale** (mm per pixel from the distance between
neighbouring points, 31.4 mm per lumbar disc gap: SPIDER's stated spacing is wrong for most
non-square PNGs), turned to the spine axis through the neighbouring points, centred ${f1(crop.anteriorShiftMm)} mm anterior
of the point. The network reads the crop with a T1 flag plane and a level plane (7 channels): six
3 × 3 convolution blocks, global average pooling, and heads for Pfirrmann (ordinal, 4 logits),
Modic 0-3 and six binary findings. The bundle is the five cross-validation fold models, averaged
(an ensemble: each disc's out-of-fold figure below comes from the one fold model that never saw its
patient). Temperatures are fitted out of fold per contrast (T1, T2); the figures below use
temperatures cross-fitted on the other folds.

Fusion per patient-disc: Pfirrmann from T2 where the patient has one (T1 only when not, and the
output says so); Modic and the findings from T1 and T2 together (calibrated probabilities averaged).

Training discs: ${samples.total} placed by expert keypoints — ${samples.t2} on T2 slices, ${samples.t1} on T1
slices by the same keypoints carried over (same matrix, or the same physical field of view). Left
out: ${samples.notes.t1WithoutT2Keypoints} T1 series whose patient has no keypointed T2,
${samples.notes.t1FieldOfViewDiffers} T1 series whose field of view differs from their T2's, and the
${samples.notes.otherSeriesSkipped} T2 SPACE series (SPIDER has no keypoints on them). No disc's grade
was taken from a localiser's level.

Reproduce: \`${command}\`

## Must reach (out of fold, fused per patient-disc, 95% bootstrap CI over patients)

Recipe: **${chosen.recipe}${chosen.tta ? ' + TTA' : ''}**. v1: the bundled grader's out-of-fold card figures.

| measure | v1 | v2 | must reach | met |
|---|---|---|---|---|
${mustReach}

Anchors: SpineNet external κ 0.68, balanced accuracy 0.78, within one 0.99, Modic BA 0.86; readers
inter-rater κ ≈ 0.6, intra ≈ 0.8.

## Per contrast and fused

${header}
${(['T2', 'T1'] as const)
  .filter((c) => ev.perContrast[c])
  .map((c) => figureRow(`${c} (every disc of every ${c} series)`, ev.perContrast[c] as V2Figures))
  .join('\n')}
${figureRow('fused per patient-disc', fused)}

## Ablation (same five patient folds, seed 1; fused per patient-disc; one change at a time from the reference)

| recipe | change | ${V2_TARGETS.map((t) => t.name).join(' | ')} | training min (5 folds, 2 shared cores) |
|---|---|${V2_TARGETS.map(() => '---').join('|')}|---|
${ablation}

## Where it is weak

Linear κ per level (per series):

| contrast | ${levelNames.join(' | ')} |
|---|---|---|---|---|---|
${perLevel}

Confusion, fused (rows: reference grade, columns: predicted):

| ref \\ pred | 1 | 2 | 3 | 4 | 5 |
|---|---|---|---|---|---|
${confusion}

T2 SPACE: not in training (no keypoints in SPIDER); its discs are graded as T2 at inference — unmeasured.

## Calibration and review

Temperatures (logits divided by): T2 Pfirrmann ${f3(t.T2.pfirrmann)}, Modic ${f3(t.T2.modic)}; T1 Pfirrmann
${f3(t.T1.pfirrmann)}, Modic ${f3(t.T1.modic)}. A disc is flagged for review when its top Pfirrmann probability
is below **${ev.review.threshold.toFixed(2)}**: chosen as the lowest threshold at which the discs not flagged
reach the stated exact accuracy; out of fold that keeps ${f3(ev.review.coverage)} of the patient-discs at
exact accuracy ${f3(ev.review.accuracy)}.

| threshold | coverage | exact accuracy of the discs kept |
|---|---|---|
${coverage}
${triedSection(tried)}`;
}
