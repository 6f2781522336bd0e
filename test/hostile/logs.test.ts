/**
 * The log-capture test: a server whose pino logger (at trace, the most talkative level) writes
 * into memory, with the bot against the Webex emulator. Traffic carries every kind of secret the
 * service handles: API keys (valid, revoked, bogus) in Authorization and the sign-in form, broker
 * ciphers in page URLs, the space API and joseencrypt answers, short codes, staff session cookies
 * and CSRF tokens, hook secrets and signatures, X-Spark-Signature and the webhook secret, the bot
 * token (through the emulator) and page tickets; with 401s, 400s, 404s, 429s, a 503 and a job
 * retry on the way. Then every captured line is JSON, request lines carry a request id, and no
 * line holds any secret, nor a distinctive 20-character piece of any cipher or ticket.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AUDIENCE } from '../../src/domain/constants.js';
import { type RunningServer, startServer } from '../../src/main/serve.js';
import {
  messageDelivery,
  sparkSignatureOf,
  startWebexEmulator,
  type WebexEmulator,
} from '../support/webex-emulator.js';
import { type Ans, q, type Req, send } from './support.js';

/** Every line the logger wrote. */
const lines: string[] = [];
const capture = {
  write(chunk: string | Buffer) {
    for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(line);
  },
};

/** Secrets that must appear in no log line, by what they are. */
const secrets = new Map<string, string>();
function secret(what: string, value: string | undefined): void {
  assert.ok(value && value.length >= 6, `${what}: a secret too short to look for (${value})`);
  secrets.set(value, what);
}
/** Long secrets are also looked for by their pieces: a line with part of a cipher leaks it too. */
function pieces(value: string): string[] {
  if (value.length < 40) return [value];
  const out = new Set<string>([value]);
  for (let i = 0; i + 20 <= value.length; i += 20) out.add(value.slice(i, i + 20));
  out.add(value.slice(-20));
  return [...out];
}

let emulator: WebexEmulator;
let running: RunningServer;
let dataDir: string;
let base: string;
const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;

