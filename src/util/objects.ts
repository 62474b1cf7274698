/** Small helpers for plain objects. */

/** A copy of an object without its undefined properties (keeps JSON and equality tidy). */
export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
