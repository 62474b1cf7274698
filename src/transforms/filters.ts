/** Small separable filters on row-major 2D float images. */

/** A normalised 1D Gaussian kernel of standard deviation `sigma` (radius ⌈3σ⌉); `[1]` for σ ≤ 0. */
export function gaussianKernel(sigma: number): Float32Array {
  if (!(sigma > 0)) return Float32Array.of(1);
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) {
    const v = Math.exp(-(k * k) / (2 * sigma * sigma));
    kernel[k + radius] = v;
    sum += v;
  }
  for (let k = 0; k < kernel.length; k++) kernel[k] = (kernel[k] as number) / sum;
  return kernel;
}

/**
 * Gaussian blur with standard deviations `sigmaX`, `sigmaY` (pixels), edges replicated; returns a
 * new array (a copy when both are ≤ 0).
 */
export function gaussianBlur(
  pixels: Float32Array,
  width: number,
  height: number,
  sigmaX: number,
  sigmaY: number = sigmaX,
): Float32Array {
  const horizontal = convolveRows(pixels, width, height, gaussianKernel(sigmaX));
  return convolveColumns(horizontal, width, height, gaussianKernel(sigmaY));
}

function convolveRows(src: Float32Array, width: number, height: number, kernel: Float32Array): Float32Array {
  const out = new Float32Array(src.length);
  const radius = (kernel.length - 1) / 2;
  if (radius === 0) {
    out.set(src);
    return out;
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) {
        const xx = x + k < 0 ? 0 : x + k >= width ? width - 1 : x + k;
        acc += (kernel[k + radius] as number) * (src[row + xx] as number);
      }
      out[row + x] = acc;
    }
  }
  return out;
}

function convolveColumns(src: Float32Array, width: number, height: number, kernel: Float32Array): Float32Array {
  const out = new Float32Array(src.length);
  const radius = (kernel.length - 1) / 2;
  if (radius === 0) {
    out.set(src);
    return out;
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let k = -radius; k <= radius; k++) {
      const yy = y + k < 0 ? 0 : y + k >= height ? height - 1 : y + k;
      const weight = kernel[k + radius] as number;
      const other = yy * width;
      for (let x = 0; x < width; x++) out[row + x] = (out[row + x] as number) + weight * (src[other + x] as number);
    }
  }
  return out;
}
