/**
 * A runtime check of `findings.json` against its schema (`report/findings.ts`, docs/findings.md): every
 * field present with the right type, probabilities in [0, 1] that sum to 1, level names that match
 * their IVD labels, fused levels that point at existing series. Used by the tests and by anything that
 * accepts a findings document from outside (a server, a viewer).
 */

import { BINARY_FINDINGS } from '../disc/findings.js';
import { levelOfIvdLabel } from '../disc/levels.js';
import { SpinegradeError } from '../errors.js';
import { FINDINGS_SCHEMA, type FindingsDocument } from '../report/findings.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isProbability = (v: unknown): boolean => isNumber(v) && v >= 0 && v <= 1;
const isPoint = (v: unknown, size = 2): boolean => Array.isArray(v) && v.length === size && v.every(isNumber);
const isStringOrNull = (v: unknown): boolean => typeof v === 'string' || v === null;

/** Sums of probabilities may be off by rounding (files keep 6 decimals). */
const SUM_TOLERANCE = 1e-4;

class Checker {
  readonly problems: string[] = [];

  report(path: string, problem: string): void {
    this.problems.push(`${path}: ${problem}`);
  }

  check(ok: boolean, path: string, problem: string): boolean {
    if (!ok) this.report(path, problem);
    return ok;
  }

  object(value: unknown, path: string): value is Json {
    return this.check(isObject(value), path, 'must be an object');
  }

  array(value: unknown, path: string): value is unknown[] {
    return this.check(Array.isArray(value), path, 'must be an array');
  }

  string(value: unknown, path: string): void {
    this.check(typeof value === 'string', path, 'must be a string');
  }

  stringOrNull(value: unknown, path: string): void {
    this.check(isStringOrNull(value), path, 'must be a string or null');
  }

  strings(value: unknown, path: string): void {
    if (this.array(value, path)) value.forEach((v, n) => this.string(v, `${path}[${n}]`));
  }

  integer(value: unknown, path: string, min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY): void {
    this.check(
      Number.isInteger(value) && (value as number) >= min && (value as number) <= max,
      path,
      `must be a whole number${Number.isFinite(min) ? ` from ${min}` : ''}${Number.isFinite(max) ? ` to ${max}` : ''}`,
    );
  }

  point(value: unknown, path: string, size = 2): void {
    this.check(isPoint(value, size), path, `must be ${size === 2 ? '[x, y]' : '[x, y, z]'} numbers`);
  }

  points(value: unknown, path: string): void {
    if (this.array(value, path)) value.forEach((p, n) => this.point(p, `${path}[${n}]`));
  }

  graded(value: unknown, path: string, classes: readonly number[]): void {
    if (!this.object(value, path)) return;
    this.check(classes.includes(value.grade as number), `${path}.grade`, `must be one of ${classes.join(', ')}`);
    const probs = value.probs;
    if (
      !this.check(
        Array.isArray(probs) && probs.length === classes.length && probs.every(isProbability),
        `${path}.probs`,
        `must be ${classes.length} probabilities`,
      )
    )
      return;
    const sum = (probs as number[]).reduce((s, p) => s + p, 0);
    this.check(Math.abs(sum - 1) <= SUM_TOLERANCE, `${path}.probs`, `must sum to 1 (they sum to ${sum})`);
    const top = Math.max(...(probs as number[]));
    this.check(
      (probs as number[])[classes.indexOf(value.grade as number)] === top,
      `${path}.grade`,
      'must be the most probable class',
    );
  }

  /** The fields shared by a series disc and a fused level. */
  discCore(disc: Json, path: string): void {
    this.string(disc.level, `${path}.level`);
    this.integer(disc.ivdLabel, `${path}.ivdLabel`, 0, 17);
    if (typeof disc.level === 'string' && Number.isInteger(disc.ivdLabel)) {
      let expected: string | undefined;
      try {
        expected = levelOfIvdLabel(disc.ivdLabel as number);
      } catch {
        expected = undefined;
      }
      this.check(
        expected === disc.level,
        `${path}.level`,
        `"${disc.level}" is not the level of IVD label ${disc.ivdLabel}`,
      );
    }
    this.graded(disc.pfirrmann, `${path}.pfirrmann`, [1, 2, 3, 4, 5]);
    this.graded(disc.modic, `${path}.modic`, [0, 1, 2, 3]);
    this.check(typeof disc.needsReview === 'boolean', `${path}.needsReview`, 'must be true or false');
    for (const finding of BINARY_FINDINGS)
      this.check(isProbability(disc[finding]), `${path}.${finding}`, 'must be a probability');
    if (this.object(disc.measures, `${path}.measures`)) {
      for (const [name, v] of Object.entries(disc.measures))
        this.check(v === null || isNumber(v), `${path}.measures.${name}`, 'must be a number or null');
      this.check(isNumber(disc.measures.discHeightMm), `${path}.measures.discHeightMm`, 'must be a number');
    }
  }

