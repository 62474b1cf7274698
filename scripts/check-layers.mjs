#!/usr/bin/env node
/**
 * The layering check (`npm run lint` runs it): every import under src/ must point to the same
 * top-level folder or to a lower layer, and no files or folders may import each other in a circle.
 * The layer order is read from the `json layers` block in ARCHITECTURE.md, the one place it is kept.
 * Type-only imports, re-exports, dynamic `import()` and worker modules (`new URL('./x.js',
 * import.meta.url)`) all count. Usage: `node scripts/check-layers.mjs [repository root]`.
 * Prints the counts of upward imports and cycles, and each one; exits 1 when there is any.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
const srcRoot = join(root, 'src');

/** Reads the layer map: `{ layers: string[][], allow?: { from, to, why }[] }`, bottom layer first. */
function readLayerMap() {
  const file = join(root, 'ARCHITECTURE.md');
  const text = readFileSync(file, 'utf8');
  const block = /```json layers\n([\s\S]*?)```/.exec(text);
  if (!block) throw new Error(`${file}: no \`\`\`json layers block`);
  return JSON.parse(block[1]);
}

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const IMPORT_PATTERNS = [
  /\bfrom\s+['"](\.[^'"]+)['"]/g,
  /\bimport\s*\(\s*['"](\.[^'"]+)['"]\s*\)/g,
  /^\s*import\s+['"](\.[^'"]+)['"]/gm,
  /new URL\(\s*['"](\.[^'"]+\.js)['"]\s*,\s*import\.meta\.url\s*\)/g,
];

/** The src-relative paths a file imports (only those that exist). */
function importsOf(file) {
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const targets = new Set();
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      const target = normalize(join(dirname(file), match[1])).replace(/\.js$/, '.ts');
      if (existsSync(target) && statSync(target).isFile()) targets.add(toKey(target));
    }
  }
  return [...targets];
}

const toKey = (path) => relative(srcRoot, path).split(sep).join('/');
/** The layer unit of a file: its top-level folder under src/, or the file itself at the top. */
const unitOf = (key) => key.split('/')[0];

/** Tarjan's strongly connected components of size > 1 (each one a cycle), sorted for stable output. */
function cycles(graph) {
  let index = 0;
  const indices = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (node) => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node), indices.get(next)));
    }
    if (low.get(node) === indices.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!indices.has(node)) visit(node);
  return found.sort((a, b) => a[0].localeCompare(b[0]));
}

const map = readLayerMap();
const layerOf = new Map();
map.layers.forEach((units, rank) => {
  for (const unit of units) layerOf.set(unit, rank);
});
const allowed = new Set((map.allow ?? []).map((edge) => `${edge.from} -> ${edge.to}`));

const files = sourceFiles(srcRoot).sort();
const fileGraph = new Map();
const unitGraph = new Map();
const unmapped = new Set();
const upward = [];
const sideways = [];
let importCount = 0;
for (const file of files) {
  const from = toKey(file);
  if (!layerOf.has(unitOf(from))) unmapped.add(unitOf(from));
  const targets = importsOf(file);
  fileGraph.set(from, targets);
  for (const to of targets) {
    importCount++;
    const [a, b] = [unitOf(from), unitOf(to)];
    if (a === b || allowed.has(`${from} -> ${to}`)) continue;
    if (!unitGraph.has(a)) unitGraph.set(a, new Set());
    unitGraph.get(a).add(b);
    const [rankA, rankB] = [layerOf.get(a), layerOf.get(b)];
    if (rankA === undefined || rankB === undefined) continue;
    if (rankB > rankA) upward.push(`${from} -> ${to}   (${a}: layer ${rankA}, ${b}: layer ${rankB})`);
    else if (rankB === rankA) sideways.push(`${from} -> ${to}   (${a} and ${b} are siblings in layer ${rankA})`);
  }
}
const fileCycles = cycles(fileGraph);
const unitCycles = cycles(new Map([...unitGraph].map(([unit, next]) => [unit, [...next]])));

console.log(`layers: ${map.layers.length}, files: ${files.length}, imports: ${importCount}`);
const section = (title, items) => {
  console.log(`${title}: ${items.length}`);
  for (const item of items) console.log(`  ${item}`);
};
section('folders missing from the layer map', [...unmapped].sort());
section('allowed exceptions', [...allowed]);
section('upward imports', upward);
section('imports between sibling folders', sideways);
section(
  'file cycles',
  fileCycles.map((cycle) => cycle.join(' <-> ')),
);
section(
  'folder cycles',
  unitCycles.map((cycle) => cycle.join(' <-> ')),
);
const failures = unmapped.size + upward.length + sideways.length + fileCycles.length + unitCycles.length;
if (failures > 0) {
  console.error('layer check failed: imports must point down the layers in ARCHITECTURE.md, with no cycles');
  process.exit(1);
}
console.log('layer check passed');
