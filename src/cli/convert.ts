/** `spinegrade convert`: one series to NIfTI, MetaImage or a DICOM MR series. */
import { SpinegradeError } from '../errors.js';
import { writeDicomSeries } from '../io/dicom/write.js';
import { type LoadOptions, loadSingleVolume } from '../io/load.js';
import { writeMetaImage } from '../io/metaimage.js';
import { writeNifti } from '../io/nifti.js';

/** Output formats `convert` writes. */
export type ConvertFormat = 'nifti' | 'metaimage' | 'dicom';

/** The output format for a path: by extension, or DICOM for a path without one. */
export function formatForOutput(path: string, explicit?: string): ConvertFormat {
  if (explicit !== undefined) {
    if (explicit === 'nifti' || explicit === 'metaimage' || explicit === 'dicom') return explicit;
    throw new SpinegradeError('USAGE', `--format must be nifti, metaimage or dicom, got "${explicit}"`);
  }
  const lower = path.toLowerCase();
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) return 'nifti';
  if (lower.endsWith('.mha') || lower.endsWith('.mhd')) return 'metaimage';
  if (!/\.[a-z0-9]+$/i.test(lower.replace(/\/+$/, ''))) return 'dicom';
  throw new SpinegradeError(
    'USAGE',
    `cannot tell the output format from "${path}": use .nii, .nii.gz, .mha, .mhd or a folder name`,
  );
}

/** Reads one series from `inputs` and writes it to `output`; nothing is written on failure. */
export async function convert(
  inputs: readonly string[],
  output: string,
  options: LoadOptions & { format?: string; overwrite?: boolean } = {},
): Promise<string[]> {
  const format = formatForOutput(output, options.format);
  const volume = await loadSingleVolume(inputs, options);
  const overwrite = options.overwrite ?? false;
  switch (format) {
    case 'nifti':
      await writeNifti(volume, output, { overwrite });
      return [output];
    case 'metaimage':
      await writeMetaImage(volume, output, { overwrite });
      return [output];
    case 'dicom':
      return writeDicomSeries(volume, output, { overwrite });
  }
}
