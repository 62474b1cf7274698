import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { commandUsage } from '../../src/cli/main.js';
import { EXIT_CODES } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { tempFolder } from '../helpers/tmp.js';

/** Every command (a `train` kind counts as its own), as typed. */
const COMMANDS = [
  ['inspect'],
  ['analyze'],
  ['convert'],
  ['predict'],
  ['evaluate'],
  ['train', 'prior'],
  ['train', 'localizer'],
  ['train', 'grader'],
  ['train', 'few-shot'],
  ['train', 'levels'],
  ['train', 'grader-v2'],
  ['finetune'],
  ['compare'],
  ['batch'],
  ['worker'],
  ['serve'],
  ['watch'],
] as const;

/** The options a help text lists in its usage lines, each with whether it takes a value. */
function listedOptions(help: string): Map<string, boolean> {
  const usage = help.split('\nOptions')[0] ?? help;
  const options = new Map<string, boolean>();
  for (const match of usage.matchAll(/--([a-z][a-z-]*)(?=([^\n]*))/g)) {
    const name = match[1] as string;
    const after = match[2] ?? '';
    const takesValue = /^ +[^\s[\]|-]/.test(after);
    options.set(name, (options.get(name) ?? false) || takesValue);
  }
  return options;
}

for (const command of COMMANDS) {
  const name = command.join(' ');
  test(`${name} --help prints that command's help, and every option it lists is accepted`, () => {
    const run = runCli([...command, '--help']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`spinegrade ${name}\\b`));
    for (const other of COMMANDS.filter((c) => c[0] !== command[0]))
      assert.doesNotMatch(
        run.stdout,
        new RegExp(`^ {2}spinegrade ${other.join(' ')} `, 'm'),
        `${name} help shows ${other}`,
      );
    const options = listedOptions(run.stdout);
    assert.ok(options.size > 0, `${name} lists its options`);
    const args = [...options].flatMap(([option, takesValue]) => (takesValue ? [`--${option}`, 'x'] : [`--${option}`]));
    const all = runCli([...command, ...args, '--help']);
    assert.equal(all.status, 0, `${name} ${args.join(' ')}: ${all.stderr}`);
  });

  test(`${name} rejects an option it does not list with our own message`, () => {
    const run = runCli([...command, '--no-such-option', 'x']);
    assert.equal(run.status, EXIT_CODES.USAGE, run.stderr);
    assert.match(run.stderr, new RegExp(`^spinegrade: spinegrade ${name} has no option --no-such-option; it takes --`));
    assert.match(run.stderr, new RegExp(`\\(try: spinegrade ${name} --help\\)`));
    assert.doesNotMatch(run.stderr, /Unknown option|ERR_PARSE_ARGS|To specify a positional/);
  });
}

test('the main help lists the same commands as the per-command helps', () => {
  const main = runCli(['--help']);
  for (const command of COMMANDS) assert.match(main.stdout, new RegExp(`^ {2}spinegrade ${command.join(' ')}\\b`, 'm'));
  assert.equal(commandUsage('no-such-command'), undefined);
});

test('--engine is accepted where it is listed (analyze, predict, evaluate) and refused by inspect', () => {
  for (const command of ['analyze', 'predict', 'evaluate']) {
    assert.match(commandUsage(command) ?? '', /--engine auto\|onnx\|tfjs/, command);
    assert.equal(runCli([command, '--engine', 'onnx', '--help']).status, 0, command);
  }
  assert.doesNotMatch(commandUsage('inspect') ?? '', /--engine/);
  const run = runCli(['inspect', 'x', '--engine', 'onnx']);
  assert.equal(run.status, EXIT_CODES.USAGE);
  assert.match(run.stderr, /spinegrade inspect has no option --engine/);
  const bad = runCli(['predict', 'x', '--out', 'y.jsonl', '--engine', 'fast']);
  assert.equal(bad.status, EXIT_CODES.USAGE);
  assert.match(bad.stderr, /--engine wants auto, onnx, tfjs, got "fast"/);
});

test('a missing value and a value given to a switch get our own messages', () => {
  const missing = runCli(['predict', 'data', '--out']);
  assert.equal(missing.status, EXIT_CODES.USAGE);
  assert.match(missing.stderr, /^spinegrade: --out needs a value \(try: spinegrade predict --help\)/);
  const swallowed = runCli(['predict', 'data', '--out', '--overwrite']);
  assert.match(swallowed.stderr, /--out needs a value/);
  const switchValue = runCli(['analyze', 'x', '--json=yes']);
  assert.equal(switchValue.status, EXIT_CODES.USAGE);
  assert.match(switchValue.stderr, /--json takes no value/);
});

test('predict --out and evaluate --json refuse an existing file (exit 16) before any work, unless --overwrite', async (t) => {
  const folder = await tempFolder(t);
  const existing = join(folder, 'taken');
  const mini = 'test/fixtures/datasets/spider-2d-mini';
  for (const args of [
    ['predict', mini, '--out', existing, '--cross-validate', '3', '--localizer', 'none'],
    ['evaluate', mini, '--json', existing, '--cross-validate', '3', '--localizer', 'none', '--resamples', '20'],
  ]) {
    await writeFile(existing, 'keep me\n');
    const run = runCli(args);
    assert.equal(run.status, EXIT_CODES.OUTPUT_ERROR, `${args[0]}: ${run.stderr}`);
    assert.match(run.stderr, /output already exists \(pass --overwrite to replace it\)/);
    assert.equal(await readFile(existing, 'utf8'), 'keep me\n', `${args[0]} left the file alone`);
    const again = runCli([...args, '--overwrite']);
    assert.equal(again.status, 0, `${args[0]} --overwrite: ${again.stderr}`);
  }
});

test("the README's command table lists the options each command's --help lists", async () => {
  const readme = await readFile('README.md', 'utf8');
  for (const command of COMMANDS) {
    const name = command.join(' ');
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    assert.ok(row, `the README's command table has ${name}`);
    const inReadme = [...row.matchAll(/`--([a-z-]+)`/g)].map((m) => m[1]).sort();
    const inHelp = [...listedOptions(runCli([...command, '--help']).stdout).keys()].sort();
    assert.deepEqual(inReadme, inHelp, name);
  }
});

test('train commands refuse to replace a model (exit 16) unless --overwrite', async (t) => {
  const folder = await tempFolder(t);
  await writeFile(join(folder, 'model.json'), '{}\n');
  await writeFile(join(folder, 'few-shot.json'), '{}\n');
  for (const kind of ['prior', 'localizer', 'grader', 'few-shot']) {
    const run = runCli(['train', kind, '--data', 'no-such-data', '--out', folder]);
    assert.equal(run.status, EXIT_CODES.OUTPUT_ERROR, `${kind}: ${run.stderr}`);
    assert.match(run.stderr, /output already holds (model|few-shot)\.json \(pass --overwrite to replace it\)/);
    const replacing = runCli(['train', kind, '--data', 'no-such-data', '--out', folder, '--overwrite']);
    assert.notEqual(replacing.status, EXIT_CODES.OUTPUT_ERROR, `${kind} --overwrite goes on (to the missing data)`);
  }
});
