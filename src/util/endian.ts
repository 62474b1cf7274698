/** Byte order of typed arrays on this platform (little-endian wherever Node runs, but the file formats need it said). */

/** True when typed arrays store numbers little-endian, as ONNX raw data and tfjs weight files do. */
export const LITTLE_ENDIAN = new Uint8Array(Float32Array.of(1).buffer)[3] === 0x3f;
