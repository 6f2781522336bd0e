/**
 * Cancelling a visit (its links refused at once by the pages and the space API), adding links to
 * a visit (same subject, window and space), and links made through /api/v2/joseencrypt recorded
 * as visits grouped by subject, over real HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encrypt, joseBody, nowSeconds } from '../broker/helpers.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  api,
  assertEnvelope,
  assertHtml,
  call,
  createVisit,
  eventsOf,
  getPage,
  getVisit,
  type HttpAnswer,
  type LinkView,
  listVisits,
  live,
  openPage,
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

const space = (cipher: string): Promise<HttpAnswer> =>
  call(`${server.url}/api/v1/space/?int=jose&data=${encodeURIComponent(cipher)}`);

async function spaceId(cipher: string): Promise<string> {
  const answer = await space(cipher);
  assert.equal(answer.status, 200, answer.text);
  return answer.body.spaceId;
}

/** The link's page (through its short link when it has one) is the cancelled page. */
async function assertCancelledPage(link: LinkView) {
  if (link.shortUrl) {
    const redirect = await getPage(link.shortUrl);
    assert.equal(redirect.status, 302, 'a short link still leads to its long page');
    const html = await openPage(link.shortUrl, 410);
    assert.match(html, /cancelled/i);
  }
  const html = assertHtml(await getPage(link.longUrl), 410);
  assert.match(html, /This visit was cancelled/);
  assert.ok(!html.includes(link.cipher), 'the page does not echo the cipher');
}

async function assertRefused(link: LinkView) {
  assertEnvelope(await space(link.cipher), 410, 'ERR_CANCELLED');
  await assertCancelledPage(link);
}

describe('DELETE /api/visits/:id', () => {
  test('cancels: every link of the visit is refused at once, pages and space API alike', async () => {
    const visit = await createVisit(server, { hosts: 1, guests: 2, subject: uniqueName('cancel me') });
    const links = [...visit.hosts, ...visit.guests];
    for (const link of links) assert.equal((await space(link.cipher)).status, 200, 'works before');
    await openPage(visit.guests[0]!.shortUrl!);
    const answer = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.id, visit.id);
    assert.equal(answer.body.state, 'cancelled');
    assert.ok(answer.body.cancelledAt, 'says when');
    assert.equal(answer.body.cancellation.linksStopped, true);
    assert.match(answer.body.cancellation.detail, /\S/);
    for (const link of links) await assertRefused(link);
    // The host's forced-login link too.
    assertHtml(await getPage(visit.hosts[0]!.forcedLoginUrl!), 410);
    assert.equal((await getVisit(server, visit.id)).state, 'cancelled');
    const events = await eventsOf(server, visit.id);
    assert.equal(events.at(-1)!.type, 'visit.cancelled');
    assert.equal(events.at(-1)!.actor, visit.createdBy);
  });

  test('other visits of the server are untouched by a cancellation', async () => {
    const [keep, drop] = await Promise.all([createVisit(server), createVisit(server)]);
    assert.equal((await api(server, 'DELETE', `/api/visits/${drop!.id}`)).status, 200);
    assert.equal((await space(keep!.guests[0]!.cipher)).status, 200);
    await openPage(keep!.guests[0]!.shortUrl!);
    assert.equal((await getVisit(server, keep!.id)).state, 'open');
  });

  test('DELETE with Content-Type: application/json and no body cancels: an empty body is no body', async () => {
    const visit = await createVisit(server);
    for (const body of [undefined, '']) {
      const target = body === undefined ? visit : await createVisit(server);
      const answer = await call(`${server.url}/api/visits/${target.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body } : {}),
      });
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.body.state, 'cancelled');
    }
    const broken = await call(`${server.url}/api/visits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
      body: '{"guests": ',
    });
    assertEnvelope(broken, 400, 'ERR_BAD_JSON');
  });

  test('a second DELETE: 409, and nothing more is recorded', async () => {
    const visit = await createVisit(server);
    assert.equal((await api(server, 'DELETE', `/api/visits/${visit.id}`)).status, 200);
    const count = (await eventsOf(server, visit.id)).length;
    const again = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assertEnvelope(again, 409, 'ERR_CONFLICT');
    assert.match(again.body.message, /already cancelled/);
    assert.equal((await eventsOf(server, visit.id)).length, count);
  });

  test('a scheduled visit and a live one can be cancelled', async () => {
    const scheduled = await createVisit(server, { start: '+2h' });
    assert.equal(scheduled.state, 'scheduled');
    const cancelled = await api(server, 'DELETE', `/api/visits/${scheduled.id}`);
    assert.equal(cancelled.body.state, 'cancelled');
    // A cancelled visit whose window has not opened yet is cancelled, not "come back later".
    await assertRefused(scheduled.guests[0]!);
    await assertRefused(scheduled.hosts[0]!);

    const liveVisit = await createVisit(server);
    const joined = await live(server, 'join', { ticket: await ticketFor(liveVisit.hosts[0]!) });
    assert.equal(joined.body.state, 'live');
    const stopped = await api(server, 'DELETE', `/api/visits/${liveVisit.id}`);
    assert.equal(stopped.status, 200, stopped.text);
    assert.equal(stopped.body.state, 'cancelled');
    await assertRefused(liveVisit.guests[0]!);
  });

  test('an ended visit cannot be cancelled: 409', async () => {
    const visit = await createVisit(server);
    const ticket = await ticketFor(visit.hosts[0]!);
    assert.equal((await live(server, 'join', { ticket })).status, 200);
    const ended = await live(server, 'end', { ticket });
    assert.equal(ended.body.state, 'ended');
    const answer = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assertEnvelope(answer, 409, 'ERR_CONFLICT');
    assert.match(answer.body.message, /ended/);
    assert.equal((await getVisit(server, visit.id)).state, 'ended');
  });

  test('a visit whose window closed (a no-show) cannot be cancelled: 409', async () => {
    const visit = await createVisit(server, { ttl: 2 });
    while (nowSeconds() < visit.expiresAt + 1) await sleep(100);
    assert.equal((await getVisit(server, visit.id)).state, 'no_show');
    const answer = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assertEnvelope(answer, 409, 'ERR_CONFLICT');
    assert.match(answer.body.message, /no-show/);
  });

  test('an unknown visit: 404', async () => {
    assertEnvelope(await api(server, 'DELETE', '/api/visits/vis_noSuchVisit'), 404, 'ERR_NOT_FOUND');
  });
});

