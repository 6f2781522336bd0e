/** Rate limits, the failed-opening budget, overload and metrics, over real HTTP. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AUDIENCE } from '../../src/domain/constants.js';
import { testFetch } from '../support/inject-fetch.js';
import { postJson, startTestServer, type TestServer } from '../support/server.js';

/**
 * The limits count in clock-aligned minutes: a test that counts to a limit starts early in a minute,
 * so that the window cannot turn (and its count start again) halfway through on a loaded machine.
 */
async function startOfAMinute(room = 20): Promise<void> {
  const left = 60 - ((Date.now() / 1000) % 60);
  if (left < room) await sleep(left * 1000 + 50);
}

const FORGED =
  'eyJwMnMiOiJBQUFBQUFBQUFBQSIsInAyYyI6MTAwMCwiYXVkIjoiYTRkODg2YjAtOTc5Zi00ZTJjLWE5NTgtM2U4YzE0NjA1ZTUxIiwiaXNzIjoieCIsImN0eSI6IkpXVCIsImVuYyI6IkEyNTZHQ00iLCJhbGciOiJQQkVTMi1IUzUxMitBMjU2S1cifQ.AAAA.AAAA.AAAA.AAAA';

async function issue(server: TestServer, body: Record<string, unknown> = {}, key = server.key) {
  return postJson(
    `${server.url}/api/v2/joseencrypt`,
    { aud: AUDIENCE, jwt: { sub: `limits-${Math.random()}` }, iterations: 1000, ...body },
    { key },
  );
}

describe('rate limits with the real defaults for failed openings', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      rateLimits: { issuePerKey: 3, issuePerAddress: 1000, publicPerAddress: 1000, failedOpensPerAddress: 5 },
    });
  });
  after(() => server.close());

  test('forged tokens from one address are cut off after the budget, with Retry-After, yet real links still open', async () => {
    await startOfAMinute();
    const made = await issue(server, { provideShortUrls: true });
    assert.equal(made.status, 200);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await testFetch(`${server.url}/api/v1/space?int=jose&data=${FORGED}`);
      statuses.push(r.status);
      if (r.status === 429) {
        assert.match(r.headers.get('retry-after') ?? '', /^\d+$/);
        const body = (await r.json()) as { code: string };
        assert.equal(body.code, 'ERR_RATE_LIMITED');
      } else await r.arrayBuffer();
    }
    assert.deepEqual(statuses, [400, 400, 400, 400, 400, 429, 429, 429]);
    // A patient behind the same address with a real link is not refused.
    const space = await testFetch(`${server.url}/api/v1/space?int=jose&data=${made.body.guest[0].cipher}`);
    assert.equal(space.status, 200);
    const page = await testFetch(`${server.url}/visit/${made.body.guest[0].short}`, {
      headers: { accept: 'text/html' },
    });
    assert.equal(page.status, 200);
    // Browsers get a page, not JSON.
    const forgedPage = await testFetch(`${server.url}/hc/v1/talk?int=jose&v=1&data=${FORGED}`, {
      headers: { accept: 'text/html' },
    });
    assert.equal(forgedPage.status, 429);
    assert.match(await forgedPage.text(), /Too many attempts/);
  });

  test('issuing is limited per API key; another key is not affected', async () => {
    await startOfAMinute();
    const other = await server.server.context.apiKeys.create(server.server.context.org, 'other');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await issue(server)).status);
    // The first test used one issuing call of this key already.
    assert.ok(statuses.includes(429), `expected a 429 in ${statuses}`);
    const refused = await issue(server);
    assert.equal(refused.status, 429);
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal((await issue(server, {}, other.key)).status, 200);
  });

  test('metrics count requests by route pattern, links issued and refusals, and never show a cipher', async () => {
    const text = await (await testFetch(`${server.url}/metrics`)).text();
    assert.match(
      text,
      /ic_http_requests_total\{route="\/api\/v2\/joseencrypt",method="POST",status="200"\} \d+/,
    );
    assert.match(
      text,
      /ic_http_request_duration_seconds_bucket\{le="0.005",route="\/visit\/:code",method="GET"\}/,
    );
    assert.match(text, /ic_links_issued_total [1-9]\d*/);
    assert.match(text, /ic_rate_limit_refusals_total\{kind="open"\} [1-9]/);
    assert.match(text, /ic_rate_limit_refusals_total\{kind="issue"\} [1-9]/);
    assert.match(text, /ic_crypto_queue_depth 0/);
    assert.doesNotMatch(text, /eyJwMnMi/);
  });
});

describe('public routes per address', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      rateLimits: {
        issuePerKey: 1000,
        issuePerAddress: 1000,
        publicPerAddress: 4,
        failedOpensPerAddress: 1000,
      },
    });
  });
  after(() => server.close());

  test('the fifth public request in a minute is 429 with Retry-After; the API is not counted', async () => {
    await startOfAMinute();
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      const r = await testFetch(`${server.url}/visit/Abc1234`);
      await r.arrayBuffer();
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [404, 404, 404, 404, 429]);
    assert.equal((await issue(server)).status, 200);
  });
});

describe('overload', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ crypto: { concurrency: 1, queue: 2 } });
  });
  after(() => server.close());

  test('a full crypto queue answers 503 with Retry-After at once, and short links keep working', async () => {
    const made = await issue(server, { provideShortUrls: true });
    assert.equal(made.status, 200);
    const burst = await Promise.all(
      Array.from({ length: 6 }, () => issue(server, { numHost: 5, numGuest: 20, iterations: 32767 })),
    );
    const overloaded = burst.filter((r) => r.status === 503);
    assert.ok(overloaded.length > 0, `expected 503s, got ${burst.map((r) => r.status)}`);
    for (const r of overloaded) {
      assert.equal(r.body.code, 'ERR_OVERLOADED');
      assert.match(r.headers.get('retry-after') ?? '', /^\d+$/);
    }
    const redirect = await testFetch(`${server.url}/visit/${made.body.guest[0].short}`, {
      redirect: 'manual',
    });
    assert.equal(redirect.status, 302);
    assert.ok(
      burst.every((r) => r.status === 200 || r.status === 503),
      'never a 500',
    );
  });
});
