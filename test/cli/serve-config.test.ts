/**
 * The configuration of `serve`: each variable works from the environment and from `.env` (cwd),
 * flags win over both, and a bad value exits 2 naming it (TRUST_PROXY, METRICS_*, pruning).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/free-port.js';
import { startTwilioStub } from '../support/twilio-stub.js';
import { startWebexEmulator } from '../support/webex-emulator.js';
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

describe('serve takes the limits, the zone, the metrics listener and the bot from the environment', () => {
  test('RATE_LIMIT_*, LIVE_*, TZ, METRICS_PORT/METRICS_HOST, WEBEX_* and BOT_ALLOWED_DOMAINS set only in the environment', async () => {
    const emulator = await startWebexEmulator();
    try {
      const data = join(cwd, 'limits-data');
      const made = await runCli(['keys', 'create', '--name', 'cfg', '--json'], {
        cwd,
        env: { DATA_DIR: data },
      });
      assert.equal(made.code, 0, show(made));
      const key = JSON.parse(made.stdout).key as string;
      const [port, metricsPort] = [await freePort(), await freePort()];
      const p = spawnCli(['serve'], {
        cwd,
        env: {
          DATA_DIR: data,
          PORT: String(port),
          TZ: 'Europe/Paris',
          RATE_LIMIT_ISSUE_PER_KEY: '2',
          RATE_LIMIT_FAILED_OPENS_PER_ADDRESS: '1',
          LIVE_STREAMS_PER_LINK: '1',
          METRICS_PORT: String(metricsPort),
          METRICS_HOST: '127.0.0.1',
          WEBEX_TOKEN: emulator.token,
          WEBEX_API_URL: emulator.apiUrl,
          BOT_ALLOWED_DOMAINS: 'clinic.example',
        },
      });
      children.push(p);
      const [, url] = await p.waitFor(/instant-connect listening on (http:\/\/[^\s]+)\n/, 20_000);
      assert.ok(
        p.stderr().includes(`bot:           on, Webex API ${emulator.apiUrl}`),
        'WEBEX_TOKEN, WEBEX_API_URL',
      );
      assert.match(p.stderr(), /bot access:\s+for email domains clinic\.example/, 'BOT_ALLOWED_DOMAINS');

      const create = (body: Record<string, unknown>) =>
        fetch(`${url}/api/visits`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ crypto: { iterations: 1000 }, ...body }),
        });
      // TZ: a local time without a zone is read in Europe/Paris (UTC+1 in January).
      const first = await create({ start: '2031-01-02 09:00', ttl: '30m' });
      assert.equal(first.status, 201);
      assert.equal(((await first.json()) as { start: string }).start, '2031-01-02T08:00:00Z', 'TZ');
      const open = await create({ ttl: '30m' });
      assert.equal(open.status, 201);
      const visit = (await open.json()) as { guests: { shortUrl: string; cipher: string }[] };
      // RATE_LIMIT_ISSUE_PER_KEY=2 a minute: of five calls at most four fit, even across a minute's end.
      const more = [];
      for (let i = 0; i < 3; i++) more.push((await create({})).status);
      assert.ok(more.includes(429), `RATE_LIMIT_ISSUE_PER_KEY=2: ${more.join(', ')}`);

      // LIVE_STREAMS_PER_LINK=1: a second stream of the same link is refused.
      const page = await (
        await fetch(visit.guests[0]!.shortUrl.replace(/^https?:\/\/[^/]+/, url!), {
          headers: { accept: 'text/html' },
        })
      ).text();
      const ticket = /data-ticket="([^"]+)"/.exec(page)?.[1];
      assert.ok(ticket, 'the visit page holds a ticket');
      const streams = new AbortController();
      try {
        const stream = (await fetch(`${url}/live/events?ticket=${ticket}`, { signal: streams.signal }))
          .status;
        assert.equal(stream, 200);
        assert.equal(
          (await fetch(`${url}/live/events?ticket=${ticket}`, { signal: streams.signal })).status,
          429,
        );
      } finally {
        streams.abort();
      }

      // RATE_LIMIT_FAILED_OPENS_PER_ADDRESS=1: a second unrecorded token from this address gets 429.
      const cipher = visit.guests[0]!.cipher;
      const forged = `${cipher.slice(0, -2)}${cipher.endsWith('AA') ? 'BB' : 'AA'}`;
      const forge = () => fetch(`${url}/hc/v1/talk?int=jose&v=1&data=${forged}`);
      assert.equal((await forge()).status, 400);
      assert.equal((await forge()).status, 429, 'RATE_LIMIT_FAILED_OPENS_PER_ADDRESS');

      // METRICS_PORT and METRICS_HOST: /metrics on its own listener only.
      assert.equal((await fetch(`${url}/metrics`)).status, 404);
      assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status, 200);
      p.child.kill('SIGTERM');
      assert.equal((await p.exited).code, 0, p.stderr());
    } finally {
      await emulator.close();
    }
  });
});

/** The rest of the table: what serve's start lines say the limit, job, pruning and crypto variables came to. */
const REST: Record<string, string> = {
  JOB_POLL_MS: '250',
  JOB_LEASE_SECONDS: '30',
  RATE_LIMIT_ISSUE_PER_ADDRESS: '11',
  RATE_LIMIT_PUBLIC_PER_ADDRESS: '13',
  RATE_LIMIT_FAILED_OPENS_PER_ADDRESS: '0',
  BOT_VISITS_PER_PERSON: '4',
  BOT_ALLOWED_ORGS: '3f1e8a52-8c4b-4d0a-9a51-1b2c3d4e5f60',
  LIVE_STREAMS_PER_ADDRESS: '7',
  LIVE_STREAMS: '9',
  LIVE_JOINS_PER_MINUTE: '3',
  LIVE_HOST_GRACE_SECONDS: '5',
  WAITING_ALERT_SECONDS: '45',
  PRUNE_INTERVAL_SECONDS: '0',
  DELIVERY_RETENTION_DAYS: '3',
  SHORT_LINK_GRACE_DAYS: '2',
  RETENTION_DAYS: '90',
  BROKER: 'usgov',
};

