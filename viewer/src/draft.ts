/**
 * The draft report in words (src/report/narrative.ts, the same templates as report.html and the SR)
 * of the open study, with a button that copies it as plain text for the reader's own report.
 */
import { describeStudy, narrativeText } from '../../src/report/narrative.js';
import { byId } from './dom.js';
import { fail, say } from './messages.js';
import { currentStudy } from './state.js';

/** The plain-text draft of the open study's findings, or null when there are none. */
export function draftOfOpenStudy(): string | null {
  const findings = currentStudy()?.findings?.findings;
  const study = findings?.studies[0];
  return findings && study ? narrativeText(describeStudy(study, findings.reviewThreshold)) : null;
}

/** Shows the open study's draft (or that there is none yet) and enables the copy button. */
export function renderDraft(): void {
  const text = draftOfOpenStudy();
  const box = byId<HTMLTextAreaElement>('draft-text');
  box.value = text ?? '';
  box.placeholder = 'The draft appears here when the analysis is done.';
  byId<HTMLButtonElement>('draft-copy').disabled = text === null;
}

async function copyDraft(): Promise<void> {
  const text = draftOfOpenStudy();
  if (text === null) return;
  try {
    await navigator.clipboard.writeText(text);
    say('Draft report copied: check every statement, above all those marked [uncertain].', 'ok');
  } catch (error) {
    // Without clipboard permission, select the text so that the reader can copy it by hand.
    const box = byId<HTMLTextAreaElement>('draft-text');
    box.focus();
    box.select();
    fail(error, 'Copying the draft (the text is selected: press Ctrl+C)');
  }
}

/** Wires the copy button. */
export function bindDraft(): void {
  byId('draft-copy').addEventListener('click', () => void copyDraft());
}
