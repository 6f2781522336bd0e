/**
 * Two instances on one PostgreSQL database, as behind a load balancer: a link issued by one opens
 * on the other, and the live lobby spans them (a guest waiting on instance A is let in, on A's
 * event stream, when the host joins on instance B; presence is seen from both).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  createVisit,
  eventually,
  getVisit,
  live,
  liveEvents,
  liveStatus,
  openPage,
  ticketOf,
  uniqueName,
} from './helpers.js';

const base = testDatabaseUrl();

/** The same link, served by another instance. */
const on = (server: TestServer, link: string) => {
  const url = new URL(link);
  return new URL(`${url.pathname}${url.search}`, server.url).toString();
};

describe('two instances on one PostgreSQL database', { skip: base ? false : PG_SKIP }, () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    db = await createTestDatabase(base!);
    a = await startTestServer({ databaseUrl: db.url });
    b = await startTestServer({ databaseUrl: db.url });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  test('both use PostgreSQL, one organisation, and a visit made on A is read on B', async () => {
    assert.equal(a.server.context.store.kind, 'postgres');
    assert.equal(b.server.context.store.kind, 'postgres');
    assert.equal(a.server.context.org.id, b.server.context.org.id);
    const visit = await createVisit(a, { subject: uniqueName('pg-both') });
    assert.equal((await getVisit(b, visit.id)).subject, visit.subject);
    // The guest's short link, issued by A, opens on B.
    assert.match(await openPage(on(b, visit.guests[0]!.shortUrl!)), /data-role="guest"/);
  });

  test('a guest waiting on A is let in when the host joins on B', async () => {
    const visit = await createVisit(a, { subject: uniqueName('pg-lobby') });
    const guestTicket = ticketOf(await openPage(visit.guests[0]!.shortUrl!));
    const hostTicket = ticketOf(await openPage(on(b, visit.hosts[0]!.longUrl)));

    const guest = await liveEvents(a, guestTicket);
    try {
      const first = await guest.status(() => true, 'the first status');
      assert.equal(first.admitted, false);
      assert.equal(first.state, 'open');
      // The guest's open stream on A counts on B.
      await eventually(
        () => liveStatus(b, hostTicket),
        (s) => s.guestsPresent === 1,
        'B to see the guest waiting on A',
      );

      const join = await live(b, 'join', { ticket: hostTicket });
      assert.equal(join.status, 200, join.text);
      const admitted = await guest.status((s) => s.admitted && s.state === 'live', 'the guest let in on A');
      assert.equal(admitted.visitId, visit.id);
      assert.equal((await getVisit(a, visit.id)).state, 'live');

      const end = await live(b, 'end', { ticket: hostTicket });
      assert.equal(end.status, 200, end.text);
      await guest.status((s) => s.state === 'ended', 'the end, decided on B, on A');
    } finally {
      await guest.close();
    }
    // The stream closed on A: B sees the guest gone.
    await eventually(
      () => liveStatus(b, hostTicket),
      (s) => s.guestsPresent === 0,
      'B to see the guest leave',
    );
  });

  test('one guest link with a stream on A and one on B is one guest on both, and its third stream is refused', async () => {
    const visit = await createVisit(a, { subject: uniqueName('pg-presence') });
    const onA = ticketOf(await openPage(visit.guests[0]!.longUrl));
    const onB = ticketOf(await openPage(on(b, visit.guests[0]!.longUrl)));
    const hostTicket = ticketOf(await openPage(on(b, visit.hosts[0]!.longUrl)));
    const streams = [await liveEvents(a, onA), await liveEvents(b, onB)];
    try {
      for (const server of [a, b]) {
        await eventually(
          () => liveStatus(server, hostTicket),
          (s) => s.guestsPresent === 1,
          'one guest, seen from both instances',
        );
      }
      // The instances agree on the link's two streams: a third, on either, is refused.
      await eventually(
        async () => (await fetch(`${a.url}/live/events?ticket=${encodeURIComponent(onB)}`)).status,
        (status) => status === 429,
        "A to refuse the link's third stream",
      );
      const third = await fetch(`${b.url}/live/events?ticket=${encodeURIComponent(onA)}`);
      assert.equal(third.status, 429);
      assert.ok(Number(third.headers.get('retry-after')) >= 1);
      await third.body?.cancel();
      await streams[0]!.close();
      for (const server of [a, b]) {
        assert.equal((await liveStatus(server, hostTicket)).guestsPresent, 1, 'still here, on B');
      }
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
    for (const server of [a, b]) {
      await eventually(
        () => liveStatus(server, hostTicket),
        (s) => s.guestsPresent === 0,
        'gone from both',
      );
    }
  });

  test('a broker key rotated on A is honoured by B: its new tokens open there, and its page tickets too', async () => {
    const before = await createVisit(a, { subject: uniqueName('pg-before-rotation') });
    const kid = await a.server.context.keyring.rotate(Math.floor(Date.now() / 1000));
    const after = await createVisit(a, { subject: uniqueName('pg-after-rotation') });
    const header = JSON.parse(
      Buffer.from(after.guests[0]!.cipher.split('.')[0]!, 'base64url').toString(),
    ) as {
      kid: string;
    };
    assert.equal(header.kid, kid, 'A issues with the new key');
    assert.equal(b.server.context.keyring.has(kid), false, 'B has not loaded it yet');
    for (const visit of [after, before]) {
      const space = await fetch(`${b.url}/api/v1/space?int=jose&data=${visit.guests[0]!.cipher}`);
      assert.equal(space.status, 200, 'B opens tokens of the new key and of the old one');
    }
    // A page opened on A holds a ticket signed with A's new key; B verifies it.
    const ticket = ticketOf(await openPage(after.guests[0]!.shortUrl!));
    const status = await liveStatus(b, ticket);
    assert.equal(status.visitId, after.id);
  });
});
