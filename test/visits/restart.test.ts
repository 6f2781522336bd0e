/**
 * Durability over a real restart (same data directory, new process state): visits keep their
 * state, links and event log; their links still open the visit page; a page's ticket still works;
 * cancelled visits stay cancelled.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
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
  type LinkView,
  live,
  liveStatus,
  openPage,
  ticketFor,
  ticketOf,
  uniqueName,
} from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

/** A stored link's URL on the restarted server (port 0 gives it a new port). */
const onServer = (url: string) => {
  const u = new URL(url);
  return `${server.url}${u.pathname}${u.search}`;
};

const space = (cipher: string) =>
  call(`${server.url}/api/v1/space/?int=jose&data=${encodeURIComponent(cipher)}`);

test('visits survive a restart: state, links, events, and their links still open the page', async () => {
  const tag = uniqueName('durable');
  const open = await createVisit(server, {
    subject: `${tag} open`,
    guests: 2,
    devices: ['sip:room@example.com'],
  });
  const added = await api(server, 'POST', `/api/visits/${open.id}/links`, { guests: 1 });
  assert.equal(added.status, 201, added.text);
  const scheduled = await createVisit(server, { subject: `${tag} scheduled`, start: '2030-01-15T09:00:00Z' });
  const liveVisit = await createVisit(server, { subject: `${tag} live`, devices: ['sip:room@example.com'] });
  const hostTicket = await ticketFor(liveVisit.hosts[0]!);
  assert.equal((await live(server, 'join', { ticket: hostTicket })).status, 200);
  const guestTicket = await ticketFor(liveVisit.guests[0]!);
  const cancelled = await createVisit(server, { subject: `${tag} cancelled` });
  assert.equal((await api(server, 'DELETE', `/api/visits/${cancelled.id}`)).status, 200);
  const ended = await createVisit(server, { subject: `${tag} ended` });
  const endTicket = await ticketFor(ended.hosts[0]!);
  await live(server, 'join', { ticket: endTicket });
  await live(server, 'end', { ticket: endTicket });

  const visits = [open, scheduled, liveVisit, cancelled, ended];
  const before = new Map<string, { view: unknown; events: unknown }>();
  for (const v of visits) {
    before.set(v.id, { view: await getVisit(server, v.id), events: await eventsOf(server, v.id) });
  }
  const list = await api(server, 'GET', `/api/visits?q=${encodeURIComponent(tag)}`);
  const oldUrl = server.url;

  await server.restart();
  assert.notEqual(server.url, oldUrl, 'a new server (new port)');

  for (const v of visits) {
    assert.deepEqual(await getVisit(server, v.id), before.get(v.id)!.view, `${v.subject}: the same visit`);
    assert.deepEqual(await eventsOf(server, v.id), before.get(v.id)!.events, `${v.subject}: the same events`);
  }
  assert.deepEqual((await api(server, 'GET', `/api/visits?q=${encodeURIComponent(tag)}`)).body, list.body);
  assert.deepEqual(
    ['open', 'scheduled', 'live', 'cancelled', 'ended'],
    await Promise.all(visits.map(async (v) => (await getVisit(server, v.id)).state)),
  );

  // Every link of the open visit, the added one included, still opens its page, through its short link.
  const grown = await getVisit(server, open.id);
  assert.equal(grown.guests.length, 3);
  for (const link of [...grown.hosts, ...grown.guests] as LinkView[]) {
    const html = await openPage(onServer(link.shortUrl!));
    assert.match(html, new RegExp(`data-role="${link.role}"`));
    assert.match(html, /data-state="open"/);
    ticketOf(html);
    assert.equal((await space(link.cipher)).status, 200);
  }
  // The live visit: the pages say live; tickets issued before the restart still work.
  const guestHtml = await openPage(onServer(liveVisit.guests[0]!.longUrl));
  assert.match(guestHtml, /data-state="live"/);
  const status = await liveStatus(server, guestTicket);
  assert.equal(status.state, 'live');
  assert.equal(status.admitted, true);
  assert.deepEqual(status.devices, [{ uri: 'sip:room@example.com', status: 'connected' }]);
  assert.equal(status.guestsPresent, 0, 'no ghost presence from before the restart');
  assert.equal((await live(server, 'join', { ticket: guestTicket })).status, 200);
  // The scheduled visit is still not open; the cancelled one is still refused; the ended one ended.
  assert.match(assertHtml(await getPage(onServer(scheduled.guests[0]!.longUrl)), 403), /has not started yet/);
  assert.match(assertHtml(await getPage(onServer(cancelled.guests[0]!.longUrl)), 410), /cancelled/);
  assertEnvelope(await space(cancelled.guests[0]!.cipher), 410, 'ERR_CANCELLED');
  assertEnvelope(await api(server, 'DELETE', `/api/visits/${cancelled.id}`), 409, 'ERR_CONFLICT');
  assert.match(await openPage(onServer(ended.guests[0]!.longUrl)), /data-state="ended"/);
  // And the service keeps working on the same data: more links, same space.
  const more = await api(server, 'POST', `/api/visits/${open.id}/links`, { guests: 1 });
  assert.equal(more.status, 201, more.text);
  assert.deepEqual(
    more.body.guests.map((l: LinkView) => l.index),
    [0, 1, 2, 3],
  );
  const spaceOf = async (cipher: string) => (await space(cipher)).body.spaceId;
  assert.equal(await spaceOf(more.body.guests[3].cipher), await spaceOf(open.guests[0]!.cipher));
});
