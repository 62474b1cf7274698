/**
 * The sagittal image viewer: one cornerstone3D StackViewport with window/level, pan, zoom and slice
 * scrolling by mouse (cornerstone tools) and by keyboard. DICOM instances load through the DICOM image
 * loader (decoded in its web worker); PNG display slices of non-DICOM studies through a small loader
 * here, placed in the patient as sagittal images (superior up, anterior left) so overlays use one path.
 */
import {
  cache,
  init as coreInit,
  Enums,
  imageLoader,
  metaData,
  RenderingEngine,
  type Types,
  utilities,
} from '@cornerstonejs/core';
import { init as dicomLoaderInit } from '@cornerstonejs/dicom-image-loader';
import {
  addTool,
  PanTool,
  StackScrollTool,
  Enums as ToolEnums,
  ToolGroupManager,
  init as toolsInit,
  WindowLevelTool,
  ZoomTool,
} from '@cornerstonejs/tools';
import { authHeaders } from './api.js';
import { type DisplayToWorld, displayToWorld, displayToWorldVia, type ImagePlane, type Vec3 } from './geometry.js';

/** One image of the stack: a DICOM instance (Part 10) or a PNG display slice. */
export interface StackImage {
  kind: 'dicom' | 'png';
  url: string;
  sopInstanceUid: string | null;
}

const ENGINE_ID = 'spinegrade-engine';
const VIEWPORT_ID = 'spinegrade-sagittal';
const TOOL_GROUP_ID = 'spinegrade-tools';
const PNG_SCHEME = 'sgpng';

/** The tool the primary mouse button drives. */
export type PrimaryTool = 'windowLevel' | 'pan' | 'zoom';

const TOOL_NAMES: Record<PrimaryTool, string> = {
  windowLevel: WindowLevelTool.toolName,
  pan: PanTool.toolName,
  zoom: ZoomTool.toolName,
};

let initialised = false;

/** Metadata of PNG slices, by image id (what the DICOM loader reads from the files for DICOM). */
const pngMetadata = new Map<string, Record<string, unknown>>();

function pngMetadataProvider(type: string, imageId: string): unknown {
  return pngMetadata.get(imageId)?.[type];
}

