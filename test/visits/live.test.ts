/**
 * The live lobby the visit pages use, over real HTTP and a real server-sent event stream:
 * guests wait until a host joins, are let in live without reconnecting, devices are dialled,
 * presence follows open streams, only a host ends the visit, a guest can leave and rejoin,
 * staff cancelling reaches open pages at once, and forged tickets are refused.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { nowSeconds } from '../broker/helpers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  api,
  assertEnvelope,
  assertNoSecret,
  call,
  createVisit,
  eventsOf,
  eventually,
  getVisit,
  live,
  liveEvents,
  liveStatus,
  openPage,
  type SseReader,
  sleep,
  ticketFor,
  ticketOf,
  uniqueName,
} from './helpers.js';

/** A host whose last stream closed is gone after this (the server's default is 20 s). */
const GRACE_S = 1;

let server: TestServer;
before(async () => {
  server = await startTestServer({ live: { hostGraceSeconds: GRACE_S } });
});
after(async () => {
  await server.close();
});

/** Runs `fn` with the event streams it opens, always closing them. */
async function withStreams(fn: (open: (ticket: string) => Promise<SseReader>) => Promise<void>) {
  const streams: SseReader[] = [];
  try {
    await fn(async (ticket) => {
      const stream = await liveEvents(server, ticket);
      streams.push(stream);
      return stream;
    });
  } finally {
    await Promise.all(streams.map((s) => s.close()));
  }
}

const section = (html: string, name: string) => {
  const match = new RegExp(`<section data-section="${name}"([^>]*)>`).exec(html);
  assert.ok(match, `the page has a ${name} section`);
  return { visible: !/class="hidden"/.test(match[1]!) };
};