describe('POST /api/visits/:id/links', () => {
  test('more guests: same subject and window, same space, indexes continue, counts updated', async () => {
    const visit = await createVisit(server, { subject: uniqueName('add guests'), ttl: '2h' });
    const originalSpace = await spaceId(visit.guests[0]!.cipher);
    const answer = await api(server, 'POST', `/api/visits/${visit.id}/links`, { guests: 2 });
    assert.equal(answer.status, 201, answer.text);
    const grown = answer.body as Visit;
    assert.equal(grown.id, visit.id);
    assert.equal(grown.subject, visit.subject);
    assert.equal(grown.start, visit.start);
    assert.equal(grown.end, visit.end);
    assert.equal(grown.state, 'open');
    assert.deepEqual(grown.counts, { hosts: 1, guests: 3 });
    assert.deepEqual(
      grown.guests.map((l) => l.index),
      [0, 1, 2],
    );
    assert.deepEqual(grown.guests[0], visit.guests[0], 'the first link is unchanged');
    assert.deepEqual(grown.hosts, visit.hosts);
    const added = grown.guests.slice(1);
    assert.equal(new Set(grown.guests.map((l) => l.cipher)).size, 3);
    for (const link of added) {
      assert.equal(link.role, 'guest');
      assert.ok(link.shortUrl, 'short links, like the visit');
      assert.equal(await spaceId(link.cipher), originalSpace, 'the same space');
      const html = await openPage(link.shortUrl);
      assert.match(html, /data-role="guest"/);
    }
    // Stored: a fresh read says the same.
    assert.deepEqual(await getVisit(server, visit.id), grown);
    const events = await eventsOf(server, visit.id);
    assert.equal(events.at(-1)!.type, 'visit.links_added');
    assert.equal(events.at(-1)!.data['guests'], 2);
  });

  test('more hosts: indexes continue and each has a forced-login URL', async () => {
    const visit = await createVisit(server, { hosts: 2, guests: 1 });
    const answer = await api(server, 'POST', `/api/visits/${visit.id}/links`, { hosts: 1, guests: 1 });
    assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(answer.body.counts, { hosts: 3, guests: 2 });
    assert.deepEqual(
      answer.body.hosts.map((l: LinkView) => l.index),
      [0, 1, 2],
    );
    assert.deepEqual(
      answer.body.guests.map((l: LinkView) => l.index),
      [0, 1],
    );
    assert.ok(answer.body.hosts[2].forcedLoginUrl);
    const html = await openPage(answer.body.hosts[2].longUrl);
    assert.match(html, /data-role="host"/);
  });

  test('links added to a scheduled visit keep its window (not open yet)', async () => {
    const visit = await createVisit(server, { start: '2030-06-01T09:00:00Z', ttl: '1h' });
    const answer = await api(server, 'POST', `/api/visits/${visit.id}/links`, { guests: 1 });
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.body.start, '2030-06-01T09:00:00Z');
    assert.equal(answer.body.end, '2030-06-01T10:00:00Z');
    const added = answer.body.guests[1] as LinkView;
    const html = assertHtml(await getPage(added.longUrl), 403);
    assert.match(html, /has not started yet/);
    assertEnvelope(await space(added.cipher), 403, 'ERR_TOKEN_NOT_YET_VALID');
  });

  test('links added to a visit with devices and hostLogin false keep them', async () => {
    const visit = await createVisit(server, {
      devices: ['sip:room@example.com'],
      hostLogin: false,
      vertical: 'gen',
      shortUrls: false,
    });
    const answer = await api(server, 'POST', `/api/visits/${visit.id}/links`, { hosts: 1 });
    assert.equal(answer.status, 201, answer.text);
    const host = answer.body.hosts[1] as LinkView;
    assert.match(host.longUrl, /\/gen\/v1\/talk\?/, 'hostLogin false and vertical gen kept');
    assert.equal(host.shortUrl, undefined, 'no short links, like the visit');
    assert.deepEqual(answer.body.devices, ['sip:room@example.com']);
  });

  test('a cancelled visit: 409 and nothing added', async () => {
    const visit = await createVisit(server);
    assert.equal((await api(server, 'DELETE', `/api/visits/${visit.id}`)).status, 200);
    const answer = await api(server, 'POST', `/api/visits/${visit.id}/links`, { guests: 2 });
    assertEnvelope(answer, 409, 'ERR_CONFLICT');
    assert.deepEqual((await getVisit(server, visit.id)).counts, { hosts: 1, guests: 1 });
  });

  test('an ended visit: 409', async () => {
    const visit = await createVisit(server);
    const ticket = await ticketFor(visit.hosts[0]!);
    await live(server, 'join', { ticket });
    await live(server, 'end', { ticket });
    assertEnvelope(
      await api(server, 'POST', `/api/visits/${visit.id}/links`, { guests: 1 }),
      409,
      'ERR_CONFLICT',
    );
  });

  test('bad bodies: 400 naming the field, nothing added', async () => {
    const visit = await createVisit(server);
    const cases: [unknown, string][] = [
      [{}, 'hosts'],
      [{ hosts: 0, guests: 0 }, 'hosts'],
      [{ guests: 501 }, 'guests'],
      [{ guests: -1 }, 'guests'],
      [{ guests: 'two' }, 'guests'],
      [{ numGuest: 2 }, 'numGuest'],
      [{ guests: 1, subject: 'another' }, 'subject'],
    ];
    for (const [body, path] of cases) {
      const answer = await api(server, 'POST', `/api/visits/${visit.id}/links`, body);
      assertEnvelope(answer, 400, 'ERR_VALIDATION');
      const named = answer.body.errors.map((e: { path: string }) => e.path);
      assert.ok(named.includes(path), `${JSON.stringify(body)} names ${path}: ${answer.text}`);
    }
    const notJson = await call(`${server.url}/api/visits/${visit.id}/links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
      body: '{"guests":',
    });
    assertEnvelope(notJson, 400, 'ERR_BAD_JSON');
    const nullBody = await call(`${server.url}/api/visits/${visit.id}/links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
      body: 'null',
    });
    assertEnvelope(nullBody, 400, 'ERR_VALIDATION');
    assert.deepEqual((await getVisit(server, visit.id)).counts, { hosts: 1, guests: 1 });
    assert.equal((await eventsOf(server, visit.id)).length, 1, 'only visit.created');
  });

  test('an unknown visit: 404', async () => {
    assertEnvelope(
      await api(server, 'POST', '/api/visits/vis_noSuchVisit/links', { guests: 1 }),
      404,
      'ERR_NOT_FOUND',
    );
  });
});

