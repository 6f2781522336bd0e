/**
 * A live visit in two browsers: the guest opens the short link and waits in the lobby; the host
 * opens theirs in another context, the visit goes live, the room device is dialled then connected,
 * and the guest is let in without a reload; the guest leaves and rejoins; the host ends the visit
 * for all and both pages say so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Dialler } from '../../src/visits/live.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createVisit, getVisit, type Visit } from '../visits/helpers.js';
import { BrowserHarness, open, screenshot, suiteOptions, until, visible } from './browser.js';

/** Functions given to page.evaluate run in the page; the project compiles without the DOM lib. */
declare const window: any;

const DEVICE = 'room1@example.room.wbx2.com';

/** Takes a moment to "dial", as a real one would, so the page can show the device dialling. */
const slowDialler: Dialler = {
  async dial() {
    await new Promise((resolve) => setTimeout(resolve, 600));
    return { ok: true, detail: 'test dialler' };
  },
};

/** Records every status a device item of the page shows, from before the page's own script runs. */
const DEVICE_RECORDER = `window.__deviceStatuses = [];
new MutationObserver((records) => {
  for (const record of records) {
    const nodes = record.type === 'attributes' ? [record.target] : [...record.addedNodes];
    for (const node of nodes) {
      if (node.nodeType === 1 && node.hasAttribute('data-status')) {
        const seen = window.__deviceStatuses;
        const entry = node.getAttribute('data-device') + ' ' + node.getAttribute('data-status');
        if (seen[seen.length - 1] !== entry) seen.push(entry);
      }
    }
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });`;

