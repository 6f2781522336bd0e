import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type BetterSqlite3 from 'better-sqlite3';
import { storeContract } from '../../test/support/store-contract.js';
import { event, link, shortLink, visit } from '../../test/support/store-records.js';
import { SqliteStore, sqliteDriver } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'ic-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

storeContract('SQLite file', async () => new SqliteStore(join(dir, 'store.db')));

async function opened(name: string) {
  const store = new SqliteStore(join(dir, name));
  await store.migrate();
  const org = { id: randomUUID(), name: 'o', createdAt: 1 };
  await store.createOrg(org);
  return { store, org };
}

test('each statement is prepared once: a second round of the same calls prepares nothing', async () => {
  const Driver = sqliteDriver();
  const prepare = Driver.prototype.prepare;
  let prepared = 0;
  Driver.prototype.prepare = function (this: BetterSqlite3.Database, sql: string) {
    prepared += 1;
    return prepare.call(this, sql);
  } as typeof prepare;
  const { store, org } = await opened('once.db');
  try {
    const round = async (i: number) => {
      const visitId = randomUUID();
      const added = link(visitId, 0);
      await store.insertShortLinks([shortLink(org.id, `code${i}`)]);
      await store.createVisit(visit(org.id, visitId), [], event(org.id, visitId));
      await store.addVisitLinks(org.id, visitId, [added], event(org.id, visitId));
      await store.incrementCounter(`k${i}`, 1, 2_000_000_000);
      await store.getVisitLinks(visitId);
      await store.findVisitLinkByCipher(added.cipher);
      await store.transitionVisit(org.id, visitId, ['pending'], 'cancelled', i, event(org.id, visitId));
      await store.listVisits(org.id, { limit: 10, offset: 0, now: i, state: 'cancelled' });
      await store.markDelivery(`d${i}`, i);
      await store.enqueueJob({ type: 't', payload: {}, runAt: i, maxAttempts: 1, dedupKey: `j${i}` });
      await store.claimJobs(i, 10, 5);
      await store.pruneDeliveries(0, 10);
      await store.purgeVisits(0, { limit: 10 });
      await store.brokerKeysVersion();
    };
    await round(1);
    const first = prepared;
    await round(2);
    assert.ok(first > 10, `the first round prepares its statements (${first})`);
    assert.equal(prepared - first, 0, 'the second round reuses every statement');
  } finally {
    Driver.prototype.prepare = prepare;
    await store.close();
  }
});

describe('group commit: the hot writes of one turn of the event loop share one commit', () => {
  test('ten concurrent writes: one commit, each answered after it, all stored', async () => {
    const { store, org } = await opened('group.db');
    try {
      const before = { ...store.writeStats };
      const ids = Array.from({ length: 5 }, () => randomUUID());
      await Promise.all([
        ...ids.map((id) => store.createVisit(visit(org.id, id), [link(id, 0)], event(org.id, id))),
        ...ids.map((id) => store.insertShortLinks([shortLink(org.id, id.slice(0, 8))])),
      ]);
      assert.deepEqual(
        {
          commits: store.writeStats.commits - before.commits,
          writes: store.writeStats.writes - before.writes,
        },
        { commits: 1, writes: 10 },
      );
      for (const id of ids) {
        assert.equal((await store.getVisit(org.id, id))?.id, id);
        assert.equal((await store.getShortLink(id.slice(0, 8)))?.cipher, `cipher-${id.slice(0, 8)}`);
      }
      // Writes awaited one after another are committed one by one.
      await store.insertShortLinks([shortLink(org.id, 'seq-1')]);
      await store.insertShortLinks([shortLink(org.id, 'seq-2')]);
      assert.equal(store.writeStats.commits - before.commits, 3);
    } finally {
      await store.close();
    }
  });

  test('a write that fails in a group is rolled back alone (savepoint) and rejects alone', async () => {
    const { store, org } = await opened('group-fail.db');
    try {
      const id = randomUUID();
      await store.createVisit(visit(org.id, id), [link(id, 0)], event(org.id, id));
      const taken = link(id, 0); // (visit, role, index) already exists: fails after the counts changed
      const results = await Promise.allSettled([
        store.insertShortLinks([shortLink(org.id, 'before')]),
        store.addVisitLinks(org.id, id, [link(id, 1), taken], event(org.id, id)),
        store.addVisitLinks(org.id, randomUUID(), [link(id, 2)], event(org.id, id)),
        store.insertShortLinks([shortLink(org.id, 'after')]),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
      );
      assert.match(String((results[2] as PromiseRejectedResult).reason), /no visit/);
      assert.ok(await store.getShortLink('before'));
      assert.ok(await store.getShortLink('after'));
      // Nothing of the failed write stayed: not its count update, not its first link.
      assert.equal((await store.getVisit(org.id, id))?.guests, 0);
      assert.deepEqual(
        (await store.getVisitLinks(id)).map((l) => l.index),
        [0],
      );
    } finally {
      await store.close();
    }
  });

  test('close() commits what is still queued, and a write after it rejects', async () => {
    const { store, org } = await opened('group-close.db');
    const queued = store.insertShortLinks([shortLink(org.id, 'queued')]);
    await store.close();
    await queued;
    const reopened = new SqliteStore(join(dir, 'group-close.db'));
    try {
      assert.ok(await reopened.getShortLink('queued'), 'the queued write was committed before closing');
    } finally {
      await reopened.close();
    }
    await assert.rejects(store.insertShortLinks([shortLink(org.id, 'late')]));
  });
});

test('a write is answered only once the WAL is on disk (its fsync runs off the main thread)', async () => {
  const syncs: { release: () => void }[] = [];
  const store = new SqliteStore(join(dir, 'wal-sync.db'), {
    walSync: () => new Promise<void>((release) => syncs.push({ release })),
  });
  /** Until an fsync is asked for (bounded: 10 s on a loaded machine). */
  const asked = async () => {
    for (const end = Date.now() + 10_000; syncs.length === 0 && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 5));
  };
  // Each sync waits for the test to let it go.
  const released = async () => {
    await asked();
    syncs.shift()?.release();
  };
  const migrated = store.migrate();
  await released();
  await migrated;
  const org = { id: randomUUID(), name: 'o', createdAt: 1 };
  let answered = false;
  const write = store.createOrg(org).then(() => {
    answered = true;
  });
  await asked();
  assert.equal(syncs.length, 1, 'the commit asked for an fsync of the WAL');
  assert.equal(answered, false, 'not answered while the fsync is in flight');
  // A second write made during that fsync waits for the next one, which covers it.
  let second = false;
  const later = store.createOrg({ ...org, id: randomUUID() }).then(() => {
    second = true;
  });
  syncs.shift()!.release();
  await write;
  assert.equal(answered, true);
  assert.equal(second, false, 'the write made during the first fsync is not covered by it');
  await released();
  await later;
  assert.equal(second, true);
  const closing = store.close();
  await released();
  await closing;
});
