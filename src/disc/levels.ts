/**
 * Disc level names. SPIDER numbers discs from the bottom: `IVD label` 1 = L5/S1, 2 = L4/L5, … 5 = L1/L2,
 * 6 = T12/L1, 7 = T11/T12, …; 0 = a disc below L5/S1 (transitional anatomy), named S1/S2 here.
 */

const VERTEBRAE_FROM_BOTTOM = [
  'S1',
  'L5',
  'L4',
  'L3',
  'L2',
  'L1',
  'T12',
  'T11',
  'T10',
  'T9',
  'T8',
  'T7',
  'T6',
  'T5',
  'T4',
  'T3',
  'T2',
  'T1',
];

/** Lumbar disc levels, top to bottom. */
export const LUMBAR_LEVELS = ['L1/L2', 'L2/L3', 'L3/L4', 'L4/L5', 'L5/S1'] as const;

/** IVD labels of the five lumbar discs (L5/S1 = 1 … L1/L2 = 5). */
export const LUMBAR_IVD_LABELS: readonly number[] = [1, 2, 3, 4, 5];

/** The level name of a SPIDER IVD label, e.g. 2 → `L4/L5`, 0 → `S1/S2`. */
export function levelOfIvdLabel(ivdLabel: number): string {
  if (ivdLabel === 0) return 'S1/S2';
  const below = VERTEBRAE_FROM_BOTTOM[ivdLabel - 1];
  const above = VERTEBRAE_FROM_BOTTOM[ivdLabel];
  if (!Number.isInteger(ivdLabel) || ivdLabel < 0 || !below || !above) {
    throw new RangeError(`no disc level for IVD label ${ivdLabel}`);
  }
  return `${above}/${below}`;
}

/** The vertebra right above a disc, e.g. IVD label 1 (L5/S1) → `L5`; undefined past the list. */
export function vertebraAboveDisc(ivdLabel: number): string | undefined {
  return VERTEBRAE_FROM_BOTTOM[ivdLabel];
}

/** The SPIDER IVD label of a level name, e.g. `L4/L5` → 2; undefined for a name that is no disc level. */
export function ivdLabelOfLevel(level: string): number | undefined {
  const normalized = level.trim().toUpperCase().replace(/[-\s]/g, '/');
  if (normalized === 'S1/S2') return 0;
  for (let label = 1; label < VERTEBRAE_FROM_BOTTOM.length; label++) {
    if (levelOfIvdLabel(label) === normalized) return label;
  }
  return undefined;
}

/** True for the five lumbar discs L1/L2 … L5/S1. */
export function isLumbarIvdLabel(ivdLabel: number): boolean {
  return ivdLabel >= 1 && ivdLabel <= 5;
}
