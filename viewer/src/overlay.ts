/**
 * Findings drawn over the image: disc and vertebra outlines, level labels and the Grad-CAM map, in
 * one SVG layer above the cornerstone canvas. Shapes are drawn in display-slice pixels inside a group
 * whose transform is the display → canvas map (from cornerstone's worldToCanvas), so they follow
 * every zoom, pan and resize exactly; labels keep their size and sit beside their disc.
 */
import { type Affine, apply } from './geometry.js';

const SVG = 'http://www.w3.org/2000/svg';

/** Outline colour of each Pfirrmann grade (as in the report's overlay image). */
export const GRADE_COLOURS: Record<number, string> = {
  1: 'rgb(0,200,83)',
  2: 'rgb(174,234,0)',
  3: 'rgb(255,214,0)',
  4: 'rgb(255,109,0)',
  5: 'rgb(229,28,35)',
};

export const gradeColour = (grade: number): string => GRADE_COLOURS[grade] ?? '#ffffff';

export interface OverlayDisc {
  level: string;
  grade: number;
  needsReview: boolean;
  center: readonly [number, number];
  outline: readonly (readonly [number, number])[];
  /** Accessible description of the label. */
  description: string;
}

export interface OverlayModel {
  discs: OverlayDisc[];
  vertebrae: {
    name: string | null;
    center: readonly [number, number];
    outline: readonly (readonly [number, number])[];
  }[];
  /** Size of the display slice the geometry refers to. */
  size: readonly [number, number];
}

export interface OverlayHandlers {
  /** A label was clicked or activated by keyboard. */
  select(level: string): void;
  /** A label was dragged and dropped at a display pixel. */
  drop(level: string, at: [number, number]): void;
}

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attributes: Record<string, string | number> = {},
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  return node;
}

const points = (outline: readonly (readonly [number, number])[]): string =>
  outline.map(([x, y]) => `${x},${y}`).join(' ');

/** Distance (canvas pixels) of a label from its disc centre, towards anterior. */
const LABEL_OFFSET = 46;

export class Overlay {
  private model: OverlayModel | null = null;
  private affine: Affine | null = null;
  private selected: string | null = null;
  private showOutlines = true;
  private heatHref: string | null = null;
  private onSlice = true;
  private readonly shapes: SVGGElement;
  private readonly heat: SVGImageElement;
  private readonly outlines: SVGGElement;
  private readonly labels: SVGGElement;
  private drag: {
    level: string;
    pointerId: number;
    startX: number;
    startY: number;
    moved: boolean;
    node: SVGGElement;
  } | null = null;

  constructor(
    private readonly svg: SVGSVGElement,
    private readonly handlers: OverlayHandlers,
  ) {
    this.shapes = el('g', { class: 'shapes' });
    this.heat = el('image', { class: 'heat', preserveAspectRatio: 'none' });
    this.heat.style.display = 'none';
    this.outlines = el('g', { class: 'outlines' });
    this.shapes.append(this.heat, this.outlines);
    this.labels = el('g', { class: 'labels' });
    svg.append(this.shapes, this.labels);
  }

  setModel(model: OverlayModel | null): void {
    this.model = model;
    this.build();
    this.update(this.affine, this.onSlice);
  }

  setSelected(level: string | null): void {
    this.selected = level;
    for (const node of this.svg.querySelectorAll<SVGElement>('[data-level]')) {
      node.classList.toggle('selected', node.dataset.level === level);
    }
  }

  setOutlinesVisible(visible: boolean): void {
    this.showOutlines = visible;
    this.svg.style.display = visible || this.heatHref ? '' : 'none';
    this.outlines.style.display = visible ? '' : 'none';
    this.labels.style.display = visible ? '' : 'none';
  }

