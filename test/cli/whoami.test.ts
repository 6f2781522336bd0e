/** `whoami` against a scripted Webex API on 127.0.0.1. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AT_ONCE } from '../support/concurrency.js';
import { type ScriptedServer, startScriptedServer } from '../support/scripted-server.js';
import { type CliResult, removeDir, runCli, show, tempDir } from './run-cli.js';

const TOKEN = 'ZDI3MGEyYzQtNmFlNS00NDNhLWFlNzAtZGVhMjE2YzE5YTZm_PF84_0f0a7b38-8b4c-4d55-9e8a-5f3b2d1c0e9f';
const ORG_UUID = '1eb65fdf-9643-417f-9974-ad72cae0e10f';
const ORG_ID = Buffer.from(`ciscospark://us/ORGANIZATION/${ORG_UUID}`).toString('base64');

const BOT = {
  id: Buffer.from('ciscospark://us/PEOPLE/3c1b4d2e-0000-4000-8000-000000000001').toString('base64'),
  emails: ['visits@webex.bot'],
  displayName: 'Visit Bot',
  orgId: ORG_ID,
  type: 'bot',
  created: '2024-01-01T00:00:00.000Z',
};
const PERSON = { ...BOT, emails: ['ann@example.com'], displayName: 'Ann Example', type: 'person' };

async function withApi(fn: (api: ScriptedServer, cwd: string) => Promise<void>): Promise<void> {
  const api = await startScriptedServer();
  const cwd = tempDir();
  try {
    await fn(api, cwd);
  } finally {
    await api.close();
    removeDir(cwd);
  }
}

function assertNoToken(r: CliResult): void {
  assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), `the token is never printed\n${show(r)}`);
}

function assertAskedMe(api: ScriptedServer): void {
  assert.equal(api.requests.length, 1);
  const [request] = api.requests;
  assert.equal(request!.method, 'GET');
  assert.equal(request!.path, '/v1/people/me');
  assert.equal(request!.headers.authorization, `Bearer ${TOKEN}`);
}

describe('whoami', { concurrency: AT_ONCE }, () => {
  test('a bot token: says bot and prints the org uuid', () =>
    withApi(async (api, cwd) => {
      api.script({ body: BOT });
      const r = await runCli(['whoami', '--api-url', `${api.url}/v1`], { cwd, env: { WEBEX_TOKEN: TOKEN } });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assertAskedMe(api);
      assert.match(r.stdout, new RegExp(`^Token OK at ${api.url}/v1$`, 'm'));
      assert.match(r.stdout, /who:\s+Visit Bot <visits@webex\.bot>/);
      assert.match(r.stdout, /type:\s+bot \(a bot token/);
      assert.match(r.stdout, new RegExp(`org:\\s+${ORG_UUID} `));
      assert.match(r.stdout, /can:\s+make Instant Connect links/);
      assert.match(r.stdout, /receive webhooks/);
    }));

  test('a personal access token: says person and that it lasts 12 hours', () =>
    withApi(async (api, cwd) => {
      api.script({ body: PERSON });
      const file = join(cwd, 'me.token');
      writeFileSync(file, `${TOKEN}\n`);
      const r = await runCli(['whoami', '--api-url', `${api.url}/v1/`, '--token-file', file], { cwd });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assertAskedMe(api);
      assert.match(r.stdout, /who:\s+Ann Example <ann@example\.com>/);
      assert.match(r.stdout, /type:\s+person \(a personal access token: lasts 12 hours/);
      assert.match(r.stdout, new RegExp(ORG_UUID));
      assert.doesNotMatch(r.stdout, /webhooks/);
    }));

  test('WEBEX_API_URL names the API', () =>
    withApi(async (api, cwd) => {
      api.script({ body: BOT });
      const r = await runCli(['whoami'], {
        cwd,
        env: { WEBEX_TOKEN: TOKEN, WEBEX_API_URL: `${api.url}/v1` },
      });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assertAskedMe(api);
      assert.match(r.stdout, /type:\s+bot/);
    }));

  test('--json prints the person with the org uuid', () =>
    withApi(async (api, cwd) => {
      api.script({ body: BOT });
      const r = await runCli(['whoami', '--api-url', `${api.url}/v1`, '--json'], {
        cwd,
        env: { WEBEX_TOKEN: TOKEN },
      });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      const json = JSON.parse(r.stdout);
      assert.equal(json.apiUrl, `${api.url}/v1`);
      assert.equal(json.type, 'bot');
      assert.equal(json.displayName, 'Visit Bot');
      assert.deepEqual(json.emails, ['visits@webex.bot']);
      assert.equal(json.orgId, ORG_ID);
      assert.equal(json.orgUuid, ORG_UUID);
    }));

  test('a 401 exits 1: invalid or expired, with the tracking id, never the token', () =>
    withApi(async (api, cwd) => {
      api.script({
        status: 401,
        body: {
          message: 'The request requires a valid access token set in the Authorization request header.',
          errors: [{ description: `The token ${TOKEN} is not valid` }],
          trackingId: 'ROUTER_ABC123',
        },
      });
      const r = await runCli(['whoami', '--api-url', `${api.url}/v1`], { cwd, env: { WEBEX_TOKEN: TOKEN } });
      assert.equal(r.code, 1, show(r));
      assertNoToken(r);
      assertAskedMe(api);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /refused by .* \(401\): it is invalid or expired/);
      assert.match(r.stderr, /\[trackingId ROUTER_ABC123\]/);
    }));

  test('another error exits 1 with the status, message and tracking id', () =>
    withApi(async (api, cwd) => {
      api.script({
        status: 404,
        body: { message: `No person for Bearer ${TOKEN}`, errors: [], trackingId: `ROUTER_${TOKEN}` },
      });
      const r = await runCli(['whoami', '--api-url', `${api.url}/v1`], { cwd, env: { WEBEX_TOKEN: TOKEN } });
      assert.equal(r.code, 1, show(r));
      assertNoToken(r);
      assert.match(r.stderr, /answered 404 Not Found: No person for Bearer \[REDACTED\]/);
      assert.match(r.stderr, /\[trackingId ROUTER_\[REDACTED\]\]/);
    }));

  test('--token works but warns', () =>
    withApi(async (api, cwd) => {
      api.script({ body: BOT });
      const r = await runCli(['whoami', '--api-url', `${api.url}/v1`, '--token', TOKEN], { cwd });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assertAskedMe(api);
      assert.match(r.stderr, /^warning: --token puts the token in your shell history/m);
    }));

  test('a token in ./.env is used', () =>
    withApi(async (api, cwd) => {
      api.script({ body: BOT });
      writeFileSync(join(cwd, '.env'), `WEBEX_TOKEN=${TOKEN}\nWEBEX_API_URL=${api.url}/v1\n`);
      const r = await runCli(['whoami'], { cwd });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assertAskedMe(api);
    }));

  test('no token exits 2 and says where one goes', async () => {
    const r = await runCli(['whoami']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /WEBEX_TOKEN/);
    assert.match(r.stderr, /--token-file/);
  });
});