describe('the live lobby', () => {
  test('guests wait; a host joining lets them in live, dials the devices; only the host ends it', async () => {
    const devices = ['sip:room-a@example.com', 'sip:room-b@example.com'];
    const visit = await createVisit(server, { subject: uniqueName('lobby'), devices });

    const guestHtml = await openPage(visit.guests[0]!.shortUrl!);
    assert.match(guestHtml, /data-role="guest"/);
    assert.match(guestHtml, /data-state="open"/);
    assert.ok(section(guestHtml, 'lobby').visible, 'the guest page opens on the lobby');
    assert.ok(!section(guestHtml, 'admitted').visible);
    const guestTicket = ticketOf(guestHtml);

    await withStreams(async (open) => {
      const guest = await open(guestTicket);
      const first = await guest.status(() => true, 'the first status');
      assert.equal(guest.frames[0]!.event, 'status', 'the stream starts with a status');
      assert.equal(first.role, 'guest');
      assert.equal(first.admitted, false);
      assert.equal(first.state, 'open');
      assert.equal(first.visitId, visit.id);
      assert.equal(first.subject, visit.subject);
      assert.deepEqual(
        first.devices,
        devices.map((uri) => ({ uri, status: 'waiting' })),
      );

      // Joining as a guest: still in the lobby.
      const guestJoin = await live(server, 'join', { ticket: guestTicket });
      assert.equal(guestJoin.status, 200, guestJoin.text);
      assert.equal(guestJoin.body.admitted, false);
      assert.equal(guestJoin.body.state, 'waiting', 'a guest in the lobby waits');
      assert.equal((await getVisit(server, visit.id)).state, 'waiting');

      // The host's page, and the guest's open stream counted as present.
      const hostHtml = await openPage(visit.hosts[0]!.shortUrl!);
      assert.match(hostHtml, /data-role="host"/);
      assert.ok(section(hostHtml, 'host').visible);
      assert.ok(!section(hostHtml, 'lobby').visible, 'a host never waits in the lobby');
      const hostTicket = ticketOf(hostHtml);
      const before = await eventually(
        () => liveStatus(server, hostTicket),
        (s) => s.guestsPresent === 1,
        'the open guest stream to count as present',
      );
      assert.equal(before.hostsPresent, 0);
      assert.equal(before.role, 'host');
      assert.equal(before.admitted, true);
      assert.equal(before.state, 'waiting');

      // The host's page follows the visit and joins: the visit starts and every device is dialled.
      await open(hostTicket);
      const hostJoin = await live(server, 'join', { ticket: hostTicket });
      assert.equal(hostJoin.status, 200, hostJoin.text);
      assert.equal(hostJoin.body.state, 'live');
      assert.equal(hostJoin.body.role, 'host');
      assert.deepEqual(
        hostJoin.body.devices,
        devices.map((uri) => ({ uri, status: 'connected' })),
      );

      // The guest's stream (the same connection) lets the guest in.
      const admitted = await guest.status((s) => s.admitted && s.state === 'live', 'the guest to be let in');
      assert.equal(admitted.role, 'guest');
      assert.equal(guest.ended, false, 'the same stream, never reconnected');
      // Dial progress is coalesced: the devices may already be connected in that same status.
      const allConnected = (s: typeof admitted) =>
        s.devices.length === 2 && s.devices.every((d) => d.status === 'connected');
      if (!allConnected(admitted)) {
        await guest.status(allConnected, 'the devices connected, on the guest stream');
      }

      const hostNow = await liveStatus(server, hostTicket);
      assert.deepEqual(
        hostNow.devices,
        devices.map((uri) => ({ uri, status: 'connected' })),
      );
      assert.equal(hostNow.guestsPresent, 1);
      const started = await getVisit(server, visit.id);
      assert.equal(started.state, 'live');
      assert.ok(started.startedAt);

      // The guest's page, opened again now, is the admitted page.
      const againHtml = await openPage(visit.guests[0]!.longUrl);
      assert.match(againHtml, /data-state="live"/);
      assert.ok(section(againHtml, 'admitted').visible);
      assert.ok(!section(againHtml, 'lobby').visible);

      // The events, in order.
      const events = await eventsOf(server, visit.id);
      const types = events.map((e) => e.type);
      const at = (type: string, uri?: string) =>
        events.findIndex((e) => e.type === type && (uri === undefined || e.data['uri'] === uri));
      assert.ok(at('guest.joined') > at('visit.created'), types.join(', '));
      assert.ok(at('host.joined') > at('guest.joined'), types.join(', '));
      assert.ok(at('visit.live') > at('host.joined'), types.join(', '));
      for (const uri of devices) {
        assert.ok(at('device.dialling', uri) > at('visit.live'), `${uri} dialled after the start`);
        assert.ok(
          at('device.connected', uri) > at('device.dialling', uri),
          `${uri} connected after dialling`,
        );
        assert.equal(events[at('device.dialling', uri)]!.actor, 'system');
      }
      assert.equal(types.filter((t) => t === 'device.dialling').length, 2);
      assert.equal(types.filter((t) => t === 'device.connected').length, 2);
      assert.equal(types.filter((t) => t === 'visit.live').length, 1);
      assert.equal(events[at('host.joined')]!.actor, 'host');
      assert.equal(events[at('guest.joined')]!.actor, 'guest');

      // A second host join does not start it again, nor dial again.
      assert.equal((await live(server, 'join', { ticket: hostTicket })).status, 200);
      const after = (await eventsOf(server, visit.id)).map((e) => e.type);
      assert.equal(after.filter((t) => t === 'visit.live').length, 1);
      assert.equal(after.filter((t) => t === 'device.dialling').length, 2);

      // Only a host ends it.
      const byGuest = await live(server, 'end', { ticket: guestTicket });
      assertEnvelope(byGuest, 403, 'ERR_FORBIDDEN');
      assert.equal((await getVisit(server, visit.id)).state, 'live');

      // A guest who leaves can rejoin while the link is valid.
      const left = await live(server, 'leave', { ticket: guestTicket });
      assert.equal(left.status, 200, left.text);
      const rejoined = await live(server, 'join', { ticket: guestTicket });
      assert.equal(rejoined.status, 200, rejoined.text);
      assert.equal(rejoined.body.state, 'live');
      assert.equal(rejoined.body.admitted, true);
      const guestEvents = (await eventsOf(server, visit.id))
        .map((e) => e.type)
        .filter((t) => t.startsWith('guest.'));
      assert.deepEqual(guestEvents, ['guest.joined', 'guest.left', 'guest.joined']);

      // The host ends it for all: the guest's stream hears it.
      const ended = await live(server, 'end', { ticket: hostTicket });
      assert.equal(ended.status, 200, ended.text);
      assert.equal(ended.body.state, 'ended');
      const heard = await guest.status((s) => s.state === 'ended', 'the end on the guest stream');
      assert.equal(heard.admitted, false);
      const done = await getVisit(server, visit.id);
      assert.equal(done.state, 'ended');
      assert.ok(done.endedAt);
      const last = (await eventsOf(server, visit.id)).at(-1)!;
      assert.equal(last.type, 'visit.ended');
      assert.equal(last.actor, 'host');

      // After the end: joining changes nothing, ending again is harmless.
      const late = await live(server, 'join', { ticket: guestTicket });
      assert.equal(late.status, 200, late.text);
      assert.equal(late.body.state, 'ended');
      assert.equal(late.body.admitted, false);
      const endedPage = await openPage(visit.guests[0]!.longUrl);
      assert.match(endedPage, /data-state="ended"/);
      assert.ok(section(endedPage, 'ended').visible);

      // Nothing secret ever went down the stream.
      await assertNoSecret(
        server,
        guest.frames.map((f) => f.data).join('\n'),
        [...visit.hosts, ...visit.guests],
        'the event stream',
      );
    });

    // The stream is closed: the guest is no longer present.
    const hostTicket = await ticketFor(visit.hosts[0]!);
    await eventually(
      () => liveStatus(server, hostTicket),
      (s) => s.guestsPresent === 0,
      'presence to drop once the guest stream closed',
    );
  });

  test('presence counts each open stream, hosts and guests apart', async () => {
    const visit = await createVisit(server, { guests: 2 });
    const [g1, g2, h] = await Promise.all([
      ticketFor(visit.guests[0]!),
      ticketFor(visit.guests[1]!),
      ticketFor(visit.hosts[0]!),
    ]);
    await withStreams(async (open) => {
      const first = await open(g1);
      await eventually(
        () => liveStatus(server, h),
        (s) => s.guestsPresent === 1,
        'one guest',
      );
      const second = await open(g2);
      const host = await open(h);
      await eventually(
        () => liveStatus(server, h),
        (s) => s.guestsPresent === 2 && s.hostsPresent === 1,
        'two guests and a host',
      );
      // The host's own stream sees the guests too.
      await host.status((s) => s.guestsPresent === 2, 'the host stream counting two guests');
      await first.close();
      await eventually(
        () => liveStatus(server, h),
        (s) => s.guestsPresent === 1 && s.hostsPresent === 1,
        'one guest left',
      );
      await second.status((s) => s.guestsPresent === 1, 'the other guest hears it');
    });
    await eventually(
      () => liveStatus(server, h),
      (s) => s.guestsPresent === 0 && s.hostsPresent === 0,
      'nobody left',
    );
  });

  test('staff cancelling reaches an open guest stream at once', async () => {
    const visit = await createVisit(server);
    const guestTicket = await ticketFor(visit.guests[0]!);
    await withStreams(async (open) => {
      const guest = await open(guestTicket);
      await guest.status((s) => s.state === 'open', 'the lobby');
      assert.equal((await live(server, 'join', { ticket: guestTicket })).status, 200);
      const cancelled = await api(server, 'DELETE', `/api/visits/${visit.id}`);
      assert.equal(cancelled.status, 200, cancelled.text);
      const heard = await guest.status((s) => s.state === 'cancelled', 'the cancellation on the stream');
      assert.equal(heard.admitted, false);
      // The page's ticket no longer joins.
      assertEnvelope(await live(server, 'join', { ticket: guestTicket }), 410, 'ERR_CANCELLED');
      assert.equal((await liveStatus(server, guestTicket)).state, 'cancelled');
    });
  });

  test('POST /live/join as host counts the joining host: hostsPresent 1 in its own answer', async () => {
    const visit = await createVisit(server);
    const [guestTicket, hostTicket] = await Promise.all([
      ticketFor(visit.guests[0]!),
      ticketFor(visit.hosts[0]!),
    ]);
    const joined = await live(server, 'join', { ticket: hostTicket });
    assert.equal(joined.status, 200, joined.text);
    assert.equal(joined.body.state, 'live');
    assert.equal(joined.body.hostsPresent, 1, 'the joining host is present');
    assert.equal((await liveStatus(server, guestTicket)).hostsPresent, 1, 'guests see the host too');
    // A join with no page following the visit: gone once the grace period is over.
    await eventually(
      () => liveStatus(server, guestTicket),
      (s) => s.hostsPresent === 0,
      'the host with no stream to be gone',
    );
    // The record follows the presence (its write is committed and synced just after).
    const hostEvents = async () =>
      (await eventsOf(server, visit.id)).map((e) => e.type).filter((t) => t.startsWith('host.'));
    await eventually(hostEvents, (types) => types.length === 2, 'host.left recorded');
    assert.deepEqual(await hostEvents(), ['host.joined', 'host.left']);
  });

  test('the only host closes the page: after the grace period host.left once, and guests wait again', async () => {
    const visit = await createVisit(server, { guests: 2 });
    const [guestTicket, lateTicket, hostTicket] = await Promise.all([
      ticketFor(visit.guests[0]!),
      ticketFor(visit.guests[1]!),
      ticketFor(visit.hosts[0]!),
    ]);
    await withStreams(async (open) => {
      const guest = await open(guestTicket);
      const host = await open(hostTicket);
      assert.equal((await live(server, 'join', { ticket: hostTicket })).status, 200);
      await guest.status((s) => s.state === 'live' && s.hostsPresent === 1, 'the host here');
      // A reload: the stream closes and a new one opens (the page joins again): the host never left.
      await host.close();
      const reloaded = await open(hostTicket);
      assert.equal((await live(server, 'join', { ticket: hostTicket })).status, 200);
      await sleep(GRACE_S * 1000 + 500);
      assert.equal((await liveStatus(server, guestTicket)).hostsPresent, 1, 'still present after a reload');
      const hostEvents = async () =>
        (await eventsOf(server, visit.id)).map((e) => e.type).filter((t) => t.startsWith('host.'));
      assert.deepEqual(await hostEvents(), ['host.joined']);

      // The tab is closed: present during the grace period, then gone.
      await reloaded.close();
      const heard = await guest.status((s) => s.hostsPresent === 0, 'the guest hears the host gone');
      assert.equal(heard.state, 'live');
      assert.deepEqual(await hostEvents(), ['host.joined', 'host.left']);
      const left = (await eventsOf(server, visit.id)).find((e) => e.type === 'host.left')!;
      assert.equal(left.actor, 'host');

      // A new guest is told to wait for the host, not that the host has joined.
      const lateHtml = await openPage(visit.guests[1]!.longUrl);
      assert.ok(section(lateHtml, 'lobby').visible, 'the new guest waits in the lobby');
      assert.ok(!section(lateHtml, 'admitted').visible);
      assert.doesNotMatch(
        lateHtml.replace(/<section[^>]*class="hidden"[^>]*>[\s\S]*?<\/section>/g, ''),
        /host has joined/,
      );
      assert.equal((await liveStatus(server, lateTicket)).hostsPresent, 0);

      // The host comes back: joined again, and guests are let in.
      await open(hostTicket);
      assert.equal((await live(server, 'join', { ticket: hostTicket })).status, 200);
      await guest.status((s) => s.hostsPresent === 1, 'the host back');
      assert.deepEqual(await hostEvents(), ['host.joined', 'host.left', 'host.joined']);
      assert.ok(section(await openPage(visit.guests[1]!.longUrl), 'admitted').visible);
    });
  });

  test('a live visit cancelled by staff: the admitted guest hears it too', async () => {
    const visit = await createVisit(server);
    const [guestTicket, hostTicket] = await Promise.all([
      ticketFor(visit.guests[0]!),
      ticketFor(visit.hosts[0]!),
    ]);
    await withStreams(async (open) => {
      const guest = await open(guestTicket);
      assert.equal((await live(server, 'join', { ticket: hostTicket })).status, 200);
      await guest.status((s) => s.state === 'live' && s.admitted, 'let in');
      assert.equal((await api(server, 'DELETE', `/api/visits/${visit.id}`)).status, 200);
      await guest.status((s) => s.state === 'cancelled', 'the cancellation');
      assertEnvelope(await live(server, 'end', { ticket: hostTicket }), 410, 'ERR_CANCELLED');
    });
  });

  test('adding links does not disturb the lobby, and the new guest waits too', async () => {
    const visit = await createVisit(server);
    const added = await api(server, 'POST', `/api/visits/${visit.id}/links`, { guests: 1 });
    assert.equal(added.status, 201, added.text);
    const html = await openPage(added.body.guests[1].longUrl);
    assert.ok(section(html, 'lobby').visible);
    const status = await liveStatus(server, ticketOf(html));
    assert.equal(status.visitId, visit.id);
    assert.equal(status.admitted, false);
  });
});

