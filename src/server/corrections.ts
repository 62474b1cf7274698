/**
 * A reader's corrections of an analysis: moving the level labels (the analysis runs again with a
 * level override, so the grades follow) and overriding a grade with a reason. The original findings
 * are kept; the corrected document is what every export shows.
 */
import { randomBytes } from 'node:crypto';
import { BINARY_FINDINGS, type BinaryFinding } from '../disc/findings.js';
import { ivdLabelOfLevel } from '../disc/levels.js';
import { describeError, isSpinegradeError } from '../errors.js';
import { checkLevelOverride, type LevelOverride, parseLevelOverride } from '../localize/override.js';
import type { DiscFindings, FindingsDocument, FusedLevelFindings } from '../report/findings.js';
import { ServiceError } from './errors.js';

/** The findings a grade override may change. */
export const CORRECTABLE_FINDINGS = ['pfirrmann', 'modic', ...BINARY_FINDINGS] as const;

/** A finding a grade override may change. */
export type CorrectableFinding = (typeof CORRECTABLE_FINDINGS)[number];

/** Where a correction stands. */
export type CorrectionStatus = 'pending' | 'applied' | 'failed' | 'superseded' | 'replaced';

/** Who and when; never anything about the patient. */
interface CorrectionBase {
  id: string;
  status: CorrectionStatus;
  /** Who made it (free text given by the client, e.g. initials; `unknown` when not given). */
  by: string;
  /** When it was made (ISO time). */
  at: string;
  error?: { code: string; message: string };
}

/** A grade override. */
export interface GradeCorrection extends CorrectionBase {
  type: 'grade';
  level: string;
  finding: CorrectableFinding;
  /** A grade (Pfirrmann 1-5, Modic 0-3) or, for a binary finding, present or not. */
  value: number | boolean;
  /** The value before this override (current findings at the time). */
  previous: number | boolean | null;
  reason: string;
  /** Index into `findings.studies[0].series`, or null for every series and the fused level. */
  seriesIndex: number | null;
}

/** A move of the level labels, applied by analysing again with the override. */
export interface LevelsCorrection extends CorrectionBase {
  type: 'levels';
  levelOverride: LevelOverride;
  /** The job re-labelling and re-grading. */
  jobId: string | null;
}

/** A correction of either kind. */
export type Correction = GradeCorrection | LevelsCorrection;

/** A validated correction request, before it has an id. */
export type CorrectionRequest =
  | { type: 'levels'; levelOverride: LevelOverride; by: string }
  | {
      type: 'grade';
      level: string;
      finding: CorrectableFinding;
      value: number | boolean;
      reason: string;
      seriesIndex: number | null;
      by: string;
    };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function badOverride(message: string): ServiceError {
  return new ServiceError('BAD_OVERRIDE', message);
}

function badCorrection(message: string): ServiceError {
  return new ServiceError('BAD_CORRECTION', message);
}

/**
 * A level override from a request body: the JSON form (`{ shift }` or `{ anchor: { level, atPx | atMm } }`,
 * optional `seriesUid`) or the command-line string form (`shift=+1`, `L5/S1=250,410`). Throws
 * `BAD_OVERRIDE` naming the problem.
 */