  disc(value: unknown, path: string): void {
    if (!this.object(value, path)) return;
    this.discCore(value, path);
    if (value.shap !== undefined && this.object(value.shap, `${path}.shap`)) {
      for (const [finding, features] of Object.entries(value.shap)) {
        if (this.object(features, `${path}.shap.${finding}`)) {
          for (const [feature, v] of Object.entries(features))
            this.check(isNumber(v), `${path}.shap.${finding}.${feature}`, 'must be a number');
        }
      }
    }
    if (value.classicalPfirrmann !== undefined)
      this.graded(value.classicalPfirrmann, `${path}.classicalPfirrmann`, [1, 2, 3, 4, 5]);
    if (this.object(value.geometry, `${path}.geometry`)) {
      const g = value.geometry;
      this.point(g.centerPx, `${path}.geometry.centerPx`);
      this.point(g.posteriorPx, `${path}.geometry.posteriorPx`);
      this.points(g.outlinePx, `${path}.geometry.outlinePx`);
      this.point(g.centerMm, `${path}.geometry.centerMm`, 3);
      this.point(g.posteriorMm, `${path}.geometry.posteriorMm`, 3);
    }
  }

  series(value: unknown, path: string): void {
    if (!this.object(value, path)) return;
    this.stringOrNull(value.seriesInstanceUid, `${path}.seriesInstanceUid`);
    this.stringOrNull(value.seriesDescription, `${path}.seriesDescription`);
    this.check(
      value.seriesNumber === null || isNumber(value.seriesNumber),
      `${path}.seriesNumber`,
      'must be a number or null',
    );
    this.string(value.sequence, `${path}.sequence`);
    this.string(value.selection, `${path}.selection`);
    this.integer(value.midSagittalSlice, `${path}.midSagittalSlice`, 0);
    this.stringOrNull(value.midSagittalSopInstanceUid, `${path}.midSagittalSopInstanceUid`);
    this.check(
      isPoint(value.sliceSize) && (value.sliceSize as number[]).every((v) => Number.isInteger(v) && v > 0),
      `${path}.sliceSize`,
      'must be [width, height] in whole pixels',
    );
    this.check(
      isPoint(value.pixelSpacing) && (value.pixelSpacing as number[]).every((v) => v > 0),
      `${path}.pixelSpacing`,
      'must be two positive numbers (mm)',
    );
    this.integer(value.slicesGraded, `${path}.slicesGraded`, 1);
    if (this.object(value.levelVote, `${path}.levelVote`)) {
      this.integer(value.levelVote.slices, `${path}.levelVote.slices`, 0);
      this.integer(value.levelVote.agreeing, `${path}.levelVote.agreeing`, 0);
      this.integer(value.levelVote.offsetApplied, `${path}.levelVote.offsetApplied`);
    }
    this.integer(value.levelOverride, `${path}.levelOverride`);
    this.check(
      typeof value.possibleTransitional === 'boolean',
      `${path}.possibleTransitional`,
      'must be true or false',
    );
    this.strings(value.warnings, `${path}.warnings`);
    if (this.array(value.discs, `${path}.discs`)) value.discs.forEach((d, n) => this.disc(d, `${path}.discs[${n}]`));
    if (this.array(value.vertebrae, `${path}.vertebrae`)) {
      value.vertebrae.forEach((v, n) => {
        const at = `${path}.vertebrae[${n}]`;
        if (!this.object(v, at)) return;
        this.stringOrNull(v.name, `${at}.name`);
        this.point(v.centerPx, `${at}.centerPx`);
        this.points(v.outlinePx, `${at}.outlinePx`);
      });
    }
  }

