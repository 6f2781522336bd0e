/**
 * HttpClient over real HTTP on 127.0.0.1: retry rules, error mapping, timeouts, aborts and
 * the promise that the token never reaches an error. Never asserts wall-clock timings: retry
 * delays are observed through `onRetry`.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { inspect } from 'node:util';
import { type ScriptedServer, startScriptedServer } from '../../test/support/scripted-server.js';
import {
  AbortError,
  BadResponseError,
  HttpError,
  InstantConnectError,
  NetworkError,
  TimeoutError,
} from '../errors.js';
import { HttpClient, type HttpClientOptions, parseRetryAfter } from './http.js';

/** Shaped like a Webex access token, and distinctive enough to find anywhere. */
const TOKEN = 'ZmFrZS1sZWFrLWNhbmFyeQ-SECRET-CANARY-7q2x_PF84_1eb65fdf-9643-417f-9974-ad72cae0e10f';
const FAST = { baseDelayMs: 1, maxDelayMs: 5 };

let server: ScriptedServer;
beforeEach(async () => {
  server = await startScriptedServer();
});
afterEach(async () => {
  await server.close();
});

type RetryInfo = Parameters<NonNullable<HttpClientOptions['onRetry']>>[0];

function client(options: HttpClientOptions = {}, retries: RetryInfo[] = []) {
  return new HttpClient(TOKEN, {
    retry: FAST,
    onRetry: (info) => retries.push(info),
    ...options,
  });
}

const post = (http: HttpClient, options: { signal?: AbortSignal } = {}) =>
  http.request('POST', `${server.url}/api/v2/joseencrypt`, { body: { hello: 'world' }, ...options });

