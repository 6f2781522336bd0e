/**
 * A Cisco visit, live, end to end over real HTTP on 127.0.0.1 (issue 15's first test): server A
 * issues its links at server B (standing in for Cisco's broker) and hands them out through its
 * gateway; the Webex emulator is Webex (the bot's messages, spaces, meetings and their signed
 * deliveries); a subscriber verifies A's outbound events with `standardwebhooks`.
 *
 * The guest opens the gateway link and waits; the host who asked hears of it 1:1 with the host
 * link; the host joins the meeting and the visit goes live; the meeting ends and so does the visit.
 * Another visit that nobody comes to ends as a no-show, missing both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../cli/run-cli.js';
import { type Receiver, startReceiver, typesOf } from '../events/receiver.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/free-port.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { EMULATED_ACCESS, startWebexEmulator, type WebexEmulator } from '../support/webex-emulator.js';
import { api, call, createVisit, type LinkView, type Visit, type VisitEvent } from './helpers.js';

type GatewayVisit = Omit<Visit, 'hosts' | 'guests'> & {
  hosts: (LinkView & { gatewayUrl?: string })[];
  guests: (LinkView & { gatewayUrl?: string })[];
  missing?: string[];
};

const WAIT = 20_000; // a hang guard for a loaded machine, never a measure

describe('a Cisco visit, live', () => {
  let webex: WebexEmulator;
  let cisco: TestServer;
  let server: TestServer;
  let receiver: Receiver;
  let secret: string;

  before(async () => {
    webex = await startWebexEmulator();
    receiver = await startReceiver();
    cisco = await startTestServer();
    const port = await freePort();
    server = await startTestServer({
      sockets: true,
      port,
      publicUrl: `http://127.0.0.1:${port}`,
      linkSource: { broker: cisco.url, token: cisco.key },
      webex: { token: webex.token, apiUrl: webex.apiUrl, access: EMULATED_ACCESS },
      meetings: { mode: 'webhooks' },
      alerts: { waitingSeconds: 1 },
      jobs: { pollMs: 50, leaseSeconds: 5 },
      events: { allowPrivate: ['127.0.0.1/32'], timing: { pollMs: 50, retrySchedule: [1], timeoutMs: 5000 } },
      closeIntervalSeconds: 1,
    });
    const registered = await runCli(
      [
        'webhook',
        'register',
        '--meetings',
        '--url',
        `${server.url}/hooks/webex/meetings`,
        '--data',
        server.dataDir,
      ],
      { env: { WEBEX_TOKEN: webex.token, WEBEX_API_URL: webex.apiUrl } },
    );
    assert.equal(registered.code, 0, registered.stderr);
    const sub = await api(server, 'POST', '/api/events/subscriptions', { url: receiver.url, types: '*' });
    assert.equal(sub.status, 201, sub.text);
    secret = sub.body.secret;
  });

  after(async () => {
    await server?.close();
    await cisco?.close();
    await receiver?.stop();
    await webex?.close();
  });

  const visitOf = async (id: string) => (await api(server, 'GET', `/api/visits/${id}`)).body as GatewayVisit;
  const eventsOf = async (id: string) =>
    (await api(server, 'GET', `/api/visits/${id}/events`)).body.items as VisitEvent[];

  test('the guest opens the gateway link and waits, the host hears of it, joins, and the meeting ends the visit', async () => {
    const doctor = webex.addPerson();
    const email = doctor.emails[0]!;
    const visit = (await createVisit(server, { guests: 1, ttl: '30m', alertTo: email })) as GatewayVisit;
    const guestUrl = visit.guests[0]!.gatewayUrl!;
    const hostUrl = visit.hosts[0]!.gatewayUrl!;
    assert.ok(guestUrl.startsWith(`${server.url}/visit/`), guestUrl);

    // The guest opens the link: redirected to "Cisco", and now waiting.
    const opened = await call(guestUrl, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(opened.status, 302);
    assert.ok(opened.headers.get('location')?.startsWith(cisco.url));
    assert.equal((await visitOf(visit.id)).state, 'waiting');

    // The host who asked hears of it, 1:1, with the host link and no guest link.
    const [alert] = await webex.waitForMessages((m) => m.toPersonEmail === email, 1, 'the alert', WAIT);
    const text = alert!.markdown ?? alert!.text ?? '';
    assert.ok(text.includes(hostUrl), text);
    for (const leak of [guestUrl, visit.guests[0]!.cipher, visit.guests[0]!.longUrl])
      assert.ok(!text.includes(leak), 'no guest link in the alert');

    // The meeting at Cisco: the guest is in it, the host joins (live), then it ends (ended).
    const space = webex.addSpace(`Virtual Visit - ${visit.subject}`);
    const meeting = await webex.startMeeting(space.id);
    await webex.joinMeeting(meeting.id);
    await webex.joinMeeting(meeting.id, { host: true });
    await eventually(
      async () => (await visitOf(visit.id)).state,
      (s) => s === 'live',
      'live',
      WAIT,
    );
    await webex.endMeeting(meeting.id);
    await eventually(
      async () => (await visitOf(visit.id)).state,
      (s) => s === 'ended',
      'ended',
      WAIT,
    );

    const types = (await eventsOf(visit.id)).map((e) => e.type);
    for (const type of [
      'link.opened',
      'visit.waiting',
      'alert.sent',
      'host.joined',
      'visit.live',
      'visit.ended',
    ])
      assert.ok(types.includes(type), `${type} in ${types.join(', ')}`);
    assert.equal(
      types.filter((t) => t === 'visit.waiting').length,
      1,
      'one wait: the meeting join is the same guest',
    );

    // The subscriber heard it all, in order, every delivery verified by the specification's library.
    const heard = await eventually(
      () => typesOf(receiver.received, visit.id),
      (t) => t.includes('visit.ended'),
      'the outbound visit.ended',
      WAIT,
    );
    const order = [
      'visit.created',
      'link.opened',
      'visit.waiting',
      'host.joined',
      'visit.live',
      'visit.ended',
    ];
    assert.deepEqual(
      heard.filter((t) => order.includes(t)),
      order,
    );
    for (const r of receiver.received) receiver.verify(r, secret);
  });

  test('a visit nobody comes to ends as a no-show, missing host and guest, told once', async () => {
    const visit = (await createVisit(server, { guests: 1, ttl: '3s' })) as GatewayVisit;
    const closed = await eventually(
      () => visitOf(visit.id),
      (v) => v.state === 'no_show',
      'the no-show',
      WAIT,
    );
    assert.deepEqual(closed.missing, ['host', 'guest']);
    await eventually(
      () => typesOf(receiver.received, visit.id),
      (t) => t.includes('visit.no_show'),
      'the outbound visit.no_show',
      WAIT,
    );
    const noShows = (await eventsOf(visit.id)).filter((e) => e.type === 'visit.no_show');
    assert.equal(noShows.length, 1);
    assert.deepEqual(noShows[0]!.data['missing'], ['host', 'guest']);
  });
});
