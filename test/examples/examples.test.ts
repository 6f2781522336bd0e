/**
 * The examples in examples/ run against a real local broker, so they cannot rot: the TypeScript
 * SDK script, the curl commands and the original lab's Python `requests` snippet.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '../support/server.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const PYTHON = '/usr/bin/python3';

async function resolves(url: string): Promise<void> {
  const r = await fetch(url, { redirect: 'manual' });
  assert.equal(r.status, 302, `${url} should redirect to its visit page`);
  const page = await fetch(new URL(r.headers.get('location')!, url), { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200);
}

const python = existsSync(PYTHON)
  ? await run(PYTHON, ['-c', 'import requests']).then(
      () => true,
      () => false,
    )
  : false;
if (!python && process.env['CI'])
  throw new Error('CI needs python3-requests for the lab example (.ci/run installs it)');

describe('examples', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('examples/sdk.ts: the SDK from TypeScript', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/sdk.ts'], {
      cwd: root,
      env: { ...process.env, IC_API_KEY: server.key, BROKER: server.url },
      timeout: 120_000, // a hang guard: tsx, python and curl start slowly on a loaded machine
    });
    const out = JSON.parse(stdout) as { subject: string; host: string; guests: string[] };
    assert.match(out.subject, /^visit-\d{8}-\d{4}-/);
    assert.equal(out.guests.length, 2);
    for (const url of [out.host, ...out.guests]) await resolves(url);
  });

  test('examples/curl.sh: joseencrypt, a visit and the signed trigger', async () => {
    const { hook, secret } = await server.server.context.trigger.createHook(
      server.server.context.org,
      'curl',
    );
    const { stdout } = await run('bash', ['examples/curl.sh'], {
      cwd: root,
      env: {
        ...process.env,
        IC_URL: server.url,
        IC_API_KEY: server.key,
        HOOK_ID: hook.id,
        HOOK_SECRET: secret,
      },
      timeout: 120_000, // a hang guard: tsx, python and curl start slowly on a loaded machine
    });
    const bodies = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line));
    assert.equal(bodies.length, 3, stdout);
    const [links, visit, triggered] = bodies;
    await resolves(links.baseUrl + links.guest[0].short);
    assert.equal(visit.counts.guests, 2);
    await resolves(visit.guests[1].shortUrl);
    await resolves(triggered.guestUrl);
    assert.ok(!stdout.includes(secret), 'the secret is never printed');
  });

  test('examples/lab-requests.py: the lab snippet with the right baseUrl', {
    skip: python ? false : 'python3-requests not installed (apt-get install python3-requests)',
  }, async () => {
    const { stdout } = await run(PYTHON, ['examples/lab-requests.py'], {
      cwd: root,
      env: { ...process.env, MTG_BROKER_URL: server.url, BOT_TOKEN: server.key },
      timeout: 120_000, // a hang guard: tsx, python and curl start slowly on a loaded machine
    });
    const url = /THE GUEST URL IS:\s+(\S+)/.exec(stdout)?.[1];
    assert.ok(url, stdout);
    assert.ok(url.startsWith(`${server.url}/visit/`));
    await resolves(url);
  });
});
