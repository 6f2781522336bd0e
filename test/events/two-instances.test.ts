/**
 * Two instances on one PostgreSQL database, both sending (issue 15 §4): deliveries are leased with
 * FOR UPDATE SKIP LOCKED, so no delivery is sent twice at once, and the order per (subscription,
 * visit) holds whichever instance sends. Visits are made on one instance and cancelled on the other.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../support/eventually.js';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { api, createVisit } from '../visits/helpers.js';
import { type Receiver, startReceiver, typesOf } from './receiver.js';

const base = testDatabaseUrl();
const EVENTS = { allowPrivate: ['127.0.0.1/32'], timing: { pollMs: 20, retrySchedule: [1] } } as const;
const VISITS = 12;

let db: TestDatabase;
let a: TestServer;
let b: TestServer;
let receiver: Receiver;

before(async () => {
  if (!base) return;
  db = await createTestDatabase(base);
  receiver = await startReceiver();
  a = await startTestServer({
    databaseUrl: db.url,
    events: { ...EVENTS, allowPrivate: [...EVENTS.allowPrivate] },
  });
  b = await startTestServer({
    databaseUrl: db.url,
    events: { ...EVENTS, allowPrivate: [...EVENTS.allowPrivate] },
  });
});
after(async () => {
  await a?.close();
  await b?.close();
  await receiver?.stop();
  await db?.drop();
});

test('two instances send each delivery once, in order per visit', {
  skip: base ? false : PG_SKIP,
}, async () => {
  const made = await api(a, 'POST', '/api/events/subscriptions', {
    url: receiver.url,
    types: ['visit.created', 'visit.cancelled'],
  });
  assert.equal(made.status, 201, made.text);
  const secret = made.body.secret as string;
  const ids: string[] = [];
  for (let i = 0; i < VISITS; i++) {
    const [maker, canceller] = i % 2 === 0 ? [a, b] : [b, a];
    const v = await createVisit(maker);
    const c = await api(canceller, 'DELETE', `/api/visits/${v.id}`);
    assert.equal(c.status, 200, c.text);
    ids.push(v.id);
  }
  await eventually(
    () => receiver.received.length,
    (n) => n >= VISITS * 2,
    'every delivery',
    30_000,
  );
  for (const id of ids)
    assert.deepEqual(typesOf(receiver.received, id), ['visit.created', 'visit.cancelled'], id);
  const webhookIds = receiver.received.map((r) => r.id);
  assert.equal(new Set(webhookIds).size, webhookIds.length, 'no delivery sent twice');
  for (const r of receiver.received) receiver.verify(r, secret);
  // Each instance counts a delivery once its attempt is recorded (just after the receiver has it).
  const sent = () =>
    a.server.context.eventWorker.stats.delivered + b.server.context.eventWorker.stats.delivered;
  await eventually(sent, (n) => n >= VISITS * 2, 'every attempt recorded', 30_000);
  assert.equal(sent(), VISITS * 2, 'each delivery sent by one instance, once');
});
