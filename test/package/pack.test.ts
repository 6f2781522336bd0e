/**
 * The package as users get it: `npm pack` holds only what they need, and the package installed in
 * an empty project, from a tarball or from git, imports as ESM with its types, and its
 * `instant-connect` bin runs. Both start from the committed HEAD, where there is no dist/: npm's
 * `prepare` builds it (on `npm pack`, and in the clone npm makes for a git install).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

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
    'dist/server/serve.js',
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

/** An empty project with a package.json of its own. */
function emptyProject(name: string): string {
  const app = join(work, name);
  mkdirSync(app, { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  return app;
}

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
  const app = emptyProject('tarball-app');
  // Scripts off: the SDK and the bin's --version never load the native SQLite module.
  await run('npm', ['install', tarball, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: app,
    timeout: 240_000,
  });
  await usable(app);
});

test('npm install git+file:// of a bare clone builds it and installs in an empty project', {
  timeout: 6 * 60_000,
}, async () => {
  const bare = join(work, 'instant-connect.git');
  await run('git', ['clone', '--quiet', '--bare', root, bare], { timeout: 60_000 });
  const app = emptyProject('git-app');
  // npm clones it, installs its dependencies with the devDependencies (better-sqlite3 compiles
  // there, about 70 s), runs `prepare` and packs it. The project's own copy omits the optional
  // native SQLite drivers, which the SDK and the bin's --version never load: one compile, not two.
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
    { cwd: app, timeout: 5 * 60_000 },
  );
  assert.ok(
    existsSync(join(app, 'node_modules', 'instant-connect', 'dist', 'cli', 'main.js')),
    'dist/ was built',
  );
  await usable(app);
});

/** The installed package imports as ESM, type-checks from its declarations, and its bin runs. */
async function usable(app: string): Promise<void> {
  writeFileSync(
    join(app, 'consumer.ts'),
    `import { InstantConnect, planBatches, ValidationError, type LinkResult } from 'instant-connect';
const ic = new InstantConnect({ broker: 'usgov', token: 't' });
const plan = ic.plan({ subject: 'Visit 42', hosts: 1, guests: 60, shortUrls: true });
const calls: number = planBatches(1, 60).length;
const check = (r: LinkResult): string | undefined => r.guests[0]?.shortUrl;
console.log(JSON.stringify({ broker: ic.environment.brokerUrl, calls, bodies: plan.bodies.length, v: ValidationError.name, f: typeof check }));
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: [],
      },
      files: ['consumer.ts'],
    }),
  );
  await run(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    {
      cwd: app,
      timeout: 120_000,
    },
  );
  writeFileSync(
    join(app, 'consumer.mjs'),
    `import { InstantConnect, planBatches, ValidationError } from 'instant-connect';
const ic = new InstantConnect({ broker: 'usgov', token: 't' });
const plan = ic.plan({ subject: 'Visit 42', hosts: 1, guests: 60, shortUrls: true });
const calls = planBatches(1, 60).length;
console.log(JSON.stringify({ broker: ic.environment.brokerUrl, calls, bodies: plan.bodies.length, v: ValidationError.name, f: typeof planBatches }));
`,
  );
  const out = await run(process.execPath, ['consumer.mjs'], { cwd: app, timeout: 30_000 });
  assert.deepEqual(JSON.parse(out.stdout), {
    broker: 'https://mtg-broker.gov.ciscospark.com',
    calls: 3,
    bodies: 3,
    v: 'ValidationError',
    f: 'function',
  });
  const bin = await run(join(app, 'node_modules', '.bin', 'instant-connect'), ['--version'], {
    cwd: app,
    timeout: 30_000,
  });
  assert.equal(bin.stdout.trim(), pkg.version);
}
