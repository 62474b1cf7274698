/**
 * From per-pixel maps to labelled discs and vertebrae. Levels are counted from the sacrum upward,
 * never down from the top of a variable field of view: the lowest lumbar disc is L5/S1. The keypoint
 * heatmap (trained on lumbar discs only) says which discs are lumbar; a disc below the lowest lumbar
 * one is reported as a possible transitional segment (IVD label 0, `S1/S2`), not used to shift levels.
 */
import { levelOfIvdLabel, vertebraAboveDisc } from '../disc/levels.js';
import { type Component, connectedComponents, principalAxis, simplifyPolygon, traceOutline } from './components.js';

/** Per-pixel maps of one slice, on the slice's own pixel grid. */
export interface SliceMaps {
  readonly width: number;
  readonly height: number;
  /** Pixel spacing `[x, y]` in mm. */
  readonly pixelSpacing: readonly [number, number];
  /** Class of each pixel: 0 background, 1 disc, 2 vertebra, 3 canal. */
  readonly classes: Uint8Array;
  /** Lumbar disc keypoint heatmap in [0, 1], channels last: 1 channel, or 5 (L5/S1 first, one per level). */
  readonly heatmap: Float32Array;
  /** Channels of `heatmap` (default 1). */
  readonly heatmapChannels?: number;
}

/** A disc found on a slice. */
export interface LocalizedDisc {
  ivdLabel: number;
  level: string;
  /** Pixel `[x, y]` centroid. */
  center: [number, number];
  /** Pixel `[x, y]` of the outline point furthest along the disc axis towards posterior. */
  posterior: [number, number];
  /** Closed polygon of pixel `[x, y]` points. */
  outline: [number, number][];
  /** Unit vector of the disc plane in display pixels, pointing posterior. */
  axis: [number, number];
  areaMm2: number;
  /** Highest keypoint-heatmap value on or near the disc: how sure the model is it is a lumbar disc. */
  lumbarScore: number;
}

/** A vertebral body found on a slice. */
export interface LocalizedVertebra {
  /** `S1`, `L5`, … or undefined when it cannot be placed between labelled discs. */
  level: string | undefined;
  center: [number, number];
  outline: [number, number][];
  areaMm2: number;
}

/** Everything localised on a slice. */
export interface SliceLocalization {
  discs: LocalizedDisc[];
  vertebrae: LocalizedVertebra[];
  /** True when a disc-like segment sits below the lowest lumbar disc (lumbosacral transitional anatomy?). */
  possibleTransitional: boolean;
  /** Warnings for a reader, e.g. fewer than five lumbar discs in view. */
  warnings: string[];
}

/** Tunables of the post-processing. */
export interface PostprocessOptions {
  /** Smallest disc kept, mm² (default 25). */
  minDiscAreaMm2?: number;
  /** Smallest vertebra kept, mm² (default 150). */
  minVertebraAreaMm2?: number;
  /** Heatmap value that marks a disc as lumbar (default 0.3). */
  lumbarThreshold?: number;
  /** …and at least this fraction of the slice's strongest disc response (default 0.6). */
  lumbarRelative?: number;
}

/** Discs are labelled up to T7/T8; anything higher is outside a lumbar study's concern. */
const MAX_IVD_LABEL = 10;

