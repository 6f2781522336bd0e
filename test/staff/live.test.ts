/**
 * The staff pages update live: GET /staff/events (the session's cookie) streams each change of a
 * visit of the organisation (a guest waiting, going live, a no-show) as `event: visit`, so the list
 * and the visit page change their state badge with no reload (public/staff.js). Real HTTP on
 * 127.0.0.1, a real server-sent event stream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  createVisit,
  eventually,
  getVisit,
  live,
  SseReader as Sse,
  type SseReader,
  ticketFor,
  uniqueName,
} from '../visits/helpers.js';
import { StaffClient } from './helpers.js';

let server: TestServer;
let staff: StaffClient;
before(async () => {
  server = await startTestServer({ closeIntervalSeconds: 0 });
  staff = new StaffClient(server.url);
  await staff.signIn(server.key);
});
after(async () => {
  await server.close();
});

const openStream = () => Sse.open(`${server.url}/staff/events`, { cookie: staff.cookie! });

async function join(ticket: string): Promise<void> {
  const answer = await live(server, 'join', { ticket });
  assert.equal(answer.status, 200, answer.text);
}

const update = (stream: SseReader, id: string, state: string, what: string) =>
  stream.next((f) => f.event === 'visit' && f.json?.id === id && f.json?.state === state, what, 10_000);

describe('the staff pages, live', () => {
  test('the pages mark each state badge with its visit, for the script to update', async () => {
    const visit = await createVisit(server, { subject: uniqueName('badge') });
    const list = await staff.get('/visits?tab=upcoming');
    assert.match(
      list.text,
      new RegExp(`<span class="state ok" data-state="open" data-visit="${visit.id}">open</span>`),
    );
    const page = await staff.get(`/visits/${visit.id}`);
    assert.match(page.text, new RegExp(`data-visit="${visit.id}"`));
    assert.match(page.text, /<script src="\/assets\/staff\.js/);
  });

  test('not signed in: no stream, to the sign-in page', async () => {
    const answer = await fetch(`${server.url}/staff/events`, { redirect: 'manual' });
    assert.equal(answer.status, 303);
    assert.equal(answer.headers.get('location'), '/');
    await answer.body?.cancel();
  });

  test('a guest waiting, the host joining, a no-show: each arrives on the stream', async () => {
    const stream = await openStream();
    try {
      const visit = await createVisit(server, { subject: uniqueName('staff-live') });
      await join(await ticketFor(visit.guests[0]!));
      const waiting = await update(stream, visit.id, 'waiting', 'the waiting guest');
      assert.deepEqual(waiting.json, { id: visit.id, state: 'waiting', label: 'waiting' });
      await join(await ticketFor(visit.hosts[0]!));
      await update(stream, visit.id, 'live', 'the visit going live');

      const nobody = await createVisit(server, { subject: uniqueName('staff-noshow'), ttl: 2 });
      await eventually(
        () => getVisit(server, nobody.id),
        (v) => v.state === 'no_show',
        'the window to close',
        15_000,
      );
      await server.server.closer.runOnce();
      const noShow = await update(stream, nobody.id, 'no_show', 'the no-show');
      assert.deepEqual(noShow.json, {
        id: nobody.id,
        state: 'no_show',
        label: 'no show (nobody came)',
        missing: ['host', 'guest'],
      });
    } finally {
      await stream.close();
    }
  });

  test('a session holds at most 4 streams: the fifth is refused', async () => {
    const streams = await Promise.all(Array.from({ length: 4 }, openStream));
    try {
      const fifth = await fetch(`${server.url}/staff/events`, { headers: { cookie: staff.cookie! } });
      assert.equal(fifth.status, 429);
      await fifth.body?.cancel();
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
    // Closed streams count no more.
    await eventually(
      async () => {
        const again = await fetch(`${server.url}/staff/events`, { headers: { cookie: staff.cookie! } });
        await again.body?.cancel();
        return again.status;
      },
      (status) => status === 200,
      'a stream again once the others closed',
    );
  });
});
