/**
 * The staff pages in Chromium follow the visits live: the list and the visit page change a
 * visit's state badge (waiting, live, no show) as it happens, with no reload.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.js';
import { createVisit, eventually, getVisit, live, ticketFor, uniqueName } from '../visits/helpers.js';
import { BrowserHarness, open, suiteOptions, until, visible } from './browser.js';

describe('the staff pages, live, in a browser', suiteOptions, () => {
  let server: TestServer | undefined;
  let harness: BrowserHarness | undefined;
  let page: Page;
  let loads = 0;

  before(async () => {
    server = await startTestServer({ closeIntervalSeconds: 0 });
    harness = await BrowserHarness.launch(server.url);
    page = await (await harness.context()).newPage();
    await open(page, `${server.url}/`);
    await page.getByLabel('API key').fill(server.key);
    await Promise.all([
      page.waitForURL(`${server.url}/`),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await visible(page.getByRole('heading', { name: 'New visit' }));
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) loads += 1;
    });
  });

  after(async () => {
    try {
      await harness?.close();
    } finally {
      await server?.close();
    }
  });

  const join = async (ticket: string) => {
    const answer = await live(server!, 'join', { ticket });
    assert.equal(answer.status, 200, answer.text);
  };
  const badge = (id: string) => page.locator(`[data-visit="${id}"]`).first();
  const badgeSays = (id: string, state: string, text: string) =>
    until(
      async () => [await badge(id).getAttribute('data-state'), await badge(id).textContent()] as const,
      ([s, t]) => s === state && t === text,
      `the badge of ${id} to say ${text}`,
    );

  test('the list: a guest waiting, then the host joining, with no reload', async () => {
    const visit = await createVisit(server!, { subject: uniqueName('staff-browser') });
    await open(page, `${server!.url}/visits?tab=upcoming`);
    const before = loads;
    assert.equal(await badge(visit.id).textContent(), 'open');
    // The page follows the visits before anything happens.
    await page.locator('body[data-live="open"]').waitFor({ state: 'attached' });
    await join(await ticketFor(visit.guests[0]!));
    await badgeSays(visit.id, 'waiting', 'waiting');
    assert.match((await badge(visit.id).getAttribute('class')) ?? '', /\bwait\b/);
    await join(await ticketFor(visit.hosts[0]!));
    await badgeSays(visit.id, 'live', 'live');
    assert.equal(loads, before, 'no reload');
  });

  test('the visit page: nobody came, the window closed: no show', async () => {
    const visit = await createVisit(server!, { subject: uniqueName('staff-noshow'), ttl: 3 });
    await open(page, `${server!.url}/visits/${visit.id}`);
    await page.locator('body[data-live="open"]').waitFor({ state: 'attached' });
    const before = loads;
    await eventually(
      () => getVisit(server!, visit.id),
      (v) => v.state === 'no_show',
      'the window to close',
      15_000,
    );
    await server!.server.closer.runOnce();
    await badgeSays(visit.id, 'no_show', 'no show (nobody came)');
    assert.equal(loads, before, 'no reload');
  });
});