  /** Shows a heat map (an image on the display-slice grid), or none. */
  setHeat(href: string | null): void {
    this.heatHref = href;
    if (href && this.model) {
      this.heat.setAttribute('href', href);
      // Display pixel centres sit at integer coordinates: the image's corner is half a pixel out.
      this.heat.setAttribute('x', '-0.5');
      this.heat.setAttribute('y', '-0.5');
      this.heat.setAttribute('width', String(this.model.size[0]));
      this.heat.setAttribute('height', String(this.model.size[1]));
      this.heat.style.display = '';
    } else {
      this.heat.removeAttribute('href');
      this.heat.style.display = 'none';
    }
    this.setOutlinesVisible(this.showOutlines);
  }

  private build(): void {
    this.outlines.replaceChildren();
    this.labels.replaceChildren();
    const model = this.model;
    if (!model) return;
    for (const v of model.vertebrae) {
      this.outlines.append(el('polygon', { class: 'vertebra', points: points(v.outline) }));
    }
    for (const disc of model.discs) {
      const colour = gradeColour(disc.grade);
      const polygon = el('polygon', {
        class: `disc${disc.needsReview ? ' review' : ''}`,
        points: points(disc.outline),
        stroke: colour,
        fill: colour,
        'data-level': disc.level,
      });
      this.outlines.append(polygon);
    }
    for (const v of model.vertebrae) {
      if (!v.name) continue;
      const text = el('text', { class: 'vertebra-label', 'text-anchor': 'middle', 'data-vertebra': v.name });
      text.textContent = v.name;
      this.labels.append(text);
    }
    for (const disc of model.discs) {
      const colour = gradeColour(disc.grade);
      const group = el('g', {
        class: 'disc-label',
        'data-level': disc.level,
        role: 'button',
        tabindex: 0,
        'aria-label': disc.description,
      });
      const line = el('line', { class: 'leader', stroke: colour });
      const rect = el('rect', { rx: 3, stroke: colour });
      const text = el('text', { x: 6, y: 0 });
      text.textContent = disc.needsReview ? `${disc.level} ⚑` : disc.level;
      group.append(line, rect, text);
      this.labels.append(group);
      group.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          this.handlers.select(disc.level);
        }
      });
      group.addEventListener('pointerdown', (event) => this.startDrag(event, disc.level, group));
    }
    this.setSelected(this.selected);
  }

  private startDrag(event: PointerEvent, level: string, node: SVGGElement): void {
    if (event.button !== 0) return;
    event.preventDefault();
    node.setPointerCapture(event.pointerId);
    this.drag = { level, pointerId: event.pointerId, startX: event.clientX, startY: event.clientY, moved: false, node };
    // The label is placed by its SVG transform attribute; moving it means shifting that placement
    // (a CSS transform would replace the attribute's translation and throw the label to the corner).
    const placement = node.getAttribute('transform');
    const baseX = Number(node.dataset.lx ?? 0);
    const baseY = Number(node.dataset.ly ?? 0);
    const move = (e: PointerEvent): void => {
      if (!this.drag || e.pointerId !== this.drag.pointerId) return;
      const dx = e.clientX - this.drag.startX;
      const dy = e.clientY - this.drag.startY;
      if (Math.hypot(dx, dy) > 4) this.drag.moved = true;
      if (this.drag.moved) {
        node.classList.add('dragging');
        node.setAttribute('transform', `translate(${(baseX + dx).toFixed(1)} ${(baseY + dy).toFixed(1)})`);
      }
    };
    const up = (e: PointerEvent): void => {
      node.removeEventListener('pointermove', move);
      node.removeEventListener('pointerup', up);
      node.removeEventListener('pointercancel', up);
      const drag = this.drag;
      this.drag = null;
      node.classList.remove('dragging');
      if (placement !== null) node.setAttribute('transform', placement);
      if (!drag) return;
      if (!drag.moved || e.type === 'pointercancel') {
        this.handlers.select(level);
        return;
      }
      const at = this.clientToDisplay(e.clientX, e.clientY);
      if (at) this.handlers.drop(level, at);
    };
    node.addEventListener('pointermove', move);
    node.addEventListener('pointerup', up);
    node.addEventListener('pointercancel', up);
  }

  /** Display pixel under a client (page) position, through the inverse of the current map. */
  clientToDisplay(clientX: number, clientY: number): [number, number] | null {
    const m = this.affine;
    if (!m) return null;
    const box = this.svg.getBoundingClientRect();
    const x = clientX - box.left - m[4];
    const y = clientY - box.top - m[5];
    const det = m[0] * m[3] - m[2] * m[1];
    if (Math.abs(det) < 1e-12) return null;
    return [(m[3] * x - m[2] * y) / det, (-m[1] * x + m[0] * y) / det];
  }

  /** The display pixel of the disc nearest a display pixel, and its level. */
  nearestDisc(at: readonly [number, number]): OverlayDisc | null {
    let best: OverlayDisc | null = null;
    let bestD = Number.POSITIVE_INFINITY;
    for (const disc of this.model?.discs ?? []) {
      const d = Math.hypot(disc.center[0] - at[0], disc.center[1] - at[1]);
      if (d < bestD) {
        bestD = d;
        best = disc;
      }
    }
    return best;
  }

  /**
   * Places everything for the current camera: `affine` maps display pixels to canvas pixels (null:
   * nothing to draw); `onSlice` is false when another slice than the findings' one is shown.
   */
  update(affine: Affine | null, onSlice: boolean): void {
    this.affine = affine;
    this.onSlice = onSlice;
    const model = this.model;
    if (!affine || !model) {
      this.shapes.style.display = 'none';
      this.labels.style.display = 'none';
      return;
    }
    this.shapes.style.display = '';
    this.labels.style.display = this.showOutlines ? '' : 'none';
    this.shapes.setAttribute('transform', `matrix(${affine.map((v) => v.toFixed(4)).join(' ')})`);
    this.shapes.classList.toggle('off-slice', !onSlice);
    this.labels.classList.toggle('off-slice', !onSlice);
    // Anterior on screen: where display −x points after the map.
    const ax = -affine[0];
    const ay = -affine[1];
    const norm = Math.hypot(ax, ay) || 1;
    const [ux, uy] = [ax / norm, ay / norm];
    const nodes = this.labels.querySelectorAll<SVGGElement>('.disc-label');
    model.discs.forEach((disc, i) => {
      const node = nodes[i];
      if (!node || node === this.drag?.node) return;
      const [cx, cy] = apply(affine, disc.center[0], disc.center[1]);
      const text = node.querySelector('text');
      const rect = node.querySelector('rect');
      const line = node.querySelector('line');
      const width = text ? text.getComputedTextLength() + 12 : 50;
      // The label's near edge sits LABEL_OFFSET from the centre, towards anterior.
      const lx = cx + ux * LABEL_OFFSET - (ux < 0 ? width : 0);
      const ly = cy + uy * LABEL_OFFSET;
      node.setAttribute('transform', `translate(${lx.toFixed(1)} ${ly.toFixed(1)})`);
      node.dataset.lx = lx.toFixed(1);
      node.dataset.ly = ly.toFixed(1);
      node.dataset.cx = cx.toFixed(1);
      node.dataset.cy = cy.toFixed(1);
      rect?.setAttribute('x', '0');
      rect?.setAttribute('y', '-10');
      rect?.setAttribute('width', width.toFixed(1));
      rect?.setAttribute('height', '20');
      const near = ux < 0 ? width : 0;
      line?.setAttribute('x1', String(near));
      line?.setAttribute('y1', '0');
      line?.setAttribute('x2', (cx - lx).toFixed(1));
      line?.setAttribute('y2', (cy - ly).toFixed(1));
    });
    const vertebraNodes = this.labels.querySelectorAll<SVGTextElement>('.vertebra-label');
    let k = 0;
    for (const v of model.vertebrae) {
      if (!v.name) continue;
      const node = vertebraNodes[k++];
      if (!node) continue;
      const [x, y] = apply(affine, v.center[0], v.center[1]);
      node.setAttribute('x', x.toFixed(1));
      node.setAttribute('y', (y + 4).toFixed(1));
    }
  }
}
