/**
 * The SDK over real HTTP on 127.0.0.1: what it sends, how it batches, how it reads both
 * response shapes, and that validation happens before any request.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { inspect } from 'node:util';
import {
  type Handler,
  type ScriptedServer,
  startScriptedServer,
} from '../../test/support/scripted-server.js';
import { AUDIENCE } from '../domain/constants.js';
import type { JoseEncryptRequest } from '../domain/schema.js';
import { AbortError, BadResponseError, HttpError, ValidationError } from '../errors.js';
import { InstantConnect, type InstantConnectOptions } from './instant-connect.js';

const TOKEN = 'ZmFrZS1zZGstY2FuYXJ5-SDK-SECRET-CANARY-k3m9_PF84_1eb65fdf-9643-417f-9974-ad72cae0e10f';
/** A fixed clock: 2026-11-28T14:00:00Z. */
const NOW_S = Date.parse('2026-11-28T14:00:00Z') / 1000;
const NOW_MS = NOW_S * 1000;
const FAST = { baseDelayMs: 1, maxDelayMs: 5 };

let server: ScriptedServer;
beforeEach(async () => {
  server = await startScriptedServer();
});
afterEach(async () => {
  await server.close();
});

function sdk(options: Partial<InstantConnectOptions> = {}): InstantConnect {
  return new InstantConnect({ broker: server.url, token: TOKEN, now: () => NOW_MS, retry: FAST, ...options });
}

const cipher = (role: string, tag: string, i: number) => `eyJ${role}.${tag}.${i}.iv.tag`;

