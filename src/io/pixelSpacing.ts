/** The `X[,Y]` pixel-spacing text of `--pixel-spacing` and of batch manifests. */
import { SpinegradeError } from '../errors.js';

/**
 * Parses `--pixel-spacing X[,Y]` (mm): X between columns (horizontal), Y between rows (vertical);
 * one number means square pixels.
 */
export function parsePixelSpacing(text: string | undefined): [number, number] | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((p) => Number(p.trim()));
  const x = parts[0] ?? Number.NaN;
  const y = parts[1] ?? x;
  if (parts.length > 2 || !(x > 0) || !(y > 0) || !Number.isFinite(x) || !Number.isFinite(y)) {
    throw new SpinegradeError(
      'USAGE',
      `--pixel-spacing wants one or two positive numbers in mm (X[,Y]), got "${text}"`,
    );
  }
  return [x, y];
}
