/**
 * Meeting telemetry of Cisco visits, end to end over real HTTP on 127.0.0.1: server A issues its
 * visits' links at server B (the project's own broker standing in for Cisco's), the Webex emulator
 * plays Webex (spaces titled `Virtual Visit - <sub>`, meetingInfo, meetings and participants, and
 * the signed `meetings`/`meetingParticipants` deliveries to the webhooks `webhook register
 * --meetings` made), and what Webex says shows in A's visits: who joined, live, ended.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { removeDir, runCli, spawnCli, tempDir } from '../cli/run-cli.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/free-port.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  EMULATED_ACCESS,
  signedDelivery,
  startWebexEmulator,
  type WebexEmulator,
} from '../support/webex-emulator.js';
import { api, createVisit, type Visit, type VisitEvent } from '../visits/helpers.js';

const FAST_JOBS = { pollMs: 50, leaseSeconds: 5 } as const;

async function events(server: TestServer, visit: Visit): Promise<VisitEvent[]> {
  const answer = await api(server, 'GET', `/api/visits/${visit.id}/events`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body.items as VisitEvent[];
}

const types = (list: VisitEvent[]) => list.filter((e) => e.actor === 'webex').map((e) => e.type);

async function state(server: TestServer, visit: Visit): Promise<string> {
  return (await api(server, 'GET', `/api/visits/${visit.id}`)).body.state;
}

describe('meeting telemetry by webhooks', () => {
  let webex: WebexEmulator;
  let cisco: TestServer;
  let server: TestServer;
  let target: string;

  before(async () => {
    webex = await startWebexEmulator();
    cisco = await startTestServer();
    server = await startTestServer({
      sockets: true,
      linkSource: { broker: cisco.url, token: cisco.key },
      webex: { token: webex.token, apiUrl: webex.apiUrl, access: EMULATED_ACCESS },
      meetings: { mode: 'webhooks' },
      jobs: FAST_JOBS,
    });
    target = `${server.url}/hooks/webex/meetings`;
    const registered = await runCli(
      ['webhook', 'register', '--meetings', '--org', '--url', target, '--data', server.dataDir, '--json'],
      { env: { WEBEX_TOKEN: webex.token, WEBEX_API_URL: webex.apiUrl } },
    );
    assert.equal(registered.code, 0, registered.stderr);
  });

  after(async () => {
    await server?.close();
    await cisco?.close();
    await webex?.close();
  });

  test('webhook register --meetings makes the four organisation-wide webhooks with one secret', () => {
    const mine = webex.webhooks.filter((w) => w.targetUrl === target);
    assert.deepEqual(mine.map((w) => `${w.resource}/${w.event}`).sort(), [
      'meetingParticipants/joined',
      'meetingParticipants/left',
      'meetings/ended',
      'meetings/started',
    ]);
    assert.ok(mine.every((w) => w.ownedBy === 'org' && w.name.startsWith('instant-connect ')));
    assert.equal(new Set(mine.map((w) => w.secret)).size, 1);
    assert.match(mine[0]!.secret!, /^[0-9a-f]{64}$/);
  });

  test("a Cisco visit: the guest joins, the host joins and it goes live, the meeting's end ends it", async () => {
    const visit = await createVisit(server, { guests: 1, ttl: '30m' });
    assert.equal(visit.source, 'custom');
    const space = webex.addSpace(`Virtual Visit - ${visit.subject}`);
    const meeting = await webex.startMeeting(space.id);
    const guest = await webex.joinMeeting(meeting.id, {
      email: 'patient@example.com',
      displayName: 'Jane Doe',
    });
    await eventually(
      () => events(server, visit),
      (list) => types(list).includes('guest.joined'),
      'the guest joined',
    );
    // A guest in the meeting and no host: the visit is waiting, as a local lobby's would be.
    await eventually(
      () => state(server, visit),
      (s) => s === 'waiting',
      'waiting for the host',
    );
    await webex.joinMeeting(meeting.id, { host: true });
    await eventually(
      () => state(server, visit),
      (s) => s === 'live',
      'live after the host joined',
    );
    await webex.leaveMeeting(meeting.id, guest.id);
    await webex.endMeeting(meeting.id);
    await eventually(
      () => state(server, visit),
      (s) => s === 'ended',
      'ended with the meeting',
    );

    const list = await events(server, visit);
    assert.deepEqual(types(list), [
      'meeting.started',
      'guest.joined',
      'host.joined',
      'guest.left',
      'host.left',
      'visit.ended',
    ]);
    // The arrivals the lobby would record, seen by telemetry: one wait, then live.
    const arrivals = list.filter((e) => e.type === 'visit.waiting' || e.type === 'visit.live');
    assert.deepEqual(
      arrivals.map((e) => [e.type, e.data['via']]),
      [
        ['visit.waiting', 'telemetry'],
        ['visit.live', 'telemetry'],
      ],
    );
    const joined = list.find((e) => e.type === 'guest.joined')!;
    assert.equal(joined.data['participant'], guest.id);
    assert.equal(joined.data['via'], 'webhook');
    // Webex's participant id only: no email, no name in the event log.
    const text = JSON.stringify(list);
    assert.doesNotMatch(text, /patient@example\.com|Jane Doe/);
    // Every delivery was answered at once, and the space was looked up once (the mapping is kept).
    assert.ok(webex.deliveries.filter((d) => d.targetUrl === target).every((d) => d.status === 200));
    assert.equal(webex.callsTo('GET', /^\/rooms$/).length, 1);
    assert.equal(webex.callsTo('GET', /^\/rooms\/[^/]+\/meetingInfo$/).length, 1);
  });

  test('a delivery sent again, or a participant told twice, records nothing more', async () => {
    const visit = await createVisit(server, { guests: 1, ttl: '30m' });
    const space = webex.addSpace(`Virtual Visit - ${visit.subject}`);
    const meeting = await webex.startMeeting(space.id);
    await webex.joinMeeting(meeting.id);
    await eventually(
      () => events(server, visit),
      (l) => types(l).includes('guest.joined'),
      'the join',
    );
    const secret = webex.webhooks.find((w) => w.targetUrl === target)!.secret!;
    const last = webex.deliveries.filter((d) => d.targetUrl === target).at(-1)!;
    const again = await signedDelivery(target, secret, last.body);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { accepted: false, reason: 'duplicate delivery' });
    // The same fact told by another webhook (another delivery envelope) is still one job.
    const retold = await signedDelivery(target, secret, { ...last.body, id: 'another-webhook' });
    assert.deepEqual(retold.body, { accepted: false, reason: 'duplicate delivery' });
    // A person who really joins again (a new join time) is a new fact, but the same person present.
    const data = last.body['data'] as Record<string, unknown>;
    const runner = server.server.context.runner;
    const done = runner.stats.done;
    const rejoined = await signedDelivery(target, secret, {
      ...last.body,
      data: { ...data, joinedTime: new Date(Date.now() + 1000).toISOString() },
    });
    assert.deepEqual(rejoined.body, { accepted: true, reason: 'queued' });
    await eventually(
      () => runner.stats.done - done,
      (n) => n >= 1,
      'the second join handled',
    );
    assert.deepEqual(types(await events(server, visit)), ['meeting.started', 'guest.joined']);
  });

  test("a meeting that is no visit's is ignored, and looked up once, not at every delivery", async () => {
    const runner = server.server.context.runner;
    // A visit whose space Webex has not made yet: deliveries of other meetings make telemetry look.
    const visit = await createVisit(server, { guests: 1, ttl: '30m' });
    const listings = webex.callsTo('GET', /^\/rooms$/).length;
    const done = runner.stats.done;
    const standup = webex.addSpace('Weekly standup');
    const meeting = await webex.startMeeting(standup.id);
    await webex.joinMeeting(meeting.id);
    await webex.joinMeeting(meeting.id);
    await eventually(
      () => runner.stats.done - done,
      (n) => n >= 3,
      'the three deliveries handled',
    );
    assert.equal(
      webex.callsTo('GET', /^\/rooms$/).length - listings,
      1,
      'one look-up for an unknown meeting',
    );
    assert.deepEqual(types(await events(server, visit)), []);

    // Its space comes: its meeting is another series, looked up, and found.
    const space = webex.addSpace(`Virtual Visit - ${visit.subject}`);
    const own = await webex.startMeeting(space.id);
    await webex.joinMeeting(own.id);
    await eventually(
      () => events(server, visit),
      (l) => types(l).includes('guest.joined'),
      'its guest',
    );
    assert.equal(webex.callsTo('GET', /^\/rooms$/).length - listings, 2);
  });

  test('signatures: missing or wrong is 401; a body that is no delivery is 400; other resources are ignored', async () => {
    const secret = webex.webhooks.find((w) => w.targetUrl === target)!.secret!;
    const body = { resource: 'meetings', event: 'started', data: { id: 'm1' } };
    const unsigned = await signedDelivery(target, secret, body, { signature: null });
    assert.equal(unsigned.status, 401);
    assert.equal(unsigned.body.code, 'ERR_UNAUTHORIZED');
    const wrong = await signedDelivery(target, 'not-the-secret', body);
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(wrong.text, new RegExp(secret));
    const bad = await signedDelivery(target, secret, { resource: 'meetings', event: 'started', data: {} });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /data\.id/);
    const noMeeting = await signedDelivery(target, secret, {
      resource: 'meetingParticipants',
      event: 'joined',
      data: { id: 'p1' },
    });
    assert.equal(noMeeting.status, 400);
    assert.match(noMeeting.text, /data\.meetingId/);
    const other = await signedDelivery(target, secret, {
      resource: 'recordings',
      event: 'created',
      data: { id: 'r1' },
    });
    assert.deepEqual(other.body, { accepted: false, reason: 'ignored: recordings/created' });
  });
});

describe('meeting telemetry by polling (US government has no meeting webhooks)', () => {
  let webex: WebexEmulator;
  let cisco: TestServer;
  let server: TestServer;

  before(async () => {
    webex = await startWebexEmulator();
    cisco = await startTestServer();
    server = await startTestServer({
      linkSource: { broker: cisco.url, token: cisco.key },
      // The bot's token is not one the emulator knows: every telemetry call must use the meetings token.
      webex: {
        token: 'a-bot-token-that-cannot-read-meetings',
        apiUrl: webex.apiUrl,
        access: EMULATED_ACCESS,
      },
      // Rounds run when the test says (pollOnce), and once a second besides.
      meetings: { mode: 'poll', pollSeconds: 1, token: webex.token },
      jobs: FAST_JOBS,
    });
  });

  after(async () => {
    await server?.close();
    await cisco?.close();
    await webex?.close();
  });

  test('each round records who came and went, from the participants Webex lists', async () => {
    const telemetry = server.server.context.meetings!;
    assert.equal(telemetry.mode, 'poll');
    const visit = await createVisit(server, { guests: 2, ttl: '30m' });
    const space = webex.addSpace(`Virtual Visit - ${visit.subject}`);
    const meeting = await webex.startMeeting(space.id);
    assert.equal(webex.deliveries.length, 0, 'no webhooks here');
    const guest = await webex.joinMeeting(meeting.id);
    await telemetry.pollOnce();
    assert.deepEqual(types(await events(server, visit)), ['guest.joined']);
    assert.equal(await state(server, visit), 'waiting');
    await telemetry.pollOnce();
    assert.deepEqual(types(await events(server, visit)), ['guest.joined'], 'the same people: nothing new');

    // Someone who came and went between two rounds still came.
    const brief = await webex.joinMeeting(meeting.id);
    await webex.leaveMeeting(meeting.id, brief.id);
    await webex.joinMeeting(meeting.id, { host: true });
    await telemetry.pollOnce();
    const list = await events(server, visit);
    assert.deepEqual(types(list), ['guest.joined', 'guest.joined', 'guest.left', 'host.joined']);
    assert.ok(list.some((e) => e.type === 'visit.live' && e.data['via'] === 'telemetry'));
    assert.ok(list.filter((e) => e.actor === 'webex').every((e) => e.data['via'] === 'poll'));
    assert.equal(await state(server, visit), 'live');

    await webex.leaveMeeting(meeting.id, guest.id);
    // The timer's own rounds see it too.
    await eventually(
      async () => types(await events(server, visit)).filter((t) => t === 'guest.left').length,
      (n) => n === 2,
      'the guest who left, seen by a scheduled round',
      10_000,
    );
  });
});

describe('meeting telemetry off', () => {
  test('a server without it answers 404 on the meeting webhook, and serve leaves local visits alone', async () => {
    const webex = await startWebexEmulator();
    const local = await startTestServer({
      webex: { token: webex.token, apiUrl: webex.apiUrl, access: EMULATED_ACCESS },
      meetings: { mode: 'webhooks' },
    });
    try {
      assert.equal(local.server.context.meetings, undefined, 'local visits have their own lobby');
      const answer = await signedDelivery(`${local.url}/hooks/webex/meetings`, 's', {
        resource: 'meetings',
        event: 'started',
        data: { id: 'm' },
      });
      assert.equal(answer.status, 404);
      assert.match(answer.text, /Meeting telemetry is off/);
    } finally {
      await local.close();
      await webex.close();
    }
  });
});

describe('serve, configured from the environment', () => {
  test('MEETING_TELEMETRY and MEETING_POLL_SECONDS take effect and say so at start; no token is printed', async () => {
    const webex = await startWebexEmulator();
    const cwd = tempDir();
    const port = await freePort();
    const serve = spawnCli(['serve'], {
      cwd,
      env: {
        PORT: String(port),
        DATA_DIR: `${cwd}/data`,
        BROKER: 'https://broker.example.test',
        WEBEX_TOKEN: webex.token,
        WEBEX_API_URL: webex.apiUrl,
        MEETING_TELEMETRY: 'poll',
        MEETING_POLL_SECONDS: '3600',
        WEBEX_MEETINGS_TOKEN: 'meetings-token-that-webex-refuses',
      },
    });
    try {
      await serve.waitFor(/meetings:\s+polling participants every 3600 s/, 20_000);
      assert.doesNotMatch(serve.stdout() + serve.stderr(), /meetings-token-that-webex-refuses/);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
      removeDir(cwd);
      await webex.close();
    }
  });
});