/** A broker that answers every call with as many links as it asked for, named after the call. */
function brokerHandler(delayMs: (body: JoseEncryptRequest) => number = () => 0): Handler {
  return (request) => {
    const body = request.body as JoseEncryptRequest;
    const tag = `${body.numHost}h${body.numGuest}g`;
    const short = body.provideShortUrls === true;
    const entry = (role: string) => (_: unknown, i: number) =>
      short
        ? { cipher: cipher(role, tag, i), short: `${role[0]}${tag}${i}` }
        : { cipher: cipher(role, tag, i) };
    return {
      delayMs: delayMs(body),
      body: {
        host: Array.from({ length: body.numHost ?? 1 }, entry('host')),
        guest: Array.from({ length: body.numGuest ?? 1 }, entry('guest')),
        ...(short ? { baseUrl: 'https://x/visit/' } : {}),
      },
    };
  };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

async function eventually(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('a v2 response with short URLs is normalised into every URL form', async () => {
  server.script({
    body: {
      host: [{ cipher: 'hc1.a.b.c.d', short: 'Hs1' }],
      guest: [
        { cipher: 'gc1.a.b.c.d', short: 'Gs1' },
        { cipher: 'gc2.a.b.c.d', short: 'Gs2' },
      ],
      baseUrl: 'https://x/visit/',
    },
  });
  const result = await sdk().createLinks({ subject: 'visit-1', hosts: 1, guests: 2, shortUrls: true });
  const base = server.url;
  assert.equal(result.baseUrl, 'https://x/visit/');
  assert.deepEqual(result.hosts, [
    {
      role: 'host',
      index: 0,
      cipher: 'hc1.a.b.c.d',
      short: 'Hs1',
      shortUrl: 'https://x/visit/Hs1',
      longUrl: `${base}/hc/v1/login?int=jose&v=1&data=hc1.a.b.c.d`,
      forcedLoginUrl: `${base}/hc/v1/login?int=jose&v=1&fli=true&data=hc1.a.b.c.d`,
    },
  ]);
  assert.deepEqual(result.guests, [
    {
      role: 'guest',
      index: 0,
      cipher: 'gc1.a.b.c.d',
      short: 'Gs1',
      shortUrl: 'https://x/visit/Gs1',
      longUrl: `${base}/hc/v1/talk?int=jose&v=1&data=gc1.a.b.c.d`,
    },
    {
      role: 'guest',
      index: 1,
      cipher: 'gc2.a.b.c.d',
      short: 'Gs2',
      shortUrl: 'https://x/visit/Gs2',
      longUrl: `${base}/hc/v1/talk?int=jose&v=1&data=gc2.a.b.c.d`,
    },
  ]);
  assert.equal((server.requests[0]!.body as JoseEncryptRequest).provideShortUrls, true);
});

test('a v2 response without short URLs has no short forms', async () => {
  server.script({ body: { host: [{ cipher: 'hc1' }], guest: [{ cipher: 'gc1' }] } });
  const result = await sdk().createLinks({ subject: 'visit-2' });
  assert.equal(result.baseUrl, undefined);
  assert.ok(!('baseUrl' in result));
  for (const link of [...result.hosts, ...result.guests]) {
    assert.ok(!('short' in link), 'no short');
    assert.ok(!('shortUrl' in link), 'no shortUrl');
  }
  assert.equal(result.hosts[0]!.longUrl, `${server.url}/hc/v1/login?int=jose&v=1&data=hc1`);
  assert.equal(result.guests[0]!.longUrl, `${server.url}/hc/v1/talk?int=jose&v=1&data=gc1`);
  assert.equal(result.guests[0]!.forcedLoginUrl, undefined);
  assert.equal((server.requests[0]!.body as JoseEncryptRequest).provideShortUrls, false);
});

test('hostLogin: false sends hosts to talk; the vertical and linkBaseUrl shape the long URLs', async () => {
  server.script({ body: { host: [{ cipher: 'hc1' }], guest: [{ cipher: 'gc1' }] } });
  const client = sdk({ linkBaseUrl: 'https://instant.example.com/' });
  const result = await client.createLinks({ subject: 'visit-3', hostLogin: false, vertical: 'gen' });
  const host = result.hosts[0]!;
  const guest = result.guests[0]!;
  assert.equal(host.longUrl, 'https://instant.example.com/gen/v1/talk?int=jose&v=1&data=hc1');
  assert.equal(
    host.forcedLoginUrl,
    'https://instant.example.com/gen/v1/login?int=jose&v=1&fli=true&data=hc1',
  );
  assert.equal(guest.longUrl, 'https://instant.example.com/gen/v1/talk?int=jose&v=1&data=gc1');
  assert.ok(!('forcedLoginUrl' in guest), 'forcedLoginUrl is for hosts only');
  const body = server.requests[0]!.body as JoseEncryptRequest;
  assert.equal(body.loginUrlForHost, false);
  assert.equal(body.verticalType, 'gen');
  assert.equal(result.vertical, 'gen');
});

test("a v1 response (cipher strings) with apiVersion 'v1' calls /api/v1/joseencrypt", async () => {
  server.script({ body: { host: ['c1'], guest: ['c2'] } });
  const result = await sdk({ apiVersion: 'v1' }).createLinks({ subject: 'visit-v1' });
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0]!.path, '/api/v1/joseencrypt');
  assert.deepEqual(result.hosts, [
    {
      role: 'host',
      index: 0,
      cipher: 'c1',
      longUrl: `${server.url}/hc/v1/login?int=jose&v=1&data=c1`,
      forcedLoginUrl: `${server.url}/hc/v1/login?int=jose&v=1&fli=true&data=c1`,
    },
  ]);
  assert.deepEqual(result.guests, [
    { role: 'guest', index: 0, cipher: 'c2', longUrl: `${server.url}/hc/v1/talk?int=jose&v=1&data=c2` },
  ]);
});

