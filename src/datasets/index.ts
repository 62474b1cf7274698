/** Reads a labelled dataset in any layout spinegrade knows, detecting the layout from the folder. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SpinegradeError } from '../errors.js';
import { fileSystemError } from '../io/binary.js';
import { assertFolder, pathKind } from './common.js';
import { OWN_DATA_FILES, readOwnDataset } from './ownData.js';
import { readSpider2dDataset, SPIDER_2D_FILES } from './spider2d.js';
import { readSpiderOriginalDataset, SPIDER_ORIGINAL_FILES } from './spiderOriginal.js';
import type { DatasetLayout, SpineDataset } from './types.js';

export * from '../disc/levels.js';
export { type CsvOptions, type CsvTable, parseCsv, readCsv } from './csv.js';
export {
  datasetSequenceOf,
  OWN_DATA_FILES,
  OWN_LABEL_COLUMNS,
  readOwnDataset,
  readOwnLabels,
  readOwnSpacing,
} from './ownData.js';
export { readSemanticMaskPng, readSpider2dDataset, SPIDER_2D_FILES } from './spider2d.js';
export {
  type DiscInstance,
  discInstancesOfSlice,
  type InstanceSlice,
  readSpiderInstanceSlice,
  readSpiderOriginalDataset,
  SPIDER_CANAL_LABEL,
  SPIDER_DISC_LABEL_BASE,
  SPIDER_ORIGINAL_FILES,
  type SpiderMaskSliceRecord,
  type SpiderOriginalDataset,
  semanticMaskOfInstances,
  semanticValueOfSpiderLabel,
} from './spiderOriginal.js';
export { foldOfPatient, type PatientFold, patientFolds, worstPfirrmannByPatient } from './splits.js';
export * from './types.js';

/** The layouts in the order {@link detectDatasetLayout} tries them. */
export const DATASET_LAYOUTS: readonly DatasetLayout[] = ['own', 'spider-original', 'spider-2d'];

async function hasMetaImage(folder: string): Promise<boolean> {
  if ((await pathKind(folder)) !== 'folder') return false;
  try {
    return (await readdir(folder)).some((name) => /\.(mha|mhd)$/i.test(name));
  } catch (error) {
    throw fileSystemError(error, folder);
  }
}

/**
 * The layout of a dataset folder, or undefined when none fits: `labels.csv` + `studies/` → own;
 * `images/*.mha` → spider-original; `midsagittal/` (or SPIDER 2D's keypoints or T2 SPACE manifest) → spider-2d.
 */
export async function detectDatasetLayout(root: string): Promise<DatasetLayout | undefined> {
  await assertFolder(root);
  const at = (relative: string): string => join(root, ...relative.split('/'));
  const [labels, studies] = await Promise.all([
    pathKind(at(OWN_DATA_FILES.labels)),
    pathKind(at(OWN_DATA_FILES.studies)),
  ]);
  if (labels === 'file' && studies === 'folder') return 'own';
  if (await hasMetaImage(at(SPIDER_ORIGINAL_FILES.images))) return 'spider-original';
  const [mid, keypoints, manifest] = await Promise.all([
    pathKind(at(SPIDER_2D_FILES.midsagittal)),
    pathKind(at(SPIDER_2D_FILES.keypoints)),
    pathKind(at(SPIDER_2D_FILES.manifest)),
  ]);
  if (mid === 'folder' || keypoints === 'file' || manifest === 'file') return 'spider-2d';
  return undefined;
}

/** Reads a dataset in the given layout, or in the layout detected from the folder. */
export async function readDataset(root: string, layout?: DatasetLayout): Promise<SpineDataset> {
  const chosen = layout ?? (await detectDatasetLayout(root));
  switch (chosen) {
    case 'spider-2d':
      return readSpider2dDataset(root);
    case 'spider-original':
      return readSpiderOriginalDataset(root);
    case 'own':
      return readOwnDataset(root);
    case undefined:
      throw new SpinegradeError(
        'NO_IMAGES',
        'no dataset layout fits this folder: expected labels.csv + studies/ (own data), images/*.mha ' +
          '(original SPIDER) or midsagittal/ with overview.csv (SPIDER 2D); see docs/datasets.md',
        root,
      );
    default:
      throw new SpinegradeError('USAGE', `unknown dataset layout "${String(chosen)}"`);
  }
}