/** Labels discs and vertebrae on one slice from its class map and keypoint heatmap. */
export function localizeFromMaps(maps: SliceMaps, options: PostprocessOptions = {}): SliceLocalization {
  const { width, height, classes, heatmap } = maps;
  const pixelArea = maps.pixelSpacing[0] * maps.pixelSpacing[1];
  const minDisc = (options.minDiscAreaMm2 ?? 25) / pixelArea;
  const minVertebra = (options.minVertebraAreaMm2 ?? 150) / pixelArea;
  const threshold = options.lumbarThreshold ?? 0.3;
  const warnings: string[] = [];

  const components = connectedComponents(width, height, (i) => classes[i] === 1).filter(
    (c) => c.pixels.length >= minDisc,
  );
  if ((maps.heatmapChannels ?? 1) > 1) return withVertebrae(labelByLevelTemplate(components, maps), maps, minVertebra);
  const levels = onSpineColumn(groupIntoLevels(components, maps.pixelSpacing), maps.pixelSpacing).map((component) => ({
    component,
    lumbarScore: heatmapScore(component, heatmap, width, height, maps.pixelSpacing, 1, 0),
  }));
  // Bottom first: largest centroid y.
  levels.sort((a, b) => b.component.centroid[1] - a.component.centroid[1]);
  const best = levels.reduce((m, d) => Math.max(m, d.lumbarScore), 0);
  // Lumbar: clearly on the heatmap (relative to the slice's best disc, so a dim image still works).
  const isLumbar = (d: { lumbarScore: number }): boolean =>
    d.lumbarScore >= threshold && d.lumbarScore >= (options.lumbarRelative ?? 0.6) * best;
  const lumbarIndices = levels.flatMap((d, n) => (isLumbar(d) ? [n] : []));
  const lumbarAreas = lumbarIndices
    .map((n) => (levels[n] as (typeof levels)[number]).component.pixels.length)
    .sort((x, y) => x - y);
  const typicalArea = lumbarAreas[Math.floor(lumbarAreas.length / 2)] ?? 0;
  // Fragments and false positives are much smaller than a real disc of the same spine.
  const bigEnough = (d: (typeof levels)[number]): boolean => d.component.pixels.length >= 0.3 * typicalArea;
  const spine = spineLine(lumbarIndices.map((n) => (levels[n] as (typeof levels)[number]).component.centroid));
  const onSpine = (d: (typeof levels)[number]): boolean =>
    !spine || Math.abs(d.component.centroid[0] - spine(d.component.centroid[1])) * maps.pixelSpacing[0] <= 25;

  let possibleTransitional = false;
  const discs: LocalizedDisc[] = [];
  const lowest = lumbarIndices[0];
  const highest = lumbarIndices[lumbarIndices.length - 1];
  if (lowest === undefined || highest === undefined) {
    if (levels.length > 0)
      warnings.push('no disc looked lumbar to the keypoint model: levels counted from the lowest disc found');
    levels.forEach((d, n) => {
      if (n < MAX_IVD_LABEL) discs.push(describeDisc(d.component, n + 1, d.lumbarScore, maps));
    });
  } else {
    // Below L5/S1: at most the one segment right under it, if it is disc-sized and on the spine.
    const below = levels.slice(0, lowest).filter((d) => bigEnough(d) && onSpine(d));
    const segment = below[below.length - 1];
    if (segment) {
      possibleTransitional = true;
      warnings.push('a disc-like segment below the lowest lumbar disc: possible lumbosacral transitional anatomy');
      discs.push(describeDisc(segment.component, 0, segment.lumbarScore, maps));
    }
    // From L5/S1 up: lumbar discs in order, then the discs above them that are disc-sized and on the spine.
    let label = 0;
    levels.slice(lowest).forEach((d, offset) => {
      const n = lowest + offset;
      const keep = n <= highest ? isLumbar(d) : bigEnough(d) && onSpine(d);
      if (!keep) return;
      label++;
      if (label <= MAX_IVD_LABEL) discs.push(describeDisc(d.component, label, d.lumbarScore, maps));
    });
  }
  const lumbar = discs.filter((d) => d.ivdLabel >= 1 && d.ivdLabel <= 5).length;
  if (levels.length > 0 && lumbar < 5) warnings.push(`only ${lumbar} lumbar disc(s) in view`);

  return withVertebrae({ discs, possibleTransitional, warnings }, maps, minVertebra);
}

function withVertebrae(
  found: Omit<SliceLocalization, 'vertebrae'>,
  maps: SliceMaps,
  minVertebra: number,
): SliceLocalization {
  const vertebrae = connectedComponents(maps.width, maps.height, (i) => maps.classes[i] === 2)
    .filter((c) => c.pixels.length >= minVertebra)
    .map((component) => describeVertebra(component, found.discs, maps));
  return { ...found, discs: [...found.discs].sort((a, b) => b.ivdLabel - a.ivdLabel), vertebrae };
}

/**
 * Per-level heatmaps: slide the five-level template (L5/S1 … L1/L2) along the discs ordered from the
 * bottom and keep the placement with the strongest total response, so rudimentary sacral segments
 * and extra thoracic discs cannot shift the levels.
 */
