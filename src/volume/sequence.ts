/**
 * The sequence guess for an MR series, by a stated rule (also in docs/conventions.md):
 *
 * 1. Names first — SeriesDescription, ProtocolName, SequenceName, in that order. STIR, TIRM, fat-sat
 *    (`FS`, `fatsat`, `SPAIR`, `SPIR`, `FSE-IR`) or `IR` with T2 → STIR; a `T1` → T1; a `T2` → T2.
 * 2. Else an inversion time of 100-250 ms (or ScanningSequence `IR` with TI under 250 ms) → STIR.
 * 3. Else timing: TE ≥ 60 ms → T2 (any TR: 3D T2 SPACE/CUBE uses TR ≈ 1000 ms);
 *    TE ≤ 30 ms and TR ≤ 1200 ms → T1.
 * 4. Else `other`.
 */
import type { SequenceKind, VolumeMetadata } from './volume.js';

/** The guessed sequence with the rule that decided it. */
export interface SequenceGuess {
  sequence: SequenceKind;
  /** The evidence, in words, e.g. `description "t2_tse_sag" names T2`. */
  reason: string;
}

const STIR_PATTERN = /(stir|tirm|fat[-_ ]?sat|spair|\bspir\b|(^|[^a-z])fs([^a-z]|$)|fse[-_ ]?ir|[-_ ]ir[-_ ])/i;
const T1_PATTERN = /(^|[^a-z0-9])t1([^0-9]|$)|t1w/i;
const T2_PATTERN = /(^|[^a-z0-9])t2([^0-9]|$)|t2w|space|cube|vista/i;

/** Guesses the sequence family of an MR series from its names and timing (see module comment). */
export function classifySequence(
  meta: Pick<
    VolumeMetadata,
    | 'seriesDescription'
    | 'protocolName'
    | 'sequenceName'
    | 'repetitionTime'
    | 'echoTime'
    | 'inversionTime'
    | 'scanningSequence'
  >,
): SequenceGuess {
  const names: [string, string | undefined][] = [
    ['description', meta.seriesDescription],
    ['protocol', meta.protocolName],
    ['sequence name', meta.sequenceName],
  ];
  for (const [label, name] of names) {
    if (!name) continue;
    if (STIR_PATTERN.test(name)) return { sequence: 'STIR', reason: `${label} "${name}" names STIR/fat suppression` };
    const t1 = T1_PATTERN.test(name);
    const t2 = T2_PATTERN.test(name);
    if (t1 && !t2) return { sequence: 'T1', reason: `${label} "${name}" names T1` };
    if (t2 && !t1) return { sequence: 'T2', reason: `${label} "${name}" names T2` };
  }
  const { repetitionTime: tr, echoTime: te, inversionTime: ti } = meta;
  const inversion = meta.scanningSequence?.toUpperCase().includes('IR') ?? false;
  if (ti !== undefined && ti >= 100 && ti <= 250) return { sequence: 'STIR', reason: `inversion time ${ti} ms` };
  if (inversion && ti !== undefined && ti < 250) return { sequence: 'STIR', reason: `inversion recovery, TI ${ti} ms` };
  if (te !== undefined && te >= 60) return { sequence: 'T2', reason: `long echo time (TE ${te} ms)` };
  if (te !== undefined && tr !== undefined && te <= 30 && tr <= 1200) {
    return { sequence: 'T1', reason: `short TR and TE (TR ${tr} ms, TE ${te} ms)` };
  }
  if (te === undefined && tr === undefined) return { sequence: 'other', reason: 'no sequence name or timing' };
  return { sequence: 'other', reason: `timing fits no rule (TR ${tr ?? '?'} ms, TE ${te ?? '?'} ms)` };
}