  study(value: unknown, path: string): void {
    if (!this.object(value, path)) return;
    this.string(value.key, `${path}.key`);
    this.stringOrNull(value.studyInstanceUid, `${path}.studyInstanceUid`);
    this.check(
      ['dicom', 'nifti', 'metaimage', 'png', 'jpeg'].includes(value.sourceFormat as string),
      `${path}.sourceFormat`,
      'must be dicom, nifti, metaimage, png or jpeg',
    );
    const seriesCount = Array.isArray(value.series) ? value.series.length : 0;
    if (this.array(value.series, `${path}.series`))
      value.series.forEach((s, n) => this.series(s, `${path}.series[${n}]`));
    if (this.array(value.levels, `${path}.levels`)) {
      value.levels.forEach((level, n) => {
        const at = `${path}.levels[${n}]`;
        if (!this.object(level, at)) return;
        this.discCore(level, at);
        this.check(
          Array.isArray(level.fromSeries) &&
            level.fromSeries.length > 0 &&
            level.fromSeries.every((i) => Number.isInteger(i) && (i as number) >= 0 && (i as number) < seriesCount),
          `${at}.fromSeries`,
          'must list the indices of the series it was fused from',
        );
      });
    }
    if (this.array(value.skipped, `${path}.skipped`)) {
      value.skipped.forEach((s, n) => {
        const at = `${path}.skipped[${n}]`;
        if (!this.object(s, at)) return;
        this.stringOrNull(s.seriesInstanceUid, `${at}.seriesInstanceUid`);
        this.stringOrNull(s.seriesDescription, `${at}.seriesDescription`);
        this.strings(s.reasons, `${at}.reasons`);
      });
    }
  }

  model(value: unknown, path: string): void {
    if (!this.object(value, path)) return;
    this.string(value.dir, `${path}.dir`);
    this.string(value.variant, `${path}.variant`);
    this.strings(value.accuracy, `${path}.accuracy`);
    if (value.engine !== undefined) {
      this.check(value.engine === 'onnx' || value.engine === 'tfjs', `${path}.engine`, 'must be "onnx" or "tfjs"');
    }
  }

  document(value: unknown): void {
    if (!this.object(value, 'findings')) return;
    this.check(value.schema === FINDINGS_SCHEMA, 'schema', `must be "${FINDINGS_SCHEMA}"`);
    this.check(
      typeof value.version === 'string' && /^1\.\d+\.\d+$/.test(value.version),
      'version',
      'must be a 1.x.y version',
    );
    this.check(
      typeof value.createdAt === 'string' && !Number.isNaN(Date.parse(value.createdAt)),
      'createdAt',
      'must be an ISO date',
    );
    if (this.object(value.software, 'software')) {
      this.check(value.software.name === 'spinegrade', 'software.name', 'must be "spinegrade"');
      this.string(value.software.version, 'software.version');
    }
    this.string(value.disclaimer, 'disclaimer');
    this.string(value.credit, 'credit');
    if (this.object(value.models, 'models')) {
      this.model(value.models.grader, 'models.grader');
      this.model(value.models.localizer, 'models.localizer');
    }
    this.check(isProbability(value.reviewThreshold), 'reviewThreshold', 'must be a number from 0 to 1');
    if (this.array(value.studies, 'studies')) value.studies.forEach((s, n) => this.study(s, `studies[${n}]`));
  }
}

/** Every way `value` departs from the findings schema, one line each (`path: problem`); empty when it is valid. */
export function validateFindings(value: unknown): string[] {
  const checker = new Checker();
  checker.document(value);
  return checker.problems;
}

/** True when `value` is a valid findings document. */
export function isFindingsDocument(value: unknown): value is FindingsDocument {
  return validateFindings(value).length === 0;
}

/** Returns `value` as a findings document, or throws `INVALID_HEADER` naming its first problems. */
export function assertFindingsDocument(value: unknown, source?: string): FindingsDocument {
  const problems = validateFindings(value);
  if (problems.length > 0) {
    const more = problems.length > 3 ? ` and ${problems.length - 3} more` : '';
    throw new SpinegradeError(
      'INVALID_HEADER',
      `not a valid findings document: ${problems.slice(0, 3).join('; ')}${more}`,
      source,
    );
  }
  return value as FindingsDocument;
}
