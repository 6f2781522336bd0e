/**
 * `links` against a scripted HTTP server standing in for Cisco's commercial broker: the request
 * the CLI sends, the output it builds from the answer, its error exits, and that the token never
 * reaches any output.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AT_ONCE } from '../support/concurrency.js';
import {
  type RecordedRequest,
  type ScriptedServer,
  startScriptedServer,
} from '../support/scripted-server.js';
import { type CliResult, removeDir, runCli, show, tempDir } from './run-cli.js';

const TOKEN = 'NjQ4Y2ZkMzQtZTcwNi00ZGE5LTk2NzQtYmQ5ZWQ5NjM1NmFm_PF84_1eb65fdf-9643-417f-9974-ad72cae0e10f';
const AUDIENCE = 'a4d886b0-979f-4e2c-a958-3e8c14605e51';

/** A cipher-shaped string; the CLI only carries it into URLs. */
const cipher = (role: string, i: number) => `eyJhbGciOiJQQkVTMiJ9.${role}${i}.iv${i}.body${i}.tag${i}`;

/** Answers joseencrypt like Cisco's v2: as many links as asked, short codes when asked. */
function v2(request: RecordedRequest) {
  const body = request.body as { numHost?: number; numGuest?: number; provideShortUrls?: boolean };
  const entry = (role: string) => (_: unknown, i: number) => {
    const c = cipher(`${role}${request.index}-`, i);
    return body.provideShortUrls ? { cipher: c, short: `${role[0]}${request.index}x${i}` } : { cipher: c };
  };
  return {
    body: {
      host: Array.from({ length: body.numHost ?? 1 }, entry('host')),
      guest: Array.from({ length: body.numGuest ?? 1 }, entry('guest')),
      ...(body.provideShortUrls ? { baseUrl: 'https://ic.example.com/' } : {}),
    },
  };
}

/** Runs the test with its own scripted broker and working directory. */
async function withBroker(fn: (broker: ScriptedServer, cwd: string) => Promise<void>): Promise<void> {
  const broker = await startScriptedServer();
  const cwd = tempDir();
  try {
    await fn(broker, cwd);
  } finally {
    await broker.close();
    removeDir(cwd);
  }
}

function assertNoToken(r: CliResult): void {
  assert.ok(!r.stdout.includes(TOKEN), `the token is not on stdout\n${show(r)}`);
  assert.ok(!r.stderr.includes(TOKEN), `the token is not on stderr\n${show(r)}`);
  // Nor a recognisable piece of it.
  for (const piece of TOKEN.split(/[_-]/).filter((p) => p.length >= 8)) {
    assert.ok(!`${r.stdout}${r.stderr}`.includes(piece), `no piece of the token (${piece})\n${show(r)}`);
  }
}

const links = (broker: ScriptedServer, cwd: string, args: string[], env: Record<string, string> = {}) =>
  runCli(['links', '--broker', broker.url, ...args], { cwd, env: { WEBEX_TOKEN: TOKEN, ...env } });

