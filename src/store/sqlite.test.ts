import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type BetterSqlite3 from 'better-sqlite3';
import { storeContract } from '../../test/support/store-contract.js';
import { SqliteStore, sqliteDriver } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'ic-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

storeContract('SQLite file', async () => new SqliteStore(join(dir, 'store.db')));

test('each statement is prepared once: a second round of the same calls prepares nothing', async () => {
  const Driver = sqliteDriver();
  const prepare = Driver.prototype.prepare;
  let prepared = 0;
  Driver.prototype.prepare = function (this: BetterSqlite3.Database, sql: string) {
    prepared += 1;
    return prepare.call(this, sql);
  } as typeof prepare;
  const store = new SqliteStore(join(dir, 'once.db'));
  try {
    await store.migrate();
    const org = { id: randomUUID(), name: 'o', createdAt: 1 };
    await store.createOrg(org);
    const round = async (i: number) => {
      const visitId = randomUUID();
      const link = { visitId, role: 'guest' as const, index: 0, cipher: `c${i}`, longUrl: 'https://l' };
      const event = { orgId: org.id, visitId, at: i, actor: 'system', type: 't', data: {} };
      await store.insertShortLinks([
        {
          code: `code${i}`,
          orgId: org.id,
          cipher: 'c',
          role: 'guest',
          vertical: 'hc',
          hostLogin: false,
          subject: 's',
          expiresAt: 2_000_000_000,
          createdAt: i,
        },
      ]);
      await store.createVisit(
        {
          id: visitId,
          orgId: org.id,
          subject: 's',
          status: 'pending',
          expiresAt: 2_000_000_000,
          vertical: 'hc',
          hostLogin: false,
          shortUrls: false,
          devices: [],
          source: 'local',
          createdBy: 'test',
          createdAt: i,
          hosts: 0,
          guests: 0,
        },
        [],
        event,
      );
      await store.addVisitLinks(org.id, visitId, [link], event);
      await store.incrementCounter(`k${i}`, 1, 2_000_000_000);
      await store.getVisitLinks(visitId);
      await store.findVisitLinkByCipher(`c${i}`);
      await store.transitionVisit(org.id, visitId, ['pending'], 'cancelled', i, event);
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
