/**
 * GET /api/visits (state, search, time and paging filters), GET /api/visits/:id (404s, another
 * organisation's visits stay invisible) and GET /api/visits/:id/events (who did what, no secret),
 * over real HTTP.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { nowSeconds } from '../broker/helpers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  api,
  assertEnvelope,
  assertNoSecret,
  createVisit,
  eventsOf,
  getVisit,
  listVisits,
  live,
  sleep,
  ticketFor,
  uniqueName,
  type Visit,
} from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const ids = (items: Visit[]) => items.map((v) => v.id).sort();

async function guestJoins(visit: Visit) {
  const answer = await live(server, 'join', { ticket: await ticketFor(visit.guests[0]!) });
  assert.equal(answer.status, 200, answer.text);
}

async function hostJoins(visit: Visit) {
  const answer = await live(server, 'join', { ticket: await ticketFor(visit.hosts[0]!) });
  assert.equal(answer.status, 200, answer.text);
  return answer.body;
}

describe('GET /api/visits filters by state', () => {
  const tag = uniqueName('states');
  const made: Record<string, Visit[]> = {};

  before(async () => {
    const subject = (name: string) => `${tag} ${name}`;
    // Short windows first, so they close while the others are made. Short, but long enough for the
    // host to join one of them on a loaded machine (2 s was not: the join came after the window).
    // Local visits are observed (the lobby sees who comes): a window that closes with nobody is a
    // no-show; `expired` is for visits nobody can see arrive (Cisco's), in the store contract.
    const [noShow, endedByTime] = await Promise.all([
      createVisit(server, { subject: subject('no show'), ttl: 8 }),
      createVisit(server, { subject: subject('ended by time'), ttl: 8 }),
    ]);
    const closes = Math.max(noShow!.expiresAt, endedByTime!.expiresAt);
    await guestJoins(endedByTime!);
    await hostJoins(endedByTime!);
    const [scheduled, open, waiting, liveVisit, ended, cancelled] = await Promise.all([
      createVisit(server, { subject: subject('scheduled'), start: '+1h' }),
      createVisit(server, { subject: subject('open') }),
      createVisit(server, { subject: subject('waiting') }),
      createVisit(server, { subject: subject('live') }),
      createVisit(server, { subject: subject('ended') }),
      createVisit(server, { subject: subject('cancelled') }),
    ]);
    await guestJoins(waiting!);
    await hostJoins(liveVisit!);
    await hostJoins(ended!);
    const end = await live(server, 'end', { ticket: await ticketFor(ended!.hosts[0]!) });
    assert.equal(end.status, 200, end.text);
    const cancel = await api(server, 'DELETE', `/api/visits/${cancelled!.id}`);
    assert.equal(cancel.status, 200, cancel.text);
    // Wait until the short windows have closed (a second of margin for the clock's rounding).
    while (nowSeconds() < closes + 1) await sleep(100);
    Object.assign(made, {
      scheduled: [scheduled!],
      open: [open!],
      waiting: [waiting!],
      live: [liveVisit!],
      ended: [ended!, endedByTime!],
      no_show: [noShow!],
      expired: [],
      cancelled: [cancelled!],
    });
  });

  for (const state of ['scheduled', 'open', 'waiting', 'live', 'ended', 'no_show', 'expired', 'cancelled']) {
    test(`state=${state}`, async () => {
      const list = await listVisits(server, { state, q: tag });
      assert.deepEqual(ids(list.items), ids(made[state]!), `visits in state ${state}`);
      assert.equal(list.total, made[state]!.length);
      for (const visit of list.items) assert.equal(visit.state, state);
      // The visit itself says the same.
      for (const visit of made[state]!) assert.equal((await getVisit(server, visit.id)).state, state);
    });
  }

  test('without a state, every visit of the search', async () => {
    const list = await listVisits(server, { q: tag, limit: 100 });
    assert.equal(list.total, 8);
    assert.deepEqual(ids(list.items), ids(Object.values(made).flat()));
  });

  test('the timestamps of the lifecycle are shown', async () => {
    const liveVisit = await getVisit(server, made['live']![0]!.id);
    assert.ok(liveVisit.startedAt, 'a live visit says when it started');
    assert.equal(liveVisit.endedAt, undefined);
    const ended = await getVisit(server, made['ended']![0]!.id);
    assert.ok(ended.startedAt && ended.endedAt, 'an ended visit says when it started and ended');
    const cancelled = await getVisit(server, made['cancelled']![0]!.id);
    assert.ok(cancelled.cancelledAt, 'a cancelled visit says when');
  });
});

describe('GET /api/visits: search, time and paging', () => {
  test('q searches the subject, case-insensitively, with % and _ taken literally', async () => {
    const tag = uniqueName('Search');
    const [a, b, c] = await Promise.all([
      createVisit(server, { subject: `${tag} Cardiology follow-up` }),
      createVisit(server, { subject: `${tag} cardiology 50%_off` }),
      createVisit(server, { subject: `${tag} Dermatology` }),
    ]);
    assert.deepEqual(ids((await listVisits(server, { q: `${tag} CARDIOLOGY` })).items), ids([a!, b!]));
    assert.deepEqual(ids((await listVisits(server, { q: `${tag.toLowerCase()} derm` })).items), [c!.id]);
    assert.deepEqual(ids((await listVisits(server, { q: `${tag} cardiology 50%` })).items), [b!.id]);
    assert.deepEqual(
      ids((await listVisits(server, { q: `${tag} cardiology 5_%` })).items),
      [],
      '_ is literal',
    );
    const none = await listVisits(server, { q: `${tag} nothing like this` });
    assert.deepEqual(none.items, []);
    assert.equal(none.total, 0);
  });

  test('from and to select the windows that overlap them', async () => {
    const tag = uniqueName('window');
    const at = (iso: string) => Date.parse(iso) / 1000;
    const [first, second, third] = await Promise.all(
      ['2031-03-01', '2031-03-02', '2031-03-03'].map((day, i) =>
        createVisit(server, {
          subject: `${tag} ${i}`,
          start: `${day}T10:00:00Z`,
          end: `${day}T11:00:00Z`,
        }),
      ),
    );
    const between = async (query: Record<string, number>) =>
      ids((await listVisits(server, { q: tag, ...query })).items);
    assert.deepEqual(await between({ from: at('2031-03-01T12:00:00Z') }), ids([second!, third!]));
    assert.deepEqual(await between({ to: at('2031-03-02T12:00:00Z') }), ids([first!, second!]));
    assert.deepEqual(await between({ from: at('2031-03-01T12:00:00Z'), to: at('2031-03-02T12:00:00Z') }), [
      second!.id,
    ]);
    assert.deepEqual(await between({ from: at('2031-03-01T10:30:00Z'), to: at('2031-03-01T10:45:00Z') }), [
      first!.id,
    ]);
    assert.deepEqual(await between({ from: at('2031-04-01T00:00:00Z') }), []);
  });

  test('from and to take the forms start and end take: ISO, local times in timeZone, now and +2h', async () => {
    const tag = uniqueName('window-forms');
    const [early, late] = await Promise.all(
      ['2031-05-01T08:00:00Z', '2031-05-01T16:00:00Z'].map((start, i) =>
        createVisit(server, { subject: `${tag} ${i}`, start, ttl: '1h' }),
      ),
    );
    const between = async (query: Record<string, string>) =>
      ids((await listVisits(server, { q: tag, ...query })).items);
    assert.deepEqual(await between({ from: '2031-05-01T12:00:00Z' }), [late!.id]);
    assert.deepEqual(
      await between({ to: '2031-05-01 12:00', timeZone: 'Europe/Paris' }),
      [early!.id],
      '10:00Z',
    );
    assert.deepEqual(
      await between({ from: '2031-05-01 17:30', timeZone: 'Europe/Paris' }),
      [late!.id],
      '15:30Z',
    );
    assert.deepEqual(await between({ from: '2031-05-01 19:30', timeZone: 'Europe/Paris' }), [], '17:30Z');
    assert.deepEqual(await between({ from: String(Date.parse('2031-05-01T12:00:00Z') / 1000) }), [late!.id]);
    const soon = await createVisit(server, { subject: `${tag} soon`, ttl: '30m' });
    assert.deepEqual(await between({ from: 'now', to: '+2h' }), [soon.id]);
  });

  test('paging: limit, offset and total, newest window first, every visit once', async () => {
    const tag = uniqueName('paging');
    const made: Visit[] = [];
    for (let day = 1; day <= 5; day++) {
      made.push(await createVisit(server, { subject: `${tag} ${day}`, start: `2032-05-0${day}T09:00:00Z` }));
    }
    const seen: string[] = [];
    for (const offset of [0, 2, 4]) {
      const page = await listVisits(server, { q: tag, limit: 2, offset });
      assert.equal(page.total, 5);
      assert.equal(page.limit, 2);
      assert.equal(page.offset, offset);
      assert.equal(page.items.length, offset === 4 ? 1 : 2);
      seen.push(...page.items.map((v) => v.id));
    }
    assert.deepEqual(seen, made.map((v) => v.id).reverse(), 'newest window first, no repeats');
    const past = await listVisits(server, { q: tag, limit: 2, offset: 10 });
    assert.deepEqual(past.items, []);
    assert.equal(past.total, 5);
    const defaults = await listVisits(server, { q: tag });
    assert.equal(defaults.limit, 20);
    assert.equal(defaults.offset, 0);
  });

  test('bad filters: 400 naming each of them', async () => {
    const cases: [string, string[]][] = [
      ['state=finished', ['state']],
      ['state=open&state=live', ['state']],
      ['limit=0', ['limit']],
      ['limit=101', ['limit']],
      ['limit=ten', ['limit']],
      ['offset=-1', ['offset']],
      ['from=yesterday', ['from']],
      ['to=2031-03-01', ['to']],
      ['from=2031-03-01 10:00&timeZone=Mars/Base', ['timeZone']],
      [`q=${'x'.repeat(201)}`, ['q']],
      ['sort=subject', ['sort']],
      ['state=nope&limit=0&from=x&colour=red', ['state', 'limit', 'from', 'colour']],
    ];
    for (const [query, paths] of cases) {
      const answer = await api(server, 'GET', `/api/visits?${query}`);
      assertEnvelope(answer, 400, 'ERR_VALIDATION');
      const named = answer.body.errors.map((e: { path: string }) => e.path);
      for (const path of paths)
        assert.ok(named.includes(path), `${query}: errors name ${path}: ${answer.text}`);
    }
  });
});

describe('GET /api/visits/:id', () => {
  test('an unknown visit, or an id of another style: 404 in the envelope', async () => {
    for (const id of [
      'vis_doesNotExist1',
      randomUUID(),
      `vis_${'a'.repeat(40)}`,
      'vis_bad*chars',
      'VIS_ABC',
      '12345',
      encodeURIComponent('../api/visits'),
    ]) {
      const answer = await api(server, 'GET', `/api/visits/${id}`);
      assertEnvelope(answer, 404, 'ERR_NOT_FOUND');
      const events = await api(server, 'GET', `/api/visits/${id}/events`);
      assertEnvelope(events, 404, 'ERR_NOT_FOUND');
    }
  });

  test("another organisation's visit is invisible: read, list, events, cancel and links all 404", async () => {
    const { store, apiKeys } = server.server.context;
    const other = { id: randomUUID(), name: 'Another organisation', createdAt: nowSeconds() };
    await store.createOrg(other);
    const { key: otherKey } = await apiKeys.create(other, 'other org');
    const theirs = await createVisit(server, { subject: uniqueName('theirs') }, otherKey);
    // Their own key sees it.
    const own = await api(server, 'GET', `/api/visits/${theirs.id}`, undefined, { key: otherKey });
    assert.equal(own.status, 200, own.text);
    // Ours does not.
    assertEnvelope(await api(server, 'GET', `/api/visits/${theirs.id}`), 404, 'ERR_NOT_FOUND');
    assertEnvelope(await api(server, 'GET', `/api/visits/${theirs.id}/events`), 404, 'ERR_NOT_FOUND');
    assertEnvelope(await api(server, 'DELETE', `/api/visits/${theirs.id}`), 404, 'ERR_NOT_FOUND');
    assertEnvelope(
      await api(server, 'POST', `/api/visits/${theirs.id}/links`, { guests: 1 }),
      404,
      'ERR_NOT_FOUND',
    );
    const list = await listVisits(server, { q: theirs.subject });
    assert.equal(list.total, 0);
    // Untouched by the attempts.
    const still = await api(server, 'GET', `/api/visits/${theirs.id}`, undefined, { key: otherKey });
    assert.equal(still.body.state, 'open');
    assert.deepEqual(still.body.counts, { hosts: 1, guests: 1 });
  });
});

describe('methods', () => {
  test('other methods on the visit routes: 405 with Allow, never a 500', async () => {
    const visit = await createVisit(server);
    const put = await api(server, 'PUT', `/api/visits/${visit.id}`, { subject: 'renamed' });
    assertEnvelope(put, 405, 'ERR_METHOD_NOT_ALLOWED');
    const allow = (put.headers.get('allow') ?? '').split(/,\s*/);
    assert.ok(allow.includes('GET') && allow.includes('DELETE'), put.headers.get('allow') ?? '');
    assertEnvelope(await api(server, 'DELETE', '/api/visits'), 405, 'ERR_METHOD_NOT_ALLOWED');
    assertEnvelope(await api(server, 'GET', `/api/visits/${visit.id}/links`), 405, 'ERR_METHOD_NOT_ALLOWED');
    assert.equal((await getVisit(server, visit.id)).subject, visit.subject);
  });
});