describe('tickets', () => {
  let visit: Awaited<ReturnType<typeof createVisit>>;
  let guestTicket: string;
  before(async () => {
    visit = await createVisit(server);
    guestTicket = await ticketFor(visit.guests[0]!);
  });

  const payloadOf = (ticket: string) =>
    JSON.parse(Buffer.from(ticket.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const withPayload = (ticket: string, edit: (p: Record<string, unknown>) => void) => {
    const payload = payloadOf(ticket);
    edit(payload);
    return `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${ticket.split('.')[1]}`;
  };

  /** Every live route refuses the ticket with 403 JSON, and nothing is recorded. */
  async function refused(ticket: unknown, what: string) {
    const count = (await eventsOf(server, visit.id)).length;
    for (const action of ['join', 'leave', 'end'] as const) {
      const answer = await live(server, action, ticket === undefined ? {} : { ticket });
      assertEnvelope(answer, 403, 'ERR_FORBIDDEN');
      assert.doesNotMatch(answer.text, /stack|at .*\.ts/, `${what}: no stack`);
    }
    const q = ticket === undefined ? '' : `?ticket=${encodeURIComponent(String(ticket))}`;
    assertEnvelope(await call(`${server.url}/live/status${q}`), 403, 'ERR_FORBIDDEN');
    const stream = await call(`${server.url}/live/events${q}`, { headers: { accept: 'text/event-stream' } });
    assertEnvelope(stream, 403, 'ERR_FORBIDDEN');
    assert.equal((await eventsOf(server, visit.id)).length, count, `${what}: nothing recorded`);
    assert.equal((await getVisit(server, visit.id)).state, 'open', `${what}: the visit is untouched`);
  }

  test('the page ticket is a signed payload naming the visit and role, not the token', () => {
    const payload = payloadOf(guestTicket);
    assert.equal(payload['v'], visit.id);
    assert.equal(payload['r'], 'guest');
    assert.equal(payload['x'], visit.expiresAt);
    assert.ok(!guestTicket.includes(visit.guests[0]!.cipher));
  });

  test('missing: 403', async () => {
    await refused(undefined, 'no ticket');
  });

  test('not a string, empty, or far too long: 403', async () => {
    await refused(42, 'a number');
    await refused('', 'empty');
    await refused(`${'a'.repeat(600)}.${'b'.repeat(43)}`, 'too long');
    await refused('no-dot-at-all', 'one segment');
  });

  test('a guest ticket altered into a host ticket: 403, and it cannot end the visit', async () => {
    await refused(
      withPayload(guestTicket, (p) => {
        p['r'] = 'host';
      }),
      'role changed',
    );
  });

  test('altered expiry, visit or MAC: 403', async () => {
    await refused(
      withPayload(guestTicket, (p) => {
        p['x'] = nowSeconds() + 10 * 365 * 86400;
      }),
      'expiry changed',
    );
    await refused(
      withPayload(guestTicket, (p) => {
        p['v'] = 'vis_someOtherVisit';
      }),
      'visit changed',
    );
    const [payload, mac] = guestTicket.split('.') as [string, string];
    const flipped = `${mac.slice(0, 10)}${mac[10] === 'A' ? 'B' : 'A'}${mac.slice(11)}`;
    await refused(`${payload}.${flipped}`, 'MAC changed');
  });

  test('forged with another key: 403', async () => {
    const payload = Buffer.from(
      JSON.stringify({
        v: visit.id,
        o: server.server.context.org.id,
        r: 'host',
        x: nowSeconds() + 3600,
        p: 'forged',
      }),
    ).toString('base64url');
    const mac = createHmac('sha256', randomBytes(64)).update(`visit-ticket.${payload}`).digest('base64url');
    await refused(`${payload}.${mac}`, 'forged');
  });

  test("a ticket stops working when its link's window closes", async () => {
    const short = await createVisit(server, { ttl: 2 });
    const ticket = await ticketFor(short.guests[0]!);
    assert.equal((await live(server, 'join', { ticket })).status, 200);
    while (nowSeconds() < short.expiresAt + 1) await sleep(100);
    assertEnvelope(await live(server, 'join', { ticket }), 403, 'ERR_FORBIDDEN');
    assertEnvelope(await call(`${server.url}/live/status?ticket=${ticket}`), 403, 'ERR_FORBIDDEN');
  });
});
