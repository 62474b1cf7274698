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

/** An option's value when it was given as a string. */
export const stringOption = (value: string | boolean | undefined): string | undefined =>
  typeof value === 'string' ? value : undefined;
