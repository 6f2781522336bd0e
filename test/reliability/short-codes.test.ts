/**
 * Short-link codes cannot be enumerated (issue 11, finding 10d): each address has a budget of
 * codes that match nothing; past it every code from that address answers 429 with Retry-After
 * (a page for browsers) without being looked up. Codes that resolve never spend it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { call, issue } from '../broker/helpers.js';
import { testFetch } from '../support/inject-fetch.js';
import { ROOMY_LIMITS, startTestServer, type TestServer } from '../support/server.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const randomCode = () => [...randomBytes(7)].map((b) => ALPHABET[b % 62]).join('');

describe('the budget of short-code misses', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ rateLimits: { ...ROOMY_LIMITS, shortCodeMissesPerAddress: 10 } });
  });
  after(() => server.close());

  test('known codes never spend it; 200 random codes at once: at most 10 are looked up, the rest get 429', async () => {
    const made = await issue(server, 'short-codes', { provideShortUrls: true });
    const code = made.guest[0]!.short!;
    for (let i = 0; i < 15; i++) {
      assert.equal((await call(`${server.url}/visit/${code}`)).status, 302, 'a known code is never refused');
    }
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => call(`${server.url}/visit/${randomCode()}`)),
    );
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 404).length, 10, `${statuses}`);
    assert.equal(statuses.filter((s) => s === 429).length, 190);
    const refused = answers.find((a) => a.status === 429)!;
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(refused.body.code, 'ERR_RATE_LIMITED');
    // Browsers get a page.
    const page = await call(`${server.url}/visit/${randomCode()}`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 429);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.text, /Too many attempts/);
    // Past the budget no code is looked up, so a hit cannot be told from a miss.
    assert.equal((await call(`${server.url}/visit/${code}`)).status, 429);
    const metrics = await (await testFetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /ic_rate_limit_refusals_total\{kind="short"\} [1-9]/);
  });
});
