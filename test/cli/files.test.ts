/**
 * Files at rest (issue 11, finding 6): the data directory is 0700 and the database with its -wal
 * and -shm files 0600 whatever the umask, for `serve` and for the commands that open the data
 * directory; loose modes left by an older version are fixed at start, with one warning line each.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../support/eventually.js';
import { CLI, cleanEnv, removeDir, runCli, show, tempDir } from './run-cli.js';

let cwd: string;
before(() => {
  cwd = tempDir();
});
after(() => removeDir(cwd));

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(3, '0');
const DB = 'instant-connect.db';

/** Runs the CLI under `umask 000` (everything it creates would be world-writable by default). */
function underUmask000(args: string[], env: Record<string, string> = {}) {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('/bin/sh', ['-c', `umask 000; exec ${quoted}`], { cwd, env: cleanEnv(env) });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

async function serveUntilListening(data: string) {
  const p = underUmask000(['serve', '--port', '0', '--data', data, '--quiet']);
  try {
    await eventually(
      () => p.stderr(),
      (s) => /instant-connect listening on/.test(s) || p.child.exitCode !== null,
      'serve to listen',
      20_000,
    );
    assert.match(p.stderr(), /instant-connect listening on/, p.stderr());
    return p;
  } catch (err) {
    p.child.kill('SIGKILL');
    throw err;
  }
}

async function stop(p: ReturnType<typeof underUmask000>) {
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0, p.stderr());
}

describe('files at rest', () => {
  test('a fresh serve under umask 000 makes the directory 0700 and the database files 0600', async () => {
    const data = join(cwd, 'fresh', 'data');
    const p = await serveUntilListening(data);
    try {
      assert.equal(mode(data), '700');
      for (const file of [DB, `${DB}-wal`, `${DB}-shm`]) {
        assert.ok(existsSync(join(data, file)), `${file} exists while serving`);
        assert.equal(mode(join(data, file)), '600', file);
      }
      assert.doesNotMatch(p.stderr(), /warning:/, 'nothing to warn about on a fresh start');
    } finally {
      await stop(p);
    }
  });

  test('keys create under umask 000 makes the same private files', async () => {
    const data = join(cwd, 'keys');
    const p = underUmask000(['keys', 'create', '--name', 'k', '--data', data, '--json']);
    assert.equal(await p.exited, 0, p.stderr());
    assert.equal(mode(data), '700');
    assert.equal(mode(join(data, DB)), '600');
  });

  test('an existing 0755 directory and 0644 files are fixed at start, one warning each, no content', async () => {
    const data = join(cwd, 'loose');
    mkdirSync(data);
    const made = await runCli(['keys', 'create', '--name', 'k', '--data', data]);
    assert.equal(made.code, 0, show(made));
    chmodSync(data, 0o755);
    chmodSync(join(data, DB), 0o644);
    const p = await serveUntilListening(data);
    try {
      assert.equal(mode(data), '700');
      assert.equal(mode(join(data, DB)), '600');
      assert.equal(mode(join(data, `${DB}-wal`)), '600');
      const warnings = p
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('warning:'));
      assert.equal(warnings.length, 2, p.stderr());
      assert.ok(warnings.some((l) => l.includes(`${data} was mode 0755`) && l.includes('0700')));
      assert.ok(warnings.some((l) => l.includes(`${join(data, DB)} was mode 0644`) && l.includes('0600')));
    } finally {
      await stop(p);
    }
    // Fixed for good: the next start has nothing to say.
    const again = await serveUntilListening(data);
    await stop(again);
    assert.doesNotMatch(again.stderr(), /warning:/);
  });
});