export function parseLevelOverrideInput(value: unknown): LevelOverride {
  let override: LevelOverride;
  if (typeof value === 'string') {
    try {
      override = parseLevelOverride(value);
    } catch (error) {
      throw badOverride(describeError(error).replace(/^--levels /, 'levelOverride '));
    }
  } else if (isObject(value)) {
    const known = new Set(['shift', 'anchor', 'seriesUid']);
    const unknown = Object.keys(value).filter((k) => !known.has(k));
    if (unknown.length > 0) throw badOverride(`levelOverride: unknown field(s) ${unknown.join(', ')}`);
    if (value.seriesUid !== undefined && (typeof value.seriesUid !== 'string' || value.seriesUid === '')) {
      throw badOverride('levelOverride.seriesUid must be a non-empty string');
    }
    const series = typeof value.seriesUid === 'string' ? { seriesUid: value.seriesUid } : {};
    if ((value.shift === undefined) === (value.anchor === undefined)) {
      throw badOverride('levelOverride needs exactly one of "shift" and "anchor"');
    }
    if (value.shift !== undefined) {
      if (!isFiniteNumber(value.shift) || !Number.isInteger(value.shift)) {
        throw badOverride('levelOverride.shift must be a whole number');
      }
      override = { shift: value.shift, ...series };
    } else {
      const anchor = value.anchor;
      if (!isObject(anchor) || typeof anchor.level !== 'string') {
        throw badOverride('levelOverride.anchor must be { level, atPx: [x, y] } or { level, atMm: [x, y, z] }');
      }
      const point = (p: unknown, size: number): boolean =>
        Array.isArray(p) && p.length === size && p.every((n) => isFiniteNumber(n));
      if (anchor.atPx !== undefined && !point(anchor.atPx, 2))
        throw badOverride('levelOverride.anchor.atPx must be [x, y]');
      if (anchor.atMm !== undefined && !point(anchor.atMm, 3)) {
        throw badOverride('levelOverride.anchor.atMm must be [x, y, z] (mm)');
      }
      override = {
        anchor: {
          level: anchor.level,
          ...(anchor.atPx !== undefined ? { atPx: anchor.atPx as [number, number] } : {}),
          ...(anchor.atMm !== undefined ? { atMm: anchor.atMm as [number, number, number] } : {}),
        },
        ...series,
      };
    }
  } else {
    throw badOverride('levelOverride must be an object ({ "shift": 1 }) or a string ("shift=+1", "L5/S1=250,410")');
  }
  try {
    checkLevelOverride(override);
  } catch (error) {
    if (isSpinegradeError(error)) throw badOverride(describeError(error));
    throw error;
  }
  return override;
}

function parseBy(value: unknown): string {
  if (value === undefined) return 'unknown';
  if (typeof value !== 'string' || value.trim() === '' || value.length > 64 || /[\r\n]/.test(value)) {
    throw badCorrection('"by" must be a single line of 1 to 64 characters');
  }
  return value.trim();
}

/** Validates a `POST …/corrections` body; throws `BAD_CORRECTION` / `BAD_OVERRIDE` naming the problem. */
export function parseCorrectionRequest(body: unknown): CorrectionRequest {
  if (!isObject(body)) throw new ServiceError('BAD_REQUEST', 'the body must be a JSON object');
  const by = parseBy(body.by);
  if (body.type === 'levels') {
    if (body.levelOverride === undefined) throw badOverride('a levels correction needs "levelOverride"');
    return { type: 'levels', levelOverride: parseLevelOverrideInput(body.levelOverride), by };
  }
  if (body.type !== 'grade') {
    throw badCorrection(`unknown correction type ${JSON.stringify(body.type ?? null)} (use "levels" or "grade")`);
  }
  const finding = body.finding;
  if (typeof finding !== 'string' || !(CORRECTABLE_FINDINGS as readonly string[]).includes(finding)) {
    throw badCorrection(
      `unknown finding ${JSON.stringify(finding ?? null)} (one of ${CORRECTABLE_FINDINGS.join(', ')})`,
    );
  }
  if (typeof body.level !== 'string' || ivdLabelOfLevel(body.level) === undefined) {
    throw badCorrection(`"level" must be a disc level such as "L4/L5", got ${JSON.stringify(body.level ?? null)}`);
  }
  const value = body.value;
  if (finding === 'pfirrmann') {
    if (!(Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 5)) {
      throw badCorrection('a Pfirrmann grade is a whole number from 1 to 5');
    }
  } else if (finding === 'modic') {
    if (!(Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 3)) {
      throw badCorrection('a Modic type is a whole number from 0 to 3');
    }
  } else if (typeof value !== 'boolean') {
    throw badCorrection(`${finding} is present or not: "value" must be true or false`);
  }
  if (typeof body.reason !== 'string' || body.reason.trim() === '' || body.reason.length > 500) {
    throw badCorrection('a grade override needs a "reason" of 1 to 500 characters');
  }
  let seriesIndex: number | null = null;
  if (body.seriesIndex !== undefined && body.seriesIndex !== null) {
    if (!(Number.isInteger(body.seriesIndex) && (body.seriesIndex as number) >= 0)) {
      throw badCorrection('"seriesIndex" must be a whole number ≥ 0');
    }
    seriesIndex = body.seriesIndex as number;
  }
  return {
    type: 'grade',
    level: body.level,
    finding: finding as CorrectableFinding,
    value: value as number | boolean,
    reason: body.reason.trim(),
    seriesIndex,
    by,
  };
}