/** Rejects with the error `promise` rejected with, or fails the test if it resolved. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

/** Fails if `promise` has not settled within `ms` (a generous guard, not a timing assertion). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

test('sends JSON with the bearer token and returns the parsed body', async () => {
  server.script({ body: { ok: true }, headers: { TrackingID: 'ROUTER_1' } });
  const response = await client().request<{ ok: boolean }>('POST', `${server.url}/api/v2/joseencrypt`, {
    body: { a: 1 },
    headers: { 'x-extra': 'yes' },
  });
  assert.equal(response.status, 200);
  assert.deepEqual(response.body, { ok: true });
  assert.equal(response.trackingId, 'ROUTER_1');
  assert.equal(server.requests.length, 1);
  const [req] = server.requests;
  assert.equal(req!.method, 'POST');
  assert.equal(req!.path, '/api/v2/joseencrypt');
  assert.equal(req!.headers['authorization'], `Bearer ${TOKEN}`);
  assert.equal(req!.headers['content-type'], 'application/json');
  assert.equal(req!.headers['accept'], 'application/json');
  assert.equal(req!.headers['x-extra'], 'yes');
  assert.deepEqual(req!.body, { a: 1 });
});

test('a token given as an async function is resolved and sent', async () => {
  let calls = 0;
  const http = new HttpClient(
    async () => {
      calls += 1;
      await new Promise((resolve) => setImmediate(resolve));
      return `${TOKEN}-${calls}`;
    },
    { retry: FAST },
  );
  server.script({ body: {} }, { body: {} });
  await post(http);
  await post(http);
  assert.equal(calls, 2, 'the token function is asked once per request');
  assert.equal(server.requests[0]!.headers['authorization'], `Bearer ${TOKEN}-1`);
  assert.equal(server.requests[1]!.headers['authorization'], `Bearer ${TOKEN}-2`);
});

test('429 with Retry-After: 1 waits 1000 ms, retries and succeeds', async () => {
  const retries: RetryInfo[] = [];
  server.script(
    { status: 429, headers: { 'retry-after': '1' }, body: { message: 'Too Many Requests', errors: [] } },
    { body: { ok: true } },
  );
  const response = await post(client({}, retries));
  assert.deepEqual(response.body, { ok: true });
  assert.equal(server.requests.length, 2);
  assert.equal(retries.length, 1);
  assert.equal(retries[0]!.attempt, 1);
  assert.equal(retries[0]!.delayMs, 1000);
  assert.match(retries[0]!.reason, /429/);
});

test('429 whose Retry-After exceeds maxRetryAfterMs fails at once with ERR_RATE_LIMITED', async () => {
  const retries: RetryInfo[] = [];
  server.script({ status: 429, headers: { 'retry-after': '120' }, body: { message: 'slow down' } });
  const err = await failure(post(client({ retry: { ...FAST, maxRetryAfterMs: 30_000 } }, retries)));
  assert.ok(err instanceof HttpError);
  assert.equal(err.code, 'ERR_RATE_LIMITED');
  assert.equal(err.status, 429);
  assert.equal(err.retryAfter, 120);
  assert.equal(server.requests.length, 1);
  assert.equal(retries.length, 0);
});

test('429 without Retry-After backs off like a 503', async () => {
  const retries: RetryInfo[] = [];
  server.script({ status: 429 }, { body: {} });
  await post(client({}, retries));
  assert.equal(server.requests.length, 2);
  assert.equal(retries.length, 1);
  assert.ok(retries[0]!.delayMs <= FAST.maxDelayMs);
});

for (const status of [502, 503, 504]) {
  test(`${status} is retried with backoff and then succeeds`, async () => {
    const retries: RetryInfo[] = [];
    server.script({ status, body: { message: 'upstream trouble' } }, { status }, { body: { ok: 1 } });
    const response = await post(client({}, retries));
    assert.deepEqual(response.body, { ok: 1 });
    assert.equal(server.requests.length, 3);
    assert.deepEqual(
      retries.map((r) => r.attempt),
      [1, 2],
    );
    for (const r of retries) {
      assert.ok(r.delayMs >= 0 && r.delayMs <= FAST.maxDelayMs, `delay ${r.delayMs} within the policy`);
      assert.match(r.reason, new RegExp(String(status)));
    }
  });
}

test('backoff grows exponentially up to maxDelayMs, with jitter from `random`', async () => {
  const retries: RetryInfo[] = [];
  server.script({ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }, { body: {} });
  await post(client({ retry: { retries: 4, baseDelayMs: 2, maxDelayMs: 10 }, random: () => 0.999 }, retries));
  // cap = min(10, 2 * 2^attempt): 2, 4, 8, 10; delay in [cap/2, cap].
  const caps = [2, 4, 8, 10];
  assert.equal(retries.length, 4);
  retries.forEach((r, i) => {
    assert.ok(r.delayMs >= caps[i]! / 2 && r.delayMs <= caps[i]!, `retry ${i + 1}: ${r.delayMs} ms`);
  });
});

test('gives up after `retries` and throws the last error', async () => {
  const retries: RetryInfo[] = [];
  server.script(
    { status: 502, body: { message: 'first' } },
    { status: 503, body: { message: 'second' } },
    { status: 504, body: { message: 'third', trackingId: 'ROUTER_LAST' } },
    { body: { never: 'reached' } },
  );
  const err = await failure(post(client({ retry: { ...FAST, retries: 2 } }, retries)));
  assert.ok(err instanceof HttpError);
  assert.equal(err.status, 504);
  assert.equal(err.code, 'ERR_BROKER_HTTP');
  assert.equal(err.trackingId, 'ROUTER_LAST');
  assert.match(err.message, /third/);
  assert.equal(server.requests.length, 3, 'the first attempt and 2 retries');
  assert.equal(retries.length, 2);
});

for (const status of [500, 400, 401, 403, 404]) {
  test(`${status} is not retried`, async () => {
    const retries: RetryInfo[] = [];
    server.script({ status, body: { message: `status ${status}` } }, { body: { never: 'reached' } });
    const err = await failure(post(client({}, retries)));
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, status);
    assert.equal(server.requests.length, 1);
    assert.equal(retries.length, 0);
  });
}

const codes = [
  [401, 'ERR_UNAUTHORIZED'],
  [403, 'ERR_FORBIDDEN'],
  [404, 'ERR_NOT_FOUND'],
  [429, 'ERR_RATE_LIMITED'],
  [400, 'ERR_BROKER_HTTP'],
  [500, 'ERR_BROKER_HTTP'],
] as const;
for (const [status, code] of codes) {
  test(`the Webex error envelope of a ${status} becomes an HttpError with code ${code}`, async () => {
    server.script({
      status,
      body: {
        message: 'The request could not be understood',
        errors: [{ description: 'jwt.sub is required' }, { description: 'numHost is too large' }],
        trackingId: 'ROUTER_64F0A1B2-0000-1111-2222-333344445555',
      },
    });
    const err = await failure(post(client({ retry: { ...FAST, retries: 0 } })));
    assert.ok(err instanceof HttpError);
    assert.ok(err instanceof InstantConnectError);
    assert.equal(err.name, 'HttpError');
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    assert.equal(err.trackingId, 'ROUTER_64F0A1B2-0000-1111-2222-333344445555');
    assert.deepEqual(err.descriptions, ['jwt.sub is required', 'numHost is too large']);
    assert.equal(err.url, `${server.url}/api/v2/joseencrypt`);
    assert.match(err.message, new RegExp(`answered ${status}`));
    assert.match(err.message, /The request could not be understood/);
    assert.match(err.message, /jwt\.sub is required; numHost is too large/);
    assert.match(err.message, /ROUTER_64F0A1B2/);
  });
}

test('trackingId comes from the TrackingID header when the body has none', async () => {
  server.script({
    status: 400,
    headers: { TrackingID: 'ROUTER_FROM_HEADER' },
    body: { message: 'bad', errors: [{ description: 'bad' }] },
  });
  const err = await failure(post(client()));
  assert.ok(err instanceof HttpError);
  assert.equal(err.trackingId, 'ROUTER_FROM_HEADER');
  assert.match(err.message, /ROUTER_FROM_HEADER/);
});

test('an error status with a body that is not JSON still becomes an HttpError', async () => {
  server.script({ status: 401, body: '<html>nope</html>', headers: { 'content-type': 'text/html' } });
  const err = await failure(post(client()));
  assert.ok(err instanceof HttpError);
  assert.equal(err.code, 'ERR_UNAUTHORIZED');
  assert.deepEqual(err.descriptions, []);
  assert.equal(err.trackingId, undefined);
});

test('garbage JSON on a 200 is a BadResponseError, not retried', async () => {
  server.script({ body: '{"host": [', headers: { 'content-type': 'application/json' } });
  const err = await failure(post(client()));
  assert.ok(err instanceof BadResponseError);
  assert.equal(err.code, 'ERR_BAD_RESPONSE');
  assert.equal(server.requests.length, 1);
});

test('a response slower than timeoutMs is a TimeoutError after the retries', async () => {
  const retries: RetryInfo[] = [];
  server.setHandler(() => ({ delayMs: 500, body: { late: true } }));
  const err = await failure(post(client({ timeoutMs: 50, retry: { ...FAST, retries: 2 } }, retries)));
  assert.ok(err instanceof TimeoutError);
  assert.equal(err.code, 'ERR_TIMEOUT');
  assert.match(err.message, /timed out after 50 ms/);
  assert.equal(server.requests.length, 3);
  assert.equal(retries.length, 2);
});

test("the caller's AbortSignal aborted mid-request gives an AbortError promptly", async () => {
  const retries: RetryInfo[] = [];
  server.setHandler(() => ({ delayMs: 60_000, body: {} }));
  const controller = new AbortController();
  const pending = failure(post(client({}, retries), { signal: controller.signal }));
  await server.waitForRequests(1);
  controller.abort();
  const err = await within(pending, 5_000, 'the aborted request');
  assert.ok(err instanceof AbortError);
  assert.equal(err.code, 'ERR_ABORTED');
  assert.equal(server.requests.length, 1, 'an abort is not retried');
  assert.equal(retries.length, 0);
});

test('an abort during the wait before a retry gives an AbortError promptly', async () => {
  const controller = new AbortController();
  server.script({ status: 429, headers: { 'retry-after': '30' } }, { body: {} });
  const http = client({ onRetry: () => controller.abort() });
  const err = await within(failure(post(http, { signal: controller.signal })), 5_000, 'the aborted wait');
  assert.ok(err instanceof AbortError);
  assert.equal(server.requests.length, 1);
});

test('an already aborted signal sends nothing', async () => {
  const err = await failure(post(client(), { signal: AbortSignal.abort() }));
  assert.ok(err instanceof AbortError);
  assert.equal(server.requests.length, 0);
});

test('a closed port is a NetworkError after the retries', async () => {
  const closed = await startScriptedServer();
  const url = `${closed.url}/api/v2/joseencrypt`;
  await closed.close();
  const retries: RetryInfo[] = [];
  const http = client({ retry: { ...FAST, retries: 2 } }, retries);
  const err = await failure(http.request('POST', url, { body: {} }));
  assert.ok(err instanceof NetworkError);
  assert.equal(err.code, 'ERR_NETWORK');
  assert.match(err.message, /ECONNREFUSED/);
  assert.equal(retries.length, 2);
});

test('a connection reset without an answer is a NetworkError, retried', async () => {
  const retries: RetryInfo[] = [];
  server.script({ destroy: true }, { body: { ok: true } });
  const response = await post(client({}, retries));
  assert.deepEqual(response.body, { ok: true });
  assert.equal(server.requests.length, 2);
  assert.equal(retries.length, 1);
});

function assertNoToken(what: string, text: string | undefined) {
  assert.ok(text !== undefined, `${what} is defined`);
  assert.ok(!text.includes(TOKEN), `${what} leaks the token: ${text}`);
}

test('the token never leaks into an error, even when the server echoes it back', async () => {
  const http = client({ retry: { ...FAST, retries: 0 } });
  const echoes = [
    // Webex's envelope, every field echoing the Authorization header.
    {
      status: 401,
      body: {
        message: `Invalid token: Bearer ${TOKEN}`,
        errors: [{ description: `The token ${TOKEN} is not valid` }, { description: TOKEN }],
        trackingId: `ROUTER_${TOKEN}`,
      },
    },
    // OAuth-style body, token in the reason phrase and in the TrackingID header.
    {
      status: 400,
      statusMessage: `Bad token ${TOKEN}`,
      headers: { TrackingID: `ROUTER_${TOKEN}` },
      body: { error_description: `token=${TOKEN}` },
    },
    // Only descriptions, the first standing in for the message.
    { status: 403, body: { errors: [{ description: `forbidden for ${TOKEN}` }] } },
  ];
  for (const echo of echoes) {
    server.reset();
    server.script(echo);
    const err = await failure(post(http));
    assert.ok(err instanceof HttpError, `status ${echo.status}`);
    assert.equal(server.requests[0]!.headers['authorization'], `Bearer ${TOKEN}`, 'the token was sent');
    assertNoToken('message', err.message);
    assertNoToken('stack', err.stack);
    assertNoToken('JSON.stringify(error)', JSON.stringify(err));
    assertNoToken('util.inspect(error)', inspect(err, { depth: 10, showHidden: true }));
    assertNoToken('String(error)', String(err));
  }
  assertNoToken('String(client)', String(http));
  assertNoToken('JSON.stringify(client)', JSON.stringify(http));
  assertNoToken('util.inspect(client)', inspect(http, { depth: 10, showHidden: true }));
});

test('parseRetryAfter reads delta-seconds and HTTP dates', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('7', now), 7);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30);
  assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});
