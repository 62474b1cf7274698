/**
 * Minimal types for the parts of dcmjs (0.51) that spinegrade uses. dcmjs ships no type
 * declarations; values read from a file are typed as `unknown` so that callers must check them.
 */
declare module 'dcmjs' {
  /** One element of a dataset in DICOM JSON form: its value representation and values. */
  export interface DicomElement {
    vr: string;
    Value?: unknown[];
    InlineBinary?: string;
    BulkDataURI?: string;
    [key: string]: unknown;
  }

  /** A dataset in DICOM JSON form, keyed by the tag in hex (e.g. '00280010'). */
  export type DenaturalizedDataset = Record<string, DicomElement>;

  /** A dataset keyed by keyword (e.g. 'Rows'), as `naturalizeDataset` returns it. */
  export type NaturalizedDataset = Record<string, unknown>;

  /** Options of `DicomMessage.readFile`. */
  export interface ReadOptions {
    ignoreErrors?: boolean;
    untilTag?: string | null;
    includeUntilTagValue?: boolean;
    noCopy?: boolean;
    forceStoreRaw?: boolean;
  }

  /** Options of `DicomDict.write`. */
  export interface WriteOptions {
    allowInvalidVRLength?: boolean;
    /** Split encapsulated frames into 20 KiB fragments (default true). */
    fragmentMultiframe?: boolean;
  }

  export namespace data {
    /** A Part 10 file: its file meta information and its main dataset, both in DICOM JSON form. */
    class DicomDict {
      constructor(meta: DenaturalizedDataset);
      meta: DenaturalizedDataset;
      dict: DenaturalizedDataset;
      /** Encodes the file (preamble, meta, dataset in the meta's transfer syntax). */
      write(options?: WriteOptions): ArrayBuffer;
    }

    /** Reading of Part 10 files. */
    class DicomMessage {
      /** Parses a Part 10 file; a deflated dataset is inflated while reading. Throws on malformed input. */
      static readFile(buffer: ArrayBuffer, options?: ReadOptions): DicomDict;
    }

    /** Conversions between DICOM JSON (tag-keyed) and keyword-keyed datasets. */
    class DicomMetaDictionary {
      static naturalizeDataset(dataset: DenaturalizedDataset): NaturalizedDataset;
      static denaturalizeDataset(dataset: NaturalizedDataset): DenaturalizedDataset;
      /** A new UID under dcmjs's root. */
      static uid(): string;
    }
  }

  const dcmjs: { data: typeof data };
  export default dcmjs;
}
