/**
 * Outbound visit events over real HTTP (issue 15 §4): a subscriber on 127.0.0.1 verifies every
 * delivery with the `standardwebhooks` package. Visits made and cancelled through the API arrive
 * in order; a replay keeps its webhook-id; a rotation signs with both secrets during the grace; a
 * receiver that is down (refused, then 500) gets everything afterwards, in order, with every
 * attempt recorded; a subscription that keeps failing is disabled and says so; private addresses
 * are refused, at subscribe time, after DNS, and on a redirect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/free-port.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { api, assertEnvelope, createVisit } from '../visits/helpers.js';
import { type Receiver, startReceiver, typesOf } from './receiver.js';

const FAST = { pollMs: 50, retrySchedule: [1], timeoutMs: 5000 };
const WAIT = 20_000; // a hang guard for a loaded machine, never a measure

async function subscribe(server: TestServer, body: Record<string, unknown>) {
  const answer = await api(server, 'POST', '/api/events/subscriptions', body);
  assert.equal(answer.status, 201, answer.text);
  return answer.body as { id: string; secret: string; active: boolean; types: string[] | '*' };
}

async function deliveries(server: TestServer, query: string) {
  const answer = await api(server, 'GET', `/api/events/deliveries?${query}`);
  assert.equal(answer.status, 200, answer.text);
  return answer.body.items as {
    id: number;
    type: string;
    visitId?: string;
    status: string;
    webhookId: string;
    attempts: number;
    attemptLog: { status?: number; latencyMs: number; error?: string }[];
  }[];
}

describe('outbound events to a subscriber on 127.0.0.1', () => {
  let server: TestServer;
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
    server = await startTestServer({
      events: {
        allowPrivate: ['127.0.0.1/32'],
        timing: { ...FAST, disable: { failures: 1000, seconds: 0 } },
      },
    });
  });
  after(async () => {
    await server?.close();
    await receiver?.stop();
  });

  let sub: { id: string; secret: string };
  let created: string;

  test('a visit made and cancelled through the API arrives as visit.created then visit.cancelled, each verified', async () => {
    sub = await subscribe(server, {
      url: receiver.url,
      types: ['visit.created', 'visit.cancelled'],
      description: 'EHR',
    });
    assert.match(sub.secret, /^whsec_[A-Za-z0-9+/=]+$/);
    const listed = await api(server, 'GET', '/api/events/subscriptions');
    assert.equal(listed.status, 200);
    assert.ok(!listed.text.includes(sub.secret), 'the secret is shown once');
    const visit = await createVisit(server, { subject: 'Jane Doe MRN 1234' });
    created = visit.id;
    const cancel = await api(server, 'DELETE', `/api/visits/${visit.id}`);
    assert.equal(cancel.status, 200, cancel.text);
    await eventually(
      () => typesOf(receiver.received, visit.id),
      (t) => t.length >= 2,
      'both deliveries',
      WAIT,
    );
    assert.deepEqual(typesOf(receiver.received, visit.id), ['visit.created', 'visit.cancelled']);
    const mine = receiver.received.filter((r) => r.body.data['visitId'] === visit.id);
    for (const r of mine) {
      receiver.verify(r, sub.secret);
      assert.match(r.id, /^msg_/);
      assert.equal(r.body.data['actor'].startsWith('key:'), true);
      assert.equal(typeof r.body.data['eventId'], 'number');
      assert.ok(!r.raw.includes('Jane Doe'), 'the subject never goes out');
    }
    assert.notEqual(mine[0]!.id, mine[1]!.id);
    assert.throws(() => receiver.verify(mine[0]!, `whsec_${Buffer.alloc(32, 1).toString('base64')}`));
    const listedDeliveries = await deliveries(server, `visit=${visit.id}`);
    assert.deepEqual(
      listedDeliveries.map((d) => [d.type, d.status]),
      [
        ['visit.cancelled', 'delivered'],
        ['visit.created', 'delivered'],
      ],
    );
    assert.equal(listedDeliveries[0]!.attemptLog[0]!.status, 204);
  });

  test('a replay arrives again with the same webhook-id', async () => {
    const [first] = (await deliveries(server, `visit=${created}&status=delivered`)).filter(
      (d) => d.type === 'visit.created',
    );
    assert.ok(first);
    const before = receiver.received.length;
    const replay = await api(server, 'POST', `/api/events/deliveries/${first.id}/replay`);
    assert.equal(replay.status, 202, replay.text);
    await eventually(
      () => receiver.received.length,
      (n) => n > before,
      'the replay',
      WAIT,
    );
    const again = receiver.received[before]!;
    assert.equal(again.id, first.webhookId);
    assert.equal(again.body.type, 'visit.created');
    receiver.verify(again, sub.secret);
    const twice = await api(server, 'POST', '/api/events/deliveries/999999999/replay');
    assert.equal(twice.status, 404, twice.text);
    const bad = await api(server, 'POST', '/api/events/deliveries/abc/replay');
    assert.equal(bad.status, 400, bad.text);
  });

  test('after a rotation deliveries verify with the new secret, and with the old one during the grace only', async () => {
    const rotated = await api(server, 'POST', `/api/events/subscriptions/${sub.id}/rotate`, { grace: '1h' });
    assert.equal(rotated.status, 200, rotated.text);
    const fresh = rotated.body.secret as string;
    assert.notEqual(fresh, sub.secret);
    const visit = await createVisit(server);
    await eventually(
      () => typesOf(receiver.received, visit.id),
      (t) => t.length === 1,
      'the delivery',
      WAIT,
    );
    const during = receiver.received.find((r) => r.body.data['visitId'] === visit.id)!;
    assert.equal(during.signature.split(' ').length, 2, 'two signatures');
    receiver.verify(during, fresh);
    receiver.verify(during, sub.secret);

    const none = await api(server, 'POST', `/api/events/subscriptions/${sub.id}/rotate`, { grace: '0' });
    assert.equal(none.status, 200, none.text);
    const newest = none.body.secret as string;
    const later = await createVisit(server);
    await eventually(
      () => typesOf(receiver.received, later.id),
      (t) => t.length === 1,
      'the delivery',
      WAIT,
    );
    const after = receiver.received.find((r) => r.body.data['visitId'] === later.id)!;
    receiver.verify(after, newest);
    assert.throws(() => receiver.verify(after, fresh), 'the previous secret no longer signs');
    sub = { id: sub.id, secret: newest };
    const badGrace = await api(server, 'POST', `/api/events/subscriptions/${sub.id}/rotate`, {
      grace: 'soon',
    });
    assertEnvelope(badGrace, 400, 'ERR_VALIDATION');
    assert.deepEqual(
      badGrace.body.errors.map((e: { path: string }) => e.path),
      ['grace'],
    );
  });

  test('a receiver that is down (refused, then 500) gets every event afterwards, in order, with every attempt recorded', async () => {
    await receiver.stop();
    const a = await createVisit(server);
    const b = await createVisit(server);
    assert.equal((await api(server, 'DELETE', `/api/visits/${a.id}`)).status, 200);
    await eventually(
      () => deliveries(server, `subscription=${sub.id}&visit=${a.id}`),
      (items) => items.some((d) => d.attemptLog.some((x) => x.error === 'connection refused')),
      'a refused attempt',
      WAIT,
    );
    // Back, but failing: 500s are recorded with their status.
    receiver.status = 500;
    await receiver.start();
    await eventually(
      () => deliveries(server, `subscription=${sub.id}&visit=${a.id}`),
      (items) => items.some((d) => d.attemptLog.some((x) => x.status === 500)),
      'an attempt answered 500',
      WAIT,
    );
    assert.equal((await api(server, 'DELETE', `/api/visits/${b.id}`)).status, 200);
    receiver.status = 204;
    await eventually(
      () => [typesOf(receiver.received, a.id), typesOf(receiver.received, b.id)],
      ([x, y]) => x!.length >= 2 && y!.length >= 2,
      'every event after the outage',
      WAIT,
    );
    for (const id of [a.id, b.id])
      assert.deepEqual(
        typesOf(receiver.received, id),
        ['visit.created', 'visit.cancelled'],
        'in order, once each',
      );
    for (const r of receiver.received.filter((x) => [a.id, b.id].includes(x.body.data['visitId'])))
      receiver.verify(r, sub.secret);
    const [createdA] = (await deliveries(server, `visit=${a.id}`)).filter((d) => d.type === 'visit.created');
    assert.equal(createdA!.status, 'delivered');
    const log = createdA!.attemptLog;
    assert.ok(log.length >= 3, JSON.stringify(log));
    assert.equal(log[0]!.error, 'connection refused');
    assert.equal(log[0]!.status, undefined);
    assert.ok(log.some((x) => x.status === 500 && x.error === 'HTTP 500'));
    assert.equal(log.at(-1)!.status, 204);
    for (const x of log) assert.ok(Number.isInteger(x.latencyMs) && x.latencyMs >= 0);
    const subscription = await api(server, 'GET', `/api/events/subscriptions/${sub.id}`);
    assert.equal(subscription.body.active, true);
    assert.equal(subscription.body.consecutiveFailures, 0, 'a success resets the run of failures');
  });

  test('the types filter: a subscriber of link.opened hears nothing of visits made or cancelled', async () => {
    const other = await startReceiver();
    try {
      const s = await subscribe(server, { url: other.url, types: ['link.opened'] });
      const everything = await subscribe(server, { url: other.url, types: '*' });
      const v = await createVisit(server);
      await eventually(
        () => typesOf(other.received, v.id),
        (t) => t.length === 1,
        'the * delivery',
        WAIT,
      );
      assert.deepEqual(await deliveries(server, `subscription=${s.id}`), []);
      other.verify(other.received[0]!, everything.secret);
      const gone = await api(server, 'DELETE', `/api/events/subscriptions/${everything.id}`);
      assert.equal(gone.status, 200, gone.text);
      assert.equal(gone.body.active, false);
      assert.equal(gone.body.disabledReason, 'unsubscribed');
      const again = await api(server, 'DELETE', `/api/events/subscriptions/${everything.id}`);
      assert.equal(again.status, 404);
    } finally {
      await other.stop();
    }
  });

  test('bad subscriptions are refused with 400 naming the field and the rule', async () => {
    const badTypes = await api(server, 'POST', '/api/events/subscriptions', {
      url: receiver.url,
      types: ['visit.made'],
    });
    assertEnvelope(badTypes, 400, 'ERR_VALIDATION');
    assert.deepEqual(
      badTypes.body.errors.map((e: { path: string }) => e.path),
      ['types'],
    );
    assert.match(badTypes.text, /visit\.created, visit\.cancelled/, 'names the allowed ones');
    const noUrl = await api(server, 'POST', '/api/events/subscriptions', { types: ['visit.created'] });
    assert.equal(noUrl.status, 400);
    assert.match(noUrl.text, /url/);
    const ftp = await api(server, 'POST', '/api/events/subscriptions', {
      url: 'ftp://x.example',
      types: '*',
    });
    assert.equal(ftp.status, 400);
    const noKey = await api(server, 'GET', '/api/events/subscriptions', undefined, { key: null });
    assert.equal(noKey.status, 401);
    const badFilter = await api(server, 'GET', '/api/events/deliveries?status=lost&colour=red');
    assert.equal(badFilter.status, 400);
    assert.match(badFilter.text, /status/);
    assert.match(badFilter.text, /colour/);
  });

  test('private addresses: a literal one outside EVENTS_ALLOW_PRIVATE is refused; a redirect to one fails the attempt', async () => {
    for (const url of [
      'http://127.0.0.2:9/x',
      'http://10.0.0.1/x',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]:9/x',
      'http://[::ffff:127.0.0.2]/x',
      'http://100.64.0.1/x',
      'http://0.0.0.0/x',
      'http://[fd00:ec2::254]/x',
    ]) {
      const answer = await api(server, 'POST', '/api/events/subscriptions', { url, types: '*' });
      assertEnvelope(answer, 400, 'ERR_VALIDATION');
      assert.deepEqual(
        answer.body.errors.map((e: { path: string }) => e.path),
        ['url'],
        url,
      );
      assert.match(answer.text, /EVENTS_ALLOW_PRIVATE/);
    }
    // The receiver on 127.0.0.1 (allowed) redirects to 127.0.0.2 (not allowed): nothing reaches it.
    const target = await startReceiver('127.0.0.2');
    const hop = await startReceiver();
    hop.redirect = target.url;
    try {
      const s = await subscribe(server, { url: hop.url, types: ['visit.created'] });
      const v = await createVisit(server);
      const [d] = await eventually(
        () => deliveries(server, `subscription=${s.id}&visit=${v.id}`),
        (items) => (items[0]?.attemptLog.length ?? 0) > 0,
        'the attempt',
        WAIT,
      );
      assert.match(
        d!.attemptLog[0]!.error ?? '',
        /redirect to http:\/\/127\.0\.0\.2:\d+\/hooks\/visits refused/,
      );
      assert.equal(target.received.length, 0);
      await api(server, 'DELETE', `/api/events/subscriptions/${s.id}`);
    } finally {
      await hop.stop();
      await target.stop();
    }
  });

  test('/metrics counts the deliveries and the failed attempts of the tests above', async () => {
    const text = (await api(server, 'GET', '/metrics', undefined, { key: null })).text;
    const value = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
    const { stats } = server.server.context.eventWorker;
    assert.ok(stats.delivered > 0 && stats.failedAttempts > 0, JSON.stringify(stats));
    assert.equal(value('ic_event_deliveries_total'), stats.delivered);
    assert.equal(value('ic_event_delivery_failures_total'), stats.failedAttempts);
    assert.equal(value('ic_event_subscriptions_disabled_total'), stats.disabled);
  });
});

describe('without EVENTS_ALLOW_PRIVATE', () => {
  test('a literal loopback URL is refused; a host name that resolves to one fails each attempt, and a subscription that keeps failing is disabled with its event', async () => {
    const server = await startTestServer({
      events: { timing: { ...FAST, disable: { failures: 3, seconds: 0 } } },
    });
    try {
      const literal = await api(server, 'POST', '/api/events/subscriptions', {
        url: 'http://127.0.0.1:9/x',
        types: '*',
      });
      assert.equal(literal.status, 400, literal.text);
      assert.match(literal.text, /url/);
      const port = await freePort();
      const s = await subscribe(server, { url: `http://localhost:${port}/x`, types: ['visit.created'] });
      // A second subscriber hears that the first was disabled (it cannot be reached either: it
      // shows in the deliveries list).
      const watcher = await subscribe(server, {
        url: `http://localhost:${port}/watch`,
        types: ['subscription.disabled'],
      });
      for (let i = 0; i < 3; i++) await createVisit(server);
      const subscription = await eventually(
        async () => (await api(server, 'GET', `/api/events/subscriptions/${s.id}`)).body,
        (body) => body.active === false,
        'the subscription to be disabled',
        WAIT,
      );
      assert.match(subscription.disabledReason, /3 in a row/);
      const attempts = (await deliveries(server, `subscription=${s.id}`)).flatMap((d) => d.attemptLog);
      assert.ok(attempts.length >= 3);
      for (const a of attempts) assert.match(a.error ?? '', /resolves to .*EVENTS_ALLOW_PRIVATE/);
      assert.ok((await deliveries(server, `subscription=${s.id}`)).every((d) => d.status === 'failed'));
      const told = await deliveries(server, `subscription=${watcher.id}`);
      assert.deepEqual(
        told.map((d) => d.type),
        ['subscription.disabled'],
      );
      assert.equal(told[0]!.visitId, undefined);
    } finally {
      await server.close();
    }
  });
});