describe('links against a stand-in for the commercial broker', { concurrency: AT_ONCE }, () => {
  test('sends the documented request with the bearer token', () =>
    withBroker(async (broker, cwd) => {
      broker.setHandler(v2);
      const r = await links(broker, cwd, [
        '--subject',
        'visit 42',
        '--hosts',
        '2',
        '--guests',
        '3',
        '--start',
        '2099-01-01T10:00:00Z',
        '--ttl',
        '1h',
        '--device',
        'room1@example.room.wbx2.com',
        '--device',
        'sip:room2@example.com',
        '--short',
        '--vertical',
        'gen',
        '--no-host-login',
        '--jwe-alg',
        'PBES2-HS384+A192KW',
        '--enc',
        'A128GCM',
        '--jws-alg',
        'HS384',
        '--salt-length',
        '24',
        '--iterations',
        '2000',
        '--json',
      ]);
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assert.equal(broker.requests.length, 1);
      const [request] = broker.requests;
      assert.equal(request!.method, 'POST');
      assert.equal(request!.path, '/api/v2/joseencrypt');
      assert.equal(request!.headers.authorization, `Bearer ${TOKEN}`);
      assert.match(String(request!.headers['content-type']), /^application\/json/);
      const start = Date.UTC(2099, 0, 1, 10) / 1000;
      assert.deepEqual(request!.body, {
        aud: AUDIENCE,
        jwt: {
          sub: 'visit 42',
          nbf: start,
          exp: start + 3600,
          flow: {
            id: 'sip-no-knock',
            data: [{ uri: 'room1@example.room.wbx2.com' }, { uri: 'sip:room2@example.com' }],
          },
        },
        numHost: 2,
        numGuest: 3,
        provideShortUrls: true,
        verticalType: 'gen',
        loginUrlForHost: false,
        jweAlg: 'PBES2-HS384+A192KW',
        enc: 'A128GCM',
        jwsAlg: 'HS384',
        saltLength: 24,
        iterations: 2000,
      });
      const result = JSON.parse(r.stdout);
      assert.equal(result.environment, 'custom');
      assert.equal(result.subject, 'visit 42');
      assert.equal(result.notBefore, start);
      assert.equal(result.expiresAt, start + 3600);
      assert.equal(result.hosts.length, 2);
      assert.equal(result.guests.length, 3);
      const host = result.hosts[1];
      assert.equal(host.cipher, cipher('host0-', 1));
      assert.equal(host.shortUrl, 'https://ic.example.com/h0x1');
      assert.equal(
        host.longUrl,
        `${broker.url}/gen/v1/talk?int=jose&v=1&data=${encodeURIComponent(host.cipher)}`,
      );
      assert.equal(
        host.forcedLoginUrl,
        `${broker.url}/gen/v1/login?int=jose&v=1&fli=true&data=${encodeURIComponent(host.cipher)}`,
      );
      assert.equal(result.guests[2].shortUrl, 'https://ic.example.com/g0x2');
    }));

  test('the defaults: one host, one guest, 15 minutes, hc, host login, no short links', () =>
    withBroker(async (broker, cwd) => {
      broker.setHandler(v2);
      const before = Math.floor(Date.now() / 1000);
      const r = await links(broker, cwd, []);
      const afterwards = Math.floor(Date.now() / 1000);
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      const body = broker.requests[0]!.body as any;
      assert.match(body.jwt.sub, /^visit-/);
      assert.equal(body.jwt.nbf, undefined);
      assert.ok(body.jwt.exp >= before + 900 && body.jwt.exp <= afterwards + 900);
      assert.equal(body.numHost, 1);
      assert.equal(body.numGuest, 1);
      assert.equal(body.provideShortUrls, false);
      assert.equal(body.verticalType, 'hc');
      assert.equal(body.loginUrlForHost, true);
      for (const key of ['jweAlg', 'enc', 'jwsAlg', 'saltLength', 'iterations'])
        assert.ok(!(key in body), key);
      // The table is built from the scripted answer.
      assert.match(r.stdout, new RegExp(`^Subject\\s+${body.jwt.sub} \\(generated`, 'm'));
      const guestRow = r.stdout.split('\n').find((l) => l.startsWith('guest 1'));
      assert.deepEqual(guestRow?.split(/\s{2,}/), [
        'guest 1',
        '-',
        `${broker.url}/hc/v1/talk?int=jose&v=1&data=${cipher('guest0-', 0)}`,
      ]);
      assert.doesNotMatch(r.stderr, /Local broker/);
    }));

  test('batches 60 guests into calls of at most 25 with one subject and one window', () =>
    withBroker(async (broker, cwd) => {
      broker.setHandler(v2);
      const r = await links(broker, cwd, ['--guests', '60', '--short', '--csv']);
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assert.equal(broker.requests.length, 3);
      const bodies = broker.requests.map((q) => q.body as any);
      assert.deepEqual(
        bodies.map((b) => b.numHost + b.numGuest).sort(),
        [11, 25, 25].sort(),
        'at most 25 links per call',
      );
      assert.equal(
        bodies.reduce((n, b) => n + b.numHost, 0),
        1,
      );
      assert.equal(
        bodies.reduce((n, b) => n + b.numGuest, 0),
        60,
      );
      assert.equal(new Set(bodies.map((b) => JSON.stringify(b.jwt))).size, 1, 'same subject and window');
      const rows = r.stdout.trimEnd().split('\n').slice(1);
      assert.equal(rows.length, 61);
      assert.equal(new Set(rows.map((row) => row.split(',')[3])).size, 61, 'distinct short URLs');
    }));

  test('a 400 in the Webex envelope exits 1 with status, message and trackingId', () =>
    withBroker(async (broker, cwd) => {
      broker.script({
        status: 400,
        body: {
          message: 'The request could not be understood by the server due to malformed syntax.',
          errors: [{ description: 'Invalid JWT subject' }],
          trackingId: 'ROUTER_65F1A2B3-0001',
        },
      });
      const r = await links(broker, cwd, ['--subject', 'x']);
      assert.equal(r.code, 1, show(r));
      assertNoToken(r);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /answered 400 Bad Request/);
      assert.match(r.stderr, /The request could not be understood by the server due to malformed syntax\./);
      assert.match(r.stderr, /\[trackingId ROUTER_65F1A2B3-0001\]/);
      assert.equal(broker.requests.length, 1, 'a 400 is not retried');
    }));

  test('a broker that echoes the token in its error body, reason phrase and tracking id never gets it printed', () =>
    withBroker(async (broker, cwd) => {
      broker.script({
        status: 401,
        statusMessage: `Unauthorized ${TOKEN}`,
        headers: { trackingid: `ROUTER_${TOKEN}` },
        body: {
          message: `Authorization Bearer ${TOKEN} is not valid (token ${TOKEN})`,
          errors: [{ description: `bad token ${TOKEN}` }, { description: `Bearer ${TOKEN}` }],
          trackingId: `ROUTER_1234_${TOKEN}`,
        },
      });
      const r = await links(broker, cwd, []);
      assert.equal(r.code, 1, show(r));
      assertNoToken(r);
      assert.match(r.stderr, /answered 401/);
      assert.match(r.stderr, /\[REDACTED\]/);
      assert.match(r.stderr, /trackingId ROUTER_1234_\[REDACTED\]/);
    }));

  test('the tracking id of the TrackingID header, echoing the token, is redacted too', () =>
    withBroker(async (broker, cwd) => {
      broker.script({
        status: 403,
        headers: { trackingid: `ROUTER_${TOKEN}` },
        body: { message: 'Forbidden' },
      });
      const r = await links(broker, cwd, []);
      assert.equal(r.code, 1, show(r));
      assertNoToken(r);
      assert.match(r.stderr, /answered 403 Forbidden: Forbidden \[trackingId ROUTER_\[REDACTED\]\]/);
    }));

  test('429 with Retry-After: 0, then 200: links', () =>
    withBroker(async (broker, cwd) => {
      broker.script({ status: 429, headers: { 'retry-after': '0' }, body: { message: 'Too many requests' } });
      broker.setHandler(v2);
      const r = await links(broker, cwd, ['--json']);
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assert.equal(broker.requests.length, 2);
      assert.deepEqual(broker.requests[1]!.body, broker.requests[0]!.body, 'the same request again');
      assert.equal(JSON.parse(r.stdout).guests[0].cipher, cipher('guest1-', 0));
    }));

  test('429 with Retry-After: 1 waits a second, then succeeds', () =>
    withBroker(async (broker, cwd) => {
      broker.script({ status: 429, headers: { 'retry-after': '1' }, body: { message: 'Too many requests' } });
      broker.setHandler(v2);
      const started = Date.now();
      const r = await links(broker, cwd, ['--field', 'hosts.0.cipher']);
      assert.equal(r.code, 0, show(r));
      assert.ok(Date.now() - started >= 1000, 'waited for Retry-After');
      assert.equal(r.stdout, `${cipher('host1-', 0)}\n`);
    }));

  test('a 503 is retried', () =>
    withBroker(async (broker, cwd) => {
      broker.script({ status: 503, body: { message: 'Service Unavailable', trackingId: 'ROUTER_503' } });
      broker.setHandler(v2);
      const r = await links(broker, cwd, []);
      assert.equal(r.code, 0, show(r));
      assert.equal(broker.requests.length, 2);
    }));

  test('a closed port exits 1 with a clear network message', async () => {
    const port = await closedPort();
    const cwd = tempDir();
    try {
      const r = await runCli(['links', '--broker', `http://127.0.0.1:${port}`], {
        cwd,
        env: { WEBEX_TOKEN: TOKEN },
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 1, show(r));
      assertNoToken(r);
      assert.match(
        r.stderr,
        new RegExp(
          `^error: POST http://127\\.0\\.0\\.1:${port}/api/v2/joseencrypt failed: connection refused: nothing listens there .*\\(ECONNREFUSED\\)`,
          'm',
        ),
      );
      assert.equal(r.stdout, '');
    } finally {
      removeDir(cwd);
    }
  });

  test('a token given only in ./.env is used', () =>
    withBroker(async (broker, cwd) => {
      broker.setHandler(v2);
      writeFileSync(join(cwd, '.env'), `# the bot\nWEBEX_TOKEN=${TOKEN}\n`);
      const r = await runCli(['links', '--broker', broker.url], { cwd });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assert.equal(broker.requests[0]!.headers.authorization, `Bearer ${TOKEN}`);
    }));

  test('BROKER in ./.env picks the broker; the environment wins over .env', () =>
    withBroker(async (broker, cwd) => {
      broker.setHandler(v2);
      writeFileSync(join(cwd, '.env'), `WEBEX_TOKEN=from-dot-env-0000\nBROKER=${broker.url}\n`);
      const r = await runCli(['links'], { cwd, env: { WEBEX_TOKEN: TOKEN } });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assert.equal(broker.requests[0]!.headers.authorization, `Bearer ${TOKEN}`);
    }));

  test('--token-file is read and trimmed', () =>
    withBroker(async (broker, cwd) => {
      broker.setHandler(v2);
      writeFileSync(join(cwd, 'bot.token'), `  ${TOKEN}\n\n`);
      const r = await runCli(['links', '--broker', broker.url, '--token-file', 'bot.token'], {
        cwd,
        env: { WEBEX_TOKEN: 'the-environment-token-loses' },
      });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assert.equal(broker.requests[0]!.headers.authorization, `Bearer ${TOKEN}`);
    }));

  test('--token works but warns', () =>
    withBroker(async (broker, cwd) => {
      broker.setHandler(v2);
      const r = await runCli(['links', '--broker', broker.url, '--token', TOKEN], { cwd });
      assert.equal(r.code, 0, show(r));
      assertNoToken(r);
      assert.match(r.stderr, /^warning: --token puts the token in your shell history/m);
      assert.equal(broker.requests[0]!.headers.authorization, `Bearer ${TOKEN}`);
    }));

  test('a missing --token-file exits 2', async () => {
    const r = await runCli(['links', '--broker', 'commercial', '--token-file', 'nope.token']);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--token-file: cannot read nope\.token \(ENOENT\)/);
  });

  test('no token with --broker commercial or usgov exits 2 and says where a token goes', async () => {
    for (const where of ['commercial', 'usgov']) {
      const r = await runCli(['links', '--broker', where]);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, new RegExp(`the ${where} broker needs a Webex bot token`));
      assert.match(r.stderr, /WEBEX_TOKEN/);
      assert.match(r.stderr, /--token-file/);
    }
  });

  test('no credential with a broker URL asks for an API key of this project or a Webex token', async () => {
    const r = await runCli(['links', '--broker', 'http://127.0.0.1:8080'], { env: { WEBEX_TOKEN: '' } });
    assert.equal(r.code, 2, show(r));
    assert.match(
      r.stderr,
      /the broker at http:\/\/127\.0\.0\.1:8080 needs a credential: an API key of this project's broker/,
    );
    assert.match(r.stderr, /keys create/);
    assert.match(r.stderr, /--token-file/);
  });

  test('a port fetch refuses is named, not "fetch failed"', async () => {
    const r = await runCli(['links', '--broker', 'http://127.0.0.1:1'], { env: { WEBEX_TOKEN: TOKEN } });
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stderr,
      /POST http:\/\/127\.0\.0\.1:1\/api\/v2\/joseencrypt failed: fetch refuses to connect to that port/,
    );
    assert.doesNotMatch(r.stderr, /fetch failed/);
  });

  test('a broker that is not a URL exits 2', async () => {
    const r = await runCli(['links', '--broker', 'ftp://broker.example.com'], {
      env: { WEBEX_TOKEN: TOKEN },
    });
    assert.equal(r.code, 2, show(r));
    assertNoToken(r);
    assert.match(r.stderr, /--broker: broker URL must be http or https/);
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
