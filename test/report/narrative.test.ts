import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FusedLevelFindings, StudyFindings } from '../../src/report/findings.js';
import {
  DRAFT_NOTICE,
  describeImpression,
  describeLevel,
  describeStudy,
  narrativeText,
  sentenceText,
  UNCERTAIN_MARK,
} from '../../src/report/narrative.js';

const THRESHOLD = 0.6;

/** A fused level with Pfirrmann `grade` at probability `p`, and the given binary probabilities. */
function level(
  name: string,
  grade: number,
  p: number,
  extra: Partial<FusedLevelFindings> = {},
  modic: { type: number; p: number } = { type: 0, p: 0.9 },
): FusedLevelFindings {
  const probs = [1, 2, 3, 4, 5].map((g) => (g === grade ? p : (1 - p) / 4));
  const modicProbs = [0, 1, 2, 3].map((t) => (t === modic.type ? modic.p : (1 - modic.p) / 3));
  return {
    level: name,
    ivdLabel: 1,
    pfirrmann: { grade, probs },
    modic: { grade: modic.type, probs: modicProbs },
    needsReview: p < THRESHOLD,
    measures: {
      discHeightAnteriorMm: 8,
      discHeightMiddleMm: 7.5,
      discHeightPosteriorMm: 6.4,
      discHeightMm: 7.3,
      discHeightIndex: 0.31,
      signalIntensityRatio: 0.2,
      nucleusAnnulusContrast: 1.1,
      endplateSignalRatio: 1,
      listhesisMm: 4.2,
      wedgeAngleDeg: 3,
      discAngleDeg: 1,
    },
    endplateUpper: 0.05,
    endplateLower: 0.05,
    spondylolisthesis: 0.05,
    herniation: 0.05,
    bulging: 0.05,
    narrowing: 0.05,
    fromSeries: [0],
    ...extra,
  };
}

test('a level reads as the template states: grade words, grade and p, findings present, Modic, measures', () => {
  const sentence = describeLevel(level('L4/L5', 4, 0.82, { bulging: 0.71 }, { type: 2, p: 0.7 }), THRESHOLD);
  assert.equal(
    sentenceText(sentence),
    'L4/L5: moderate disc degeneration (Pfirrmann 4, p 0.82); disc bulging (p 0.71); Modic type 2 changes (p 0.70); ' +
      'disc height 7.3 mm, DHI 0.31, signal-intensity ratio 0.20.',
  );
  assert.ok(sentence.clauses.every((c) => !c.uncertain));
});

test('every clause whose probability is below the review threshold is marked uncertain, and only those', () => {
  const sentence = describeLevel(
    level('L5/S1', 3, 0.45, { herniation: 0.55, narrowing: 0.45, spondylolisthesis: 0.9 }, { type: 1, p: 0.5 }),
    THRESHOLD,
  );
  const text = sentenceText(sentence);
  assert.ok(text.includes(`mild disc degeneration (Pfirrmann 3, p 0.45) ${UNCERTAIN_MARK}`));
  assert.match(text, /disc herniation \(p 0\.55\) \[uncertain\]/);
  // 0.45 for narrowing: neither present nor confidently absent, so said as possible and uncertain.
  assert.match(text, /possible disc space narrowing \(p 0\.45\) \[uncertain\]/);
  assert.match(text, /spondylolisthesis \(p 0\.90, offset 4\.2 mm\);/);
  assert.doesNotMatch(text, /spondylolisthesis[^;]*\[uncertain\]/);
  assert.match(text, /Modic type 1 changes \(p 0\.50\) \[uncertain\]/);
  // Confidently absent findings (p 0.05) are not mentioned.
  assert.doesNotMatch(text, /bulging|endplate/);
  for (const c of sentence.clauses) {
    assert.equal(c.uncertain, c.probability !== null && c.probability < THRESHOLD, c.text);
  }
});

test('the impression lists degeneration from Pfirrmann 3, Modic changes and findings by level, then the levels to review', () => {
  const levels = [
    level('L3/L4', 2, 0.9),
    level('L4/L5', 4, 0.5, { bulging: 0.8 }, { type: 2, p: 0.8 }),
    level('L5/S1', 5, 0.9, { herniation: 0.7, bulging: 0.65 }),
  ];
  const lines = describeImpression(levels, THRESHOLD).map(sentenceText);
  assert.deepEqual(lines, [
    'Disc degeneration at L4/L5 (moderate, Pfirrmann 4) [uncertain], L5/S1 (severe, Pfirrmann 5).',
    'Modic type 2 changes at L4/L5.',
    'Disc herniation at L5/S1.',
    'Disc bulging at L4/L5, L5/S1.',
    'Flagged for review (Pfirrmann grade below the review threshold): L4/L5.',
  ]);
});

test('a study with nothing of note says so in its impression', () => {
  const lines = describeImpression([level('L1/L2', 1, 0.95), level('L2/L3', 2, 0.9)], THRESHOLD).map(sentenceText);
  assert.deepEqual(lines, [
    'No disc degeneration of Pfirrmann 3 or more, no Modic changes and none of the graded findings at the 2 level(s) graded.',
  ]);
});

test('the plain-text draft has the notice, a line per level in order, the impression and the mark explained', () => {
  const study: StudyFindings = {
    key: 'study-1',
    studyInstanceUid: null,
    sourceFormat: 'nifti',
    series: [],
    levels: [level('L4/L5', 4, 0.82), level('L5/S1', 3, 0.4)],
    skipped: [],
  };
  const text = narrativeText(describeStudy(study, THRESHOLD));
  const lines = text.split('\n');
  assert.equal(lines[0], DRAFT_NOTICE);
  assert.equal(lines[2], 'FINDINGS');
  assert.match(lines[3]!, /^L4\/L5: moderate disc degeneration/);
  assert.match(lines[4]!, /^L5\/S1: mild disc degeneration \(Pfirrmann 3, p 0\.40\) \[uncertain\]/);
  assert.equal(lines[6], 'IMPRESSION');
  assert.match(text, /review threshold 0\.60\.$/);
});
