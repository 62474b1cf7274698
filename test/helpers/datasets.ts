/** Small datasets and models made for tests from the fixtures. */
import { copyFile, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { levelOfIvdLabel } from '../../src/disc/levels.js';

const MINI = 'test/fixtures/datasets/spider-2d-mini';

/**
 * An own-data folder (docs/datasets.md) made from the mini SPIDER fixture's T2 slices of patients 5
 * and 7, graded for Pfirrmann, Modic and herniation.
 */
export async function ownDataFromMini(root: string): Promise<string> {
  const spacing: Record<string, string> = { '5': '2.34375', '7': '1.875' };
  const lines = ['file,col_spacing_mm,row_spacing_mm'];
  for (const patient of ['5', '7']) {
    await mkdir(join(root, 'studies', patient), { recursive: true });
    await copyFile(join(MINI, 'midsagittal', `${patient}_t2.png`), join(root, 'studies', patient, 't2.png'));
    lines.push(`${patient}/t2.png,${spacing[patient]},${spacing[patient]}`);
  }
  await writeFile(join(root, 'spacing.csv'), `${lines.join('\n')}\n`);
  const gradings = (await readFile(join(MINI, 'radiological_gradings.csv'), 'utf8')).trim().split(/\r?\n/).slice(1);
  const labels = ['patient,level,pfirrmann,modic,herniation'];
  for (const row of gradings) {
    const [patient, ivd, modic, , , , herniation, , , pfirrmann] = row.split(',');
    if (patient !== '5' && patient !== '7') continue;
    labels.push(`${patient},${levelOfIvdLabel(Number(ivd))},${pfirrmann},${modic},${herniation}`);
  }
  await writeFile(join(root, 'labels.csv'), `${labels.join('\n')}\n`);
  return root;
}

/**
 * A copy of the bundled localiser in `folder` whose training record names only these SPIDER
 * patients (and so no manifest: it is described from its files).
 */
export async function localizerTrainedOn(folder: string, patients: readonly string[]): Promise<string> {
  await cp('models/localizer', folder, { recursive: true });
  await rm(join(folder, 'manifest.json'));
  const model = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
  model.userDefinedMetadata.trainedOn = { dataset: 'SPIDER training split', patients };
  await writeFile(join(folder, 'model.json'), JSON.stringify(model));
  return folder;
}
