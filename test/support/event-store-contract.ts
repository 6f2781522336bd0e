/**
 * The outbound events' part of the store contract (issue 15 §4), run by storeContract on both
 * backends: fan-out with the event in one transaction, the types filter, stopped subscriptions,
 * leases, order per (subscription, visit), outcomes, disabling, replays and rotation.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { EventRecord, EventSubscriptionRecord, Store } from '../../src/store/types.js';
import { visit } from './store-records.js';

export function eventStoreContract(store: () => Store): void {
  describe('outbound events', () => {
    const org = { id: randomUUID(), name: 'Events clinic', createdAt: 1_795_876_200 };
    const now = 1_900_000_000;
    const sub = (types: EventSubscriptionRecord['types'], more: Partial<EventSubscriptionRecord> = {}) => ({
      id: `sub_${randomUUID().replaceAll('-', '')}`,
      orgId: org.id,
      url: 'https://receiver.example/hook',
      types,
      secret: `whsec_${Buffer.from(randomUUID()).toString('base64')}`,
      createdAt: now,
      consecutiveFailures: 0,
      ...more,
    });
    const ev = (visitId: string | undefined, type: string, at = now): EventRecord => ({
      orgId: org.id,
      ...(visitId ? { visitId } : {}),
      at,
      actor: 'key:k1',
      type,
      data: { subject: 'Jane Doe', n: 1 },
    });
    const pending = async (subscriptionId: string) =>
      (await store().listEventDeliveries(org.id, { subscriptionId, limit: 100 })).filter(
        (d) => d.status === 'pending',
      );
    const never = () => false;

    const a = sub(['visit.created', 'visit.cancelled'], { description: 'EHR' });
    const all = sub('*');
    const opened = sub(['link.opened']);
    const stopped = sub('*');

    before(async () => {
      await store().createOrg(org);
      for (const s of [a, all, opened, stopped]) await store().createEventSubscription(s);
      assert.equal(await store().deleteEventSubscription(org.id, stopped.id, now), true);
      assert.equal(await store().deleteEventSubscription(org.id, stopped.id, now), false, 'once');
    });

    test('subscriptions: create, read back, list; an unsubscribed one says so', async () => {
      assert.deepEqual(await store().getEventSubscription(org.id, a.id), a);
      assert.equal(await store().getEventSubscription(randomUUID(), a.id), undefined, 'another org');
      const listed = await store().listEventSubscriptions(org.id);
      assert.deepEqual(listed.map((s) => s.id).sort(), [a.id, all.id, opened.id, stopped.id].sort());
      const gone = listed.find((s) => s.id === stopped.id)!;
      assert.equal(gone.disabledAt, now);
      assert.equal(gone.disabledReason, 'unsubscribed');
    });

    test('an outbound event fans out with it, by type, to active subscriptions only; a rolled-back event queues nothing', async () => {
      const v = visit(org.id, `vis_${randomUUID()}`);
      await store().createVisit(v, [], ev(v.id, 'visit.created'));
      const by = async (id: string) =>
        (await store().listEventDeliveries(org.id, { subscriptionId: id, visitId: v.id, limit: 10 })).map(
          (d) => d.type,
        );
      assert.deepEqual(await by(a.id), ['visit.created']);
      assert.deepEqual(await by(all.id), ['visit.created']);
      assert.deepEqual(await by(opened.id), [], 'not its type');
      assert.deepEqual(await by(stopped.id), [], 'unsubscribed');
      // Not in the outbound catalogue: recorded, never sent.
      await store().appendEvent(ev(v.id, 'visit.links_added'));
      assert.deepEqual(await by(all.id), ['visit.created']);
      // The same visit again fails inside the transaction: neither event nor delivery stays.
      await assert.rejects(store().createVisit(v, [], ev(v.id, 'visit.created')));
      assert.deepEqual(await by(all.id), ['visit.created']);
      assert.equal((await store().listEvents(org.id, v.id)).length, 2);
      const [d] = await store().listEventDeliveries(org.id, {
        subscriptionId: a.id,
        visitId: v.id,
        limit: 1,
      });
      assert.equal(d!.status, 'pending');
      assert.equal(d!.attempts, 0);
      assert.match(d!.webhookId, /^msg_\w+$/);
      const events = await store().listEvents(org.id, v.id);
      assert.equal(d!.eventId, events[0]!.id);
      const [d2] = await store().listEventDeliveries(org.id, {
        subscriptionId: all.id,
        visitId: v.id,
        limit: 1,
      });
      assert.equal(d2!.eventId, events[0]!.id, 'every subscription gets the same event');
      assert.notEqual(d2!.webhookId, d!.webhookId);
      // Transitions and appended events fan out too.
      await store().transitionVisit(org.id, v.id, ['pending'], 'cancelled', now, ev(v.id, 'visit.cancelled'));
      await store().appendEvent(ev(v.id, 'link.opened'));
      assert.deepEqual(await by(a.id), ['visit.cancelled', 'visit.created']);
      assert.deepEqual(await by(opened.id), ['link.opened']);
      assert.deepEqual(await by(all.id), ['link.opened', 'visit.cancelled', 'visit.created']);
    });

    test('claims lease, keep the order per (subscription, visit), and come back after a crash', async () => {
      // Drain what earlier tests queued, so only this test's visits remain.
      for (const id of [a.id, all.id, opened.id]) {
        for (const d of await pending(id)) {
          await store().recordEventAttempt({
            deliveryId: d.id,
            attempt: { at: now, status: 200, latencyMs: 1 },
            outcome: 'delivered',
            disableWhen: never,
          });
        }
      }
      const v1 = visit(org.id, `vis_${randomUUID()}`);
      const v2 = visit(org.id, `vis_${randomUUID()}`);
      await store().createVisit(v1, [], ev(v1.id, 'visit.created'));
      await store().createVisit(v2, [], ev(v2.id, 'visit.created'));
      await store().appendEvent(ev(v1.id, 'visit.cancelled'));
      const first = await store().claimEventDeliveries(now, 50, 60);
      // a and all: v1's first and v2's first; v1's cancel waits behind v1's create.
      assert.deepEqual(
        first
          .map(
            (j) =>
              `${j.subscriptionId === a.id ? 'a' : 'all'} ${j.event.visitId === v1.id ? 'v1' : 'v2'} ${j.event.type}`,
          )
          .sort(),
        ['a v1 visit.created', 'a v2 visit.created', 'all v1 visit.created', 'all v2 visit.created'],
      );
      const job = first.find((j) => j.subscriptionId === a.id && j.event.visitId === v1.id)!;
      assert.equal(job.url, a.url);
      assert.equal(job.secret, a.secret);
      assert.equal(job.event.actor, 'key:k1');
      assert.deepEqual(job.event.data, { subject: 'Jane Doe', n: 1 });
      assert.equal(job.attempts, 0);
      assert.deepEqual(await store().claimEventDeliveries(now, 50, 60), [], 'leased, and the next ones wait');
      // The lease ends (the worker died): the same deliveries come back, still in order.
      const again = await store().claimEventDeliveries(now + 61, 50, 60);
      assert.deepEqual(again.map((j) => j.id).sort(), first.map((j) => j.id).sort());
      // a's v1 create fails and is retried later: its cancel still waits.
      await store().recordEventAttempt({
        deliveryId: job.id,
        attempt: { at: now + 61, status: 500, latencyMs: 3, error: 'HTTP 500' },
        outcome: 'retry',
        retryAt: now + 200,
        disableWhen: never,
      });
      for (const j of again.filter((j) => j.id !== job.id))
        await store().recordEventAttempt({
          deliveryId: j.id,
          attempt: { at: now + 61, status: 204, latencyMs: 2 },
          outcome: 'delivered',
          disableWhen: never,
        });
      const next = await store().claimEventDeliveries(now + 62, 50, 60);
      assert.deepEqual(
        next.map((j) => `${j.subscriptionId === a.id ? 'a' : 'all'} ${j.event.type}`),
        ['all visit.cancelled'],
        "all's cancel goes; a's waits for its create",
      );
      await store().recordEventAttempt({
        deliveryId: next[0]!.id,
        attempt: { at: now + 62, status: 200, latencyMs: 1 },
        outcome: 'delivered',
        disableWhen: never,
      });
      const retried = await store().claimEventDeliveries(now + 200, 50, 60);
      assert.deepEqual(
        retried.map((j) => j.id),
        [job.id],
      );
      assert.equal(retried[0]!.attempts, 1);
      assert.equal(retried[0]!.firstAttemptAt, now + 61);
      await store().recordEventAttempt({
        deliveryId: job.id,
        attempt: { at: now + 200, status: 200, latencyMs: 4 },
        outcome: 'delivered',
        disableWhen: never,
      });
      const [cancel] = await store().claimEventDeliveries(now + 201, 50, 60);
      assert.equal(cancel?.event.type, 'visit.cancelled');
      assert.equal(cancel?.subscriptionId, a.id);
      const [done] = await store().listEventDeliveries(org.id, {
        subscriptionId: a.id,
        visitId: v1.id,
        status: 'delivered',
        limit: 5,
      });
      assert.equal(done!.id, job.id);
      assert.equal(done!.deliveredAt, now + 200);
      assert.deepEqual(done!.attemptLog, [
        { at: now + 61, status: 500, latencyMs: 3, error: 'HTTP 500' },
        { at: now + 200, status: 200, latencyMs: 4 },
      ]);
      await store().recordEventAttempt({
        deliveryId: cancel!.id,
        attempt: { at: now + 201, status: 200, latencyMs: 1 },
        outcome: 'delivered',
        disableWhen: never,
      });
    });

    test('a replay queues the same delivery again, with the same webhook-id; never a pending one', async () => {
      const [d] = await store().listEventDeliveries(org.id, {
        subscriptionId: a.id,
        status: 'delivered',
        limit: 1,
      });
      assert.ok(d);
      assert.equal(await store().replayEventDelivery(org.id, d.id, now + 300), true);
      assert.equal(await store().replayEventDelivery(org.id, d.id, now + 300), false, 'pending already');
      assert.equal(await store().replayEventDelivery(randomUUID(), d.id, now + 300), false, 'another org');
      const back = await store().getEventDelivery(org.id, d.id);
      assert.equal(back?.status, 'pending');
      assert.equal(back?.webhookId, d.webhookId);
      const [job] = (await store().claimEventDeliveries(now + 300, 50, 60)).filter((j) => j.id === d.id);
      assert.equal(job?.webhookId, d.webhookId);
      await store().recordEventAttempt({
        deliveryId: d.id,
        attempt: { at: now + 300, status: 200, latencyMs: 1 },
        outcome: 'delivered',
        disableWhen: never,
      });
    });

    test('rotation: the new secret signs, the previous one until the grace ends', async () => {
      assert.equal(await store().rotateEventSubscriptionSecret(org.id, a.id, 'whsec_bmV3', now + 3600), true);
      const s = await store().getEventSubscription(org.id, a.id);
      assert.equal(s?.secret, 'whsec_bmV3');
      assert.equal(s?.previousSecret, a.secret);
      assert.equal(s?.previousSecretUntil, now + 3600);
      assert.equal(await store().rotateEventSubscriptionSecret(org.id, stopped.id, 'whsec_eA==', now), false);
    });

    test('a purged visit takes its deliveries and their attempts with its events', async () => {
      const v = { ...visit(org.id, `vis_${randomUUID()}`), expiresAt: 50, createdAt: 10 };
      await store().createVisit(v, [], ev(v.id, 'visit.created', 10));
      const [d] = await store().listEventDeliveries(org.id, { visitId: v.id, limit: 5 });
      assert.ok(d);
      await store().recordEventAttempt({
        deliveryId: d.id,
        attempt: { at: 11, status: 200, latencyMs: 1 },
        outcome: 'delivered',
        disableWhen: never,
      });
      const purged = await store().purgeVisits(100);
      assert.equal(purged.visits, 1);
      assert.deepEqual(await store().listEventDeliveries(org.id, { visitId: v.id, limit: 5 }), []);
      assert.equal(await store().getEventDelivery(org.id, d.id), undefined);
    });

    test('pruning: done deliveries made before the bound go with their attempts; pending and newer ones stay', async () => {
      const v = visit(org.id, `vis_${randomUUID()}`);
      await store().createVisit(v, [], ev(v.id, 'visit.created', 20));
      await store().appendEvent(ev(v.id, 'visit.cancelled', 30));
      await store().appendEvent(ev(v.id, 'visit.cancelled', 5000));
      const mine = async () =>
        (await store().listEventDeliveries(org.id, { subscriptionId: a.id, visitId: v.id, limit: 10 })).sort(
          (x, y) => x.id - y.id,
        );
      const [created, cancelled, late] = await mine();
      assert.ok(created && cancelled && late);
      for (const d of [created, late])
        await store().recordEventAttempt({
          deliveryId: d.id,
          attempt: { at: 40, status: 200, latencyMs: 1 },
          outcome: 'delivered',
          disableWhen: never,
        });
      // `cancelled` stays pending: it is never pruned, however old.
      await store().pruneEventDeliveries(1000, 1);
      await store().pruneEventDeliveries(1000);
      assert.deepEqual(
        (await mine()).map((d) => d.id),
        [cancelled.id, late.id],
      );
      assert.equal(await store().getEventDelivery(org.id, created.id), undefined, 'its attempts went too');
      assert.equal(await store().pruneEventDeliveries(1000), 0);
    });

    test('a subscription that keeps failing is disabled, its pending deliveries fail, and the event goes to the others', async () => {
      const v = visit(org.id, `vis_${randomUUID()}`);
      const failing = sub(['visit.created', 'visit.cancelled']);
      await store().createEventSubscription(failing);
      await store().createVisit(v, [], ev(v.id, 'visit.created', now + 400));
      await store().appendEvent(ev(v.id, 'visit.cancelled', now + 400));
      const rule = (f: { consecutiveFailures: number; failingSince: number }) => f.consecutiveFailures >= 2;
      const [first] = (await store().claimEventDeliveries(now + 400, 50, 60)).filter(
        (j) => j.subscriptionId === failing.id,
      );
      assert.ok(first);
      const fail = (at: number) => ({
        deliveryId: first.id,
        attempt: { at, latencyMs: 5, error: 'connection refused' },
        outcome: 'retry' as const,
        retryAt: at,
        disableWhen: rule,
      });
      assert.deepEqual(await store().recordEventAttempt(fail(now + 400)), { disabled: false });
      assert.equal((await store().getEventSubscription(org.id, failing.id))?.consecutiveFailures, 1);
      assert.equal((await store().getEventSubscription(org.id, failing.id))?.failingSince, now + 400);
      assert.deepEqual(await store().recordEventAttempt(fail(now + 410)), { disabled: true });
      const s = await store().getEventSubscription(org.id, failing.id);
      assert.equal(s?.disabledAt, now + 410);
      assert.match(s?.disabledReason ?? '', /2 in a row/);
      assert.deepEqual(await pending(failing.id), [], 'nothing left to send');
      const [last] = await store().listEventDeliveries(org.id, { subscriptionId: failing.id, limit: 1 });
      assert.equal(last?.status, 'failed');
      assert.equal(last?.lastError, 'subscription disabled');
      const told = (await store().listEventDeliveries(org.id, { subscriptionId: all.id, limit: 100 })).filter(
        (d) => d.type === 'subscription.disabled',
      );
      assert.equal(told.length, 1, "the '*' subscriber hears of it");
      assert.equal(told[0]!.visitId, undefined);
      const [job] = (await store().claimEventDeliveries(now + 420, 50, 60)).filter(
        (j) => j.id === told[0]!.id,
      );
      assert.equal(job?.event.data['subscriptionId'], failing.id);
      assert.equal(
        await store().replayEventDelivery(org.id, first.id, now + 500),
        false,
        'not to a disabled one',
      );
      // A success resets the run of failures.
      await store().recordEventAttempt({
        deliveryId: job!.id,
        attempt: { at: now + 420, status: 200, latencyMs: 1 },
        outcome: 'delivered',
        disableWhen: rule,
      });
      assert.equal((await store().getEventSubscription(org.id, all.id))?.consecutiveFailures, 0);
    });
  });
}