test('the broker receives POST /api/v2/joseencrypt, the bearer token and the wire body in seconds', async () => {
  server.setHandler(brokerHandler());
  const result = await sdk().createLinks({ subject: 'visit-wire', hosts: 2, guests: 3 });
  assert.equal(server.requests.length, 1);
  const req = server.requests[0]!;
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/api/v2/joseencrypt');
  assert.equal(req.headers['authorization'], `Bearer ${TOKEN}`);
  assert.match(String(req.headers['content-type']), /^application\/json\b/);
  const body = req.body as JoseEncryptRequest;
  assert.equal(body.aud, AUDIENCE);
  assert.equal(body.jwt.sub, 'visit-wire');
  assert.equal(body.jwt.exp, NOW_S + 15 * 60, 'default window: 15 minutes from now, in seconds');
  assert.ok(body.jwt.exp! < 1e11, 'jwt.exp is seconds, not milliseconds');
  assert.equal(body.jwt.nbf, undefined);
  assert.equal(body.numHost, 2, 'numHost is sent explicitly');
  assert.equal(body.numGuest, 3, 'numGuest is sent explicitly');
  assert.ok(Object.hasOwn(body, 'numHost') && Object.hasOwn(body, 'numGuest'));
  assert.equal(result.subject, 'visit-wire');
  assert.equal(result.subjectGenerated, false);
  assert.equal(result.expiresAt, body.jwt.exp);
  assert.equal(result.calls, 1);
  assert.equal(result.environment, 'custom');
  assert.equal(result.brokerUrl, server.url);
});

test('Date and ISO instants reach the wire as epoch seconds', async () => {
  server.setHandler(brokerHandler());
  const notBefore = new Date(NOW_MS + 3_600_000);
  await sdk().createLinks({ subject: 'visit-dates', notBefore, expiresAt: '2026-11-28T16:00:00Z' });
  const body = server.requests[0]!.body as JoseEncryptRequest;
  assert.equal(body.jwt.nbf, NOW_S + 3600);
  assert.equal(body.jwt.exp, NOW_S + 7200);
});

test('without a subject the SDK generates one and says so', async () => {
  server.setHandler(brokerHandler());
  const result = await sdk().createLinks({});
  assert.equal(result.subjectGenerated, true);
  assert.match(result.subject, /^visit-20261128-1400-[a-z2-9]{8}$/);
  assert.equal((server.requests[0]!.body as JoseEncryptRequest).jwt.sub, result.subject);
});

test('1 host + 60 guests: 3 calls of at most 25, one subject and window, merged in plan order', async () => {
  // The first call is the slowest, so completion order is not plan order.
  const delays: Record<string, number> = { '1h24g': 80, '0h25g': 40, '0h11g': 0 };
  server.setHandler(brokerHandler((body) => delays[`${body.numHost}h${body.numGuest}g`] ?? 0));
  const progress: [number, number][] = [];
  const result = await sdk().createLinks(
    { subject: 'visit-big', hosts: 1, guests: 60, notBefore: NOW_S + 600, ttl: '45m' },
    { onProgress: (done, total) => progress.push([done, total]) },
  );
  assert.equal(server.requests.length, 3);
  assert.equal(result.calls, 3);
  const bodies = server.requests.map((r) => r.body as JoseEncryptRequest);
  for (const body of bodies) {
    assert.ok((body.numHost ?? 1) + (body.numGuest ?? 1) <= 25, 'at most 25 links per call');
    assert.equal(body.jwt.sub, 'visit-big');
    assert.equal(body.jwt.nbf, NOW_S + 600);
    assert.equal(body.jwt.exp, NOW_S + 600 + 45 * 60);
  }
  const planned = bodies.map((b) => `${b.numHost}h${b.numGuest}g`).sort();
  assert.deepEqual(planned, ['0h11g', '0h25g', '1h24g']);

  assert.equal(result.hosts.length, 1);
  assert.equal(result.hosts[0]!.cipher, cipher('host', '1h24g', 0));
  assert.equal(result.guests.length, 60);
  const expected = [
    ...Array.from({ length: 24 }, (_, i) => cipher('guest', '1h24g', i)),
    ...Array.from({ length: 25 }, (_, i) => cipher('guest', '0h25g', i)),
    ...Array.from({ length: 11 }, (_, i) => cipher('guest', '0h11g', i)),
  ];
  assert.deepEqual(
    result.guests.map((g) => g.cipher),
    expected,
  );
  assert.deepEqual(
    result.guests.map((g) => g.index),
    Array.from({ length: 60 }, (_, i) => i),
  );
  for (const guest of result.guests) {
    assert.equal(guest.role, 'guest');
    assert.equal(guest.longUrl, `${server.url}/hc/v1/talk?int=jose&v=1&data=${guest.cipher}`);
  }
  assert.deepEqual(progress, [
    [1, 3],
    [2, 3],
    [3, 3],
  ]);
});

