/**
 * From per-pixel maps to labelled discs and vertebrae. Levels are counted from the sacrum upward,
 * never down from the top of a variable field of view: the lowest lumbar disc is L5/S1. The keypoint
 * heatmap (trained on lumbar discs only) says which discs are lumbar; a disc below the lowest lumbar
 * one is reported as a possible transitional segment (IVD label 0, `S1/S2`), not used to shift levels.
 */
import { levelOfIvdLabel } from '../datasets/levels.js';
import { type Component, connectedComponents, principalAxis, simplifyPolygon, traceOutline } from './components.js';

/** Per-pixel maps of one slice, on the slice's own pixel grid. */
export interface SliceMaps {
  readonly width: number;
  readonly height: number;
  /** Pixel spacing `[x, y]` in mm. */
  readonly pixelSpacing: readonly [number, number];
  /** Class of each pixel: 0 background, 1 disc, 2 vertebra, 3 canal. */
  readonly classes: Uint8Array;
  /** Lumbar disc keypoint heatmap in [0, 1]. */
  readonly heatmap: Float32Array;
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
}

/** Discs are labelled up to T7/T8; anything higher is outside a lumbar study's concern. */
const MAX_IVD_LABEL = 10;

const VERTEBRAE_FROM_BOTTOM = ['S1', 'L5', 'L4', 'L3', 'L2', 'L1', 'T12', 'T11', 'T10', 'T9', 'T8'];

/** Labels discs and vertebrae on one slice from its class map and keypoint heatmap. */
export function localizeFromMaps(maps: SliceMaps, options: PostprocessOptions = {}): SliceLocalization {
  const { width, height, classes, heatmap } = maps;
  const pixelArea = maps.pixelSpacing[0] * maps.pixelSpacing[1];
  const minDisc = (options.minDiscAreaMm2 ?? 25) / pixelArea;
  const minVertebra = (options.minVertebraAreaMm2 ?? 150) / pixelArea;
  const threshold = options.lumbarThreshold ?? 0.3;
  const warnings: string[] = [];

  const discComponents = connectedComponents(width, height, (i) => classes[i] === 1).filter(
    (c) => c.pixels.length >= minDisc,
  );
  // Bottom first: largest centroid y.
  discComponents.sort((a, b) => b.centroid[1] - a.centroid[1]);
  const scored = discComponents.map((component) => ({
    component,
    lumbarScore: heatmapScore(component, heatmap, width, height, maps.pixelSpacing),
  }));

  const lowestLumbar = scored.findIndex((d) => d.lumbarScore >= threshold);
  let first = 0;
  let possibleTransitional = false;
  if (lowestLumbar > 0) {
    // Segments below the lowest disc the heatmap calls lumbar: transitional anatomy, or false positives.
    possibleTransitional = true;
    first = lowestLumbar;
    warnings.push(
      `${lowestLumbar} disc-like segment(s) below the lowest lumbar disc: possible lumbosacral transitional anatomy`,
    );
  } else if (lowestLumbar < 0 && scored.length > 0) {
    warnings.push('no disc looked lumbar to the keypoint model: levels counted from the lowest disc found');
  }
  const discs: LocalizedDisc[] = [];
  scored.forEach(({ component, lumbarScore }, index) => {
    const ivdLabel = index < first ? 0 : index - first + 1;
    if (index < first && index !== first - 1) return; // only the segment right below L5/S1 is reported
    if (ivdLabel > MAX_IVD_LABEL) return;
    discs.push(describeDisc(component, ivdLabel, lumbarScore, maps));
  });
  const lumbar = discs.filter((d) => d.ivdLabel >= 1 && d.ivdLabel <= 5).length;
  if (scored.length > 0 && lumbar < 5) warnings.push(`only ${lumbar} lumbar disc(s) in view`);

  const vertebrae = connectedComponents(width, height, (i) => classes[i] === 2)
    .filter((c) => c.pixels.length >= minVertebra)
    .map((component) => describeVertebra(component, discs, maps));
  return { discs: discs.sort((a, b) => b.ivdLabel - a.ivdLabel), vertebrae, possibleTransitional, warnings };
}

function heatmapScore(
  component: Component,
  heatmap: Float32Array,
  width: number,
  height: number,
  spacing: readonly [number, number],
): number {
  // The keypoint sits on the posterior disc margin: look a few mm around the component's box.
  const marginX = Math.ceil(4 / spacing[0]);
  const marginY = Math.ceil(2 / spacing[1]);
  let best = 0;
  for (let y = Math.max(0, component.minY - marginY); y <= Math.min(height - 1, component.maxY + marginY); y++) {
    for (let x = Math.max(0, component.minX - marginX); x <= Math.min(width - 1, component.maxX + marginX); x++) {
      const v = heatmap[x + y * width] as number;
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
  const [, cy] = component.centroid;
  // The vertebra sits between the disc below it (larger y) and the one above; S1 lies below L5/S1.
  const below = discs.filter((d) => d.ivdLabel >= 1 && d.center[1] > cy).sort((a, b) => a.center[1] - b.center[1])[0];
  let level: string | undefined;
  if (below) level = VERTEBRAE_FROM_BOTTOM[below.ivdLabel];
  else {
    const l5s1 = discs.find((d) => d.ivdLabel === 1);
    if (l5s1 && l5s1.center[1] < cy) level = 'S1';
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