/** Loads a PNG display slice as an 8-bit greyscale image. */
function loadPng(imageId: string): { promise: Promise<Types.IImage> } {
  const url = imageId.slice(PNG_SCHEME.length + 1);
  const promise = (async (): Promise<Types.IImage> => {
    const response = await fetch(url, { headers: authHeaders() });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText} for a PNG slice`);
    const bitmap = await createImageBitmap(await response.blob());
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d');
    if (!context) throw new Error('no 2D canvas context');
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const { width, height } = bitmap;
    bitmap.close();
    const pixels = new Uint8Array(width * height);
    let min = 255;
    let max = 0;
    for (let i = 0; i < pixels.length; i++) {
      const v = Math.round(
        0.299 * (rgba[i * 4] ?? 0) + 0.587 * (rgba[i * 4 + 1] ?? 0) + 0.114 * (rgba[i * 4 + 2] ?? 0),
      );
      pixels[i] = v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const meta = pngMetadata.get(imageId) ?? {};
    const plane = (meta.imagePlaneModule ?? {}) as { rowPixelSpacing?: number; columnPixelSpacing?: number };
    const spacing = { row: plane.rowPixelSpacing ?? 1, column: plane.columnPixelSpacing ?? 1 };
    meta.imagePlaneModule = { ...(meta.imagePlaneModule as object), rows: height, columns: width };
    meta.imagePixelModule = {
      samplesPerPixel: 1,
      photometricInterpretation: 'MONOCHROME2',
      rows: height,
      columns: width,
      bitsAllocated: 8,
      bitsStored: 8,
      highBit: 7,
      pixelRepresentation: 0,
    };
    pngMetadata.set(imageId, meta);
    const voxelManager = utilities.VoxelManager.createImageVoxelManager({
      width,
      height,
      numberOfComponents: 1,
      scalarData: pixels,
      id: imageId,
    });
    const image = {
      imageId,
      minPixelValue: min,
      maxPixelValue: max,
      slope: 1,
      intercept: 0,
      windowCenter: (min + max) / 2,
      windowWidth: Math.max(1, max - min),
      voiLUTFunction: Enums.VOILUTFunctionType.LINEAR,
      getPixelData: () => voxelManager.getScalarData(),
      getCanvas: () => {
        throw new Error('not used');
      },
      rows: height,
      columns: width,
      height,
      width,
      color: false,
      rgba: false,
      numberOfComponents: 1,
      columnPixelSpacing: spacing.column,
      rowPixelSpacing: spacing.row,
      invert: false,
      sizeInBytes: pixels.byteLength,
      dataType: 'Uint8Array',
      voxelManager,
    };
    return image as unknown as Types.IImage;
  })();
  return { promise };
}

/** Starts cornerstone once: core, the DICOM loader with its worker, the PNG loader, the tools. */
export async function initImaging(): Promise<void> {
  if (initialised) return;
  coreInit();
  dicomLoaderInit({
    maxWebWorkers: Math.max(1, Math.min(4, Math.floor((navigator.hardwareConcurrency || 2) / 2))),
    // The codecs' .wasm files are copied next to the worker by scripts/build-viewer.mjs.
    wasmBasePath: new URL('wasm/', document.baseURI).href,
    beforeSend: () => authHeaders(),
  });
  imageLoader.registerImageLoader(PNG_SCHEME, loadPng as unknown as Types.ImageLoaderFn);
  metaData.addProvider(pngMetadataProvider, 10_000);
  toolsInit();
  for (const tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool]) addTool(tool);
  initialised = true;
}

/** What the viewer knows of the slice the findings were drawn on. */
export interface MidSlice {
  index: number;
  toWorld: DisplayToWorld;
  /** How far (mm) the findings' patient points are from where the map puts them; NaN when unknown. */
  checkMm: number;
}

/** The sagittal viewer. */
export class SagittalViewer {
  private readonly engine: RenderingEngine;
  private readonly toolGroup: NonNullable<ReturnType<typeof ToolGroupManager.createToolGroup>>;
  private imageIds: string[] = [];
  private primary: PrimaryTool = 'windowLevel';
  private readonly resizeObserver: ResizeObserver;
  /** Counts calls of {@link show}, so that only the latest one puts its images on screen. */
  private generation = 0;

  constructor(
    readonly element: HTMLDivElement,
    private readonly onChange: () => void,
  ) {
    this.engine = new RenderingEngine(ENGINE_ID);
    this.engine.enableElement({
      viewportId: VIEWPORT_ID,
      type: Enums.ViewportType.STACK,
      element,
      defaultOptions: { background: [0, 0, 0] as Types.Point3 },
    });
    const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID);
    if (!group) throw new Error('could not create the tool group');
    this.toolGroup = group;
    for (const name of [WindowLevelTool.toolName, PanTool.toolName, ZoomTool.toolName, StackScrollTool.toolName]) {
      group.addTool(name);
    }
    group.addViewport(VIEWPORT_ID, ENGINE_ID);
    this.bindTools();
    for (const event of [
      Enums.Events.CAMERA_MODIFIED,
      Enums.Events.IMAGE_RENDERED,
      Enums.Events.STACK_NEW_IMAGE,
      Enums.Events.VOI_MODIFIED,
    ]) {
      element.addEventListener(event, () => this.onChange());
    }
    element.addEventListener('contextmenu', (event) => event.preventDefault());
    this.resizeObserver = new ResizeObserver(() => {
      this.engine.resize(true, true);
      this.onChange();
    });
    this.resizeObserver.observe(element);
  }

  private get viewport(): Types.IStackViewport {
    return this.engine.getViewport(VIEWPORT_ID) as Types.IStackViewport;
  }

  private bindTools(): void {
    const { MouseBindings } = ToolEnums;
    const g = this.toolGroup;
    for (const name of Object.values(TOOL_NAMES)) g.setToolPassive(name);
    const secondary = this.primary === 'zoom' ? TOOL_NAMES.windowLevel : TOOL_NAMES.zoom;
    const auxiliary = this.primary === 'pan' ? TOOL_NAMES.windowLevel : TOOL_NAMES.pan;
    g.setToolActive(TOOL_NAMES[this.primary], { bindings: [{ mouseButton: MouseBindings.Primary }] });
    g.setToolActive(secondary, { bindings: [{ mouseButton: MouseBindings.Secondary }] });
    g.setToolActive(auxiliary, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] });
    g.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] });
  }

  /** Chooses what dragging with the primary button does (the others keep zoom and pan). */
  setPrimaryTool(tool: PrimaryTool): void {
    this.primary = tool;
    this.bindTools();
  }

  /**
   * Shows a series, its images in slice order (as the server lists them: image k is display slice k
   * for sagittal DICOM and for PNG slices), loading every image first, and opens on `startIndex`.
   * Answers false when a later call took over before the images were loaded.
   */
  async show(
    images: readonly StackImage[],
    options: { startIndex: number; pixelSpacing: [number, number] | null },
    onProgress: (loaded: number, total: number) => void,
  ): Promise<boolean> {
    const generation = ++this.generation;
    cache.purgeCache();
    const imageIds = images.map((image, i) => {
      if (image.kind === 'dicom') return `wadouri:${image.url}`;
      const id = `${PNG_SCHEME}:${image.url}`;
      const [sx, sy] = options.pixelSpacing ?? [1, 1];
      // Display orientation: columns run anterior → posterior (+y LPS), rows superior → inferior (−z);
      // slice k lies k mm to the patient's right (conventions: k → patient right).
      pngMetadata.set(id, {
        imagePlaneModule: {
          frameOfReferenceUID: 'spinegrade-png',
          rowCosines: [0, 1, 0],
          columnCosines: [0, 0, -1],
          imageOrientationPatient: [0, 1, 0, 0, 0, -1],
          imagePositionPatient: [-i, 0, 0],
          pixelSpacing: [sy, sx],
          rowPixelSpacing: sy,
          columnPixelSpacing: sx,
          sliceThickness: 1,
        },
        generalSeriesModule: { modality: 'MR', seriesInstanceUID: 'spinegrade-png' },
        sopCommonModule: { sopInstanceUID: image.sopInstanceUid ?? id },
      });
      return id;
    });
    let loaded = 0;
    onProgress(0, imageIds.length);
    await Promise.all(
      imageIds.map(async (id) => {
        await imageLoader.loadAndCacheImage(id);
        if (generation === this.generation) onProgress(++loaded, imageIds.length);
      }),
    );
    if (generation !== this.generation) return false;
    this.imageIds = imageIds;
    const start = Math.min(Math.max(0, options.startIndex), this.imageIds.length - 1);
    await this.viewport.setStack(this.imageIds, start);
    this.viewport.resetCamera();
    this.viewport.render();
    this.onChange();
    return true;
  }

  /**
   * The map from the findings' display pixels to the patient on stack slice `index`: through the
   * server's `displayToInstance` when given, else from the image's own orientation. `check` (a disc's
   * display pixel and patient point from the findings) measures how far apart the two land.
   */
  sliceGeometry(
    index: number,
    displayToInstance: readonly number[] | null,
    check?: { px: readonly [number, number]; mm: readonly [number, number, number] },
  ): MidSlice | null {
    const id = this.imageIds[index];
    if (!id) return null;
    const plane = metaData.get('imagePlaneModule', id) as Partial<ImagePlane> | undefined;
    if (!plane?.rowCosines || !plane.columnCosines || !plane.imagePositionPatient || !plane.rows || !plane.columns)
      return null;
    const full: ImagePlane = {
      rowCosines: [...plane.rowCosines] as Vec3,
      columnCosines: [...plane.columnCosines] as Vec3,
      imagePositionPatient: [...plane.imagePositionPatient] as Vec3,
      rowPixelSpacing: plane.rowPixelSpacing ?? 1,
      columnPixelSpacing: plane.columnPixelSpacing ?? 1,
      rows: plane.rows,
      columns: plane.columns,
    };
    const isPng = id.startsWith(`${PNG_SCHEME}:`);
    const toWorld = isPng
      ? displayToWorldVia(full, [1, 0, 0, 0, 1, 0])
      : displayToInstance
        ? displayToWorldVia(full, displayToInstance)
        : displayToWorld(full);
    let checkMm = Number.NaN;
    if (check && !isPng) {
      const p = toWorld(check.px[0], check.px[1]);
      checkMm = Math.hypot(p[0] - check.mm[0], p[1] - check.mm[1], p[2] - check.mm[2]);
    }
    return { index, toWorld, checkMm };
  }

  /** Canvas (CSS pixel) position of a patient point. */
  worldToCanvas(point: Vec3): [number, number] {
    const [x, y] = this.viewport.worldToCanvas(point as Types.Point3);
    return [x, y];
  }

  /**
   * Canvas position of a point of the image shown, in cornerstone's image coordinates (pixel corners
   * at integers: the centre of pixel (c, r) is (c + 0.5, r + 0.5)), through cornerstone's own geometry.
   */
  imageToCanvas(column: number, row: number): [number, number] | null {
    const id = this.imageIds[this.index];
    if (!id) return null;
    const world = utilities.imageToWorldCoords(id, [column, row] as Types.Point2);
    return world ? this.worldToCanvas([world[0], world[1], world[2]] as Vec3) : null;
  }

  get count(): number {
    return this.imageIds.length;
  }

  get index(): number {
    return this.imageIds.length ? this.viewport.getCurrentImageIdIndex() : 0;
  }

  /** The window centre and width now shown. */
  get voi(): { center: number; width: number } | null {
    const range = this.viewport.getProperties().voiRange;
    if (!range) return null;
    return { center: (range.upper + range.lower) / 2, width: range.upper - range.lower };
  }

  async goTo(index: number): Promise<void> {
    if (!this.imageIds.length) return;
    await this.viewport.setImageIdIndex(Math.min(Math.max(0, index), this.imageIds.length - 1));
    this.onChange();
  }

  async scrollBy(delta: number): Promise<void> {
    await this.goTo(this.index + delta);
  }

  zoomBy(factor: number): void {
    this.viewport.setZoom(this.viewport.getZoom() * factor);
    this.viewport.render();
  }

  panBy(dx: number, dy: number): void {
    const [px, py] = this.viewport.getPan();
    this.viewport.setPan([px + dx, py + dy] as Types.Point2);
    this.viewport.render();
  }

  /** Widens/narrows the window and moves its centre by fractions of the current width. */
  adjustWindow(widthFactor: number, centreShift: number): void {
    const voi = this.voi;
    if (!voi) return;
    const width = Math.max(1, voi.width * widthFactor);
    const center = voi.center + centreShift * voi.width;
    this.viewport.setProperties({ voiRange: { lower: center - width / 2, upper: center + width / 2 } });
    this.viewport.render();
  }

  resetView(): void {
    this.viewport.resetCamera();
    this.viewport.resetProperties();
    this.viewport.render();
  }
}
