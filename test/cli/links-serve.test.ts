/**
 * `links` with a running server: links of the local broker open on `serve` over the same data
 * directory, and a running `serve` works as a URL broker with an API key.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';
import { type CliResult, removeDir, runCli, show, tempDir } from './run-cli.js';

let cwd: string;
let server: TestServer;

before(async () => {
  cwd = tempDir();
  // The server first: the CLI then issues into its data directory with its public URL.
  server = await startTestServer({ dataDir: join(cwd, 'data') });
});

after(async () => {
  await server?.close();
  removeDir(cwd);
});

/** Every link of a result opens: short → 302 to the long link, long link and forced login → 200 "Valid". */
async function assertAllResolve(result: any): Promise<void> {
  const links = [...result.hosts, ...result.guests];
  assert.ok(links.length > 0);
  for (const link of links) {
    assert.ok(link.shortUrl.startsWith(`${server.url}/visit/`), link.shortUrl);
    assert.ok(link.longUrl.startsWith(`${server.url}/hc/v1/`), link.longUrl);
    const redirect = await fetch(link.shortUrl, { redirect: 'manual' });
    assert.equal(redirect.status, 302, link.shortUrl);
    assert.equal(redirect.headers.get('location'), link.longUrl);
    await redirect.arrayBuffer();
    const urls = [link.longUrl, ...(link.forcedLoginUrl ? [link.forcedLoginUrl] : [])];
    for (const url of urls) {
      const page = await fetch(url, { headers: { accept: 'text/html' } });
      const html = await page.text();
      assert.equal(page.status, 200, `${url}\n${html}`);
      assert.match(html, /\bValid\b/);
      assert.ok(html.includes(result.subject), 'the page shows the subject');
    }
  }
}

function assertNoSecret(r: CliResult, secret: string): void {
  assert.ok(!r.stdout.includes(secret), 'the key is not on stdout');
  assert.ok(!r.stderr.includes(secret), 'the key is not on stderr');
}

describe('links of the local broker open on a running server', () => {
  test('with PUBLIC_URL set to the server', async () => {
    const r = await runCli(
      ['links', '--data', server.dataDir, '--short', '--guests', '2', '--iterations', '1000', '--json'],
      { cwd, env: { PUBLIC_URL: server.url } },
    );
    assert.equal(r.code, 0, show(r));
    assert.ok(r.stderr.includes(`Local broker: links issued into ${server.dataDir}`), r.stderr);
    assert.ok(r.stderr.includes(`runs at ${server.url}`), r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.brokerUrl, server.url);
    await assertAllResolve(result);
  });

  test('with DATA_DIR and PORT instead of flags and PUBLIC_URL', async () => {
    const port = new URL(server.url).port;
    const r = await runCli(['links', '--short', '--iterations', '1000', '--json'], {
      cwd,
      env: { DATA_DIR: server.dataDir, PORT: port },
    });
    assert.equal(r.code, 0, show(r));
    await assertAllResolve(JSON.parse(r.stdout));
  });

  test('a link that is not open yet says so on the server', async () => {
    const r = await runCli(
      [
        'links',
        '--data',
        server.dataDir,
        '--start',
        '+1h',
        '--iterations',
        '1000',
        '--field',
        'guests.0.longUrl',
      ],
      { cwd, env: { PUBLIC_URL: server.url } },
    );
    assert.equal(r.code, 0, show(r));
    const page = await fetch(r.stdout.trim(), { headers: { accept: 'text/html' } });
    assert.equal(page.status, 403);
    assert.match(await page.text(), /Not yet valid/);
  });
});

describe('a running serve instance as a URL broker', () => {
  test('--broker URL with the API key in --token-file', async () => {
    const file = join(cwd, 'api.key');
    writeFileSync(file, `${server.key}\n`);
    const r = await runCli(
      [
        'links',
        '--broker',
        server.url,
        '--token-file',
        file,
        '--short',
        '--guests',
        '3',
        '--iterations',
        '1000',
        '--json',
      ],
      { cwd },
    );
    assert.equal(r.code, 0, show(r));
    assert.doesNotMatch(r.stderr, /Local broker/);
    assertNoSecret(r, server.key);
    const result = JSON.parse(r.stdout);
    assert.equal(result.environment, 'custom');
    assert.equal(result.brokerUrl, server.url);
    assert.equal(result.guests.length, 3);
    await assertAllResolve(result);
  });

  test('the API key through WEBEX_TOKEN and the broker through BROKER', async () => {
    const r = await runCli(['links', '--short', '--iterations', '1000', '--json'], {
      cwd,
      env: { WEBEX_TOKEN: server.key, BROKER: server.url },
    });
    assert.equal(r.code, 0, show(r));
    assertNoSecret(r, server.key);
    await assertAllResolve(JSON.parse(r.stdout));
  });

  test('the table output names the server', async () => {
    const r = await runCli(['links', '--broker', server.url, '--iterations', '1000', '--short'], {
      cwd,
      env: { WEBEX_TOKEN: server.key },
    });
    assert.equal(r.code, 0, show(r));
    assertNoSecret(r, server.key);
    assert.match(
      r.stdout,
      new RegExp(`^guest 1\\s+${server.url}/visit/[A-Za-z0-9]+\\s+${server.url}/hc/v1/talk\\?`, 'm'),
    );
  });

  test('a revoked key exits 1 with the status and trackingId, never the key', async () => {
    const { context } = server.server;
    const { key, record } = await context.apiKeys.create(context.org, 'to revoke');
    assert.ok(await context.apiKeys.revoke(context.org, record.id));
    const r = await runCli(['links', '--broker', server.url, '--iterations', '1000'], {
      cwd,
      env: { WEBEX_TOKEN: key },
    });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^error: POST .*\/api\/v2\/joseencrypt answered 401\b/m);
    assert.match(r.stderr, /\[trackingId [^\]\s]+\]/);
    assert.equal(r.stdout, '');
    assertNoSecret(r, key);
  });

  test('an unknown key exits 1 the same way', async () => {
    const file = join(cwd, 'unknown.key');
    const key = 'ic_thisKeyWasNeverIssuedByThisBroker0123';
    writeFileSync(file, key);
    const r = await runCli(
      ['links', '--broker', `${server.url}/`, '--token-file', file, '--iterations', '1000'],
      {
        cwd,
      },
    );
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /answered 401/);
    assert.match(r.stderr, /\[trackingId [^\]\s]+\]/);
    assertNoSecret(r, key);
  });
});