test('concurrency: 2 keeps at most 2 calls in flight', async () => {
  server.setHandler(brokerHandler(() => 50));
  const result = await sdk({ concurrency: 2 }).createLinks({ subject: 'visit-c2', hosts: 1, guests: 60 });
  assert.equal(server.requests.length, 3);
  assert.equal(result.guests.length, 60);
  assert.ok(server.maxInFlight <= 2, `the server saw ${server.maxInFlight} in flight`);
  assert.equal(server.maxInFlight, 2, 'two calls did run side by side');
});

test('concurrency: 1 sends the calls one after another', async () => {
  server.setHandler(brokerHandler(() => 10));
  await sdk({ concurrency: 1 }).createLinks({ subject: 'visit-c1', hosts: 1, guests: 60 });
  assert.equal(server.requests.length, 3);
  assert.equal(server.maxInFlight, 1);
});

test('one failed call fails the request with its error and aborts the calls still in flight', async () => {
  const ok = brokerHandler(() => 60_000);
  server.setHandler((request) => {
    if (request.index === 0) {
      return { status: 400, body: { message: 'numGuest is wrong', errors: [], trackingId: 'ROUTER_BATCH' } };
    }
    return ok(request);
  });
  const err = await failure(
    sdk({ concurrency: 2 }).createLinks({ subject: 'visit-f', hosts: 1, guests: 60 }),
  );
  assert.ok(err instanceof HttpError);
  assert.equal(err.status, 400);
  assert.equal(err.trackingId, 'ROUTER_BATCH');
  await eventually(() => server.inFlight === 0, 'aborting the other call');
  assert.ok(server.requests.length <= 2, 'no call starts after a failure');
});

test("a caller's AbortSignal aborts createLinks with an AbortError", async () => {
  server.setHandler(brokerHandler(() => 60_000));
  const controller = new AbortController();
  const pending = failure(sdk().createLinks({ subject: 'visit-abort' }, { signal: controller.signal }));
  await server.waitForRequests(1);
  controller.abort();
  const err = await pending;
  assert.ok(err instanceof AbortError);
  assert.equal(err.code, 'ERR_ABORTED');
});

test('garbage JSON on a 200 is a BadResponseError', async () => {
  server.script({ body: 'not json at all {', headers: { 'content-type': 'application/json' } });
  const err = await failure(sdk().createLinks({ subject: 'visit-garbage' }));
  assert.ok(err instanceof BadResponseError);
  assert.equal(err.code, 'ERR_BAD_RESPONSE');
  assert.equal(server.requests.length, 1);
});

test('a JSON 200 without links is a BadResponseError', async () => {
  server.script({ body: { ok: true } });
  const err = await failure(sdk().createLinks({ subject: 'visit-empty' }));
  assert.ok(err instanceof BadResponseError);
});

test('the wrong number of links back is a BadResponseError', async () => {
  server.script({ body: { host: [{ cipher: 'h1' }], guest: [{ cipher: 'g1' }] } });
  const err = await failure(sdk().createLinks({ subject: 'visit-count', hosts: 1, guests: 2 }));
  assert.ok(err instanceof BadResponseError);
  assert.equal(err.code, 'ERR_BAD_RESPONSE');
  assert.match(err.message, /asked for 1 host and 2 guest links, got 1 and 1/);
});

