import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(new URL('..', import.meta.url).pathname);

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Top-level folder of src a file is in (`errors.ts` and `index.ts` are their own). */
const folderOf = (path: string) => relative(SRC, path).split('/')[0]!.replace(/\.ts$/, '');

/** Folder → folders it imports from (static and dynamic imports). */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of files(SRC)) {
    const from = folderOf(file);
    const deps = graph.get(from) ?? new Set<string>();
    graph.set(from, deps);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
      const to = folderOf(resolve(dirname(file), m[1]!));
      if (to !== from) deps.add(to);
    }
  }
  return graph;
}

test('the contract depends on neither the server nor the OpenAPI renderers; OpenAPI never on the server', () => {
  const graph = folderGraph();
  assert.deepEqual(
    [...(graph.get('contract') ?? [])].filter((f) => f === 'server' || f === 'openapi'),
    [],
  );
  assert.ok(!graph.get('openapi')?.has('server'), 'openapi/ imports server/');
  assert.ok(graph.get('openapi')?.has('contract'), 'openapi/ renders the contract');
});
