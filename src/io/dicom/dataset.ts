/** Typed access to a naturalized dcmjs dataset, whose values are loosely typed. */

/** A naturalized DICOM dataset: keyword → value (a scalar, an array, or nested datasets). */
export type NaturalDataset = Record<string, unknown>;

/** The first value of an element, whether dcmjs gave it as a scalar or as a one-element array. */
function firstValue(dataset: NaturalDataset, keyword: string): unknown {
  const value = dataset[keyword];
  return Array.isArray(value) ? value[0] : value;
}

/** A string element, trimmed; undefined when absent or empty. */
export function stringOf(dataset: NaturalDataset, keyword: string): string | undefined {
  const value = firstValue(dataset, keyword);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object') {
    // Person names naturalize to { Alphabetic: '...' }.
    const alphabetic = (value as { Alphabetic?: unknown }).Alphabetic;
    return typeof alphabetic === 'string' && alphabetic.trim() !== '' ? alphabetic.trim() : undefined;
  }
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

/** A numeric element; undefined when absent, empty or not a number. */
export function numberOf(dataset: NaturalDataset, keyword: string): number | undefined {
  const value = firstValue(dataset, keyword);
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  return Number.isFinite(n) ? n : undefined;
}

/** A multi-valued numeric element of exactly `count` values; undefined otherwise. */
export function numbersOf(dataset: NaturalDataset, keyword: string, count: number): number[] | undefined {
  const value = dataset[keyword];
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split('\\') : undefined;
  if (!list || list.length !== count) return undefined;
  const numbers = list.map((v) => (typeof v === 'number' ? v : Number(String(v).trim())));
  return numbers.every(Number.isFinite) ? numbers : undefined;
}

/** All values of a string element (e.g. ImageType, ScanningSequence) joined by `\`. */
export function stringsOf(dataset: NaturalDataset, keyword: string): string | undefined {
  const value = dataset[keyword];
  if (Array.isArray(value)) {
    const parts = value.map((v) => String(v).trim()).filter((v) => v !== '');
    return parts.length > 0 ? parts.join('\\') : undefined;
  }
  return stringOf(dataset, keyword);
}
