/**
 * The staff page on a server whose visits are made at another broker (server B, standing in for
 * Cisco's) with PUBLIC_URL set: the form offers gateway links (on by default), the visit page
 * hands out only the gateway URLs (copy, open, QR), and unchecking the box gives the broker's.
 * A server on its own broker does not offer the box.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/free-port.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { api, StaffClient, tagOf, visitForm } from './helpers.js';

describe('staff page with gateway links', () => {
  let b: TestServer;
  let a: TestServer;
  let client: StaffClient;
  let csrf: string;
  before(async () => {
    b = await startTestServer();
    const port = await freePort();
    a = await startTestServer({
      port,
      publicUrl: `http://127.0.0.1:${port}`,
      linkSource: { broker: b.url, token: b.key },
    });
    client = new StaffClient(a.url);
    await client.signIn(a.key);
    csrf = await client.csrf();
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  type Link = { gatewayUrl?: string; shortUrl: string; longUrl: string; forcedLoginUrl?: string };
  const make = async (extra: Record<string, string>) => {
    const answer = await client.post('/visits', visitForm(csrf, extra), {
      origin: a.url,
    });
    assert.equal(answer.status, 303, answer.text);
    const visit = await api(a, answer.location!.replace('/visits/', '/api/visits/'));
    return { visit, page: await client.get(answer.location!) };
  };

  test('the form offers gateway links, checked', async () => {
    const page = await client.get('/');
    assert.match(tagOf(page.text, 'gateway'), /type="checkbox"[^>]*checked/);
    assert.match(page.text, /<label for="gateway">/);
  });

  test("checked: the visit page hands out only the gateway URLs, never the broker's", async () => {
    const { visit, page } = await make({ gateway: 'on' });
    assert.equal(visit.gateway, true);
    const links = [...visit.hosts, ...visit.guests] as Link[];
    for (const l of links) {
      assert.ok(l.gatewayUrl);
      assert.ok(page.text.includes(`data-copy="${l.gatewayUrl}"`), `a copy button for ${l.gatewayUrl}`);
      assert.ok(page.text.includes(`href="${l.gatewayUrl}"`), `an Open link for ${l.gatewayUrl}`);
      for (const hidden of [l.shortUrl, l.longUrl, l.forcedLoginUrl].filter(Boolean) as string[]) {
        assert.ok(
          !page.text.includes(hidden.replaceAll('&', '&amp;')),
          `the broker's URL is not shown: ${hidden}`,
        );
      }
    }
    assert.equal(page.text.match(/<svg\b[^>]*role="img"/g)?.length, links.length, 'a QR code for each link');
  });

  test("unchecked: the broker's own links", async () => {
    const { visit, page } = await make({});
    assert.equal(visit.gateway, false);
    for (const l of [...visit.hosts, ...visit.guests] as Link[]) {
      assert.equal(l.gatewayUrl, undefined);
      assert.ok(page.text.includes(`data-copy="${l.shortUrl}"`));
    }
  });

  test('a server on its own broker does not offer the box', async () => {
    const own = new StaffClient(b.url);
    await own.signIn(b.key);
    const page = await own.get('/');
    assert.doesNotMatch(page.text, /name="gateway"/);
  });
});
