/**
 * The tools nobody here wrote (newman, redocly, spectral, openapi-typescript), from the nested
 * package test/tools (`npm ci --prefix test/tools`, which .ci/run does). Where it is not
 * installed their suites are skipped with a clear message, except in CI (CI set), where that is
 * a failure: CI must run them.
 *
 *   const newman = testTool('newman');
 *   describe('…', newman.skip ? { skip: newman.skip } : {}, () => { … execFile(newman.path, …) });
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TOOLS_DIR = fileURLToPath(new URL('../tools/', import.meta.url));

export interface TestTool {
  /** test/tools/node_modules/.bin/<name>. */
  path: string;
  /** Set when the suite must be skipped: why, and how to install. */
  skip?: string;
}

export function testTool(name: string, env: Record<string, string | undefined> = process.env): TestTool {
  const path = `${TOOLS_DIR}node_modules/.bin/${name}`;
  if (existsSync(path)) return { path };
  const missing = `${name} is not installed in test/tools (npm ci --prefix test/tools)`;
  if (env['CI']) throw new Error(`${missing}; CI is set, so its tests must run, not be skipped`);
  return { path, skip: `${missing}: skipped` };
}
