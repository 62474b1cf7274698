/** Parsing of option values shared by the commands. */
import { parseArgs } from 'node:util';
import { SpinegradeError } from '../errors.js';
import { ENGINE_CHOICES, type EngineChoice, isEngineChoice } from '../models/engine.js';

/** Option definitions of a command (`--help` and `--quiet` are always added). */
export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** Parsed option values. */
export type Flags = Record<string, string | boolean | undefined>;

/**
 * Parses a command's arguments strictly; an unknown or malformed option is a usage error that
 * points to the help of `command` (or the main help).
 */
export function parseCommandLine(
  args: readonly string[],
  options: OptionSpec,
  command?: string,
): { values: Flags; positionals: string[] } {
  const all: OptionSpec = { ...options, help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean' } };
  const hint = `(try: spinegrade ${command ? `${command} ` : ''}--help)`;
  checkOptionTokens(args, all, command, hint);
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: all, allowPositionals: true, strict: true });
    return { values: values as Flags, positionals };
  } catch {
    throw new SpinegradeError('USAGE', `the options could not be read ${hint}`);
  }
}

/**
 * Our own message for each option problem (never Node's parser text): an option the command does not
 * take, a value missing, or a value given to a switch.
 */
function checkOptionTokens(
  args: readonly string[],
  options: OptionSpec,
  command: string | undefined,
  hint: string,
): void {
  const { tokens } = parseArgs({ args: [...args], options, allowPositionals: true, strict: false, tokens: true });
  const known = Object.keys(options)
    .filter((name) => name !== 'help' && name !== 'quiet')
    .map((name) => `--${name}`);
  const where = command ? `spinegrade ${command}` : 'this command';
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = options[token.name];
    const written = token.rawName;
    if (!spec) {
      const takes = known.length > 0 ? `; it takes ${known.join(', ')}` : '; it takes no options';
      throw new SpinegradeError('USAGE', `${where} has no option ${written}${takes} ${hint}`);
    }
    if (spec.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))))
      throw new SpinegradeError('USAGE', `${written} needs a value ${hint}`);
    if (spec.type === 'boolean' && token.value !== undefined)
      throw new SpinegradeError('USAGE', `${written} takes no value ${hint}`);
  }
}

/**
 * The start of a command that takes options only: parses `args` strictly (see {@link parseCommandLine});
 * undefined when `--help` was asked for (the caller prints its usage); a positional argument is a usage
 * error, followed by `hint` (say, `(try: spinegrade serve --help)`).
 */
export function parseOptionsOnly(
  args: readonly string[],
  options: OptionSpec,
  command: string | undefined,
  hint: string,
): { values: Flags; str: (key: string) => string | undefined } | undefined {
  const { values, positionals } = parseCommandLine(args, options, command);
  if (values.help) return undefined;
  if (positionals.length > 0) throw new SpinegradeError('USAGE', `unexpected argument "${positionals[0]}" ${hint}`);
  return { values, str: (key) => stringOption(values[key]) };
}

/** An option's value when it was given as a string. */
export const stringOption = (value: string | boolean | undefined): string | undefined =>
  typeof value === 'string' ? value : undefined;

/** Parses a positive integer option. */
export function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new SpinegradeError('USAGE', `${name} wants a positive whole number, got "${text}"`);
  return value;
}

/** The `--engine` value, checked; undefined when the option is absent. A bad value is a usage error. */
export function engineOption(text: string | undefined): EngineChoice | undefined {
  if (text === undefined) return undefined;
  if (!isEngineChoice(text))
    throw new SpinegradeError('USAGE', `--engine wants ${ENGINE_CHOICES.join(', ')}, got "${text}"`);
  return text;
}
