// npm's `prepare`: builds dist/ on `npm install` in a clone, on `npm pack`/`npm publish`, and in the
// temporary clone npm makes for `npm install <git url>` (which installs devDependencies first), so a
// git or tarball install gets the built code, its types and the bin. In a clone installed without
// devDependencies (`npm ci --omit=dev`) there is no compiler: it says so and leaves dist/ as it is.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
let tsc;
try {
  tsc = join(
    createRequire(join(root, 'package.json')).resolve('typescript/package.json'),
    '..',
    'bin',
    'tsc',
  );
} catch {
  const built = existsSync(join(root, 'dist', 'cli', 'main.js'));
  process.stderr.write(
    `instant-connect prepare: TypeScript is not installed (devDependencies omitted): dist/ not built${built ? '' : ' and missing; run "npm install" with devDependencies, then "npm run build"'}\n`,
  );
  process.exit(0);
}
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
