/** `serve` as a child process: it listens, answers, serves links made by the CLI, and stops on a signal. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AT_ONCE } from '../support/concurrency.js';
import { CLI, type CliProcess, cleanEnv, removeDir, runCli, show, spawnCli, tempDir } from './run-cli.js';

let cwd: string;
const children: CliProcess[] = [];

before(() => {
  cwd = tempDir();
});

after(() => {
  for (const child of children) child.kill();
  removeDir(cwd);
});

async function serve(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ p: CliProcess; url: string }> {
  const p = spawnCli(['serve', ...args], { cwd, env });
  children.push(p);
  const match = await p.waitFor(/instant-connect listening on (http:\/\/127\.0\.0\.1:(\d+))\n/, 20_000);
  assert.notEqual(match[2], '0', 'the real port is printed');
  return { p, url: match[1]! };
}

async function stop(
  p: CliProcess,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const started = Date.now();
  p.child.kill(signal);
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`no exit within 8 s of ${signal}\n${p.stderr()}`)), 8000).unref(),
  );
  const exit = await Promise.race([p.exited, timeout]);
  return { ...exit, ms: Date.now() - started };
}

describe('serve', { concurrency: AT_ONCE }, () => {
  test('--port 0 prints the real port, answers /healthz, and SIGTERM exits 0 closing the database', async () => {
    const data = join(cwd, 'term');
    const { p, url } = await serve(['--port', '0', '--data', data, '--quiet']);
    assert.ok(p.stderr().includes(`data:          ${data} (sqlite)`), p.stderr());
    assert.match(p.stderr(), /first start:\s+created the database/);
    // Alerts are wanted by default, and there is no bot to send them: serve says so.
    assert.match(
      p.stderr(),
      /waiting alert: off: no bot to send it \(set WEBEX_TOKEN\), though WAITING_ALERT_SECONDS is 60/,
    );
    // Without SMTP_URL and SMTP_FROM there is no email, and serve says so.
    assert.match(p.stderr(), /email: +off: recipients get no notices \(set SMTP_URL and SMTP_FROM\)/);
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const { code, ms } = await stop(p, 'SIGTERM');
    assert.equal(code, 0, p.stderr());
    assert.ok(ms < 8000, `stopped in ${ms} ms`);
    assert.match(p.stderr(), /SIGTERM: finishing requests in flight and closing the database/);
    await assert.rejects(fetch(`${url}/healthz`), 'nothing listens any more');
  });

  test('SIGINT stops it the same way; a second start keeps the data', async () => {
    const data = join(cwd, 'int');
    const first = await serve(['--port', '0', '--data', data, '--quiet']);
    const org = /organisation:\s+.*\(([0-9a-f-]{36})\)/.exec(first.p.stderr())?.[1];
    assert.ok(org, first.p.stderr());
    const stopped = await stop(first.p, 'SIGINT');
    assert.equal(stopped.code, 0, `${JSON.stringify(stopped)}\n${first.p.stderr()}`);
    assert.match(first.p.stderr(), /SIGINT: finishing requests in flight and closing the database/);

    const second = await serve(['--data', data, '--quiet'], { PORT: '0' });
    assert.ok(second.p.stderr().includes(`(${org})`), 'the same organisation');
    assert.doesNotMatch(second.p.stderr(), /first start/);
    assert.equal((await stop(second.p, 'SIGTERM')).code, 0);
  });

  test('links made by the CLI into its data directory open on it', async () => {
    const data = join(cwd, 'links');
    const { p, url } = await serve(['--port', '0', '--data', data]);
    try {
      const r = await runCli(['links', '--data', data, '--short', '--iterations', '1000', '--json'], {
        cwd,
        env: { PUBLIC_URL: url },
      });
      assert.equal(r.code, 0, show(r));
      const result = JSON.parse(r.stdout);
      for (const link of [...result.hosts, ...result.guests]) {
        const redirect = await fetch(link.shortUrl, { redirect: 'manual' });
        assert.equal(redirect.status, 302);
        assert.equal(redirect.headers.get('location'), link.longUrl);
        const page = await fetch(link.longUrl);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /Valid/);
      }
      // Request logs go to stdout as JSON lines: the link pages are logged, their ciphers never.
      await p.waitFor(/"url":"\/hc\/v1\/talk\?int=jose&v=1&data=\[REDACTED\]"/);
      assert.match(p.stdout(), /"statusCode":302/);
      for (const link of [...result.hosts, ...result.guests]) {
        assert.ok(!p.stdout().includes(link.cipher), 'no cipher is logged');
        assert.ok(!p.stdout().includes(link.cipher.split('.')[0]), 'nor its header');
      }
    } finally {
      assert.equal((await stop(p, 'SIGTERM')).code, 0, p.stderr());
    }
  });

  test('the first-start hint, run as printed in the same cwd with DATA_DIR and PORT set, makes links that open on this server', async () => {
    const data = join(cwd, 'hint-data');
    const { p, url } = await serve(['--quiet'], { DATA_DIR: data, PORT: '0' });
    try {
      const hint = (await p.waitFor(/^ {2}(.*npx instant-connect links --short.*)$/m))[1]!;
      assert.ok(hint.includes(url), `the hint names this server (${url}): ${hint}`);
      // As a shell would run it, npx being this build of the CLI, and with no DATA_DIR nor PORT.
      const command = hint.replace(
        'npx instant-connect',
        `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)}`,
      );
      const made = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          '/bin/sh',
          ['-c', `${command} --iterations 1000 --json`],
          { cwd, env: cleanEnv() },
          (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
      assert.equal(made.code, 0, `${hint}\n${made.stderr}`);
      const result = JSON.parse(made.stdout);
      for (const link of [...result.hosts, ...result.guests]) {
        assert.ok(link.shortUrl.startsWith(`${url}/visit/`), link.shortUrl);
        const page = await fetch(link.shortUrl);
        assert.equal(page.status, 200, `${link.shortUrl} opens on this server`);
        assert.match(await page.text(), /data-ticket=/);
      }
    } finally {
      assert.equal((await stop(p, 'SIGTERM')).code, 0, p.stderr());
    }
  });

  test('a port that is taken exits 1 and says so', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const r = await runCli(['serve', '--port', String(port), '--data', join(cwd, 'taken'), '--quiet'], {
        cwd,
      });
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, /the port is taken; choose another with --port/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  test('a bad --port exits 2', async () => {
    const r = await runCli(['serve', '--port', '70000', '--data', join(cwd, 'bad-port')], { cwd });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--port/);
    assert.match(r.stderr, /must be a port number from 0 to 65535/);
  });
});
