/**
 * Arrivals and the states they make, over real HTTP on a real server: a guest in the lobby makes a
 * local visit `waiting` (found by `state=waiting`), once per wait; the host joining makes it `live`;
 * a host ending it makes it `ended`. A visit nobody joins, or only the guest, ends as `no_show`
 * with who was missing, and the closing job records `visit.no_show` once however often it runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  createVisit,
  eventsOf,
  eventually,
  getVisit,
  listVisits,
  live,
  ticketFor,
  uniqueName,
  type Visit,
} from './helpers.js';

let server: TestServer;
before(async () => {
  // The closing job runs at start only: the tests run it themselves.
  server = await startTestServer({ closeIntervalSeconds: 0 });
});
after(async () => {
  await server.close();
});

const count = async (id: string, type: string) =>
  (await eventsOf(server, id)).filter((e) => e.type === type).length;

async function join(ticket: string): Promise<void> {
  const answer = await live(server, 'join', { ticket });
  assert.equal(answer.status, 200, answer.text);
}

/** Waits until the visit's window closed (its state says so), bounded. */
const closedAs = (visit: Visit, state: string) =>
  eventually(
    () => getVisit(server, visit.id),
    (v) => v.state === state,
    `${visit.id} becomes ${state}`,
    20_000,
  );

describe('waiting, live, ended', () => {
  test('a guest in the lobby: waiting (once per wait); the host joins: live; the host ends it: ended', async () => {
    const subject = uniqueName('arrivals');
    const visit = await createVisit(server, { subject, guests: 2 });
    assert.equal(visit.state, 'open');
    const [guest1, guest2] = await Promise.all(visit.guests.map(ticketFor));
    const host = await ticketFor(visit.hosts[0]!);

    await join(guest1!);
    const waiting = await getVisit(server, visit.id);
    assert.equal(waiting.state, 'waiting');
    assert.ok(waiting.waitingSince, 'since when the guest waits');
    assert.deepEqual(
      (await listVisits(server, { state: 'waiting', q: subject })).items.map((v) => v.id),
      [visit.id],
    );
    assert.equal((await listVisits(server, { state: 'open', q: subject })).total, 0);
    // The same guest again, and a second guest: still one wait.
    await join(guest1!);
    await join(guest2!);
    assert.equal(await count(visit.id, 'visit.waiting'), 1, 'one visit.waiting per wait');
    const event = (await eventsOf(server, visit.id)).find((e) => e.type === 'visit.waiting')!;
    assert.equal(event.actor, 'guest');
    assert.equal(event.data['via'], 'lobby');

    await join(host);
    const started = await getVisit(server, visit.id);
    assert.equal(started.state, 'live');
    assert.equal(started.waitingSince, undefined);
    assert.equal(await count(visit.id, 'visit.live'), 1);
    assert.equal(await count(visit.id, 'visit.started'), 0, 'visit.live replaces visit.started');
    assert.deepEqual(
      (await listVisits(server, { state: 'live', q: subject })).items.map((v) => v.id),
      [visit.id],
    );

    assert.equal((await live(server, 'end', { ticket: host })).status, 200);
    assert.equal((await getVisit(server, visit.id)).state, 'ended');
    assert.equal(await count(visit.id, 'visit.ended'), 1);
  });

  test('the last waiting guest leaving ends the wait; coming back is a second wait', async () => {
    const visit = await createVisit(server, { subject: uniqueName('rewait'), guests: 2 });
    const [guest1, guest2] = await Promise.all(visit.guests.map(ticketFor));
    await join(guest1!);
    await join(guest2!);
    assert.equal((await live(server, 'leave', { ticket: guest1 })).status, 200);
    assert.equal((await getVisit(server, visit.id)).state, 'waiting', 'another guest still waits');
    assert.equal((await live(server, 'leave', { ticket: guest2 })).status, 200);
    assert.equal((await getVisit(server, visit.id)).state, 'open', 'nobody waits');
    await join(guest1!);
    assert.equal((await getVisit(server, visit.id)).state, 'waiting');
    assert.equal(await count(visit.id, 'visit.waiting'), 2);
  });
});

describe('no_show', () => {
  test('nobody joins: no_show missing host and guest; only the guest came: missing host; visit.no_show once', async () => {
    const subject = uniqueName('noshow');
    const nobody = await createVisit(server, { subject, ttl: 3 });
    const guestOnly = await createVisit(server, { subject, ttl: 3 });
    const hostOnly = await createVisit(server, { subject, ttl: 3 });
    const both = await createVisit(server, { subject, ttl: 3 });
    await join(await ticketFor(guestOnly.guests[0]!));
    await join(await ticketFor(hostOnly.hosts[0]!));
    await join(await ticketFor(both.guests[0]!));
    await join(await ticketFor(both.hosts[0]!));
    assert.equal((await getVisit(server, guestOnly.id)).state, 'waiting');

    const a = await closedAs(nobody, 'no_show');
    assert.deepEqual(a.missing, ['host', 'guest']);
    const b = await closedAs(guestOnly, 'no_show');
    assert.deepEqual(b.missing, ['host']);
    const c = await closedAs(hostOnly, 'no_show');
    assert.deepEqual(c.missing, ['guest']);
    const d = await closedAs(both, 'ended');
    assert.equal(d.missing, undefined);
    assert.deepEqual(
      (await listVisits(server, { state: 'no_show', q: subject })).items.map((v) => v.id).sort(),
      [nobody.id, guestOnly.id, hostOnly.id].sort(),
    );
    assert.equal(
      (await listVisits(server, { state: 'expired', q: subject })).total,
      0,
      'local visits are observed',
    );

    // The closing job, run twice (and once more at once): one visit.no_show each, with who was missing.
    const { closer } = server.server;
    await closer.runOnce();
    await Promise.all([closer.runOnce(), closer.runOnce()]);
    for (const [v, missing] of [
      [nobody, ['host', 'guest']],
      [guestOnly, ['host']],
      [hostOnly, ['guest']],
    ] as const) {
      const events = (await eventsOf(server, v.id)).filter((e) => e.type === 'visit.no_show');
      assert.equal(events.length, 1, `${v.id}: one visit.no_show`);
      assert.deepEqual(events[0]!.data['missing'], missing);
      assert.equal(events[0]!.actor, 'system');
    }
    assert.equal(await count(both.id, 'visit.no_show'), 0);
    assert.equal(await count(both.id, 'visit.ended'), 1, 'live when the window closed: visit.ended');
  });
});
