/**
 * Who reads /metrics (issue 11, finding 10a): by default only this machine (a socket address on
 * loopback, not forwarded by a proxy), with METRICS_TOKEN anyone with the token, with METRICS_PORT
 * only its own listener; always rate-limited per address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ForwardingProxy, startForwardingProxy } from '../support/forwarding-proxy.js';
import { startTestServer, type TestServer } from '../support/server.js';

const TOKEN = 'metrics-token-0123456789abcdef';

describe('/metrics by default', () => {
  let server: TestServer;
  let proxy: ForwardingProxy;
  before(async () => {
    server = await startTestServer({ metrics: { perMinute: 5 } });
    proxy = await startForwardingProxy(server.url, '203.0.113.5');
  });
  after(async () => {
    await proxy.close();
    await server.close();
  });

  test('answers a scraper on this machine', async () => {
    const r = await fetch(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /ic_http_requests_total/);
  });

  test('refuses another machine with 403, in the envelope', async () => {
    const r = await server.server.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.0.2.10' });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().code, 'ERR_FORBIDDEN');
    assert.doesNotMatch(r.body, /ic_http_requests_total/);
  });

  test('refuses a request a proxy on this machine forwarded', async () => {
    const r = await fetch(`${proxy.url}/metrics`);
    assert.equal(r.status, 403);
    assert.doesNotMatch(await r.text(), /ic_http_requests_total/);
  });

  test('is rate-limited per address, with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await server.server.app.inject({
        method: 'GET',
        url: '/metrics',
        remoteAddress: '127.0.0.9',
      });
      statuses.push(r.statusCode);
      if (r.statusCode === 429) {
        assert.match(String(r.headers['retry-after']), /^\d+$/);
        assert.equal(r.json().code, 'ERR_RATE_LIMITED');
      }
    }
    // Five a minute (fixed windows: one may end during the loop, giving five more).
    assert.ok(statuses.includes(429), `${statuses}`);
    assert.ok(statuses.filter((s) => s === 200).length <= 10, `${statuses}`);
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.equal(statuses.at(-1), 429);
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ metrics: { token: TOKEN } });
  });
  after(() => server.close());

  test('401 without the token or with a wrong one, 200 with it, from anywhere', async () => {
    const get = (headers: Record<string, string>, remoteAddress = '192.0.2.20') =>
      server.server.app.inject({ method: 'GET', url: '/metrics', headers, remoteAddress });
    const none = await get({});
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().code, 'ERR_UNAUTHORIZED');
    assert.equal((await get({ authorization: `Bearer ${TOKEN}x` })).statusCode, 401);
    assert.equal((await get({ authorization: `Bearer ${TOKEN.slice(0, -1)}` })).statusCode, 401);
    assert.equal((await get({ authorization: TOKEN })).statusCode, 401, 'the Bearer scheme is needed');
    assert.equal((await get({}, '127.0.0.1')).statusCode, 401, 'loopback needs the token too');
    const ok = await get({ authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.statusCode, 200);
    assert.match(ok.body, /ic_http_requests_total/);
    assert.doesNotMatch(ok.body, new RegExp(TOKEN), 'the token is in no label');
  });
});

describe('/metrics on a port of its own (METRICS_PORT)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ metrics: { port: 0 } });
  });
  after(() => server.close());

  test('the metrics port serves /metrics and nothing else; the main port has no /metrics', async () => {
    const metricsUrl = server.server.metricsUrl;
    assert.ok(metricsUrl, 'the metrics listener is up');
    assert.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(`${metricsUrl}/metrics`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /ic_http_requests_total/);
    const other = await fetch(`${metricsUrl}/healthz`);
    assert.equal(other.status, 404);
    await other.arrayBuffer();
    const main = await fetch(`${server.url}/metrics`);
    assert.equal(main.status, 404);
    await main.arrayBuffer();
  });
});
