/**
 * Minimal types for jpeg-lossless-decoder-js 2.1.2, whose package.json names a declaration file
 * that the published package does not contain.
 */
declare module 'jpeg-lossless-decoder-js' {
  /** A JPEG Lossless (process 14) decoder; one instance decodes one stream. */
  export class Decoder {
    constructor(buffer?: ArrayBuffer, numBytes?: number);
    /** Width of the last decoded frame, from its SOF header. */
    xDim: number;
    /** Height of the last decoded frame, from its SOF header. */
    yDim: number;
    /** Number of components in the last decoded scan. */
    numComp: number;
    /** Sample precision in bits, from the SOF header. */
    precision: number | undefined;
    /**
     * Decodes `length` bytes of `buffer` from `offset`; returns one value per sample, as bytes when
     * the precision is at most 8 bits (or `numBytes` is 1), else as 16-bit words.
     */
    decode(buffer?: ArrayBuffer, offset?: number, length?: number, numBytes?: number): Uint8Array | Uint16Array;
  }
}