before(async () => {
  emulator = await startWebexEmulator();
  dataDir = mkdtempSync(join(tmpdir(), 'ic-logs-'));
  running = await startServer({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    webex: { token: emulator.token, apiUrl: emulator.apiUrl, webhookSecret },
    jobs: { pollMs: 50, leaseSeconds: 2 },
    // A tight failed-opening budget (for a 429) and a one-slot crypto queue (for a 503).
    rateLimits: {
      issuePerKey: 10_000,
      issuePerAddress: 10_000,
      publicPerAddress: 10_000,
      failedOpensPerAddress: 4,
    },
    crypto: { concurrency: 1, queue: 1 },
    logger: { level: 'trace', stream: capture },
  });
  base = running.url;
  secret('bot token', emulator.token);
  secret('webhook secret', webhookSecret);
});
after(async () => {
  await running.close();
  await emulator.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const json = (key: string) => ({ ...bearer(key), 'content-type': 'application/json' });
const HTML = { accept: 'text/html' };
const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

async function expect(req: Req, status: number | number[]): Promise<Ans> {
  const answer = await send(base, req);
  const allowed = [status].flat();
  assert.ok(
    allowed.includes(answer.status),
    `${req.method ?? 'GET'} ${req.path.slice(0, 80)}: ${answer.status} ${answer.text.slice(0, 200)}`,
  );
  return answer;
}

describe('logs', () => {
  test('traffic with every kind of secret, errors and a job retry', async () => {
    const { context } = running;
    // API keys: valid, revoked, bogus.
    const { key } = await context.apiKeys.create(context.org, 'logs');
    const revoked = await context.apiKeys.create(context.org, 'revoked');
    await context.apiKeys.revoke(context.org, revoked.record.id);
    const bogus = `ic_live_${randomBytes(24).toString('base64url')}`;
    secret('API key', key);
    secret('revoked API key', revoked.key);
    secret('bogus API key', bogus);

    // joseencrypt (v1 and v2): ciphers and short codes in the answers.
    const issued: { cipher: string; short?: string }[] = [];
    for (const version of ['v1', 'v2']) {
      const answer = await expect(
        {
          method: 'POST',
          path: `/api/${version}/joseencrypt`,
          headers: json(key),
          body: JSON.stringify({
            aud: AUDIENCE,
            jwt: { sub: `logs ${version}` },
            iterations: 1000,
            provideShortUrls: true,
          }),
        },
        200,
      );
      const body = answer.json;
      const links = version === 'v2' ? [...body.host, ...body.guest] : [body.host, body.guest].flat();
      for (const link of links) {
        const l = typeof link === 'string' ? { cipher: link } : link;
        issued.push(l);
      }
    }
    for (const badKey of [revoked.key, bogus, `${key}x`]) {
      await expect({ method: 'POST', path: '/api/v2/joseencrypt', headers: json(badKey), body: '{}' }, 401);
      await expect({ path: '/api/visits', headers: bearer(badKey) }, 401);
    }
    await expect(
      {
        path: '/api/visits',
        headers: { authorization: `Basic ${Buffer.from(`x:${key}`).toString('base64')}` },
      },
      401,
    );
    await expect(
      { method: 'POST', path: '/api/v2/joseencrypt', headers: json(key), body: `{"aud":"${key}",` },
      400,
    );

    // A visit: its links (ciphers, short codes), its pages and their tickets.
    const made = await expect(
      {
        method: 'POST',
        path: '/api/visits',
        headers: json(key),
        body: JSON.stringify({ subject: 'logs visit', hosts: 1, guests: 2, crypto: { iterations: 1000 } }),
      },
      201,
    );
    const visit = made.json;
    await expect({ path: `/api/visits/${visit.id}`, headers: bearer(key) }, 200);
    await expect({ path: `/api/visits?q=${q('logs')}&limit=5`, headers: bearer(key) }, 200);
    const tickets: string[] = [];
    for (const link of [...visit.hosts, ...visit.guests]) {
      issued.push(link);
      // The short link, then the page it leads to (?data= is the cipher).
      const short = await expect({ path: `/visit/${link.short}`, headers: HTML }, 302);
      const page = await expect({ path: pathOf(String(short.headers['location'])), headers: HTML }, 200);
      await expect({ path: `/%76isit/${link.short}` }, 302);
      tickets.push(/data-ticket="([^"]+)"/.exec(page.text)![1]!);
      // The same cipher under other spellings of the parameter, and on the space API.
      await expect({ path: `/hc/v1/talk?int=jose&%64ata=${q(link.cipher)}`, headers: HTML }, 200);
      await expect({ path: `/gen/v1/login?v=1&data=${q(link.cipher)}&int=jose` }, 200);
      await expect({ path: `/hc/v1/login?int=jose&DATA=${q(link.cipher)}`, headers: HTML }, 400);
      await expect({ path: `/api/v1/space?int=jose&data=${q(link.cipher)}` }, 200);
      await expect(
        {
          method: 'POST',
          path: `/api/v1/space/?data=${q(link.cipher)}&int=jose`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ data: link.cipher }),
        },
        200,
      );
    }
    for (const link of issued) {
      secret('cipher', link.cipher);
      if (link.short) secret('short code', link.short);
    }

    // Tickets: the live API, in bodies and in query strings (the event stream too).
    for (const ticket of tickets) secret('page ticket', ticket);
    await expect(
      {
        method: 'POST',
        path: '/live/join',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ticket: tickets[0] }),
      },
      200,
    );
    await expect({ path: `/live/status?ticket=${q(tickets[1]!)}` }, 200);
    await expect({ path: `/live/status?ticket=${q(`${tickets[1]!.slice(0, -2)}AA`)}` }, 403);
    const stream = new AbortController();
    const events = await fetch(`${base}/live/events?ticket=${q(tickets[2]!)}`, { signal: stream.signal });
    assert.equal(events.status, 200);
    const reader = events.body!.getReader();
    await reader.read();
    stream.abort();
    await reader.read().catch(() => undefined);
    await expect(
      {
        method: 'POST',
        path: '/live/leave',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ticket: tickets[0] }),
      },
      200,
    );

    // Forged ciphers until the failed-opening budget is gone (400s, then 429).
    const forged = Array.from({ length: 6 }, () =>
      Array.from({ length: 5 }, () => randomBytes(30).toString('base64url')).join('.'),
    );
    const forgedStatuses: number[] = [];
    for (const cipher of forged) {
      secret('forged cipher', cipher);
      forgedStatuses.push((await send(base, { path: `/api/v1/space?int=jose&data=${q(cipher)}` })).status);
    }
    assert.ok(forgedStatuses.includes(400) && forgedStatuses.includes(429), forgedStatuses.join(','));
    const unknownCode = `Zq${randomBytes(6).toString('hex')}`;
    secret('unknown short code', unknownCode);
    await expect({ path: `/visit/${unknownCode}` }, 404);

    // The staff page: sign in (a bad key, a revoked one, the good one), the session cookie, CSRF.
    const form = 'application/x-www-form-urlencoded';
    await expect(
      { method: 'POST', path: '/session', headers: { 'content-type': form }, body: `key=${q(bogus)}` },
      401,
    );
    await expect(
      { method: 'POST', path: '/session', headers: { 'content-type': form }, body: `key=${q(revoked.key)}` },
      401,
    );
    const signedIn = await expect(
      { method: 'POST', path: '/session', headers: { 'content-type': form }, body: `key=${q(key)}` },
      303,
    );
    const cookie = String([signedIn.headers['set-cookie']].flat()[0]).split(';')[0]!;
    secret('session cookie', cookie.slice('ic_session='.length));
    const dashboard = await expect({ path: '/', headers: { cookie } }, 200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(dashboard.text)![1]!;
    secret('CSRF token', csrf);
    await expect({ path: '/visits?tab=upcoming', headers: { cookie } }, 200);
    await expect({ path: `/visits/${visit.id}`, headers: { cookie } }, 200);
    await expect(
      {
        method: 'POST',
        path: '/visits',
        headers: { 'content-type': form, cookie },
        body: `_csrf=${q(csrf)}&subject=staff&duration=30&hosts=1&guests=1&vertical=hc&shortUrls=on&hostLogin=on`,
      },
      303,
    );
    await expect(
      {
        method: 'POST',
        path: '/visits',
        headers: { 'content-type': form, cookie },
        body: `_csrf=${q(`${csrf}x`)}&subject=forged`,
      },
      403,
    );
    await expect({ path: '/', headers: { cookie: `ic_session=${q(`${cookie.slice(11)}x`)}` } }, 200);

    // The workflow trigger: a hook secret and its signatures (good, bad, replayed), with notify.
    const made2 = await context.trigger.createHook(context.org, 'logs');
    secret('hook secret', made2.secret);
    const person = emulator.addPerson();
    const hookBody = JSON.stringify({
      subject: 'hooked',
      crypto: { iterations: 1000 },
      notify: { host: person.emails[0] },
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = `v1=${createHmac('sha256', made2.secret).update(`${timestamp}.`).update(hookBody).digest('hex')}`;
    secret('hook signature', signature.slice(3));
    const hookHeaders = {
      'content-type': 'application/json',
      'x-ic-hook': made2.hook.id,
      'x-ic-timestamp': timestamp,
      'x-ic-signature': signature,
      'idempotency-key': `idem-${randomBytes(8).toString('hex')}`,
    };
    const hooked = await expect(
      { method: 'POST', path: '/hooks/visits', headers: hookHeaders, body: hookBody },
      201,
    );
    for (const link of [...hooked.json.hosts, ...hooked.json.guests]) secret('hooked cipher', link.cipher);
    // The same bytes again: with the Idempotency-Key the stored answer, without it a refused replay.
    await expect({ method: 'POST', path: '/hooks/visits', headers: hookHeaders, body: hookBody }, 201);
    const { 'idempotency-key': _key, ...unkeyed } = hookHeaders;
    await expect({ method: 'POST', path: '/hooks/visits', headers: unkeyed, body: hookBody }, 401);
    await expect(
      {
        method: 'POST',
        path: '/hooks/visits',
        headers: { ...hookHeaders, 'x-ic-signature': `v1=${'0'.repeat(64)}` },
        body: hookBody,
      },
      401,
    );
    await expect(
      {
        method: 'POST',
        path: '/hooks/visits',
        headers: json(key),
        body: JSON.stringify({ crypto: { iterations: 1000 } }),
      },
      201,
    );

    // The bot: signed deliveries (X-Spark-Signature), a bad one, and a reply that fails once (a retry).
    const alice = emulator.addPerson();
    emulator.fail('POST', '/messages', { status: 500, times: 1 });
    const message = emulator.seedMessage({ from: alice, text: 'visit Logs check' });
    const delivery = JSON.stringify(messageDelivery(message));
    const spark = sparkSignatureOf(webhookSecret, delivery);
    secret('X-Spark-Signature', spark);
    await expect(
      {
        method: 'POST',
        path: '/hooks/webex',
        headers: { 'content-type': 'application/json', 'x-spark-signature': spark },
        body: delivery,
      },
      200,
    );
    await expect(
      {
        method: 'POST',
        path: '/hooks/webex',
        headers: {
          'content-type': 'application/json',
          'x-spark-signature': sparkSignatureOf('wrong', delivery),
        },
        body: delivery,
      },
      401,
    );
    const deadline = Date.now() + 15_000;
    while (
      emulator.sentTo({ roomId: alice.directRoomId }).length === 0 ||
      context.runner.stats.retried === 0
    ) {
      assert.ok(
        Date.now() < deadline,
        `the bot never answered after a retry (retried ${context.runner.stats.retried})`,
      );
      await sleep(50);
    }
    for (const sent of emulator.sentTo({ roomId: alice.directRoomId })) {
      for (const [, url] of (sent.markdown ?? sent.text ?? '').matchAll(/(https?:\/\/\S+)/g)) {
        const u = new URL(url!.replace(/[)>.,]+$/, ''));
        const short = /^\/visit\/([A-Za-z0-9]+)$/.exec(u.pathname)?.[1];
        if (short) secret('bot short code', short);
        const data = u.searchParams.get('data');
        if (data) secret('bot cipher', data);
      }
    }

    // Overload: a one-slot crypto queue, several issuing calls at once: 503 for some.
    const heavy = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        send(base, {
          method: 'POST',
          path: '/api/v2/joseencrypt',
          headers: json(key),
          body: JSON.stringify({
            aud: AUDIENCE,
            jwt: { sub: `heavy ${i}` },
            numGuest: 20,
            iterations: 32767,
          }),
        }),
      ),
    );
    assert.ok(
      heavy.some((a) => a.status === 503),
      heavy.map((a) => a.status).join(','),
    );
    for (const answer of heavy)
      if (answer.status === 200) for (const c of answer.json.guest) secret('heavy cipher', c.cipher);

    // The metrics page, and a sign-out.
    await expect({ path: '/metrics' }, 200);
    await expect(
      {
        method: 'POST',
        path: '/session/end',
        headers: { 'content-type': form, cookie },
        body: `_csrf=${q(csrf)}`,
      },
      303,
    );
  });

  test('every line is JSON, request lines carry a request id, no line holds a secret', async () => {
    // Give the logger and the job runner a moment to write their last lines.
    await sleep(200);
    assert.ok(lines.length > 100, `only ${lines.length} log lines: the test would prove little`);
    assert.ok(secrets.size > 30, `only ${secrets.size} secrets`);
    const parsed = lines.map((line): Record<string, any> => {
      try {
        return JSON.parse(line);
      } catch {
        return assert.fail(`a log line that is not JSON: ${line.slice(0, 300)}`);
      }
    });
    let requestLines = 0;
    for (const entry of parsed) {
      if (entry['req'] || entry['res'] || /request/.test(String(entry['msg']))) {
        requestLines += 1;
        assert.match(
          String(entry['reqId']),
          /^IC_[0-9a-f-]{36}$/,
          `a request line without reqId: ${JSON.stringify(entry)}`,
        );
      }
      if (entry['req'])
        assert.deepEqual(Object.keys(entry['req'].headers ?? {}), [], 'no headers are logged');
    }
    assert.ok(requestLines > 100, `only ${requestLines} request lines`);
    // The redactions happened: secrets were there and were censored.
    assert.ok(
      lines.some((l) => l.includes('[REDACTED]')),
      'nothing was redacted: the traffic carried no secret?',
    );
    const levels = new Set(parsed.map((e) => e['level']));
    assert.ok(levels.has(40), 'the 503 was logged as a warning');
    for (const [value, what] of secrets) {
      for (const piece of pieces(value)) {
        for (const form of new Set([piece, encodeURIComponent(piece)])) {
          const line = lines.find((l) => l.includes(form));
          assert.equal(line, undefined, `a ${what} in the logs (${form}): ${line?.slice(0, 400)}`);
        }
      }
    }
  });
});
