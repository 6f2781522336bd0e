/**
 * The layout holds: every import in src/ (tests aside) is mapped to its folder, and the folder graph
 * must follow the layers below and have no cycle. A new folder must be given a layer here first.
 *
 * Layers, innermost first; a folder may import any folder of an inner layer, and a folder of its own
 * layer only along an edge listed in SAME_LAYER. Adapters sit outside the services: they implement
 * the ports the services declare (visits' LinkSource and LiveBus, domain's WebexApi), so they import
 * those types; services never import adapters, the container joins them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'util'],
  ['domain'],
  ['crypto', 'store', 'client'],
  ['reliability', 'jobs', 'broker', 'visits', 'hooks', 'bot', 'events', 'meetings', 'sms'],
  ['adapters'],
  ['contract'],
  ['server', 'openapi'],
  ['main'],
  ['cli'],
];

/** The SDK's entry point (src/index.ts): the client and what it is made of, nothing of the server. */
const SDK_ENTRY = { folder: 'index', may: ['client', 'domain', 'errors', 'util'] };

/** Imports allowed inside one layer ("from -> to"). */
const SAME_LAYER = new Set([
  'broker -> reliability',
  'visits -> broker',
  'visits -> reliability',
  'visits -> jobs',
  'hooks -> visits',
  'hooks -> jobs',
  'bot -> visits',
  'bot -> hooks',
  'bot -> jobs',
  'bot -> reliability',
  'meetings -> visits',
  'meetings -> hooks',
  'meetings -> jobs',
  'server -> openapi',
]);

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const folderOf = (file: string): string => {
  const parts = relative(SRC, file).split(/[\\/]/);
  return parts.length === 1 ? parts[0]!.replace(/\.[jt]s$/, '') : parts[0]!;
};

/** Folder edges, each with the imports that make it. Static, dynamic and type-only imports alike. */
function folderEdges(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm;
  for (const file of sourceFiles(SRC)) {
    for (const match of readFileSync(file, 'utf8').matchAll(specifier)) {
      const target = resolve(dirname(file), match[1]!);
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to) continue;
      const key = `${from} -> ${to}`;
      const list = edges.get(key) ?? [];
      list.push(`${relative(SRC, file)} imports ${match[1]}`);
      edges.set(key, list);
    }
  }
  return edges;
}

const layerOf = (folder: string) => LAYERS.findIndex((layer) => layer.includes(folder));

test('every folder of src/ has a layer', () => {
  const folders = new Set(sourceFiles(SRC).map(folderOf));
  const unplaced = [...folders].filter((f) => f !== SDK_ENTRY.folder && layerOf(f) < 0);
  assert.deepEqual(unplaced, [], 'give these folders a layer in test/architecture.test.ts');
});

test('imports point inward: no folder imports an outer layer, or its own layer off the list', () => {
  const broken: string[] = [];
  for (const [edge, sites] of folderEdges()) {
    const [from, to] = edge.split(' -> ') as [string, string];
    const ok =
      from === SDK_ENTRY.folder
        ? SDK_ENTRY.may.includes(to)
        : layerOf(to) >= 0 &&
          (layerOf(to) < layerOf(from) || (layerOf(to) === layerOf(from) && SAME_LAYER.has(edge)));
    if (!ok) broken.push(`${edge}: ${sites.join('; ')}`);
  }
  assert.deepEqual(broken, []);
});

test('no folder cycle', () => {
  const graph = new Map<string, Set<string>>();
  for (const edge of folderEdges().keys()) {
    const [from, to] = edge.split(' -> ') as [string, string];
    graph.set(from, (graph.get(from) ?? new Set()).add(to));
  }
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      cycles.push([...path.slice(path.indexOf(node)), node].join(' -> '));
      return;
    }
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, 'done');
  };
  for (const node of graph.keys()) visit(node, []);
  assert.deepEqual(cycles, []);
});
