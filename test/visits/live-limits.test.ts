/**
 * The live channel held under attack (issue 11, finding 2), over real HTTP on 127.0.0.1: event
 * streams are capped per link, per address and per instance (refused before any store read);
 * reloading a link does not make more participants; streams end after the final status at the
 * ticket's expiry, at cancellation and at the end, and an over visit opens no new stream; a join
 * flood leaves a bounded event log; many streams of a visit cost one store read per change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Store } from '../../src/store/types.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  api,
  assertEnvelope,
  createVisit,
  eventsOf,
  eventually,
  live,
  liveEvents,
  liveStatus,
  openPage,
  SseReader,
  ticketFor,
  ticketOf,
} from './helpers.js';

/** Counts the store reads a visit's status costs (getVisit, listEvents) until `restore()`. */
function countReads(store: Store): { readonly reads: number; reset(): void; restore(): void } {
  const getVisit = store.getVisit;
  const listEvents = store.listEvents;
  let reads = 0;
  store.getVisit = (...args) => {
    reads += 1;
    return getVisit.apply(store, args);
  };
  store.listEvents = (...args) => {
    reads += 1;
    return listEvents.apply(store, args);
  };
  return {
    get reads() {
      return reads;
    },
    reset() {
      reads = 0;
    },
    restore() {
      store.getVisit = getVisit;
      store.listEvents = listEvents;
    },
  };
}

type Attempt =
  | { status: 200; stream: SseReader }
  | { status: number; headers: Headers; body: { code?: string; message?: string } };

/** Opens the event stream of `ticket` (kept in `streams`, to close), or reads the refusal. */
async function attempt(server: TestServer, ticket: string, streams: SseReader[]): Promise<Attempt> {
  const url = `${server.url}/live/events?ticket=${encodeURIComponent(ticket)}`;
  const probe = await fetch(url, { headers: { accept: 'text/event-stream' } });
  if (probe.status === 200) {
    const stream = SseReader.of(probe);
    streams.push(stream);
    return { status: 200, stream };
  }
  return { status: probe.status, headers: probe.headers, body: (await probe.json()) as { code?: string } };
}

function assertRefused(answer: Attempt, status: number, code: string) {
  assert.equal(answer.status, status, `refused with ${status}, not ${answer.status}`);
  if (!('headers' in answer)) return;
  assert.equal(answer.body.code, code);
  assert.ok(answer.body.message, 'a message');
  if (status === 429 || status === 503) {
    const retry = Number(answer.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry >= 1, `Retry-After: ${answer.headers.get('retry-after')}`);
  }
}

