/**
 * The tools nobody here wrote (redocly, spectral, openapi-typescript, TypeScript 5.9, newman), from
 * the nested package test/tools (`npm ci --prefix test/tools`, which .ci/run does). The same rule
 * as Chromium and PostgreSQL: without it the suites that need them are skipped with a message;
 * with CI set, that is a failure (CI must run them).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOOLS_DIR = fileURLToPath(new URL('../tools/', import.meta.url));
const BIN = join(TOOLS_DIR, 'node_modules', '.bin');

export type ToolsPlan =
  | { kind: 'run' }
  | { kind: 'skip'; message: string }
  | { kind: 'fail'; message: string };

/** Run, skip (test/tools not installed), or fail (not installed in CI, where these tests must run). */
export function toolsPlan(
  bins: string[],
  env: Record<string, string | undefined> = process.env,
  binDir: string = BIN,
): ToolsPlan {
  const missing = bins.filter((b) => !existsSync(join(binDir, b)));
  if (missing.length === 0) return { kind: 'run' };
  const message = `${missing.join(', ')} not found in test/tools/node_modules/.bin (npm ci --prefix test/tools)`;
  if (env['CI'])
    return { kind: 'fail', message: `${message}; CI is set, so these tests must run, not be skipped` };
  return { kind: 'skip', message: `${message}: skipped` };
}

/**
 * The options of a suite's `describe`: skipped, with the message, when a tool is missing; when CI
 * is set, the missing tools throw at once (the file fails).
 */
export function toolsSuite(bins: string[]): { skip?: string } {
  const plan = toolsPlan(bins);
  if (plan.kind === 'fail') throw new Error(plan.message);
  return plan.kind === 'skip' ? { skip: plan.message } : {};
}

export const toolPath = (bin: string) => join(BIN, bin);

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool of test/tools (no shell), its output read in full; never rejects. */
export function runTool(
  bin: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(
      toolPath(bin),
      args,
      {
        cwd: options.cwd ?? TOOLS_DIR,
        timeout: options.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
        maxBuffer: 32 * 1024 * 1024,
        encoding: 'utf8',
        // No colours, no update check, no telemetry: offline and plain.
        env: {
          ...process.env,
          NO_COLOR: '1',
          FORCE_COLOR: '0',
          REDOCLY_TELEMETRY: 'off',
          REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
        },
      },
      (error, stdout, stderr) => {
        const e = error as (Error & { code?: unknown }) | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr });
      },
    );
  });
}

export const showTool = (r: ToolResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
