/**
 * A local prebuild of better-sqlite3, as prebuild-install looks for one before it downloads or
 * compiles: `<dir>/better-sqlite3-v<version>-node-v<abi>-<platform>-<arch>.tar.gz`, holding
 * `build/Release/better_sqlite3.node`. Packed from the binary this checkout already built, so it
 * matches the running node.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const driver = join(import.meta.dirname, '..', '..', 'node_modules', 'better-sqlite3');

/** Packs the prebuild under `work` and returns the environment that points prebuild-install at it. */
export async function localPrebuilds(work: string): Promise<Record<string, string>> {
  const { version } = JSON.parse(readFileSync(join(driver, 'package.json'), 'utf8')) as { version: string };
  const dir = join(work, 'prebuilds');
  mkdirSync(dir, { recursive: true });
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await run('tar', ['-czf', join(dir, name), '-C', driver, 'build/Release/better_sqlite3.node'], {
    timeout: 60_000,
  });
  return { npm_config_better_sqlite3_local_prebuilds: dir };
}
