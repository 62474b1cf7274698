import assert from 'node:assert/strict';
import { test } from 'node:test';
import { terminalProgress } from '../../src/cli/progress.js';

/** A stderr stand-in that keeps what is written. */
function stream(isTTY: boolean): { written: string[]; stream: NodeJS.WriteStream } {
  const written: string[] = [];
  const fake = {
    isTTY,
    write: (text: string) => {
      written.push(text);
      return true;
    },
  };
  return { written, stream: fake as unknown as NodeJS.WriteStream };
}

test('off a terminal, progress is plain lines at an interval and a last line at the end; --quiet writes nothing', () => {
  const log = stream(false);
  const progress = terminalProgress('predicting', log.stream, false, 0);
  progress.update(1, 4);
  progress.update(4, 4);
  progress.finish();
  assert.equal(log.written.length, 2, log.written.join(''));
  assert.match(log.written[0] as string, /^predicting: 1\/4 \(25%\) \d+\.\ds\n$/);
  assert.match(log.written[1] as string, /^predicting: 4\/4 \(100%\) \d+\.\ds\n$/);
  assert.ok(
    log.written.every((line) => !line.includes('\r')),
    'no carriage returns in a log',
  );

  const quiet = stream(false);
  const silent = terminalProgress('predicting', quiet.stream, true, 0);
  silent.update(1, 2);
  silent.finish();
  assert.deepEqual(quiet.written, []);

  const short = stream(false);
  const quick = terminalProgress('predicting', short.stream);
  quick.update(1, 2);
  quick.update(2, 2);
  quick.finish();
  assert.deepEqual(short.written, [], 'a run shorter than the interval stays silent');
});

test('on a terminal, the progress line is redrawn in place', () => {
  const tty = stream(true);
  const progress = terminalProgress('training', tty.stream);
  progress.update(2, 2);
  progress.finish();
  assert.match(tty.written[0] as string, /^\rtraining \[#{24}\] 2\/2 /);
  assert.equal(tty.written.at(-1), '\n');
});
