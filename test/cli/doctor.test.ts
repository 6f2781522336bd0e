/**
 * `instant-connect doctor` against real things on 127.0.0.1: a running server for PUBLIC_URL, the
 * Webex emulator for the token, a broker that answers joseencrypt, and SQLite databases in every
 * state (none yet, in order, newer than this code). It exits 1 exactly when a check fails.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sqliteDriver } from '../../src/store/sqlite.js';
import { type ScriptedServer, startScriptedServer } from '../support/scripted-server.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startWebexEmulator, type WebexEmulator } from '../support/webex-emulator.js';
import { removeDir, runCli, show, tempDir } from './run-cli.js';

interface Report {
  ok: boolean;
  broker: string;
  checks: { name: string; status: string; detail: string; fix?: string }[];
}

const statusOf = (report: Report, name: string) => report.checks.find((c) => c.name === name)?.status;

let cwd: string;
let server: TestServer;
let webex: WebexEmulator;
let broker: ScriptedServer;

before(async () => {
  cwd = tempDir();
  server = await startTestServer();
  webex = await startWebexEmulator();
  broker = await startScriptedServer();
  broker.setHandler(() => ({
    headers: { trackingid: 'ROUTER_DOCTOR_1' },
    body: { host: [{ cipher: 'eyJh.b.c.d.e' }], guest: [{ cipher: 'eyJi.b.c.d.e' }] },
  }));
});
after(async () => {
  await Promise.all([server.close(), webex.close(), broker.close()]);
  removeDir(cwd);
});

async function doctor(args: string[], env: Record<string, string> = {}) {
  const r = await runCli(['doctor', '--json', ...args], { cwd, env });
  return { ...r, report: JSON.parse(r.stdout) as Report };
}

describe('doctor', () => {
  test('the local broker with its server running: every check passes, exit 0', async () => {
    const r = await doctor(['--data', server.dataDir], { PUBLIC_URL: server.url });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.report.ok, true);
    assert.equal(r.report.broker, 'local');
    assert.equal(statusOf(r.report, 'token'), 'skip');
    assert.equal(statusOf(r.report, 'broker'), 'ok');
    assert.equal(statusOf(r.report, 'public-url'), 'ok');
    assert.equal(statusOf(r.report, 'database'), 'ok');
    assert.match(r.report.checks.find((c) => c.name === 'database')!.detail, /migrations in order/);
    assert.equal(statusOf(r.report, 'activation'), undefined, 'no Cisco checklist for the local broker');
  });

  test('nothing running and no database yet: public-url fails (named, with the cause), exit 1; nothing is created', async () => {
    const data = join(cwd, 'fresh');
    const r = await doctor(['--data', data, '--public-url', 'http://127.0.0.1:9']);
    assert.equal(r.code, 1, show(r));
    assert.equal(r.report.ok, false);
    const publicUrl = r.report.checks.find((c) => c.name === 'public-url')!;
    assert.equal(publicUrl.status, 'fail');
    assert.match(publicUrl.detail, /http:\/\/127\.0\.0\.1:9\/readyz/);
    assert.match(publicUrl.fix!, /instant-connect serve/);
    assert.equal(statusOf(r.report, 'database'), 'warn');
    const { existsSync } = await import('node:fs');
    assert.equal(existsSync(data), false, 'doctor only reads');
    const text = await runCli(['doctor', '--data', data, '--public-url', 'http://127.0.0.1:9'], { cwd });
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^FAIL {2}public-url/m);
    assert.match(text.stdout, /1 check\(s\) failed\./);
  });

  test('a bot token and a broker that answers: ok, with its trackingId, and the prerequisites as a checklist', async () => {
    const r = await doctor(['--broker', broker.url, '--api-url', webex.apiUrl, '--data', server.dataDir], {
      WEBEX_TOKEN: webex.token,
      PUBLIC_URL: server.url,
    });
    assert.equal(r.code, 0, show(r));
    const token = r.report.checks.find((c) => c.name === 'token')!;
    assert.equal(token.status, 'ok');
    assert.match(token.detail, /a bot token/);
    const answer = r.report.checks.find((c) => c.name === 'broker')!;
    assert.equal(answer.status, 'ok');
    assert.match(answer.detail, /trackingId ROUTER_DOCTOR_1/);
    const sent = broker.requests.at(-1)!;
    assert.equal(sent.path, '/api/v2/joseencrypt');
    assert.equal(sent.headers.authorization, `Bearer ${webex.token}`);
    assert.match((sent.body as { jwt: { sub: string } }).jwt.sub, /^instant-connect-doctor-/);
    for (const name of ['activation', 'guest-to-guest site', 'sms invitations', 'appearance']) {
      assert.equal(statusOf(r.report, name), 'todo', name);
    }
    assert.match(
      r.report.checks.find((c) => c.name === 'activation')!.fix!,
      /instant\.webex\.com\/integrate/,
    );
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(webex.token), 'the token is never printed');
  });

  test('a refused token and a broker that answers 401: both fail, exit 1', async () => {
    broker.script({ status: 401, body: { message: 'The request requires a valid access token.' } });
    const r = await doctor(['--broker', broker.url, '--api-url', webex.apiUrl, '--data', server.dataDir], {
      WEBEX_TOKEN: 'not-a-token',
      PUBLIC_URL: server.url,
    });
    assert.equal(r.code, 1, show(r));
    const token = r.report.checks.find((c) => c.name === 'token')!;
    assert.equal(token.status, 'fail');
    assert.match(token.detail, /refused the token \(401\)/);
    const answer = r.report.checks.find((c) => c.name === 'broker')!;
    assert.equal(answer.status, 'fail');
    assert.match(answer.detail, /answered 401/);
  });

  test('a database newer than this code fails: never run an older version on it', async () => {
    const data = join(cwd, 'newer');
    const made = await runCli(['keys', 'list', '--data', data], { cwd });
    assert.equal(made.code, 0, show(made));
    const Database = sqliteDriver();
    const db = new Database(join(data, 'instant-connect.db'));
    db.prepare(
      'INSERT INTO schema_migrations (version, applied_at) SELECT MAX(version) + 1, 0 FROM schema_migrations',
    ).run();
    db.close();
    const r = await doctor(['--data', data], { PUBLIC_URL: server.url });
    assert.equal(r.code, 1, show(r));
    const database = r.report.checks.find((c) => c.name === 'database')!;
    assert.equal(database.status, 'fail');
    assert.match(database.detail, /newer than this version of instant-connect knows/);
  });
});
