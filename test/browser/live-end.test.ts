/**
 * The visit page when the server ends its live stream (issue 11, finding 2): at the link's expiry
 * and at a cancellation the page shows the final state and opens no new stream (EventSource
 * would reconnect by itself after a stream ends: the page closes it on the final status or the
 * `end` event).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/server.js';
import { api, createVisit, liveStatus, ticketFor } from '../visits/helpers.js';
import { BrowserHarness, open, suiteOptions, until, visible } from './browser.js';

/** Longer than the reconnection delay the server asks EventSource for (`retry: 5000`). */
const PAST_RETRY_MS = 6000;

describe('the visit page when its stream ends', suiteOptions, () => {
  let server: TestServer | undefined;
  let harness: BrowserHarness | undefined;

  before(async () => {
    server = await startTestServer();
    harness = await BrowserHarness.launch(server.url);
  });
  after(async () => {
    try {
      await harness?.close();
    } finally {
      await server?.close();
    }
  });

  /** Counts the page's requests to the event stream. */
  const streamsOf = (page: Page) => {
    const seen = { count: 0 };
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/live/events') seen.count += 1;
    });

    return seen;
  };
  /** Streams the server holds now. */
  const heldByServer = () => Promise.resolve(server!.server.context.live.streams);
  /** Guests the host sees. */
  const guestsSeen = (hostTicket: string) => async () =>
    (await liveStatus(server!, hostTicket)).guestsPresent;

  test('at the link expiry: "This link has expired", and no new stream', async () => {
    // Long enough for a loaded machine to open the page well before the link expires.
    const visit = await createVisit(server!, { ttl: 8 });
    const guest = await harness!.page();
    const streams = streamsOf(guest);
    await open(guest, visit.guests[0]!.longUrl);
    await visible(guest.getByRole('heading', { name: 'Waiting for the host' }));
    await visible(guest.getByRole('heading', { name: 'This link has expired' }), 15_000);
    await until(heldByServer, (n) => n === 0, 'the server to end the stream');
    await sleep(PAST_RETRY_MS);
    assert.equal(streams.count, 1, 'one stream, never reopened');
    assert.equal(await heldByServer(), 0);
  });

  test('cancelled by staff: "This visit was cancelled", and no new stream', async () => {
    const visit = await createVisit(server!);
    const guest = await harness!.page();
    const streams = streamsOf(guest);
    await open(guest, visit.guests[0]!.longUrl);
    await until(guestsSeen(await ticketFor(visit.hosts[0]!)), (n) => n === 1, 'the page following the visit');
    assert.equal((await api(server!, 'DELETE', `/api/visits/${visit.id}`)).status, 200);
    // As long as the expiry's wait: on a loaded machine the flush, the stream and the render each lag.
    await visible(guest.getByRole('heading', { name: 'This visit was cancelled' }), 15_000);
    await until(heldByServer, (n) => n === 0, 'the server to end the stream');
    await sleep(PAST_RETRY_MS);
    assert.equal(streams.count, 1, 'one stream, never reopened');
  });

  test('no console error, CSP violation, or request away from the server', () => {
    harness!.assertClean();
  });
});