/** A fresh correction id. */
export function correctionId(): string {
  return `c-${randomBytes(6).toString('hex')}`;
}

type Disc = DiscFindings | FusedLevelFindings;

function findingValue(disc: Disc, finding: CorrectableFinding): number | boolean {
  if (finding === 'pfirrmann') return disc.pfirrmann.grade;
  if (finding === 'modic') return disc.modic.grade;
  return disc[finding] >= 0.5;
}

/** The discs (and fused level) a grade override applies to in study 0 of `findings`. */
function targets(
  findings: FindingsDocument,
  level: string,
  seriesIndex: number | null,
): { discs: { disc: Disc; series: number | null }[] } {
  const study = findings.studies[0];
  if (!study) throw badCorrection('the findings hold no study');
  if (seriesIndex !== null && seriesIndex >= study.series.length) {
    throw badCorrection(
      `seriesIndex ${seriesIndex} is out of range (the findings have ${study.series.length} graded series)`,
    );
  }
  const discs: { disc: Disc; series: number | null }[] = [];
  study.series.forEach((series, n) => {
    if (seriesIndex !== null && n !== seriesIndex) return;
    for (const disc of series.discs) if (disc.level === level) discs.push({ disc, series: n });
  });
  const fused = study.levels.find((l) => l.level === level);
  if (fused && (seriesIndex === null || (fused.fromSeries.length === 1 && fused.fromSeries[0] === seriesIndex))) {
    discs.push({ disc: fused, series: null });
  }
  if (discs.length === 0) {
    const present = [...new Set(study.series.flatMap((s) => s.discs.map((d) => d.level)))];
    throw badCorrection(
      `no disc at ${level}${seriesIndex === null ? '' : ` in series ${seriesIndex}`} (levels found: ${present.join(', ') || 'none'})`,
    );
  }
  return { discs };
}

/**
 * The current value of a finding at a level (the fused level's, or that series' disc's); throws
 * `BAD_CORRECTION` when the findings have no disc there.
 */
export function currentValue(
  findings: FindingsDocument,
  level: string,
  finding: CorrectableFinding,
  seriesIndex: number | null,
): number | boolean {
  const { discs } = targets(findings, level, seriesIndex);
  const preferred = discs.find((d) => d.series === null) ?? discs[0];
  return findingValue((preferred as { disc: Disc }).disc, finding);
}

function oneHot(length: number, index: number): number[] {
  return Array.from({ length }, (_, n) => (n === index ? 1 : 0));
}

function describeValue(finding: CorrectableFinding, value: number | boolean): string {
  if (typeof value === 'boolean') return value ? 'present' : 'absent';
  return finding === 'pfirrmann' ? `grade ${value}` : `type ${value}`;
}

/**
 * The findings with the applied grade overrides in them, in order: the grade becomes the reader's with
 * certainty (one-hot probabilities; a binary finding 1 or 0), a Pfirrmann override clears
 * `needsReview`, and each series concerned gets a `reader override: …` warning. `base` is not changed.
 */
export function applyGradeCorrections(base: FindingsDocument, corrections: readonly Correction[]): FindingsDocument {
  const findings = structuredClone(base);
  for (const correction of corrections) {
    if (correction.type !== 'grade' || correction.status !== 'applied') continue;
    const { discs } = targets(findings, correction.level, correction.seriesIndex);
    const study = findings.studies[0] as FindingsDocument['studies'][number];
    const touched = new Set<number>();
    for (const { disc, series } of discs) {
      const value = correction.value;
      if (correction.finding === 'pfirrmann') {
        disc.pfirrmann = { grade: value as number, probs: oneHot(5, (value as number) - 1) };
        disc.needsReview = false;
      } else if (correction.finding === 'modic') {
        disc.modic = { grade: value as number, probs: oneHot(4, value as number) };
      } else {
        disc[correction.finding as BinaryFinding] = value ? 1 : 0;
      }
      if (series !== null) touched.add(series);
    }
    const note =
      `reader override: ${correction.finding} at ${correction.level} set to ${describeValue(correction.finding, correction.value)}` +
      `${correction.previous === null ? '' : ` (was ${describeValue(correction.finding, correction.previous)})`}` +
      ` by ${correction.by} at ${correction.at}: ${correction.reason}`;
    for (const n of touched) study.series[n]?.warnings.push(note);
  }
  return findings;
}