test('hosts 0 and guests 0 is a ValidationError naming the field, before any HTTP', async () => {
  server.setHandler(brokerHandler());
  const err = await failure(sdk().createLinks({ subject: 'visit-none', hosts: 0, guests: 0 }));
  assert.ok(err instanceof ValidationError);
  assert.equal(err.code, 'ERR_VALIDATION');
  assert.ok(
    err.issues.some((i) => i.path === 'hosts' && i.rule === 'total'),
    JSON.stringify(err.issues),
  );
  assert.equal(server.requests.length, 0);
});

test('expiresAt in milliseconds is a ValidationError naming expiresAt, before any HTTP', async () => {
  server.setHandler(brokerHandler());
  const err = await failure(sdk().createLinks({ subject: 'visit-ms', expiresAt: NOW_MS + 3_600_000 }));
  assert.ok(err instanceof ValidationError);
  const issue = err.issues.find((i) => i.path === 'expiresAt');
  assert.ok(issue, JSON.stringify(err.issues));
  assert.equal(issue.rule, 'milliseconds');
  assert.match(err.message, /milliseconds/);
  assert.equal(server.requests.length, 0);
});

test('encrypt() validates the wire body before any HTTP', async () => {
  server.setHandler(brokerHandler());
  const body = { aud: AUDIENCE, jwt: { sub: 'visit-raw', exp: NOW_MS + 3_600_000 }, numHost: 1, numGuest: 1 };
  const err = await failure(sdk().encrypt(body));
  assert.ok(err instanceof ValidationError);
  assert.ok(
    err.issues.some((i) => i.path === 'jwt.exp'),
    JSON.stringify(err.issues),
  );
  assert.equal(server.requests.length, 0);
});

test('a token given as an async function is used for every call', async () => {
  server.setHandler(brokerHandler());
  let calls = 0;
  const client = sdk({
    token: async () => {
      calls += 1;
      return `${TOKEN}-fn`;
    },
  });
  await client.createLinks({ subject: 'visit-fn', hosts: 1, guests: 30 });
  assert.equal(server.requests.length, 2);
  assert.ok(calls >= 1);
  for (const req of server.requests) assert.equal(req.headers['authorization'], `Bearer ${TOKEN}-fn`);
});

test('a missing token is refused at construction', () => {
  assert.throws(() => new InstantConnect({ broker: server.url, token: '' }), TypeError);
});

function assertNoToken(what: string, text: string | undefined) {
  assert.ok(text !== undefined, `${what} is defined`);
  assert.ok(!text.includes(TOKEN), `${what} leaks the token: ${text}`);
}

test('the token never leaks from the client or its errors, even when the server echoes it', async () => {
  server.script({
    status: 401,
    statusMessage: `Unauthorized ${TOKEN}`,
    headers: { TrackingID: `ROUTER_${TOKEN}` },
    body: {
      message: `Authorization: Bearer ${TOKEN} is not valid`,
      errors: [{ description: `token ${TOKEN} expired` }, { description: `echo ${TOKEN}` }],
    },
  });
  const client = sdk();
  const err = await failure(client.createLinks({ subject: 'visit-leak' }));
  assert.ok(err instanceof HttpError);
  assert.equal(err.code, 'ERR_UNAUTHORIZED');
  assert.equal(server.requests[0]!.headers['authorization'], `Bearer ${TOKEN}`, 'the token was sent');
  assertNoToken('message', err.message);
  assertNoToken('stack', err.stack);
  assertNoToken('JSON.stringify(error)', JSON.stringify(err));
  assertNoToken('util.inspect(error)', inspect(err, { depth: 10, showHidden: true }));
  for (const c of [client, sdk({ token: async () => TOKEN })]) {
    assertNoToken('String(client)', String(c));
    assertNoToken('JSON.stringify(client)', JSON.stringify(c));
    assertNoToken('util.inspect(client)', inspect(c, { depth: 10, showHidden: true }));
  }
});

test('a concurrency that is not a whole number of at least 1 is refused at construction', () => {
  for (const concurrency of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => new InstantConnect({ token: 'tok', concurrency }),
      /concurrency must be a whole number/,
    );
  }
});
