import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createTestDatabase,
  PG_SKIP,
  queryOnce,
  type TestDatabase,
  testDatabaseUrl,
} from '../../test/support/postgres.js';
import type { LiveMessage } from '../visits/live.js';
import { LIVE_CHANNEL, PostgresBus, parseLiveMessage } from './pg-bus.js';

const base = testDatabaseUrl();
const db: TestDatabase | undefined = base ? await createTestDatabase(base) : undefined;
after(async () => {
  await db?.drop();
});

/** Collects the messages a bus hears. */
function heard(bus: PostgresBus): LiveMessage[] {
  const messages: LiveMessage[] = [];
  bus.subscribe((m) => messages.push(m));
  return messages;
}

async function until(ok: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('live messages from the channel: ours are read, anything else is dropped', () => {
  assert.deepEqual(
    parseLiveMessage('{"visitId":"v","kind":"presence","role":"guest","delta":-1,"origin":"o"}'),
    {
      visitId: 'v',
      kind: 'presence',
      role: 'guest',
      delta: -1,
      origin: 'o',
    },
  );
  assert.deepEqual(parseLiveMessage('{"visitId":"v","kind":"state","role":"admin","delta":5}'), {
    visitId: 'v',
    kind: 'state',
  });
  for (const bad of [
    undefined,
    '',
    'not json',
    'null',
    '[]',
    '{"visitId":1,"kind":"state"}',
    '{"visitId":"v"}',
  ])
    assert.equal(parseLiveMessage(bad), undefined, String(bad));
});

describe('PostgresBus (LISTEN/NOTIFY)', { skip: base ? false : PG_SKIP }, () => {
  test('a message published on one bus reaches every bus on the database, itself included, once', async () => {
    const a = await PostgresBus.connect(db!.url);
    const b = await PostgresBus.connect(db!.url);
    try {
      const onA = heard(a);
      const onB = heard(b);
      const message: LiveMessage = {
        visitId: 'vis_1',
        kind: 'presence',
        role: 'guest',
        delta: 1,
        origin: 'a',
      };
      await a.publish(message);
      await until(() => onA.length > 0 && onB.length > 0, 'the message on both buses');
      assert.deepEqual(onB, [message]);
      assert.deepEqual(onA, [message]);
      await b.publish({ visitId: 'vis_2', kind: 'state' });
      await until(() => onA.length === 2, 'the reply on the first bus');
      assert.deepEqual(onA[1], { visitId: 'vis_2', kind: 'state' });
      // Junk on the channel (any client may NOTIFY) is dropped, and what follows still arrives.
      await queryOnce(db!.url, 'SELECT pg_notify($1, $2)', [LIVE_CHANNEL, '{"nope":true}']);
      await b.publish({ visitId: 'vis_3', kind: 'device' });
      await until(() => onA.length === 3, 'the message after the junk');
      assert.equal(onA[2]?.visitId, 'vis_3');
      await sleep(50);
      assert.equal(onB.length, 3, 'each message once');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('unsubscribed and closed buses hear nothing more; close is idempotent', async () => {
    const a = await PostgresBus.connect(db!.url);
    const b = await PostgresBus.connect(db!.url);
    const got: LiveMessage[] = [];
    const stop = b.subscribe((m) => got.push(m));
    await a.publish({ visitId: 'v', kind: 'state' });
    await until(() => got.length === 1, 'the first message');
    stop();
    await a.publish({ visitId: 'v', kind: 'state' });
    await sleep(150);
    assert.equal(got.length, 1);
    await b.close();
    await b.close();
    assert.equal(b.listening, false);
    await a.close();
  });

  test('when the listening connection drops, the bus reconnects by itself and messages flow again', async () => {
    const bus = await PostgresBus.connect(db!.url, { retry: { minMs: 50, maxMs: 200 } });
    const sender = await PostgresBus.connect(db!.url);
    try {
      const got = heard(bus);
      assert.equal(bus.connections, 1);
      const killed = await queryOnce<{ done: boolean }>(
        base!,
        "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE datname = $1 AND application_name = 'instant-connect-live' AND query LIKE 'LISTEN%'",
        [db!.name],
      );
      assert.ok(killed.length >= 1, 'a listening connection was found and ended');
      await until(() => bus.connections >= 2 && bus.listening, 'the bus to reconnect');
      await sender.publish({ visitId: 'after', kind: 'state' });
      await until(() => got.some((m) => m.visitId === 'after'), 'a message after the reconnection');
    } finally {
      await bus.close();
      await sender.close();
    }
  });

  test('connect fails (and does not hang) when the database cannot be reached; no password in the error', async () => {
    const started = Date.now();
    await assert.rejects(PostgresBus.connect('postgres://ic:pw-do-not-show@127.0.0.1:1/x'), (err: Error) => {
      assert.doesNotMatch(`${err.message}`, /pw-do-not-show/);
      return true;
    });
    assert.ok(Date.now() - started < 6000);
  });
});
