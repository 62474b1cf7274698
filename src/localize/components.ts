/** Connected components and their outlines on binary masks (row-major, `mask[x + y * width]`). */

/** One connected component. */
export interface Component {
  /** Pixel indices (`x + y * width`). */
  readonly pixels: number[];
  /** Bounding box, inclusive. */
  readonly minX: number;
  readonly maxX: number;
  readonly minY: number;
  readonly maxY: number;
  /** Centroid in pixels. */
  readonly centroid: [number, number];
}

/** 8-connected components of the pixels where `isOn(index)` holds, largest first. */
export function connectedComponents(width: number, height: number, isOn: (index: number) => boolean): Component[] {
  const seen = new Uint8Array(width * height);
  const components: Component[] = [];
  const stack: number[] = [];
  for (let start = 0; start < width * height; start++) {
    if (seen[start] || !isOn(start)) continue;
    const pixels: number[] = [];
    let minX = width;
    let maxX = -1;
    let minY = height;
    let maxY = -1;
    let sumX = 0;
    let sumY = 0;
    seen[start] = 1;
    stack.push(start);
    while (stack.length > 0) {
      const index = stack.pop() as number;
      pixels.push(index);
      const x = index % width;
      const y = (index - x) / width;
      sumX += x;
      sumY += y;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width || (dx === 0 && dy === 0)) continue;
          const next = nx + ny * width;
          if (!seen[next] && isOn(next)) {
            seen[next] = 1;
            stack.push(next);
          }
        }
      }
    }
    components.push({ pixels, minX, maxX, minY, maxY, centroid: [sumX / pixels.length, sumY / pixels.length] });
  }
  return components.sort((a, b) => b.pixels.length - a.pixels.length);
}

// Moore neighbourhood, clockwise in image coordinates (y down), starting west.
const NEIGHBOURS: readonly [number, number][] = [
  [-1, 0],
  [-1, -1],
  [0, -1],
  [1, -1],
  [1, 0],
  [1, 1],
  [0, 1],
  [-1, 1],
];

/**
 * The outer boundary of a component as a closed polygon of boundary pixel centres, traced
 * clockwise by Moore-neighbour tracing (Jacob's stopping criterion).
 */
export function traceOutline(component: Component, width: number): [number, number][] {
  const inside = new Set(component.pixels);
  const on = (x: number, y: number): boolean => inside.has(x + y * width) && x >= 0 && x < width;
  // Start at the top-most, then left-most pixel: its west neighbour is outside.
  let start = component.pixels[0] as number;
  for (const p of component.pixels) if (p < start) start = p;
  const sx = start % width;
  const sy = (start - sx) / width;
  if (component.pixels.length === 1) return [[sx, sy]];
  const outline: [number, number][] = [[sx, sy]];
  let x = sx;
  let y = sy;
  let from = 0; // we entered the start pixel from the west
  const limit = component.pixels.length * 8 + 8;
  for (let step = 0; step < limit; step++) {
    let moved = false;
    for (let k = 1; k <= 8; k++) {
      const dir = (from + k) % 8;
      const [dx, dy] = NEIGHBOURS[dir] as [number, number];
      if (on(x + dx, y + dy)) {
        x += dx;
        y += dy;
        // Backtrack direction: the neighbour we came from, seen from the new pixel, then step on from it.
        from = (dir + 4) % 8;
        moved = true;
        break;
      }
    }
    if (!moved) break;
    if (x === sx && y === sy) break;
    outline.push([x, y]);
  }
  return outline;
}

/** Ramer-Douglas-Peucker simplification of a closed polygon (tolerance in pixels). */
export function simplifyPolygon(points: readonly [number, number][], tolerance: number): [number, number][] {
  if (points.length <= 4) return points.map((p) => [p[0], p[1]]);
  // Close the ring so the segment from the last point back to the first is simplified too.
  const ring = [...points, points[0] as [number, number]];
  const keep = new Uint8Array(ring.length);
  const simplify = (first: number, last: number): void => {
    const [ax, ay] = ring[first] as [number, number];
    const [bx, by] = ring[last] as [number, number];
    const length = Math.hypot(bx - ax, by - ay) || 1;
    let worst = -1;
    let worstDistance = tolerance;
    for (let n = first + 1; n < last; n++) {
      const [px, py] = ring[n] as [number, number];
      const distance = Math.abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length;
      if (distance > worstDistance) {
        worst = n;
        worstDistance = distance;
      }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      simplify(first, worst);
      simplify(worst, last);
    }
  };
  const middle = Math.floor(points.length / 2);
  keep[0] = 1;
  keep[middle] = 1;
  simplify(0, middle);
  simplify(middle, ring.length - 1);
  return points.filter((_, n) => keep[n]).map((p) => [p[0], p[1]]);
}

/** The principal axis (unit vector) of a component's pixels, and the spread along it and across it. */
export function principalAxis(
  component: Component,
  width: number,
): { axis: [number, number]; major: number; minor: number } {
  const [cx, cy] = component.centroid;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (const p of component.pixels) {
    const x = (p % width) - cx;
    const y = (p - (p % width)) / width - cy;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  }
  const n = component.pixels.length;
  sxx /= n;
  syy /= n;
  sxy /= n;
  const trace = sxx + syy;
  const det = sxx * syy - sxy * sxy;
  const root = Math.sqrt(Math.max(0, (trace * trace) / 4 - det));
  const l1 = trace / 2 + root;
  const l2 = trace / 2 - root;
  let axis: [number, number] = Math.abs(sxy) > 1e-12 ? [l1 - syy, sxy] : sxx >= syy ? [1, 0] : [0, 1];
  const length = Math.hypot(axis[0], axis[1]);
  axis = [axis[0] / length, axis[1] / length];
  // Point it towards posterior (display +x).
  if (axis[0] < 0) axis = [-axis[0], -axis[1]];
  return { axis, major: Math.sqrt(Math.max(l1, 0)), minor: Math.sqrt(Math.max(l2, 0)) };
}
