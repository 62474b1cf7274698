/** Resampling of 2D display slices to a target pixel spacing. */
import { SpinegradeError } from '../errors.js';

/** A row-major 2D image with its pixel spacing `[x, y]` in mm. */
export interface Image2D {
  readonly pixels: Float32Array;
  readonly width: number;
  readonly height: number;
  readonly pixelSpacing: readonly [number, number];
}

/**
 * Resamples an image to `targetSpacing` (mm, `[x, y]`) with bilinear interpolation, keeping the
 * physical extent: pixel centres are mapped so the first and last pixel edges coincide.
 */
export function resampleToSpacing(image: Image2D, targetSpacing: readonly [number, number]): Image2D {
  const [tx, ty] = targetSpacing;
  if (!(tx > 0 && ty > 0 && Number.isFinite(tx) && Number.isFinite(ty))) {
    throw new SpinegradeError('USAGE', `target spacing must be positive, got ${tx}×${ty} mm`);
  }
  const [sx, sy] = image.pixelSpacing;
  const width = Math.max(1, Math.round((image.width * sx) / tx));
  const height = Math.max(1, Math.round((image.height * sy) / ty));
  const scaleX = image.width / width;
  const scaleY = image.height / height;
  const out = new Float32Array(width * height);
  const src = image.pixels;
  const w = image.width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * scaleY - 0.5, 0), image.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, image.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * scaleX - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const wx = fx - x0;
      const top = (src[x0 + y0 * w] as number) * (1 - wx) + (src[x1 + y0 * w] as number) * wx;
      const bottom = (src[x0 + y1 * w] as number) * (1 - wx) + (src[x1 + y1 * w] as number) * wx;
      out[x + y * width] = top * (1 - wy) + bottom * wy;
    }
  }
  return { pixels: out, width, height, pixelSpacing: [(image.width * sx) / width, (image.height * sy) / height] };
}