function labelByLevelTemplate(components: readonly Component[], maps: SliceMaps): Omit<SliceLocalization, 'vertebrae'> {
  const channels = maps.heatmapChannels ?? 1;
  const warnings: string[] = [];
  const levels = groupIntoLevels(components, maps.pixelSpacing).sort((a, b) => b.centroid[1] - a.centroid[1]);
  if (levels.length === 0) return { discs: [], possibleTransitional: false, warnings: ['no disc found'] };
  const areas = levels.map((c) => c.pixels.length).sort((x, y) => y - x);
  const typical = areas[Math.min(2, areas.length - 1)] as number;
  const candidates = levels.filter((c) => c.pixels.length >= 0.25 * typical);
  const scores = candidates.map((c) =>
    Array.from({ length: channels }, (_, channel) =>
      heatmapScore(c, maps.heatmap, maps.width, maps.height, maps.pixelSpacing, channels, channel),
    ),
  );
  let bestOffset = 0;
  let bestTotal = Number.NEGATIVE_INFINITY;
  for (let offset = -(channels - 1); offset < candidates.length; offset++) {
    let total = 0;
    for (let channel = 0; channel < channels; channel++) {
      const row = scores[offset + channel];
      if (row) total += row[channel] as number;
    }
    if (total > bestTotal) {
      bestTotal = total;
      bestOffset = offset;
    }
  }
  const discs: LocalizedDisc[] = [];
  let possibleTransitional = false;
  candidates.forEach((component, index) => {
    const ivdLabel = index - bestOffset + 1;
    const row = scores[index] as number[];
    const score = ivdLabel >= 1 && ivdLabel <= channels ? (row[ivdLabel - 1] as number) : Math.max(...row);
    if (ivdLabel === 0) {
      // Only a full-sized disc below L5/S1 suggests transitional anatomy; small sacral remnants are normal.
      if (component.pixels.length < 0.5 * typical) return;
      possibleTransitional = true;
      warnings.push('a disc-sized segment below L5/S1: possible lumbosacral transitional anatomy');
    }
    if (ivdLabel < 0 || ivdLabel > MAX_IVD_LABEL) return;
    discs.push(describeDisc(component, ivdLabel, score, maps));
  });
  const lumbar = discs.filter((d) => d.ivdLabel >= 1 && d.ivdLabel <= 5).length;
  if (lumbar < 5) warnings.push(`only ${lumbar} lumbar disc(s) in view`);
  return { discs, possibleTransitional, warnings };
}

/** Merges components that lie at the same level (a disc split in pieces): centroids within 8 mm vertically. */
function groupIntoLevels(components: readonly Component[], spacing: readonly [number, number]): Component[] {
  const sorted = [...components].sort((a, b) => a.centroid[1] - b.centroid[1]);
  const groups: Component[][] = [];
  for (const component of sorted) {
    const group = groups.find((g) =>
      g.some(
        (c) =>
          Math.abs(c.centroid[1] - component.centroid[1]) * spacing[1] < 8 &&
          Math.abs(c.centroid[0] - component.centroid[0]) * spacing[0] < 40,
      ),
    );
    if (group) group.push(component);
    else groups.push([component]);
  }
  return groups.map((group) => (group.length === 1 ? (group[0] as Component) : mergeComponents(group)));
}

function mergeComponents(group: readonly Component[]): Component {
  const pixels = group.flatMap((c) => c.pixels);
  const weight = (c: Component): number => c.pixels.length / pixels.length;
  return {
    pixels,
    minX: Math.min(...group.map((c) => c.minX)),
    maxX: Math.max(...group.map((c) => c.maxX)),
    minY: Math.min(...group.map((c) => c.minY)),
    maxY: Math.max(...group.map((c) => c.maxY)),
    centroid: [
      group.reduce((s, c) => s + c.centroid[0] * weight(c), 0),
      group.reduce((s, c) => s + c.centroid[1] * weight(c), 0),
    ],
  };
}

/** No mid-sagittal disc is larger than this (a lumbar disc is about 40 × 12 mm); bigger "disc" blobs are bowel or fluid. */
const MAX_DISC_AREA_MM2 = 1500;

/**
 * The disc candidates that form the spinal column: the chain of candidates, bottom to top, with the most
 * disc area, in which each next disc lies 10-60 mm higher and not much further sideways than up. Bowel,
 * vessels, posterior elements and rows of small fragments that the mask calls disc cannot be counted as
 * levels that way.
 */
function onSpineColumn(candidates: readonly Component[], spacing: readonly [number, number]): Component[] {
  const pixelArea = spacing[0] * spacing[1];
  // Bottom first.
  const sized = candidates
    .filter((c) => c.pixels.length * pixelArea <= MAX_DISC_AREA_MM2)
    .sort((a, b) => b.centroid[1] - a.centroid[1]);
  const mm = (c: Component): [number, number] => [c.centroid[0] * spacing[0], c.centroid[1] * spacing[1]];
  const linked = (below: Component, above: Component): boolean => {
    const [xb, yb] = mm(below);
    const [xa, ya] = mm(above);
    const rise = yb - ya;
    return rise >= 10 && rise <= 60 && Math.abs(xa - xb) <= Math.max(rise + 10, 40);
  };
  // Heaviest chain ending at each candidate (a DAG: links only go upward).
  const total: number[] = [];
  const previous: number[] = [];
  sized.forEach((c, j) => {
    total[j] = c.pixels.length;
    previous[j] = -1;
    for (let i = 0; i < j; i++) {
      const t = (total[i] as number) + c.pixels.length;
      if (t > (total[j] as number) && linked(sized[i] as Component, c)) {
        total[j] = t;
        previous[j] = i;
      }
    }
  });
  let end = -1;
  sized.forEach((_, j) => {
    if (end < 0 || (total[j] as number) > (total[end] as number)) end = j;
  });
  const chain: Component[] = [];
  for (let j = end; j >= 0; j = previous[j] as number) chain.push(sized[j] as Component);
  return chain;
}

