/**
 * `npm install git+file://…` of a bare clone of the committed HEAD (no dist/ there): npm clones it,
 * installs its dependencies with the devDependencies, runs `prepare` (the build) and packs it. The
 * package then imports as ESM with its types, and its bin runs.
 *
 * better-sqlite3 is a devDependency, so npm's clone installs it, and its install script first asks
 * prebuild-install for a prebuilt binary (from GitHub, which this machine cannot reach) and else
 * compiles it (70 s idle, minutes on a loaded machine). The test gives prebuild-install what an
 * organisation's offline mirror would: a local prebuild (`npm_config_better_sqlite3_local_prebuilds`),
 * packed from the binary already built here. The compile itself is proved by `npm ci` in CI.
 * The limits catch a hang, they do not measure speed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { emptyProject, usable } from './consumer.js';
import { localPrebuilds } from './prebuild.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'ic-git-'));
after(() => rmSync(work, { recursive: true, force: true }));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

test('npm install git+file:// of a bare clone builds it and installs in an empty project', {
  timeout: 14 * 60_000,
}, async () => {
  const bare = join(work, 'instant-connect.git');
  await run('git', ['clone', '--quiet', '--bare', root, bare], { timeout: 60_000 });
  const app = emptyProject(work, 'git-app');
  // npm clones it, installs its dependencies with the devDependencies (better-sqlite3 from the
  // local prebuild), runs `prepare` and packs it. The project's own copy omits the optional
  // native SQLite drivers, which the SDK and the bin's --version never load.
  await run(
    'npm',
    [
      'install',
      `git+file://${bare}`,
      '--prefer-offline',
      '--omit=optional',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ],
    { cwd: app, timeout: 12 * 60_000, env: { ...process.env, ...(await localPrebuilds(work)) } },
  );
  assert.ok(
    existsSync(join(app, 'node_modules', 'instant-connect', 'dist', 'cli', 'main.js')),
    'dist/ was built',
  );
  await usable(app, pkg.version);
});
