/** The voxel element types the image readers and writers share, with their NIfTI and MetaImage names. */
import type { VoxelArray } from '../volume/volume.js';
import { swapBytes } from './binary.js';

/** A voxel type spinegrade reads and writes. */
export interface VoxelType {
  /** Plain name, as NIfTI messages use it (`uint8`, `float32`, …). */
  readonly name: string;
  /** NIfTI-1 `datatype` code. */
  readonly niftiCode: number;
  /** MetaImage `ElementType`. */
  readonly met: string;
  readonly bytes: number;
  /** A zero-filled array of `length` elements. */
  readonly create: (length: number) => VoxelArray;
  /** Views a whole, freshly allocated buffer as this type. */
  readonly view: (buffer: ArrayBuffer) => VoxelArray;
}

/** Every voxel type read and written, in MetaImage's order (by width, unsigned first). */
export const VOXEL_TYPES: readonly VoxelType[] = [
  {
    name: 'uint8',
    niftiCode: 2,
    met: 'MET_UCHAR',
    bytes: 1,
    create: (n) => new Uint8Array(n),
    view: (b) => new Uint8Array(b),
  },
  {
    name: 'int8',
    niftiCode: 256,
    met: 'MET_CHAR',
    bytes: 1,
    create: (n) => new Int8Array(n),
    view: (b) => new Int8Array(b),
  },
  {
    name: 'uint16',
    niftiCode: 512,
    met: 'MET_USHORT',
    bytes: 2,
    create: (n) => new Uint16Array(n),
    view: (b) => new Uint16Array(b),
  },
  {
    name: 'int16',
    niftiCode: 4,
    met: 'MET_SHORT',
    bytes: 2,
    create: (n) => new Int16Array(n),
    view: (b) => new Int16Array(b),
  },
  {
    name: 'uint32',
    niftiCode: 768,
    met: 'MET_UINT',
    bytes: 4,
    create: (n) => new Uint32Array(n),
    view: (b) => new Uint32Array(b),
  },
  {
    name: 'int32',
    niftiCode: 8,
    met: 'MET_INT',
    bytes: 4,
    create: (n) => new Int32Array(n),
    view: (b) => new Int32Array(b),
  },
  {
    name: 'float32',
    niftiCode: 16,
    met: 'MET_FLOAT',
    bytes: 4,
    create: (n) => new Float32Array(n),
    view: (b) => new Float32Array(b),
  },
  {
    name: 'float64',
    niftiCode: 64,
    met: 'MET_DOUBLE',
    bytes: 8,
    create: (n) => new Float64Array(n),
    view: (b) => new Float64Array(b),
  },
];

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The voxel type of an array. */
export function voxelTypeOf(voxels: VoxelArray): VoxelType {
  const name =
    voxels instanceof Uint8Array
      ? 'uint8'
      : voxels instanceof Int8Array
        ? 'int8'
        : voxels instanceof Uint16Array
          ? 'uint16'
          : voxels instanceof Int16Array
            ? 'int16'
            : voxels instanceof Uint32Array
              ? 'uint32'
              : voxels instanceof Int32Array
                ? 'int32'
                : voxels instanceof Float32Array
                  ? 'float32'
                  : 'float64';
  return VOXEL_TYPES.find((t) => t.name === name) as VoxelType;
}

/** Views freshly read bytes (a whole buffer) as voxels of `type`, swapping them in place first when the file's byte order is not the host's. */
export function voxelsFromBytes(bytes: Uint8Array, type: VoxelType, littleEndian: boolean): VoxelArray {
  if (type.bytes > 1 && littleEndian !== HOST_LITTLE_ENDIAN) swapBytes(bytes, type.bytes);
  return type.view(bytes.buffer as ArrayBuffer);
}

/** The voxels' bytes in little-endian order: a view on a little-endian host, else a swapped copy. */
export function littleEndianBytes(voxels: VoxelArray): Uint8Array {
  const view = new Uint8Array(voxels.buffer, voxels.byteOffset, voxels.byteLength);
  if (voxels.BYTES_PER_ELEMENT === 1 || HOST_LITTLE_ENDIAN) return view;
  const copy = Uint8Array.from(view);
  swapBytes(copy, voxels.BYTES_PER_ELEMENT);
  return copy;
}
