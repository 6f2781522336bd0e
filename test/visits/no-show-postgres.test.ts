/**
 * Two instances on one PostgreSQL database, both running the closing job at once over visits
 * whose window closed: each visit is closed once, and `visit.no_show` is written once, whoever
 * took it. And a guest waiting on A is `waiting` on B, with one `visit.waiting`, however many
 * instances the guest's joins reach.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
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
} from './helpers.js';

const base = testDatabaseUrl();

describe('no-shows and waits across two instances on PostgreSQL', { skip: base ? false : PG_SKIP }, () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    db = await createTestDatabase(base!);
    a = await startTestServer({ databaseUrl: db.url, closeIntervalSeconds: 0 });
    b = await startTestServer({ databaseUrl: db.url, closeIntervalSeconds: 0 });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  test('a guest joining on both instances at once: one wait, seen from both', async () => {
    const visit = await createVisit(a, { subject: uniqueName('pg-wait') });
    const ticket = await ticketFor(visit.guests[0]!);
    const answers = await Promise.all([a, b].map((s) => live(s, 'join', { ticket })));
    for (const answer of answers) assert.equal(answer.status, 200, answer.text);
    assert.equal((await getVisit(b, visit.id)).state, 'waiting');
    assert.equal((await listVisits(a, { state: 'waiting', q: visit.subject })).total, 1);
    assert.equal((await eventsOf(a, visit.id)).filter((e) => e.type === 'visit.waiting').length, 1);
  });

  test('both instances close windows at once: one visit.no_show per visit', async () => {
    const subject = uniqueName('pg-noshow');
    const visits = await Promise.all(Array.from({ length: 6 }, () => createVisit(a, { subject, ttl: 2 })));
    await eventually(
      () => listVisits(b, { state: 'no_show', q: subject }),
      (list) => list.total === visits.length,
      'every window closed',
      20_000,
    );
    await Promise.all([
      a.server.closer.runOnce(),
      b.server.closer.runOnce(),
      a.server.context.visits.closeWindows(1),
      b.server.context.visits.closeWindows(1),
    ]);
    await Promise.all([a.server.closer.runOnce(), b.server.closer.runOnce()]);
    for (const visit of visits) {
      const events = (await eventsOf(b, visit.id)).filter((e) => e.type === 'visit.no_show');
      assert.equal(events.length, 1, `${visit.id}: one visit.no_show`);
      assert.deepEqual(events[0]!.data['missing'], ['host', 'guest']);
    }
  });
});
