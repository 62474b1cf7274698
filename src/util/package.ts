/** Where the installed spinegrade package lives, whether running from dist/ or from compiled tests. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding spinegrade's package.json (found by walking up from this module). */
export function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(folder, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'spinegrade'
    ) {
      return folder;
    }
    const parent = dirname(folder);
    if (parent === folder) throw new Error('cannot find the spinegrade package folder');
    folder = parent;
  }
}