describe('live event streams under attack', () => {
  let server: TestServer;
  const streams: SseReader[] = [];
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await server.close();
  });
  const closeAll = async () => {
    await Promise.all(streams.splice(0).map((s) => s.close()));
  };

  test('one link holds 2 streams: a 3rd, from the same page or a reload, gets 429 and Retry-After, before any store read', async () => {
    const visit = await createVisit(server);
    const pages: string[] = [];
    for (let i = 0; i < 3; i++) pages.push(ticketOf(await openPage(visit.guests[0]!.shortUrl!)));
    try {
      assert.equal((await attempt(server, pages[0]!, streams)).status, 200);
      assert.equal((await attempt(server, pages[1]!, streams)).status, 200);
      const counter = countReads(server.server.context.store);
      try {
        assertRefused(await attempt(server, pages[2]!, streams), 429, 'ERR_RATE_LIMITED');
        assertRefused(await attempt(server, pages[0]!, streams), 429, 'ERR_RATE_LIMITED');
        assert.equal(counter.reads, 0, 'refused without reading the store');
      } finally {
        counter.restore();
      }
      // Another link of the visit is another participant.
      assert.equal(
        (await attempt(server, await ticketFor(visit.guests[1] ?? visit.hosts[0]!), streams)).status,
        200,
      );
      // A closed stream frees its place.
      await streams[0]!.close();
      await eventually(
        async () => (await attempt(server, pages[2]!, streams)).status,
        (status) => status === 200,
        'a place once a stream closed',
      );
    } finally {
      await closeAll();
    }
  });

  test('presence counts one per link: a guest with 2 streams after 10 reloads is 1 guest', async () => {
    const visit = await createVisit(server);
    const reloads: string[] = [];
    for (let i = 0; i < 10; i++) reloads.push(ticketOf(await openPage(visit.guests[0]!.longUrl)));
    const host = await ticketFor(visit.hosts[0]!);
    try {
      const answers: number[] = [];
      for (const ticket of reloads) answers.push((await attempt(server, ticket, streams)).status);
      assert.deepEqual(answers, [200, 200, 429, 429, 429, 429, 429, 429, 429, 429]);
      const hostStream = await liveEvents(server, host);
      streams.push(hostStream);
      const seen = await hostStream.status(() => true, 'the host stream');
      assert.equal(seen.guestsPresent, 1);
      assert.equal(seen.hostsPresent, 1);
      assert.equal((await liveStatus(server, host)).guestsPresent, 1);
      // One of the guest's two pages closes: the guest is still here.
      await streams[0]!.close();
      await eventually(
        () => server.server.context.live.streams,
        (n) => n === 2,
        'the closed stream gone',
      );
      assert.equal((await liveStatus(server, host)).guestsPresent, 1, 'still one guest');
      await streams[1]!.close();
      await hostStream.status((s) => s.guestsPresent === 0, 'the guest gone on the host stream');
    } finally {
      await closeAll();
    }
  });

  test('a stream ends at the ticket expiry, after pushing the final status', async () => {
    // Long enough to open the page and the stream before it expires, even on a loaded machine.
    const visit = await createVisit(server, { ttl: 6 });
    const guest = await liveEvents(server, await ticketFor(visit.guests[0]!));
    streams.push(guest);
    try {
      assert.equal((await guest.status(() => true, 'the first status')).state, 'open');
      const last = await guest.status((s) => s.state === 'expired', 'the final status', 20_000);
      assert.equal(last.admitted, false);
      await guest.waitEnded(5000);
      const end = guest.frames.at(-1)!;
      assert.equal(end.event, 'end');
      assert.match(end.json.reason, /expired/);
      assert.equal(server.server.context.live.streams, 0, 'nothing held');
    } finally {
      await closeAll();
    }
  });

  test('cancelled by staff: the open stream gets the final status and ends; no new stream opens (410)', async () => {
    const visit = await createVisit(server);
    const ticket = await ticketFor(visit.guests[0]!);
    const guest = await liveEvents(server, ticket);
    streams.push(guest);
    try {
      await guest.status((s) => s.state === 'open', 'the lobby');
      assert.equal((await api(server, 'DELETE', `/api/visits/${visit.id}`)).status, 200);
      await guest.status((s) => s.state === 'cancelled', 'the cancellation');
      await guest.waitEnded(5000);
      assert.deepEqual(guest.frames.at(-1)!.json, { reason: 'cancelled' });
      const again = await attempt(server, ticket, streams);
      assertRefused(again, 410, 'ERR_CANCELLED');
      assert.match(String((again as { body: { message?: string } }).body.message), /cancelled/);
    } finally {
      await closeAll();
    }
  });

  test('ended by the host: every stream gets the final status and ends; no new stream opens (410)', async () => {
    const visit = await createVisit(server);
    const [guestTicket, hostTicket] = [await ticketFor(visit.guests[0]!), await ticketFor(visit.hosts[0]!)];
    const guest = await liveEvents(server, guestTicket);
    const host = await liveEvents(server, hostTicket);
    streams.push(guest, host);
    try {
      assert.equal((await live(server, 'join', { ticket: hostTicket })).status, 200);
      await guest.status((s) => s.state === 'live', 'let in');
      assert.equal((await live(server, 'end', { ticket: hostTicket })).status, 200);
      for (const stream of [guest, host]) {
        await stream.status((s) => s.state === 'ended', 'the end');
        await stream.waitEnded(5000);
        assert.deepEqual(stream.frames.at(-1)!.json, { reason: 'ended' });
      }
      assertRefused(await attempt(server, guestTicket, streams), 410, 'ERR_ENDED');
      assertRefused(await attempt(server, hostTicket, streams), 410, 'ERR_ENDED');
    } finally {
      await closeAll();
    }
  });

  test('a join flood from one link appends one event, then 429 with Retry-After', async () => {
    const visit = await createVisit(server);
    const ticket = await ticketFor(visit.guests[0]!);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 100; i++) {
      const answer = await live(server, 'join', { ticket });
      statuses.push(answer.status);
      if (answer.status === 429) {
        assertEnvelope(answer, 429, 'ERR_RATE_LIMITED');
        retryAfter = answer.headers.get('retry-after');
      }
    }
    assert.equal(statuses.filter((s) => s === 200).length, 30, 'the limit: 30 a minute');
    assert.equal(statuses.filter((s) => s === 429).length, 70);
    assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    const joined = (await eventsOf(server, visit.id)).filter((e) => e.type.startsWith('guest.'));
    assert.deepEqual(
      joined.map((e) => e.type),
      ['guest.joined'],
      'a participant already here joins once',
    );
  });

  test('twenty streams of one visit: one store read per change, none for presence', async () => {
    const visit = await createVisit(server, { guests: 20 });
    const tickets = await Promise.all(visit.guests.map((g) => ticketFor(g)));
    const live = server.server.context.live;
    const counter = countReads(server.server.context.store);
    try {
      const opened: SseReader[] = [];
      for (const ticket of tickets) {
        const stream = await liveEvents(server, ticket);
        streams.push(stream);
        opened.push(stream);
      }
      // Every stream hears all twenty (presence needs no read).
      await Promise.all(opened.map((s) => s.status((x) => x.guestsPresent === 20, 'twenty guests')));
      assert.ok(counter.reads <= 2, `opening 20 streams read the store ${counter.reads} times`);

      counter.reset();
      await opened.pop()!.close();
      await Promise.all(opened.map((s) => s.status((x) => x.guestsPresent === 19, 'nineteen guests')));
      assert.equal(counter.reads, 0, 'a presence change reads nothing');

      counter.reset();
      await live.changed(visit.id);
      await Promise.all(
        opened.map((s) => s.status((x) => x.guestsPresent === 19, 'a fresh status after the change')),
      );
      assert.equal(counter.reads, 1, 'one read for all 19 streams');
    } finally {
      counter.restore();
      await closeAll();
    }
  });
});

