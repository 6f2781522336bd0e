/**
 * The package as users get it: `npm pack` holds only what they need, and the package installed in
 * an empty project, from a tarball or from git, imports as ESM with its types, and its
 * `instant-connect` bin runs. Both start from the committed HEAD, where there is no dist/: npm's
 * `prepare` builds it (on `npm pack`, and in the clone npm makes for a git install: git-install.test.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { emptyProject, usable } from './consumer.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'ic-pack-'));
after(() => rmSync(work, { recursive: true, force: true }));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

test('npm pack: built code, types, the CLI, web assets, README, LICENSE, CHANGELOG; nothing else', async () => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    timeout: 60_000,
  });
  const files = (JSON.parse(stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path);
  for (const needed of [
    'package.json',
    'README.md',
    'LICENSE',
    'CHANGELOG.md',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'dist/main/serve.js',
    'public/app.css',
    'public/visit.js',
    'public/staff.js',
  ]) {
    assert.ok(files.includes(needed), `${needed} is in the package`);
  }
  for (const file of files) {
    assert.match(
      file,
      /^(dist\/|public\/|package\.json$|README\.md$|LICENSE$|CHANGELOG\.md$)/,
      `${file} should not be packed`,
    );
    assert.doesNotMatch(file, /\.test\.|(^|\/)test\/|\.db$|\.env/, `${file} should not be packed`);
  }
});

test('the tarball of a fresh clone (no dist/) installs in an empty project: ESM import, types, and the bin', async () => {
  // The committed HEAD, with the dependencies already installed here: `npm pack` runs `prepare`.
  const clone = join(work, 'clone');
  await run('git', ['clone', '--quiet', root, clone], { timeout: 60_000 });
  assert.ok(!existsSync(join(clone, 'dist')), 'a clone has no dist/');
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: clone,
    timeout: 120_000,
  });
  const tarball = join(work, (JSON.parse(stdout) as [{ filename: string }])[0].filename);
  const app = emptyProject(work, 'tarball-app');
  // Scripts off: the SDK and the bin's --version never load the native SQLite module.
  await run('npm', ['install', tarball, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: app,
    timeout: 240_000,
  });
  await usable(app, pkg.version);
});
