/** Parsing of option values shared by the commands. */
import { parseArgs } from 'node:util';
import { describeError, SpinegradeError } from '../errors.js';

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
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...options, help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Flags, positionals };
  } catch (error) {
    throw new SpinegradeError(
      'USAGE',
      `${describeError(error)} (try: spinegrade ${command ? `${command} ` : ''}--help)`,
    );
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