describe('live event streams: the address and instance caps', () => {
  let server: TestServer;
  const streams: SseReader[] = [];
  before(async () => {
    server = await startTestServer({ live: { streamsPerAddress: 3, streams: 100 } });
  });
  after(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await server.close();
  });

  test('past the streams of one address: 429 with Retry-After', async () => {
    const visit = await createVisit(server, { guests: 4 });
    const tickets = await Promise.all(visit.guests.map((g) => ticketFor(g)));
    const answers = [];
    for (const ticket of tickets) answers.push(await attempt(server, ticket, streams));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 429],
    );
    assertRefused(answers[3]!, 429, 'ERR_RATE_LIMITED');
  });
});

describe('live event streams: the instance cap', () => {
  let server: TestServer;
  const streams: SseReader[] = [];
  before(async () => {
    server = await startTestServer({ live: { streams: 2 } });
  });
  after(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await server.close();
  });

  test('past the streams of the instance: 503 with Retry-After, before any store read', async () => {
    const visit = await createVisit(server, { guests: 3 });
    const tickets = await Promise.all(visit.guests.map((g) => ticketFor(g)));
    assert.equal((await attempt(server, tickets[0]!, streams)).status, 200);
    assert.equal((await attempt(server, tickets[1]!, streams)).status, 200);
    const counter = countReads(server.server.context.store);
    try {
      assertRefused(await attempt(server, tickets[2]!, streams), 503, 'ERR_OVERLOADED');
      assert.equal(counter.reads, 0);
    } finally {
      counter.restore();
    }
  });
});
