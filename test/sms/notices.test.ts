/**
 * SMS notices end to end over real HTTP on 127.0.0.1: a visit whose recipients have phone numbers
 * sends each its link by SMS through Twilio's Messages API (the Twilio-shaped stub checks the form
 * and Basic auth), within two segments; cancelling sends a cancellation; a number that replied STOP
 * gets nothing more, and its delivery record says why, once, with no retry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { countSegments } from '../../src/domain/sms.js';
import { eventually } from '../support/eventually.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startTwilioStub, type TwilioStub, twilioServerOptions } from '../support/twilio-stub.js';
import { api, createVisit, type Visit } from '../visits/helpers.js';

const WAIT = 20_000; // a hang guard for a loaded machine, never a measure

describe('SMS notices', () => {
  let stub: TwilioStub;
  let server: TestServer;
  let publicUrl: string;

  before(async () => {
    stub = await startTwilioStub();
    const options = await twilioServerOptions(stub);
    publicUrl = options.publicUrl;
    server = await startTestServer({ ...options, jobs: { pollMs: 50, leaseSeconds: 5 } });
  });
  after(async () => {
    await server?.close();
    await stub?.close();
  });

  const deliveries = async (visit: Visit) =>
    (await api(server, 'GET', `/api/visits/${visit.id}/deliveries`)).body.items as {
      channel: string;
      status: string;
      cause: string;
      error?: string;
      providerId?: string;
    }[];

  test('a phone recipient gets the link by SMS, within two segments; a cancel sends a cancellation', async () => {
    const visit = await createVisit(server, {
      subject: 'Follow-up with Dr Müller, cardiology, second floor',
      guests: 1,
      ttl: '30m',
      recipients: [{ role: 'guest', phone: '+14155550111', language: 'es' }],
    });
    const [sms] = await eventually(
      () => stub.messages.filter((m) => m.to === '+14155550111'),
      (list) => list.length === 1,
      'the SMS',
      WAIT,
    );
    assert.equal(sms!.from, '+15005550006');
    const link = visit.guests[0]!.shortUrl ?? visit.guests[0]!.longUrl;
    assert.ok(sms!.body.includes(link), `the whole link in: ${sms!.body}`);
    assert.ok(countSegments(sms!.body).segments <= 2, `at most two segments: ${sms!.body}`);
    assert.equal(sms!.statusCallback, `${publicUrl}/hooks/sms/twilio/status`);
    const sent = await eventually(
      () => deliveries(visit),
      (d) => d.some((x) => x.status === 'queued' || x.status === 'sent'),
      'the delivery record',
      WAIT,
    );
    assert.equal(sent[0]!.channel, 'sms');
    assert.equal(sent[0]!.providerId, sms!.sid);

    assert.equal((await api(server, 'DELETE', `/api/visits/${visit.id}`)).status, 200);
    const both = await eventually(
      () => stub.messages.filter((m) => m.to === '+14155550111'),
      (list) => list.length === 2,
      'the cancellation SMS',
      WAIT,
    );
    assert.ok(!both[1]!.body.includes(link), 'a cancellation carries no link');
  });

  test('a number that replied STOP gets nothing: the delivery fails once, permanently, and says why', async () => {
    const stop = await stub.sendInbound(`${publicUrl}/hooks/sms/twilio/inbound`, '+14155550122', 'STOP');
    assert.equal(stop.status, 200);
    const before = stub.requests;
    const visit = await createVisit(server, {
      guests: 1,
      ttl: '30m',
      recipients: [{ role: 'guest', phone: '+14155550122' }],
    });
    const failed = await eventually(
      () => deliveries(visit),
      (d) => d.some((x) => x.status === 'failed'),
      'the failed delivery',
      WAIT,
    );
    assert.equal(failed.length, 1, 'no retry of a permanent failure');
    assert.match(failed[0]!.error ?? '', /opted out/);
    assert.equal(stub.requests, before, 'Twilio never asked');
    const events = (await api(server, 'GET', `/api/visits/${visit.id}/events`)).body.items as {
      type: string;
    }[];
    assert.ok(events.some((e) => e.type === 'link.delivery_failed'));
  });
});
