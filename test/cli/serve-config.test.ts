/**
 * The configuration of `serve`: each variable works from the environment and from `.env` (cwd),
 * flags win over both, and a bad value exits 2 naming it (TRUST_PROXY, METRICS_*, pruning).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliProcess, removeDir, runCli, show, spawnCli, tempDir } from './run-cli.js';

let cwd: string;
const children: CliProcess[] = [];
before(() => {
  cwd = tempDir();
});
after(() => {
  for (const child of children) child.kill();
  removeDir(cwd);
});

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const TOKEN = 'metrics-token-0123456789';

/**
 * Starts `serve` in `dir` with no flag but `extra`, and checks that PORT, HOST, PUBLIC_URL, DATA_DIR,
 * LOG_LEVEL, METRICS_TOKEN, TRUST_PROXY and RATE_LIMIT_SHORT_CODE_MISSES_PER_ADDRESS took effect.
 */
async function checkOperations(dir: string, env: Record<string, string>, port: number, data: string) {
  const p = spawnCli(['serve'], { cwd: dir, env });
  children.push(p);
  const [, url] = await p.waitFor(/instant-connect listening on (http:\/\/[^\s]+)\n/, 20_000);
  assert.equal(url, `http://127.0.0.2:${port}`, 'PORT and HOST');
  assert.match(p.stderr(), /short links:\s+https:\/\/visits\.example\.test\/visit\/<code>/, 'PUBLIC_URL');
  assert.ok(p.stderr().includes(`data:          ${data} (sqlite)`), p.stderr());
  assert.ok(existsSync(join(data, 'instant-connect.db')), 'DATA_DIR holds the database');
  assert.match(p.stderr(), /proxies:\s+127\.0\.0\.1/, 'TRUST_PROXY');
  // METRICS_TOKEN: /metrics wants it, even from this machine.
  assert.equal((await fetch(`${url}/metrics`)).status, 401);
  assert.equal(
    (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
    200,
  );
  // RATE_LIMIT_SHORT_CODE_MISSES_PER_ADDRESS=2, per address as TRUST_PROXY believes it.
  const miss = (from: string) => fetch(`${url}/visit/Nope123`, { headers: { 'x-forwarded-for': from } });
  assert.equal((await miss('203.0.113.1')).status, 404);
  assert.equal((await miss('203.0.113.1')).status, 404);
  assert.equal((await miss('203.0.113.1')).status, 429, 'the third miss of that address');
  assert.equal((await miss('203.0.113.2')).status, 404, 'another address behind the trusted proxy');
  p.child.kill('SIGTERM');
  assert.equal((await p.exited).code, 0, p.stderr());
  // LOG_LEVEL=warn: no request was logged (read once the process has ended and flushed).
  assert.doesNotMatch(p.stdout(), /"statusCode"/, 'LOG_LEVEL');
}

function operationsEnv(port: number, data: string): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.2',
    PUBLIC_URL: 'https://visits.example.test',
    DATA_DIR: data,
    LOG_LEVEL: 'warn',
    METRICS_TOKEN: TOKEN,
    TRUST_PROXY: '127.0.0.1',
    RATE_LIMIT_SHORT_CODE_MISSES_PER_ADDRESS: '2',
  };
}

describe('serve takes its configuration from the environment, from .env, and flags first', () => {
  test('every variable of the group set only in the environment takes effect', async () => {
    const port = await freePort();
    const data = join(cwd, 'env-data');
    await checkOperations(cwd, operationsEnv(port, data), port, data);
  });

  test('the same values only in .env (in the working directory) take effect', async () => {
    const dir = join(cwd, 'dotenv');
    mkdirSync(dir);
    const port = await freePort();
    const data = join(dir, 'dotenv-data');
    const lines = Object.entries(operationsEnv(port, data)).map(([k, v]) => `${k}=${v}`);
    writeFileSync(join(dir, '.env'), `${lines.join('\n')}\n`);
    await checkOperations(dir, {}, port, data);
  });

  test('flags beat the environment: --port, --host, --data, --public-url, --quiet', async () => {
    const envPort = await freePort();
    const data = join(cwd, 'flag-data');
    const p = spawnCli(
      [
        'serve',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--data',
        data,
        '--public-url',
        'https://flag.example.test',
        '--quiet',
      ],
      {
        cwd,
        env: {
          PORT: String(envPort),
          HOST: '127.0.0.2',
          DATA_DIR: join(cwd, 'env-loses'),
          PUBLIC_URL: 'https://env.example.test',
          LOG_LEVEL: 'debug',
        },
      },
    );
    children.push(p);
    const [, url] = await p.waitFor(/instant-connect listening on (http:\/\/[^\s]+)\n/, 20_000);
    assert.match(url!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(url, `http://127.0.0.1:${envPort}`);
    assert.match(p.stderr(), /short links:\s+https:\/\/flag\.example\.test\/visit/);
    assert.ok(existsSync(join(data, 'instant-connect.db')));
    assert.ok(!existsSync(join(cwd, 'env-loses')), 'DATA_DIR lost to --data');
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    p.child.kill('SIGTERM');
    assert.equal((await p.exited).code, 0, p.stderr());
    assert.doesNotMatch(p.stdout(), /"statusCode"/, '--quiet beats LOG_LEVEL');
  });
});

describe('serve configuration', () => {
  for (const [name, value, rule] of [
    ['TRUST_PROXY', 'yes', /TRUST_PROXY must be true, false, a hop count, or a comma-separated list/],
    ['TRUST_PROXY', '10.0.0.0/40', /TRUST_PROXY must be/],
    ['METRICS_TOKEN', 'short', /METRICS_TOKEN must be 16 to 512 printable characters/],
    ['METRICS_PORT', '70000', /METRICS_PORT must be a port number/],
    ['PRUNE_INTERVAL_SECONDS', 'soon', /PRUNE_INTERVAL_SECONDS must be a whole number from 0/],
    ['DELIVERY_RETENTION_DAYS', '0', /DELIVERY_RETENTION_DAYS must be a whole number from 1/],
  ] as const) {
    test(`a bad ${name} exits 2 naming the variable`, async () => {
      const r = await runCli(['serve', '--port', '0', '--data', join(cwd, 'bad')], {
        env: { [name]: value },
      });
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, rule);
      if (name === 'METRICS_TOKEN') assert.doesNotMatch(r.stderr, /short/, 'never the value');
    });
  }
});
