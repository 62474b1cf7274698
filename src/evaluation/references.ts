/** Published figures that spinegrade's own numbers are shown beside. */

/** A reference figure for one measure. */
export interface ReferenceFigure {
  readonly label: string;
  readonly value: number;
}

/** Pfirrmann references by measure name (see the README's evaluation section for sources). */
export const PFIRRMANN_REFERENCES: Readonly<Record<string, readonly ReferenceFigure[]>> = {
  'kappa (linear)': [
    { label: 'readers inter', value: 0.6 },
    { label: 'readers intra', value: 0.8 },
    { label: 'SpineNet external', value: 0.68 },
  ],
  'balanced accuracy': [{ label: 'SpineNet external', value: 0.78 }],
  'within one grade': [{ label: 'SpineNet', value: 0.99 }],
};

/** Sources of the reference figures, printed under the table. */
export const REFERENCE_SOURCES = [
  'readers: Pfirrmann inter-reader kappa about 0.6, intra-reader about 0.8 (Pfirrmann et al., Spine 2001, and later reliability studies)',
  'SpineNet: external validation, Pfirrmann linear kappa 0.68, balanced accuracy 0.78 (Windsor et al. / Grob et al., Eur Spine J 2022)',
] as const;
