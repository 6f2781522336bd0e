/**
 * Visit pages that do not contradict themselves (issue 12, item 2): no "Valid until" once the visit
 * is ended or cancelled, no Leave button (nor an offer to rejoin) on an ended visit, and when the
 * only host closes their tab, the guests, new ones included, wait for the host again instead of
 * being told "the host has joined".
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.js';
import { api, createVisit, eventsOf, live, liveStatus, ticketFor } from '../visits/helpers.js';
import { BrowserHarness, open, suiteOptions, until, visible } from './browser.js';

/** A host whose last stream closed is gone after this many seconds (the server's default is 20). */
const GRACE_S = 1;

describe('visit pages that agree with the visit', suiteOptions, () => {
  let server: TestServer | undefined;
  let harness: BrowserHarness | undefined;

  before(async () => {
    server = await startTestServer({ live: { hostGraceSeconds: GRACE_S } });
    harness = await BrowserHarness.launch(server.url);
  });
  after(async () => {
    try {
      await harness?.close();
    } finally {
      await server?.close();
    }
  });

  /** The "Valid until …" line (by its text, whatever marks it). */
  const validUntil = (p: Page) => p.locator('p', { hasText: /^Valid until/ });
  const leave = (p: Page) => p.getByRole('button', { name: 'Leave' });
  const hostsSeen = (ticket: string) => async () => (await liveStatus(server!, ticket)).hostsPresent;

  test('ended by the host: no "Valid until", no Leave, no offer to rejoin, live and when opened again', async () => {
    const visit = await createVisit(server!);
    const guest = await harness!.page();
    await open(guest, visit.guests[0]!.longUrl);
    await visible(guest.getByRole('heading', { name: 'Waiting for the host' }));
    assert.equal(await validUntil(guest).isVisible(), true, '"Valid until" while the visit can be joined');
    const hostTicket = await ticketFor(visit.hosts[0]!);
    assert.equal((await live(server!, 'end', { ticket: hostTicket })).status, 200);
    await visible(guest.getByRole('heading', { name: 'This visit has ended' }));
    assert.equal(await validUntil(guest).isVisible(), false, 'no "Valid until" on the ended page');
    assert.equal(await leave(guest).isVisible(), false);

    // Opened again: the ended page, with nothing to leave or rejoin.
    await open(guest, visit.guests[0]!.longUrl);
    await visible(guest.getByRole('heading', { name: 'This visit has ended' }));
    assert.equal(await validUntil(guest).isVisible(), false, 'no "Valid until" on the ended page');
    assert.equal(await leave(guest).isVisible(), false, 'no Leave button on the ended page');
    assert.equal(await guest.getByRole('button', { name: 'Rejoin' }).isVisible(), false);
    assert.equal(await guest.getByText('You can rejoin').isVisible(), false);
  });

  test('cancelled by staff: no "Valid until" and no Leave', async () => {
    const visit = await createVisit(server!);
    const guest = await harness!.page();
    await open(guest, visit.guests[0]!.longUrl);
    await visible(guest.getByRole('heading', { name: 'Waiting for the host' }));
    assert.equal((await api(server!, 'DELETE', `/api/visits/${visit.id}`)).status, 200);
    await visible(guest.getByRole('heading', { name: 'This visit was cancelled' }));
    assert.equal(await validUntil(guest).isVisible(), false, 'no "Valid until" on the cancelled page');
    assert.equal(await leave(guest).isVisible(), false);
  });

  test('the only host closes the tab: guests wait for the host again, new ones too; host.left once', async () => {
    const visit = await createVisit(server!, { guests: 2 });
    const guestTicket = await ticketFor(visit.guests[0]!);
    const guest = await harness!.page();
    await open(guest, visit.guests[0]!.longUrl);
    await visible(guest.getByRole('heading', { name: 'Waiting for the host' }));
    const host = await harness!.page();
    await open(host, visit.hosts[0]!.longUrl);
    await until(
      () => host.locator('[data-field="state"]').textContent(),
      (text) => text === 'Live',
      'the host page says Live',
    );
    await visible(guest.getByRole('heading', { name: 'You are in the visit' }));

    await host.close();
    await until(hostsSeen(guestTicket), (n) => n === 0, 'the host gone after the grace period');
    await visible(guest.getByRole('heading', { name: 'Waiting for the host' }));
    assert.equal(await guest.getByText('The host has joined').isVisible(), false);

    const late = await harness!.page();
    await open(late, visit.guests[1]!.longUrl);
    await visible(late.getByRole('heading', { name: 'Waiting for the host' }));
    assert.equal(await late.getByText('The host has joined').isVisible(), false);

    const hostEvents = (await eventsOf(server!, visit.id))
      .map((e) => e.type)
      .filter((t) => t.startsWith('host.'));
    assert.deepEqual(hostEvents, ['host.joined', 'host.left']);
  });

  test('no console error, CSP violation, or request away from the server', () => {
    harness!.assertClean();
  });
});