describe('GET /api/visits/:id/events', () => {
  test('created, links_added and cancelled, by key:<id>, in order, with no secret', async () => {
    const visit = await createVisit(server, { subject: uniqueName('audit') });
    const actor = visit.createdBy;
    assert.match(actor, /^key:key_/);
    const added = await api(server, 'POST', `/api/visits/${visit.id}/links`, { guests: 2 });
    assert.equal(added.status, 201, added.text);
    const cancelled = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assert.equal(cancelled.status, 200, cancelled.text);
    const answer = await api(server, 'GET', `/api/visits/${visit.id}/events`);
    assert.equal(answer.status, 200, answer.text);
    const events = await eventsOf(server, visit.id);
    assert.deepEqual(
      events.map((e) => e.type),
      ['visit.created', 'visit.links_added', 'visit.cancelled'],
    );
    for (const event of events) {
      assert.equal(event.actor, actor);
      assert.equal(event.visitId, visit.id);
      assert.equal(event.orgId, server.server.context.org.id);
      assert.equal(typeof event.at, 'number');
      assert.ok(event.at >= Date.parse(visit.createdAt) / 1000 && event.at <= nowSeconds());
    }
    assert.equal(events[1]!.data['guests'], 2);
    const everyLink = [...added.body.hosts, ...added.body.guests];
    assert.equal(everyLink.length, 4);
    await assertNoSecret(server, answer.text, everyLink, 'the event log');
    assert.doesNotMatch(answer.text, /cipher|"key"|secret|"token"|ick_/i);
  });
});