function checkRest(stderr: string, crypto: number) {
  assert.match(
    stderr,
    /limits: +600 issuing\/key a minute, 11 issuing\/address, 13 pages\/address, unrecorded tokens\/address off, 60 short-code misses\/address, 4 bot visits\/person an hour/,
  );
  assert.match(
    stderr,
    /live: +2 streams\/link, 7\/address, 9\/instance, 3 joins\/link a minute, host grace 5 s/,
  );
  assert.match(stderr, /jobs: +poll 250 ms, lease 30 s/);
  assert.match(stderr, /waiting alert: +the host who asked hears from the bot after 45 s of a guest waiting/);
  assert.match(
    stderr,
    /pruning: +at start only; deliveries after 3 d, short links 2 d after expiry, finished visits after 90 d/,
  );
  assert.match(stderr, new RegExp(`crypto: +${crypto} PBKDF2 jobs in flight`));
  assert.match(stderr, /bot access: +for 1 Webex organisation\(s\)/, 'BOT_ALLOWED_ORGS');
  assert.match(stderr, /visit links: +usgov \(with WEBEX_TOKEN\)/, 'BROKER');
}

describe('serve takes every other variable of the table from the environment and from .env', () => {
  const start = async (dir: string, env: Record<string, string>) => {
    const p = spawnCli(['serve', '--port', '0', '--data', join(dir, 'data')], { cwd: dir, env });
    children.push(p);
    await p.waitFor(/crypto: +\d+ PBKDF2 jobs in flight/, 20_000);
    await p.waitFor(/Or make links straight away/, 20_000);
    p.child.kill('SIGTERM');
    assert.equal((await p.exited).code, 0, p.stderr());
    return p.stderr();
  };

  test('in the environment (CRYPTO_CONCURRENCY=3)', async () => {
    const emulator = await startWebexEmulator();
    try {
      const dir = join(cwd, 'rest-env');
      mkdirSync(dir);
      const stderr = await start(dir, {
        ...REST,
        CRYPTO_CONCURRENCY: '3',
        WEBEX_TOKEN: emulator.token,
        WEBEX_API_URL: emulator.apiUrl,
      });
      checkRest(stderr, 3);
    } finally {
      await emulator.close();
    }
  });

  test('in .env (UV_THREADPOOL_SIZE=2 bounds the PBKDF2 jobs in flight)', async () => {
    const emulator = await startWebexEmulator();
    try {
      const dir = join(cwd, 'rest-dotenv');
      mkdirSync(dir);
      const values = {
        ...REST,
        UV_THREADPOOL_SIZE: '2',
        WEBEX_TOKEN: emulator.token,
        WEBEX_API_URL: emulator.apiUrl,
      };
      writeFileSync(
        join(dir, '.env'),
        `${Object.entries(values)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n')}\n`,
      );
      checkRest(await start(dir, {}), 2);
    } finally {
      await emulator.close();
    }
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
    ['SMS_PROVIDER', 'pigeon', /SMS_PROVIDER must be twilio or http/],
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

describe('serve and SMS', () => {
  test('SMS_PROVIDER=twilio from the environment: serve says SMS is on, through whom and where the webhooks are, never the token; an SMS sent reaches Twilio', async () => {
    const stub = await startTwilioStub();
    try {
      const port = await freePort();
      const publicUrl = `http://127.0.0.1:${port}`;
      const p = spawnCli(['serve'], {
        cwd,
        env: {
          DATA_DIR: join(cwd, 'sms-data'),
          PORT: String(port),
          PUBLIC_URL: publicUrl,
          SMS_PROVIDER: 'twilio',
          TWILIO_ACCOUNT_SID: stub.accountSid,
          TWILIO_AUTH_TOKEN: stub.authToken,
          TWILIO_FROM: '+15005550006',
          TWILIO_API_URL: stub.url,
        },
      });
      children.push(p);
      await p.waitFor(/instant-connect listening on (http:\/\/[^\s]+)\n/, 20_000);
      assert.ok(
        p
          .stderr()
          .includes(
            `sms:           on, Twilio at ${stub.url} from +15005550006; status callbacks and replies (STOP/START) at POST ${publicUrl}/hooks/sms/twilio/status`,
          ),
        p.stderr(),
      );
      assert.ok(!p.stderr().includes(stub.authToken), 'never the token');
      // A STOP signed with the token reaches the server as Twilio would send it.
      const stop = await stub.sendInbound(`${publicUrl}/hooks/sms/twilio/inbound`, '+14155550100', 'STOP');
      assert.equal(stop.status, 200);
      const forged = await stub.sendInbound(
        `${publicUrl}/hooks/sms/twilio/inbound`,
        '+14155550100',
        'START',
        {
          token: 'another-token-0123456789',
        },
      );
      assert.equal(forged.status, 401);
      p.kill();
    } finally {
      await stub.close();
    }
  });

  test('without SMS_PROVIDER serve says SMS is off', async () => {
    const p = spawnCli(['serve', '--port', '0'], { cwd, env: { DATA_DIR: join(cwd, 'sms-off') } });
    children.push(p);
    await p.waitFor(/instant-connect listening on (http:\/\/[^\s]+)\n/, 20_000);
    assert.match(p.stderr(), /sms:\s+off \(set SMS_PROVIDER to twilio or http\)/);
    p.kill();
  });
});
