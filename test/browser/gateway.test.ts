/**
 * Gateway links (visits on another broker, issue 15) in Chromium: the countdown, cancelled and
 * withdrawn pages on this service's origin work under the CSP with no console error, and an open
 * gateway link sends the browser on to the broker's URL (another origin, here server B).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../support/free-port.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { api, createVisit } from '../visits/helpers.js';
import { BrowserHarness, open, suiteOptions, until, visible } from './browser.js';

describe('gateway pages in Chromium', suiteOptions, () => {
  let b: TestServer | undefined;
  let a: TestServer | undefined;
  let harness: BrowserHarness | undefined;

  before(async () => {
    b = await startTestServer();
    const port = await freePort();
    a = await startTestServer({
      port,
      publicUrl: `http://127.0.0.1:${port}`,
      linkSource: { broker: b.url, token: b.key },
    });
    harness = await BrowserHarness.launch(a.url);
  });
  after(async () => {
    try {
      await harness?.close();
    } finally {
      await a?.close();
      await b?.close();
    }
  });

  type Link = { gatewayUrl: string; shortUrl: string };
  const guestOf = (visit: unknown) => (visit as { guests: Link[] }).guests;

  test('before the window: the countdown page, ticking, on our origin', async () => {
    const visit = await createVisit(a!, { start: '+2h' });
    const page = await harness!.page();
    await open(page, guestOf(visit)[0]!.gatewayUrl, 403);
    await visible(page.getByRole('heading', { name: /has not started yet/ }));
    const countdown = page.locator('[data-countdown]');
    const first = await countdown.textContent();
    await until(
      () => countdown.textContent(),
      (text) => text !== first,
      'the countdown to tick',
      10_000,
    );
  });

  test('cancelled and withdrawn: clear pages; an open link goes on to the broker', async () => {
    const visit = await createVisit(a!, { guests: 2 });
    const [first, second] = guestOf(visit);
    assert.ok(first && second);
    const page = await harness!.page();
    // Open: the browser is sent on to B's short URL (another origin: recorded, then not loaded).
    await page.goto(first.gatewayUrl).catch(() => {});
    await until(
      async () => harness!.requests.includes(first.shortUrl),
      (seen) => seen,
      "the browser to be sent on to the broker's URL",
    );
    assert.equal((await api(a!, 'DELETE', `/api/visits/${visit.id}/links/guest/1`)).status, 200);
    await open(page, second.gatewayUrl, 410);
    await visible(page.getByRole('heading', { name: 'This link was withdrawn' }));
    assert.equal((await api(a!, 'DELETE', `/api/visits/${visit.id}`)).status, 200);
    await open(page, first.gatewayUrl, 410);
    await visible(page.getByRole('heading', { name: 'This visit was cancelled' }));
    // The redirect's own hops to B were refused by the harness (nothing but our origin loads).
    const atB = (url: string) => url.startsWith(`${b!.url}/`);
    assert.deepEqual(
      harness!.problems.filter((p) => !(atB(p.where) && /ERR_BLOCKED_BY_CLIENT/.test(p.text))),
      [],
      'no console error, page error or CSP violation on our pages',
    );
    assert.deepEqual(
      harness!.outsideRequests().filter((url) => !atB(url)),
      [],
      'nothing but the redirect to the broker left our origin',
    );
  });
});