describe('a live visit in two browsers', suiteOptions, () => {
  let server: TestServer | undefined;
  let harness: BrowserHarness | undefined;
  let visit: Visit;
  let guest: Page;
  let host: Page;
  /** Main-frame navigations of the guest page after it first loaded (a reload would count). */
  let guestNavigations = 0;

  before(async () => {
    server = await startTestServer({ dialler: slowDialler });
    harness = await BrowserHarness.launch(server.url);
    visit = await createVisit(server, { subject: `Live in a browser ${Date.now()}`, devices: [DEVICE] });
    guest = await harness.page();
    host = await harness.page();
    await host.addInitScript({ content: DEVICE_RECORDER });
  });

  after(async () => {
    try {
      await harness?.close();
    } finally {
      await server?.close();
    }
  });

  const section = (p: Page, name: string) => p.locator(`[data-section="${name}"]`);
  const marker = (p: Page) => p.evaluate(() => window.__marker as number | undefined);
  const guestsHere = () => host.locator('[data-field="guests"]').textContent();

  test('the guest opens the short link and waits in the lobby', async () => {
    const shortUrl = visit.guests[0]!.shortUrl!;
    assert.match(shortUrl, /\/visit\/[A-Za-z0-9_-]+$/);
    const response = await open(guest, shortUrl);
    assert.equal(response.request().redirectedFrom()?.url(), shortUrl, 'the short link redirected');
    assert.match(guest.url(), /\/hc\/v1\/talk\?/, 'to the visit page');
    await visible(guest.getByRole('heading', { name: 'Waiting for the host' }));
    assert.equal(await guest.locator('p.state').first().textContent(), 'You are a guest');
    assert.equal(await guest.getByRole('heading', { level: 1 }).textContent(), visit.subject);
    assert.equal(await section(guest, 'admitted').isVisible(), false);
    assert.equal(await guest.getByRole('button', { name: 'Leave' }).isVisible(), true);
    await guest.evaluate(() => {
      window.__marker = 1;
    });
    guest.on('framenavigated', (frame) => {
      if (frame === guest.mainFrame()) guestNavigations += 1;
    });
    // The guest's page is following the visit (counted present) before the host arrives.
    await until(
      async () => (await getVisit(server!, visit.id)).state,
      (state) => state === 'waiting',
      'the visit waiting for its host',
    );
    await screenshot(guest, 'guest-lobby');
  });

  test('the host opens theirs: the visit goes live, the device is dialled then connected', async () => {
    await open(host, visit.hosts[0]!.shortUrl!);
    assert.equal(await host.locator('p.state').first().textContent(), 'You are the host');
    await visible(host.getByRole('heading', { name: 'Your visit' }));
    await until(
      () => host.locator('[data-field="state"]').textContent(),
      (text) => text === 'Live',
      'the host page says Live',
    );
    const device = host.locator(`[data-field="devices"] li[data-device="${DEVICE}"]`);
    await until(
      () => device.getAttribute('data-status'),
      (status) => status === 'connected',
      'the device connected',
    );
    assert.equal(await device.textContent(), `${DEVICE}: connected`);
    const seen = await host.evaluate(() => window.__deviceStatuses as string[]);
    const dialling = seen.indexOf(`${DEVICE} dialling`);
    const connected = seen.indexOf(`${DEVICE} connected`);
    assert.ok(dialling >= 0, `the page showed the device dialling; it showed ${JSON.stringify(seen)}`);
    assert.ok(connected > dialling, `then connected; it showed ${JSON.stringify(seen)}`);
    await until(guestsHere, (text) => text === '1', '"Guests here: 1" on the host page');
    assert.equal(await host.locator('p', { hasText: 'Guests here:' }).textContent(), 'Guests here: 1');
    assert.equal((await getVisit(server!, visit.id)).state, 'live');
    await screenshot(host, 'host-live');
  });

  test('the guest is let in live, without a reload', async () => {
    await visible(guest.getByRole('heading', { name: 'You are in the visit' }));
    assert.equal(await section(guest, 'lobby').isVisible(), false, 'the lobby is gone');
    assert.equal(await marker(guest), 1, 'the same page: not reloaded');
    assert.equal(guestNavigations, 0, 'no navigation');
    await screenshot(guest, 'guest-admitted');
  });

  test('the guest leaves, then rejoins', async () => {
    await guest.getByRole('button', { name: 'Leave' }).click();
    await visible(guest.getByRole('heading', { name: 'You left the visit' }));
    const rejoin = guest.getByRole('button', { name: 'Rejoin' });
    await visible(rejoin);
    assert.equal(await section(guest, 'admitted').isVisible(), false);
    assert.equal(await guest.getByRole('button', { name: 'Leave' }).isVisible(), false);
    await until(guestsHere, (text) => text === '0', 'the host sees the guest gone');
    await screenshot(guest, 'guest-left');

    await rejoin.click();
    await visible(guest.getByRole('heading', { name: 'You are in the visit' }));
    assert.equal(await section(guest, 'left').isVisible(), false);
    await until(guestsHere, (text) => text === '1', 'the host sees the guest back');
    assert.equal(await marker(guest), 1, 'still the same page');
    assert.equal(guestNavigations, 0, 'no navigation');
  });

  test('the host ends the visit for all, after confirming', async () => {
    const end = host.getByRole('button', { name: 'End visit for all' });
    // Dismissed: nothing happens.
    const dismissed = new Promise<string>((resolve) => {
      host.once('dialog', async (dialog) => {
        resolve(dialog.message());
        await dialog.dismiss();
      });
    });
    await end.click();
    assert.equal(await dismissed, 'End the visit for everyone?');
    assert.equal(
      (await getVisit(server!, visit.id)).state,
      'live',
      'dismissing the confirmation keeps it live',
    );

    host.once('dialog', (dialog) => {
      void dialog.accept();
    });
    await end.click();
    await visible(host.getByRole('heading', { name: 'This visit has ended' }));
    await visible(guest.getByRole('heading', { name: 'This visit has ended' }));
    assert.equal(await section(host, 'host').isVisible(), false);
    assert.equal(await section(guest, 'admitted').isVisible(), false);
    assert.equal(await guest.getByRole('button', { name: 'Leave' }).isVisible(), false);
    assert.equal(await marker(guest), 1, 'the guest page switched without a reload');
    assert.equal(guestNavigations, 0, 'no navigation');
    assert.equal((await getVisit(server!, visit.id)).state, 'ended');
    await screenshot(host, 'host-ended');
    await screenshot(guest, 'guest-ended');

    // Opened again, the link shows the ended page straight away.
    await open(guest, visit.guests[0]!.shortUrl!);
    await visible(guest.getByRole('heading', { name: 'This visit has ended' }));
    assert.equal(await section(guest, 'lobby').isVisible(), false);
  });

  test('no console error, CSP violation, or request away from the server', () => {
    harness!.assertClean();
  });
});
