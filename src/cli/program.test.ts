/** runCli in-process: the same output and exit codes as the bin, through the io it is given. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CliIo } from './io.js';
import { runCli } from './program.js';

function memoryIo(env: Record<string, string> = {}, cwd = process.cwd()) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (text) => out.push(text) },
    stderr: { write: (text) => err.push(text) },
    env,
    cwd,
  };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

test('--version prints the package version to io.stdout and exits 0', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const run = memoryIo();
  assert.equal(await runCli(['--version'], run.io), 0);
  assert.equal(run.stdout(), `${version}\n`);
});

test('a usage error exits 2 with the message on io.stderr', async () => {
  const run = memoryIo();
  assert.equal(await runCli(['links', '--hosts', 'many'], run.io), 2);
  assert.match(run.stderr(), /--hosts/);
  assert.equal(run.stdout(), '');
});

test('links --json on the local broker: DATA_DIR from io.env, relative to io.cwd', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'ic-runcli-'));
  try {
    const run = memoryIo({ DATA_DIR: 'data', PUBLIC_URL: 'http://127.0.0.1:9999' }, cwd);
    assert.equal(await runCli(['links', '--json', '--short'], run.io), 0, run.stderr());
    const result = JSON.parse(run.stdout()) as { guests: { shortUrl: string }[] };
    assert.match(result.guests[0]!.shortUrl, /^http:\/\/127\.0\.0\.1:9999\//);
    assert.match(run.stderr(), /Subject: .* \(generated\)/);
    // The store was made under io.cwd, not the process's working directory.
    const keys = memoryIo({ DATA_DIR: 'data' }, cwd);
    assert.equal(await runCli(['keys', 'list-broker', '--json'], keys.io), 0, keys.stderr());
    assert.equal((JSON.parse(keys.stdout()) as unknown[]).length, 1);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('a failing command: error on io.stderr and its exit code, the process untouched', async () => {
  const run = memoryIo();
  assert.equal(await runCli(['decode', 'not-a-link'], run.io), 2);
  assert.match(run.stderr(), /^error: decode: /);
  assert.equal(process.exitCode, undefined);
});
