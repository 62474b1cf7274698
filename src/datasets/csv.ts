/**
 * A small RFC 4180 CSV reader for the dataset tables: quoted fields (with `""` for a quote, and
 * embedded commas and line breaks), CRLF or LF line ends, an optional UTF-8 byte-order mark.
 * Problems are reported as a {@link SpinegradeError} `INVALID_HEADER` naming the file and line.
 */
import { readFile } from 'node:fs/promises';
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

/** Splits CSV text into rows of raw fields, each with the line it starts on. */
function splitRecords(text: string, source: string | undefined): { fields: string[]; line: number }[] {
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let n = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let atFieldStart = true;
  const endRecord = (): void => {
    fields.push(field);
    // A blank line (one empty field) is no record.
    if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: recordLine });
    fields = [];
    field = '';
    atFieldStart = true;
  };
  while (n < text.length) {
    const c = text[n] as string;
    if (c === '"' && atFieldStart) {
      const quoteLine = line;
      n++;
      for (;;) {
        if (n >= text.length) {
          throw new SpinegradeError(
            'INVALID_HEADER',
            `line ${quoteLine}: a quoted field is never closed (missing ")`,
            source,
          );
        }
        const q = text[n] as string;
        if (q === '"') {
          if (text[n + 1] === '"') {
            field += '"';
            n += 2;
            continue;
          }
          n++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        n++;
      }
      const next = text[n];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new SpinegradeError(
          'INVALID_HEADER',
          `line ${line}: text after the closing quote of a quoted field (${JSON.stringify(next)})`,
          source,
        );
      }
      atFieldStart = false;
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
      n++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      n += c === '\r' && text[n + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    if (c === '"') {
      throw new SpinegradeError(
        'INVALID_HEADER',
        `line ${line}: a quote inside an unquoted field (quote the whole field and double the quote)`,
        source,
      );
    }
    field += c;
    atFieldStart = false;
    n++;
  }
  if (!atFieldStart || fields.length > 0 || field !== '') endRecord();
  return records;
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
