/**
 * The dataset tables' CSV reader (RFC 4180, by csv-parse): quoted fields (with `""` for a quote, and
 * embedded commas and line breaks), CRLF, LF or CR line ends, an optional UTF-8 byte-order mark.
 * Problems are reported as a {@link SpinegradeError} `INVALID_HEADER` naming the file and line.
 */
import { readFile } from 'node:fs/promises';
import { CsvError, parse } from 'csv-parse/sync';
import { SpinegradeError } from '../errors.js';
import { fileSystemError } from '../io/binary.js';

/** A parsed table: its column names and one record per data row, keyed by column name. */
export interface CsvTable {
  /** Column names from the header row, trimmed, in file order. */
  readonly columns: readonly string[];
  readonly rows: readonly Readonly<Record<string, string>>[];
  /** The 1-based line of the file on which each row starts (parallel to `rows`). */
  readonly lines: readonly number[];
}

/** Options for {@link parseCsv} and {@link readCsv}. */
export interface CsvOptions {
  /** The file the text came from, named in error messages. */
  source?: string;
  /** Columns that must be in the header; a missing one is an `INVALID_HEADER` error. */
  required?: readonly string[];
}

/**
 * The lines a record's raw text (from csv-parse) covers: it starts with one character per blank line
 * before the record and ends with one character of the record's own line end; the line breaks between
 * are inside quoted fields, where a line is counted at each LF. Returns the lines before the record
 * proper, and all lines.
 */
function linesOfRaw(raw: string): { blank: number; all: number } {
  const blank = /^[\r\n]*/.exec(raw)?.[0].length ?? 0;
  const body = raw.slice(blank);
  const end = /[\r\n]$/.test(body) ? 1 : 0;
  return { blank, all: blank + end + (body.slice(0, body.length - end).match(/\n/g)?.length ?? 0) };
}

/** Splits CSV text into rows of raw fields, each with the line it starts on (blank lines are no rows). */
function splitRecords(text: string, source: string | undefined): { fields: string[]; line: number }[] {
  // csv-parse counts lines differently inside quoted fields, so lines are counted here from each
  // record's raw text.
  const records: { fields: string[]; line: number }[] = [];
  let nextLine = 1;
  try {
    parse(text, {
      bom: true,
      raw: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      skip_empty_lines: true,
      // With `raw`, csv-parse hands each record to `on_record` wrapped with its raw text.
      on_record: (({ record, raw }: { record: string[]; raw: string }) => {
        const lines = linesOfRaw(raw);
        // A line holding only `""` is blank too.
        if (!(record.length === 1 && record[0] === '')) records.push({ fields: record, line: nextLine + lines.blank });
        nextLine += lines.all;
        return null;
      }) as unknown as (record: string[]) => null,
    });
  } catch (error) {
    throw csvProblem(error, nextLine, source);
  }
  return records;
}

/** A csv-parse error as the error table's `INVALID_HEADER`, on the line where the problem is. */
function csvProblem(error: unknown, recordStart: number, source: string | undefined): unknown {
  if (!(error instanceof CsvError)) return error;
  const raw = typeof error.raw === 'string' ? error.raw : '';
  const lines = linesOfRaw(raw);
  const line = recordStart + lines.all;
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new SpinegradeError(
        'INVALID_HEADER',
        `line ${recordStart + lines.blank}: a quoted field is never closed (missing ")`,
        source,
      );
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE': {
      const got = /got "(.*)" at line/su.exec(error.message)?.[1] ?? '';
      return new SpinegradeError(
        'INVALID_HEADER',
        `line ${line}: text after the closing quote of a quoted field (${JSON.stringify(got)})`,
        source,
      );
    }
    case 'INVALID_OPENING_QUOTE':
      return new SpinegradeError(
        'INVALID_HEADER',
        `line ${line}: a quote inside an unquoted field (quote the whole field and double the quote)`,
        source,
      );
    default:
      return new SpinegradeError('INVALID_HEADER', `line ${line}: ${error.message}`, source);
  }
}

/** Parses CSV text with a header row into records keyed by column name. */
export function parseCsv(text: string, options: CsvOptions = {}): CsvTable {
  const { source } = options;
  const records = splitRecords(text, source);
  const header = records.shift();
  if (!header) throw new SpinegradeError('INVALID_HEADER', 'the CSV file is empty (no header row)', source);
  const columns = header.fields.map((name) => name.trim());
  const seen = new Set<string>();
  for (const name of columns) {
    if (seen.has(name)) {
      throw new SpinegradeError('INVALID_HEADER', `line ${header.line}: column "${name}" appears twice`, source);
    }
    seen.add(name);
  }
  const missing = (options.required ?? []).filter((name) => !seen.has(name));
  if (missing.length > 0) {
    throw new SpinegradeError(
      'INVALID_HEADER',
      `line ${header.line}: missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} ` +
        `(the header has ${columns.map((c) => `"${c}"`).join(', ')})`,
      source,
    );
  }
  const rows: Record<string, string>[] = [];
  const lines: number[] = [];
  for (const record of records) {
    if (record.fields.length !== columns.length) {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `line ${record.line}: ${record.fields.length} field${record.fields.length === 1 ? '' : 's'}, ` +
          `but the header has ${columns.length} columns`,
        source,
      );
    }
    rows.push(Object.fromEntries(columns.map((name, c) => [name, record.fields[c] as string])));
    lines.push(record.line);
  }
  return { columns, rows, lines };
}

/** Reads and parses a UTF-8 CSV file (see {@link parseCsv}); file-system problems become SpinegradeErrors. */
export async function readCsv(path: string, options: Omit<CsvOptions, 'source'> = {}): Promise<CsvTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw fileSystemError(error, path);
  }
  return parseCsv(text, { ...options, source: path });
}
