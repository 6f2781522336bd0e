/**
 * Behind a reverse proxy (issue 11, finding 4): with TRUST_PROXY the per-address limits count each
 * client behind the proxy, not the proxy; without it, a client's own X-Forwarded-For is never
 * believed. Real hops: a node:http proxy per client in front of the server (test/support).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ForwardingProxy, startForwardingProxy } from '../support/forwarding-proxy.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Four public requests a minute per address: the fifth is 429. */
const TIGHT = { issuePerKey: 1000, issuePerAddress: 1000, publicPerAddress: 4, failedOpensPerAddress: 1000 };

/** The flood was cut off: a 429 within the budget (4) plus one, after answers that were not 429. */
function assertLimited(statuses: number[]): void {
  assert.equal(statuses.at(-1), 429, `expected a 429 in ${statuses}`);
  assert.ok(statuses.length <= 5 + 4, `refused late: ${statuses}`);
  assert.ok(
    statuses.slice(0, -1).every((s) => s === 404),
    `${statuses}`,
  );
}

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await fetch(url, { headers });
  await r.arrayBuffer();
  return r.status;
}

/**
 * Requests /visit/<unknown> until a 429 (at most `max`), returns the statuses. Limits are per
 * minute in fixed windows: a window may end during a flood, so tests assert "refused within the
 * budget plus one", not an exact list.
 */
async function flood(base: string, max: number, headers: () => Record<string, string> = () => ({})) {
  const statuses: number[] = [];
  for (let i = 0; i < max; i++) {
    statuses.push(await status(`${base}/visit/Abc1234`, headers()));
    if (statuses.at(-1) === 429) break;
  }
  return statuses;
}

describe('TRUST_PROXY=1 behind one proxy', () => {
  let server: TestServer;
  let patient: ForwardingProxy;
  let abuser: ForwardingProxy;
  const lines: string[] = [];
  before(async () => {
    server = await startTestServer({
      rateLimits: TIGHT,
      trustProxy: { hops: 1 },
      logger: {
        level: 'info',
        stream: { write: (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)) },
      },
    });
    abuser = await startForwardingProxy(server.url, '203.0.113.66');
    patient = await startForwardingProxy(server.url, '198.51.100.7');
  });
  after(async () => {
    await abuser.close();
    await patient.close();
    await server.close();
  });

  test("one client's 429 does not block another client behind the same proxy", async () => {
    assertLimited(await flood(abuser.url, 10));
    assert.equal(await status(`${patient.url}/visit/Abc1234`), 404, 'the patient is not refused');
  });

  test('a client behind the proxy cannot dodge its limit with its own X-Forwarded-For', async () => {
    // The proxy appends the real address after whatever the client sent: only the last hop counts.
    let n = 0;
    assertLimited(await flood(abuser.url, 10, () => ({ 'x-forwarded-for': `192.0.2.${++n}` })));
  });

  test('the logged remoteAddress is the client behind the proxy', async () => {
    await status(`${patient.url}/healthz`);
    const logged = lines
      .map((line) => JSON.parse(line) as { req?: { url?: string; remoteAddress?: string } })
      .filter((entry) => entry.req?.url === '/healthz');
    assert.ok(logged.length > 0, 'the request was logged');
    assert.equal(logged.at(-1)?.req?.remoteAddress, '198.51.100.7');
  });
});

describe('without TRUST_PROXY', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ rateLimits: TIGHT });
  });
  after(() => server.close());

  test('a direct client that sends a new X-Forwarded-For each time is still limited', async () => {
    let n = 0;
    assertLimited(await flood(server.url, 10, () => ({ 'x-forwarded-for': `192.0.2.${++n}` })));
  });
});

describe('TRUST_PROXY as addresses', () => {
  let server: TestServer;
  let proxy: ForwardingProxy;
  before(async () => {
    // The proxy is 127.0.0.1; 10.0.0.0/8 is trusted too, but no request comes from there.
    server = await startTestServer({
      rateLimits: TIGHT,
      trustProxy: { addresses: ['127.0.0.1', '10.0.0.0/8'] },
    });
    proxy = await startForwardingProxy(server.url, '203.0.113.9');
  });
  after(async () => {
    await proxy.close();
    await server.close();
  });

  test('clients behind a listed proxy are told apart; a client is still limited through it', async () => {
    assertLimited(await flood(proxy.url, 10));
    // Direct requests come from 127.0.0.1 (a listed address) without a header: their own bucket.
    assert.equal(await status(`${server.url}/visit/Abc1234`), 404);
  });
});

describe('TRUST_PROXY naming only another proxy', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ rateLimits: TIGHT, trustProxy: { addresses: ['10.0.0.0/8'] } });
  });
  after(() => server.close());

  test("a direct client's X-Forwarded-For is ignored: it does not come from the listed proxy", async () => {
    let n = 0;
    assertLimited(await flood(server.url, 10, () => ({ 'x-forwarded-for': `192.0.2.${++n}` })));
  });
});
