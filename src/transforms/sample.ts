/** Sampling a row-major 2D map between its pixels. */

/**
 * Bilinear sample of a row-major `width × height` map at pixel coordinates (x, y), pixel centres at
 * integers; coordinates outside are clamped to the edge.
 */
export function sampleBilinear(map: ArrayLike<number>, width: number, height: number, x: number, y: number): number {
  const cx = Math.min(Math.max(x, 0), width - 1);
  const cy = Math.min(Math.max(y, 0), height - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = Math.min(x0 + 1, width - 1);
  const y1 = Math.min(y0 + 1, height - 1);
  const fx = cx - x0;
  const fy = cy - y0;
  const top = (map[x0 + y0 * width] as number) * (1 - fx) + (map[x1 + y0 * width] as number) * fx;
  const bottom = (map[x0 + y1 * width] as number) * (1 - fx) + (map[x1 + y1 * width] as number) * fx;
  return top * (1 - fy) + bottom * fy;
}
