/** An empty project that installs the package, and the checks that it is usable there. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/** An empty project with a package.json of its own. */
export function emptyProject(work: string, name: string): string {
  const app = join(work, name);
  mkdirSync(app, { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  return app;
}

/** The installed package imports as ESM, type-checks from its declarations, and its bin runs. */
export async function usable(app: string, version: string): Promise<void> {
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
  assert.equal(bin.stdout.trim(), version);
}
