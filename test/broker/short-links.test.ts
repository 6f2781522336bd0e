/**
 * Short links over real HTTP: `GET /visit/:code` redirects (302) to the long link on the same
 * server (reference §6.5, §11.6), per role, `verticalType` and `loginUrlForHost`; unknown codes
 * answer 404 (JSON or HTML); following the redirect lands on the visit page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testFetch } from '../support/inject-fetch.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { assertEnvelope, assertHtml, call, HTML, issue, longPath } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

type Entry = { cipher: string; short?: string };

/** GET /visit/<code> without following; asserts the 302 and returns the Location. */
async function redirectOf(code: string): Promise<string> {
  const answer = await call(`${server.url}/visit/${code}`);
  assert.equal(answer.status, 302, answer.text);
  assert.match(answer.headers.get('trackingid') ?? '', /^IC_/);
  const location = answer.headers.get('location');
  assert.ok(location, 'a Location header');
  return location;
}

/** Asserts the Location is the long link of `cipher` on this very server. */
function assertLongLink(location: string, vertical: 'gen' | 'hc', page: 'login' | 'talk', cipher: string) {
  const target = new URL(location, server.url);
  assert.equal(target.origin, new URL(server.url).origin, 'the same server');
  assert.equal(`${target.pathname}${target.search}`, longPath(vertical, page, cipher));
  assert.deepEqual([...target.searchParams.keys()], ['int', 'v', 'data']);
  assert.equal(target.searchParams.get('data'), cipher);
}

describe('GET /visit/:code redirects to the long link', () => {
  test('defaults (hc, loginUrlForHost true): host → /hc/v1/login, guest → /hc/v1/talk', async () => {
    const body = await issue(server, 'short defaults', { provideShortUrls: true, numHost: 2, numGuest: 2 });
    for (const host of body.host as Entry[])
      assertLongLink(await redirectOf(host.short!), 'hc', 'login', host.cipher);
    for (const guest of body.guest as Entry[])
      assertLongLink(await redirectOf(guest.short!), 'hc', 'talk', guest.cipher);
  });

  test('verticalType gen: host → /gen/v1/login, guest → /gen/v1/talk', async () => {
    const body = await issue(server, 'short gen', { provideShortUrls: true, verticalType: 'gen' });
    assertLongLink(await redirectOf(body.host[0]!.short!), 'gen', 'login', body.host[0]!.cipher);
    assertLongLink(await redirectOf(body.guest[0]!.short!), 'gen', 'talk', body.guest[0]!.cipher);
  });

  test('loginUrlForHost false: the host goes to talk as well (gen and hc)', async () => {
    for (const verticalType of ['gen', 'hc'] as const) {
      const body = await issue(server, `no login ${verticalType}`, {
        provideShortUrls: true,
        verticalType,
        loginUrlForHost: false,
      });
      assertLongLink(await redirectOf(body.host[0]!.short!), verticalType, 'talk', body.host[0]!.cipher);
      assertLongLink(await redirectOf(body.guest[0]!.short!), verticalType, 'talk', body.guest[0]!.cipher);
    }
  });

  test('loginUrlForHost "false" as a string is coerced like the labs send it', async () => {
    const body = await issue(server, 'string false', { provideShortUrls: 'true', loginUrlForHost: 'false' });
    assertLongLink(await redirectOf(body.host[0]!.short!), 'hc', 'talk', body.host[0]!.cipher);
  });

  test('baseUrl + short is the URL that redirects', async () => {
    const body = await issue(server, 'base url', { provideShortUrls: true });
    const answer = await call(`${body.baseUrl}${body.guest[0]!.short}`);
    assert.equal(answer.status, 302);
    assertLongLink(answer.headers.get('location')!, 'hc', 'talk', body.guest[0]!.cipher);
  });
});

describe('unknown codes', () => {
  for (const code of ['abc1234', 'ZZZZZZZ', 'x', 'abc-123', 'a'.repeat(40)]) {
    test(`${code.length > 10 ? `${code.slice(0, 6)}…` : code}: 404 JSON for API clients`, async () => {
      const answer = await call(`${server.url}/visit/${code}`, { headers: { accept: 'application/json' } });
      assertEnvelope(answer, 404, 'ERR_NOT_FOUND');
    });
  }

  test('404 HTML page for browsers, the code escaped', async () => {
    const answer = await call(`${server.url}/visit/abc1234`, { headers: HTML });
    const html = assertHtml(answer, 404);
    assert.match(html, /Link not found/);
    assert.match(html, /abc1234/);
    const odd = await call(`${server.url}/visit/${encodeURIComponent('<b>x</b>')}`, { headers: HTML });
    const oddHtml = assertHtml(odd, 404);
    assert.ok(!oddHtml.includes('<b>x</b>'), 'the code is escaped');
  });

  test('a short code is case-sensitive', async () => {
    const body = await issue(server, 'case', { provideShortUrls: true });
    const code = body.host[0]!.short!;
    const swapped = [...code]
      .map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()))
      .join('');
    if (swapped === code) return; // all digits: nothing to swap (1 in 4e5)
    assert.equal((await call(`${server.url}/visit/${swapped}`)).status, 404);
  });
});

describe('following the redirect lands on the visit page', () => {
  const subject = `<script>alert("x")</script> & Dr O'Brien's visit`;
  const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Dr O&#39;Brien&#39;s visit';

  test('it shows the subject (escaped), the role and "Valid", and never the cipher', async () => {
    const body = await issue(server, subject, { provideShortUrls: true, numHost: 1, numGuest: 1 });
    for (const [role, entry] of [
      ['host', body.host[0]!],
      ['guest', body.guest[0]!],
    ] as const) {
      const response = await testFetch(`${server.url}/visit/${entry.short}`, { headers: HTML });
      assert.equal(response.redirected, true);
      const html = await response.text();
      assert.equal(response.status, 200, html.slice(0, 300));
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      assert.ok(html.includes(escaped), 'the subject, escaped');
      const scripts = html.match(/<script[^>]*>/g) ?? [];
      assert.deepEqual(
        scripts,
        ['<script src="/assets/visit.js" defer>'],
        'only our own external script, none injected',
      );
      assert.match(html, new RegExp(`You are ${role === 'host' ? 'the host' : 'a guest'}`));
      assert.match(html, />Valid</);
      assert.ok(!html.includes(entry.cipher), 'the page never shows the cipher');
      for (const segment of entry.cipher.split('.')) {
        assert.ok(!html.includes(segment.slice(0, 16)), 'nor any part of it');
      }
    }
  });

  test('the page is the same whether reached from the short link or the long link', async () => {
    const body = await issue(server, 'same page', { provideShortUrls: true });
    const host = body.host[0]!;
    const viaShort = await (await testFetch(`${server.url}/visit/${host.short}`, { headers: HTML })).text();
    const viaLong = await call(`${server.url}${longPath('hc', 'login', host.cipher)}`, { headers: HTML });
    // Each render holds its own page ticket (a fresh participant id); everything else is identical.
    const withoutTicket = (html: string) => html.replace(/data-ticket="[^"]+"/, 'data-ticket="…"');
    assert.equal(withoutTicket(assertHtml(viaLong, 200)), withoutTicket(viaShort));
    assert.match(viaShort, /data-ticket="[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}"/);
  });
});
