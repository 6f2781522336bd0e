/**
 * The pruning job (issue 11, finding 10b): webhook deliveries past their retention, short links
 * past their expiry plus a grace, and expired staff sessions are deleted at start and on an
 * interval, in batches; /metrics counts the rows.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SQLITE_FILE } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { ShortLinkRecord, Store } from '../../src/store/types.js';
import { eventually } from '../support/eventually.js';
import { testFetch } from '../support/inject-fetch.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DAY = 86_400;
const now = () => Math.floor(Date.now() / 1000);

async function seed(store: Store, orgId: string, tag: string): Promise<void> {
  const t = now();
  const link = (code: string, expiresAt: number): ShortLinkRecord => ({
    code,
    orgId,
    cipher: `not-a-real-cipher-${code}`,
    role: 'guest',
    vertical: 'gen',
    hostLogin: false,
    subject: 'Pruned visit',
    expiresAt,
    createdAt: expiresAt - DAY,
  });
  // 1200 old deliveries: more than one batch.
  for (let i = 0; i < 1200; i++) await store.markDelivery(`old-${tag}-${i}`, t - 8 * DAY);
  await store.markDelivery(`fresh-${tag}`, t - 60);
  await store.insertShortLinks([link(`Gone${tag}`, t - 31 * DAY), link(`Late${tag}`, t - 2 * DAY)]);
  const session = (hash: string, expiresAt: number) => ({
    hash,
    orgId,
    apiKeyId: 'k',
    csrf: 'c',
    createdAt: expiresAt - 8 * 3600,
    expiresAt,
  });
  await store.createSession(session(`expired-${tag}`, t - 10));
  await store.createSession(session(`live-${tag}`, t + 3600));
  // Idempotency-Keys first used 25 h ago (expired: they only take room) and a minute ago.
  const key = (name: string, at: number) =>
    store.reserveIdempotencyKey(orgId, name, 'hash', at, {
      visitId: `vis_${name}`,
      owner: 'o',
      leaseUntil: at + 60,
      expiredBefore: at - DAY,
    });
  await key(`old-key-${tag}`, t - 25 * 3600);
  await key(`fresh-key-${tag}`, t - 60);
  // An outbound delivery delivered 8 days ago (pruned with the webhook deliveries' retention), and
  // one as old still pending (never pruned).
  const sub = `sub_prune${tag}`;
  await store.createEventSubscription({
    id: sub,
    orgId,
    url: 'https://receiver.example/hook',
    types: '*',
    secret: 'whsec_cHJ1bmU=',
    createdAt: t - 9 * DAY,
    consecutiveFailures: 0,
  });
  const old = t - 8 * DAY;
  const visitId = `vis_prune${tag}`;
  await store.createVisit(
    {
      id: visitId,
      orgId,
      subject: 'Pruned',
      status: 'pending',
      expiresAt: t + DAY,
      vertical: 'gen',
      hostLogin: false,
      shortUrls: false,
      devices: [],
      source: 'local',
      createdBy: 'test',
      createdAt: old,
      hosts: 1,
      guests: 1,
    },
    [],
    { orgId, visitId, at: old, actor: 'test', type: 'visit.created', data: {} },
  );
  await store.appendEvent({ orgId, visitId, at: old, actor: 'test', type: 'visit.cancelled', data: {} });
  const done = (await store.listEventDeliveries(orgId, { subscriptionId: sub, limit: 5, visitId })).find(
    (d) => d.type === 'visit.created',
  );
  assert.ok(done, 'the delivery its event queued');
  await store.recordEventAttempt({
    deliveryId: done.id,
    attempt: { at: old + 1, status: 200, latencyMs: 1 },
    outcome: 'delivered',
    disableWhen: () => false,
  });
}

describe('pruning at start', () => {
  let server: TestServer;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ic-prune-'));
    // A database written by an earlier run: the rows exist before the server starts.
    const first = await startTestServer({ dataDir, prune: false });
    await seed(first.server.context.store, first.server.context.org.id, 'A');
    await first.close();
    server = await startTestServer({ dataDir });
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('old deliveries, long-expired short links and expired sessions are gone; the rest stays', async () => {
    const pruner = server.server.pruner;
    assert.ok(pruner, 'serve runs a pruning job');
    await eventually(
      () => pruner.stats.runs,
      (runs) => runs >= 1,
      'the first prune',
    );
    assert.deepEqual(
      { ...pruner.stats.pruned },
      { deliveries: 1200, event_deliveries: 1, short_links: 1, sessions: 1, idempotency_keys: 1 },
    );
    const left = await server.server.context.store.listEventDeliveries(server.server.context.org.id, {
      subscriptionId: 'sub_pruneA',
      limit: 5,
    });
    assert.deepEqual(
      left.map((d) => [d.type, d.status]),
      [['visit.cancelled', 'pending']],
      'the pending one stays',
    );
    const store = server.server.context.store;
    assert.equal(await store.markDelivery('old-A-0', now()), true, 'a pruned delivery is forgotten');
    assert.equal(await store.markDelivery('fresh-A', now()), false, 'a recent one is remembered');
    assert.equal(await store.getSession('expired-A'), undefined);
    assert.ok(await store.getSession('live-A'));

    // Past its grace: unknown. Expired two days ago: still found, so the click gets "expired".
    const gone = await testFetch(`${server.url}/visit/GoneA`, { redirect: 'manual' });
    assert.equal(gone.status, 404);
    await gone.arrayBuffer();
    const late = await testFetch(`${server.url}/visit/LateA`, { redirect: 'manual' });
    assert.equal(late.status, 302);
    await late.arrayBuffer();

    const metrics = await (await testFetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /ic_pruned_rows_total\{table="deliveries"\} 1200/);
    assert.match(metrics, /ic_pruned_rows_total\{table="short_links"\} 1/);
    assert.match(metrics, /ic_pruned_rows_total\{table="sessions"\} 1/);
  });

  test('a later run (the interval) prunes what expired since, and never the live rows', async () => {
    const pruner = server.server.pruner!;
    await seed(server.server.context.store, server.server.context.org.id, 'B');
    const before = { ...pruner.stats.pruned };
    await pruner.runOnce();
    assert.equal(pruner.stats.pruned['deliveries']! - before['deliveries']!, 1200);
    assert.equal(pruner.stats.pruned['short_links']! - before['short_links']!, 1);
    assert.equal(pruner.stats.pruned['sessions']! - before['sessions']!, 1);
    assert.ok(await server.server.context.store.getSession('live-B'));
    assert.ok(await server.server.context.store.getShortLink('LateB'));
  });
});

test('a store that fails one task still prunes the others, and the job keeps running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ic-prune-unit-'));
  const store = new SqliteStore(join(dir, SQLITE_FILE));
  try {
    await store.migrate();
    const { Pruner, pruneTasks } = await import('../../src/jobs/prune.js');
    await store.markDelivery('old', 1);
    const errors: string[] = [];
    const tasks = [
      {
        name: 'broken',
        prune: async () => {
          throw new Error('database is locked');
        },
      },
      ...pruneTasks(store),
    ];
    const pruner = new Pruner({ tasks, intervalSeconds: 0, onError: (task) => errors.push(task) });
    await pruner.runOnce();
    assert.deepEqual(errors, ['broken']);
    assert.equal(pruner.stats.pruned['deliveries'], 1);
    assert.equal(pruner.stats.runs, 1);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
