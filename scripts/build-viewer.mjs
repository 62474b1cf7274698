#!/usr/bin/env node
/**
 * Builds the browser viewer (viewer/) into dist/viewer/ with esbuild: index.html, app.css, app.js,
 * the DICOM image loader's decoding worker (decodeImageFrameWorker.js) and the codecs' WebAssembly
 * files (wasm/), so the app needs nothing from the network at run time.
 *
 *   node scripts/build-viewer.mjs [--no-typecheck] [--no-minify] [--sourcemap] [--analyze]
 *
 * The viewer is type-checked first (tsc -p viewer/tsconfig.json); --no-typecheck skips that.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const viewer = join(root, 'viewer');
const out = join(root, 'dist', 'viewer');
const args = new Set(process.argv.slice(2));
const require = createRequire(import.meta.url);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // esbuild is a devDependency: an install without them (npm ci --omit=dev) cannot build the viewer.
  if (existsSync(join(out, 'index.html'))) {
    console.log('build-viewer: esbuild is not installed; keeping the viewer already in dist/viewer/');
    process.exit(0);
  }
  console.error('build-viewer: esbuild is not installed (it is a devDependency); run npm ci to build the viewer');
  process.exit(1);
}

if (!args.has('--no-typecheck')) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(viewer, 'tsconfig.json')], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('build-viewer: the viewer does not type-check');
    process.exit(result.status ?? 1);
  }
}

const loaderDir = dirname(require.resolve('@cornerstonejs/dicom-image-loader'));
/** One copy of dcmjs for the cornerstone packages that each bring their own (same version). */
const cornerstoneDcmjs = join(dirname(require.resolve('@cornerstonejs/metadata')), '..', '..', 'node_modules', 'dcmjs');

/** Node built-ins that the codecs' Emscripten glue names but never uses in a browser. */
const NODE_ONLY = ['fs', 'path', 'module', 'worker_threads', 'crypto'];

const dedupeDcmjs = {
  name: 'dedupe-dcmjs',
  setup(build) {
    if (!existsSync(join(cornerstoneDcmjs, 'package.json'))) return;
    build.onResolve({ filter: /^dcmjs$/ }, (a) =>
      a.importer.includes(`${join('node_modules', '@cornerstonejs')}`)
        ? build.resolve(cornerstoneDcmjs, { kind: a.kind, resolveDir: root })
        : undefined,
    );
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'wasm'), { recursive: true });

const started = Date.now();
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: {
    app: join(viewer, 'src', 'main.ts'),
    decodeImageFrameWorker: join(loaderDir, 'decodeImageFrameWorker.js'),
  },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  minify: !args.has('--no-minify'),
  sourcemap: args.has('--sourcemap') ? 'linked' : false,
  legalComments: 'linked',
  external: NODE_ONLY,
  alias: { url: join(viewer, 'shims', 'url.js') },
  define: { 'process.env.NODE_ENV': '"production"' },
  plugins: [dedupeDcmjs],
  metafile: true,
  logLevel: 'warning',
  logOverride: { 'empty-import-meta': 'silent' },
});

// The codecs the worker may load (by file name; see wasmBasePath in viewer/src/imaging.ts).
const wasm = {
  'charlswasm_decode.wasm': '@cornerstonejs/codec-charls/decodewasm',
  'openjpegwasm_decode.wasm': '@cornerstonejs/codec-openjpeg/decodewasm',
  'libjpegturbowasm_decode.wasm': '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm',
  'openjphjs.wasm': '@cornerstonejs/codec-openjph/wasm',
};
const loaderRequire = createRequire(join(loaderDir, 'index.js'));
for (const [file, specifier] of Object.entries(wasm)) {
  copyFileSync(loaderRequire.resolve(specifier), join(out, 'wasm', file));
}
copyFileSync(join(viewer, 'index.html'), join(out, 'index.html'));
copyFileSync(join(viewer, 'app.css'), join(out, 'app.css'));
writeFileSync(
  join(out, 'BUILD.json'),
  `${JSON.stringify({ builtBy: 'scripts/build-viewer.mjs', version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version }, null, 2)}\n`,
);

const size = (file) => statSync(join(out, file)).size;
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
const wasmBytes = Object.keys(wasm).reduce((sum, f) => sum + size(join('wasm', f)), 0);
console.log(
  `build-viewer: dist/viewer/ in ${((Date.now() - started) / 1000).toFixed(1)} s — app.js ${kib(size('app.js'))}, ` +
    `decodeImageFrameWorker.js ${kib(size('decodeImageFrameWorker.js'))}, wasm ${kib(wasmBytes)}, app.css ${kib(size('app.css'))}`,
);
if (args.has('--analyze')) console.log(await esbuild.analyzeMetafile(result.metafile, { verbose: false }));
