/**
 * The document the server serves (GET /openapi.json) passes the OpenAPI linters people run on it:
 * `redocly lint` (recommended rules) and `spectral lint` (spectral:oas), each with the project's
 * configuration in test/tools (redocly.yaml, .spectral.yaml): 0 errors. The one documented
 * exception, Cisco's trailing-slash space route, is allowed for that path only.
 * Needs test/tools (npm ci --prefix test/tools): skipped without it, a failure under CI.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { removeDir, tempDir } from '../cli/run-cli.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { runTool, showTool, TOOLS_DIR, toolsPlan, toolsSuite } from '../support/test-tools.js';

const REDOCLY_CONFIG = join(TOOLS_DIR, 'redocly.yaml');
const SPECTRAL_RULESET = join(TOOLS_DIR, '.spectral.yaml');

interface RedoclyReport {
  totals: { errors: number; warnings: number };
  problems: {
    ruleId: string;
    severity: 'error' | 'warn';
    message: string;
    location: { pointer: string }[];
  }[];
}
interface SpectralProblem {
  code: string;
  severity: number; // 0 error, 1 warning, 2 info, 3 hint
  message: string;
  path: string[];
}

async function redocly(file: string): Promise<RedoclyReport> {
  const result = await runTool('redocly', ['lint', file, '--config', REDOCLY_CONFIG, '--format', 'json']);
  const start = result.stdout.indexOf('{');
  assert.ok(start >= 0, `redocly printed no report\n${showTool(result)}`);
  return JSON.parse(result.stdout.slice(start)) as RedoclyReport;
}

async function spectral(file: string): Promise<SpectralProblem[]> {
  const result = await runTool('spectral', ['lint', file, '--ruleset', SPECTRAL_RULESET, '--format', 'json']);
  const start = result.stdout.indexOf('[');
  assert.ok(start >= 0, `spectral printed no report\n${showTool(result)}`);
  return JSON.parse(result.stdout.slice(start)) as SpectralProblem[];
}

const redoclyErrors = (r: RedoclyReport) =>
  r.problems
    .filter((p) => p.severity === 'error')
    .map((p) => `${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`);
const spectralErrors = (problems: SpectralProblem[]) =>
  problems.filter((p) => p.severity === 0).map((p) => `${p.code} ${p.path.join('.')}: ${p.message}`);

describe(
  'the OpenAPI linters find no error in the served document',
  toolsSuite(['redocly', 'spectral']),
  () => {
    let server: TestServer;
    let dir: string;
    let file: string;
    let served: Record<string, any>;
    before(async () => {
      server = await startTestServer();
      dir = tempDir('ic-openapi-lint-');
      const response = await fetch(`${server.url}/openapi.json`);
      assert.equal(response.status, 200);
      served = (await response.json()) as Record<string, any>;
      file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(served, null, 2));
    });
    after(async () => {
      await server?.close();
      if (dir) removeDir(dir);
    });

    test('redocly lint (recommended): 0 errors', async () => {
      const report = await redocly(file);
      assert.deepEqual(redoclyErrors(report), []);
      assert.equal(report.totals.errors, 0);
    });

    test('spectral lint (spectral:oas): 0 errors', async () => {
      assert.deepEqual(spectralErrors(await spectral(file)), []);
    });

    test("Cisco's trailing-slash route stays, and is the only path the linters allow to end with a slash", async () => {
      assert.ok(served['paths']['/api/v1/space/'], 'the document keeps /api/v1/space/');
      // The exception is for that path only: another trailing slash is an error for both linters.
      const other = structuredClone(served);
      other['paths']['/api/visits/'] = other['paths']['/api/visits'];
      const otherFile = join(dir, 'other-slash.json');
      writeFileSync(otherFile, JSON.stringify(other, null, 2));
      assert.match(redoclyErrors(await redocly(otherFile)).join('\n'), /trailing-slash.*~1api~1visits~1/);
      assert.match(
        spectralErrors(await spectral(otherFile)).join('\n'),
        /path-keys-no-trailing-slash paths\.\/api\/visits\//,
      );
    });
  },
);

test('without test/tools the tool suites are skipped with a message, and under CI they fail', () => {
  const nowhere = join(TOOLS_DIR, 'no-such-dir');
  const skip = toolsPlan(['redocly', 'spectral'], {}, nowhere);
  assert.equal(skip.kind, 'skip');
  assert.match(
    skip.kind === 'skip' ? skip.message : '',
    /redocly, spectral not found .*npm ci --prefix test\/tools/,
  );
  const fail = toolsPlan(['redocly'], { CI: 'true' }, nowhere);
  assert.equal(fail.kind, 'fail');
  assert.match(fail.kind === 'fail' ? fail.message : '', /CI is set, so these tests must run/);
});