/** x of the spine at height y, by a least-squares line through the lumbar disc centres; undefined with fewer than 2. */
function spineLine(points: readonly [number, number][]): ((y: number) => number) | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const syy = points.reduce((s, p) => s + (p[1] - my) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p[1] - my) * (p[0] - mx), 0);
  const slope = syy > 0 ? sxy / syy : 0;
  return (y) => mx + slope * (y - my);
}

function heatmapScore(
  component: Component,
  heatmap: Float32Array,
  width: number,
  height: number,
  spacing: readonly [number, number],
  channels: number,
  channel: number,
): number {
  // The keypoint sits on the posterior disc margin: look a few mm around the component's box.
  const marginX = Math.ceil(4 / spacing[0]);
  const marginY = Math.ceil(2 / spacing[1]);
  let best = 0;
  for (let y = Math.max(0, component.minY - marginY); y <= Math.min(height - 1, component.maxY + marginY); y++) {
    for (let x = Math.max(0, component.minX - marginX); x <= Math.min(width - 1, component.maxX + marginX); x++) {
      const v = heatmap[(x + y * width) * channels + channel] as number;
      if (v > best) best = v;
    }
  }
  return best;
}

function describeDisc(component: Component, ivdLabel: number, lumbarScore: number, maps: SliceMaps): LocalizedDisc {
  const outline = simplifyPolygon(traceOutline(component, maps.width), 0.5);
  const { axis } = principalAxis(component, maps.width);
  const [cx, cy] = component.centroid;
  let posterior = outline[0] as [number, number];
  let best = Number.NEGATIVE_INFINITY;
  for (const point of outline) {
    // Furthest along the axis, tie-broken towards the disc's mid-plane.
    const along = (point[0] - cx) * axis[0] + (point[1] - cy) * axis[1];
    const across = Math.abs((point[0] - cx) * -axis[1] + (point[1] - cy) * axis[0]);
    const score = along - 0.25 * across;
    if (score > best) {
      best = score;
      posterior = point;
    }
  }
  return {
    ivdLabel,
    level: levelOfIvdLabel(ivdLabel),
    center: [round2(cx), round2(cy)],
    posterior: [posterior[0], posterior[1]],
    outline,
    axis: [round4(axis[0]), round4(axis[1])],
    areaMm2: round2(component.pixels.length * maps.pixelSpacing[0] * maps.pixelSpacing[1]),
    lumbarScore: round4(lumbarScore),
  };
}

function describeVertebra(component: Component, discs: readonly LocalizedDisc[], maps: SliceMaps): LocalizedVertebra {
  const [cx, cy] = component.centroid;
  // The vertebra sits between the disc below it (larger y) and the one above; S1 lies below L5/S1.
  // Only a body in line with that disc gets a name: posterior elements and other bone stay unnamed.
  const inLine = (d: LocalizedDisc): boolean => Math.abs(d.center[0] - cx) * maps.pixelSpacing[0] <= 25;
  const below = discs.filter((d) => d.ivdLabel >= 1 && d.center[1] > cy).sort((a, b) => a.center[1] - b.center[1])[0];
  let level: string | undefined;
  if (below) level = inLine(below) ? vertebraAboveDisc(below.ivdLabel) : undefined;
  else {
    const l5s1 = discs.find((d) => d.ivdLabel === 1);
    if (l5s1 && l5s1.center[1] < cy && inLine(l5s1)) level = 'S1';
  }
  return {
    level,
    center: [round2(component.centroid[0]), round2(component.centroid[1])],
    outline: simplifyPolygon(traceOutline(component, maps.width), 0.5),
    areaMm2: round2(component.pixels.length * maps.pixelSpacing[0] * maps.pixelSpacing[1]),
  };
}

const round2 = (v: number): number => Math.round(v * 100) / 100;
const round4 = (v: number): number => Math.round(v * 10000) / 10000;