describe('links made through /api/v2/joseencrypt are recorded as visits', () => {
  /** Our key's id, as the visits API records it (`key:<id>`). */
  async function keyId(): Promise<string> {
    const visit = await createVisit(server);
    return visit.createdBy.replace(/^key:/, '');
  }

  test('two calls with the same subject: one visit with both calls\u2019 links; cancelling refuses them all', async () => {
    const sub = uniqueName('jose grouped');
    const first = await encrypt(server, joseBody(sub, { numGuest: 2, provideShortUrls: true }));
    assert.equal(first.status, 200, first.text);
    const second = await encrypt(server, joseBody(sub, { numHost: 1, numGuest: 1 }));
    assert.equal(second.status, 200, second.text);
    const list = await listVisits(server, { q: sub });
    assert.equal(list.total, 1, 'one visit for the subject');
    const visit = list.items[0]!;
    assert.equal(visit.subject, sub);
    assert.equal(visit.createdBy, `joseencrypt:${await keyId()}`);
    assert.equal(visit.source, 'local');
    assert.deepEqual(visit.counts, { hosts: 2, guests: 3 });
    const issued = [first.body, second.body].flatMap((b) => [...b.host, ...b.guest].map((l) => l.cipher));
    const recorded = [...visit.hosts, ...visit.guests].map((l) => l.cipher);
    assert.deepEqual([...recorded].sort(), [...issued].sort(), "both calls' links, each once");
    assert.deepEqual(
      visit.guests.map((l) => l.index),
      [0, 1, 2],
    );
    // The first call's short links are recorded with their URLs.
    const shortGuest = visit.guests.find((l) => l.cipher === first.body.guest[0].cipher)!;
    assert.equal(shortGuest.shortUrl, `${first.body.baseUrl}${first.body.guest[0].short}`);
    const events = await eventsOf(server, visit.id);
    assert.deepEqual(
      events.map((e) => [e.type, e.actor, e.data['via']]),
      [
        ['visit.created', visit.createdBy, 'joseencrypt'],
        ['visit.links_added', visit.createdBy, 'joseencrypt'],
      ],
    );
    const links = [...visit.hosts, ...visit.guests];
    for (const link of links) assert.equal((await space(link.cipher)).status, 200);

    const cancelled = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assert.equal(cancelled.status, 200, cancelled.text);
    for (const link of links) await assertRefused(link);
  });

  test('v1 calls are recorded too', async () => {
    const sub = uniqueName('jose v1');
    const answer = await encrypt(server, joseBody(sub, { numGuest: 2 }), { version: 'v1' });
    assert.equal(answer.status, 200, answer.text);
    const list = await listVisits(server, { q: sub });
    assert.equal(list.total, 1);
    assert.deepEqual(list.items[0]!.counts, { hosts: 1, guests: 2 });
    assert.deepEqual(list.items[0]!.guests.map((l) => l.cipher).sort(), [...answer.body.guest].sort());
  });

  test('a joseencrypt call for the subject of a visit made by the API joins that visit', async () => {
    const visit = await createVisit(server, { subject: uniqueName('api then jose') });
    const answer = await encrypt(server, joseBody(visit.subject, { numHost: 0, numGuest: 1 }));
    assert.equal(answer.status, 200, answer.text);
    const list = await listVisits(server, { q: visit.subject });
    assert.equal(list.total, 1);
    const grown = list.items[0]!;
    assert.equal(grown.id, visit.id);
    assert.deepEqual(grown.counts, { hosts: 1, guests: 2 });
    assert.equal(grown.guests[1]!.cipher, answer.body.guest[0].cipher);
    assert.equal(
      await spaceId(answer.body.guest[0].cipher),
      await spaceId(visit.guests[0]!.cipher),
      'the same space',
    );
  });

  test('after a cancellation, new links for the subject are a new visit that works', async () => {
    const sub = uniqueName('jose after cancel');
    assert.equal((await encrypt(server, joseBody(sub))).status, 200);
    const [old] = (await listVisits(server, { q: sub })).items;
    assert.equal((await api(server, 'DELETE', `/api/visits/${old!.id}`)).status, 200);
    const again = await encrypt(server, joseBody(sub));
    assert.equal(again.status, 200, again.text);
    const list = await listVisits(server, { q: sub });
    assert.equal(list.total, 2);
    const fresh = list.items.find((v) => v.id !== old!.id)!;
    assert.equal(fresh.state, 'open');
    assert.equal(fresh.guests[0]!.cipher, again.body.guest[0].cipher);
    assert.equal((await space(again.body.guest[0].cipher)).status, 200, 'the new link works');
    assertEnvelope(await space(old!.guests[0]!.cipher), 410, 'ERR_CANCELLED');
  });

  test('a refused joseencrypt call records nothing', async () => {
    const sub = uniqueName('jose refused');
    const answer = await encrypt(server, joseBody(sub, { numGuest: 26 }));
    assertEnvelope(answer, 400, 'ERR_VALIDATION');
    assert.equal((await listVisits(server, { q: sub })).total, 0);
  });
});
