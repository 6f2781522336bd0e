import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import {
  createTestDatabase,
  PG_SKIP,
  queryOnce,
  type TestDatabase,
  testDatabaseUrl,
} from '../../test/support/postgres.js';
import { storeContract } from '../../test/support/store-contract.js';
import type { InstantConnectError } from '../errors.js';
import { openStore } from './open.js';
import { numbered, PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';

const base = testDatabaseUrl();
const skip = base ? undefined : PG_SKIP;
const databases: TestDatabase[] = [];
const fresh = async () => {
  const db = await createTestDatabase(base!);
  databases.push(db);
  return db;
};
after(async () => {
  for (const db of databases) await db.drop();
});

// The same suite as SQLite's, on a database of its own.
const contractDb = base ? await fresh() : undefined;
storeContract('PostgreSQL', async () => new PostgresStore(contractDb!.url), skip ? { skip } : {});

test('placeholders: ? numbered from $1 (or a given start), quoted ? kept', () => {
  assert.equal(numbered("a = ? AND b LIKE ? ESCAPE '\\'"), "a = $1 AND b LIKE $2 ESCAPE '\\'");
  assert.equal(numbered("x = '?' OR y = ?", 3), "x = '?' OR y = $3");
});

describe('PostgreSQL store', { skip: skip ?? false }, () => {
  test('instances starting at once on an empty database: each migration applied once, one organisation', async () => {
    const db = await fresh();
    const stores = Array.from({ length: 4 }, () => new PostgresStore(db.url));
    try {
      await Promise.all(stores.map((s) => s.ping())); // connected: the migrations below really race
      await Promise.all(stores.map((s) => s.migrate()));
      const rows = await queryOnce<{ version: number; n: string }>(
        db.url,
        'SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version ORDER BY version',
      );
      assert.ok(rows.length >= 3);
      assert.deepEqual(
        rows.map((r) => [r.version, Number(r.n)]),
        rows.map((_, i) => [i + 1, 1]),
      );
      // And they start at once: one default organisation, the same for every instance.
      const started = await Promise.all(
        stores.map((s, i) =>
          s.ensureDefaultOrg(() => ({ id: `org-${i}`, name: `Clinic ${i}`, createdAt: 1 })),
        ),
      );
      assert.equal(started.filter((r) => r.created).length, 1, 'one instance made it');
      assert.equal(new Set(started.map((r) => r.org.id)).size, 1, 'every instance uses it');
      const rowsOrgs = await queryOnce<{ n: string }>(db.url, 'SELECT COUNT(*) AS n FROM orgs');
      assert.equal(Number(rowsOrgs[0]?.n), 1);
      await Promise.all(stores.map((s) => s.migrate())); // and again: nothing to do
      const again = await queryOnce<{ n: string }>(db.url, 'SELECT COUNT(*) AS n FROM schema_migrations');
      assert.equal(Number(again[0]?.n), rows.length);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('the same versioned migrations as SQLite: same versions, same tables and columns', async () => {
    const db = await fresh();
    const pgStore = new PostgresStore(db.url);
    const dir = mkdtempSync(join(tmpdir(), 'ic-pg-sqlite-'));
    try {
      await pgStore.migrate();
      const sqlite = new SqliteStore(join(dir, 'x.db'));
      await sqlite.migrate();
      await sqlite.close();
      const lite = new Database(join(dir, 'x.db'), { readonly: true });
      const liteVersions = lite.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as {
        version: number;
      }[];
      const liteColumns = (
        lite
          .prepare(
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
          )
          .all() as { t: string; c: string }[]
      )
        .map((r) => `${r.t}.${r.c}`)
        .sort();
      lite.close();
      const pgVersions = await queryOnce<{ version: number }>(
        db.url,
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      const pgColumns = (
        await queryOnce<{ t: string; c: string }>(
          db.url,
          'SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = current_schema()',
        )
      )
        .map((r) => `${r.t}.${r.c}`)
        .sort();
      assert.deepEqual(
        pgVersions.map((r) => r.version),
        liteVersions.map((r) => r.version),
      );
      assert.deepEqual(pgColumns, liteColumns);
    } finally {
      await pgStore.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('numbers come back as numbers: BIGINT epoch seconds past 2^31, ids, counts', async () => {
    const store = new PostgresStore(contractDb!.url);
    try {
      const id = (await store.enqueueJob({
        type: 'n',
        payload: {},
        runAt: 4_102_444_800_000,
        maxAttempts: 2,
      }))!;
      assert.equal(typeof id, 'number');
      const job = await store.getJob(id);
      assert.equal(job?.runAt, 4_102_444_800_000);
      assert.equal(typeof job?.attempts, 'number');
      await store.completeJob(id, 1);
      const org = (await store.getDefaultOrg())!;
      const { total } = await store.listVisits(org.id, { limit: 1, offset: 0, now: 1 });
      assert.equal(typeof total, 'number');
    } finally {
      await store.close();
    }
  });

  test('openStore: a postgres:// URL opens PostgreSQL (migrated), anything else is refused without echoing it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ic-pg-open-'));
    try {
      const store = await openStore({ dataDir: dir, databaseUrl: contractDb!.url });
      assert.equal(store.kind, 'postgres');
      await store.ping();
      await store.close();
      await store.close(); // twice is fine
      await assert.rejects(
        openStore({ dataDir: dir, databaseUrl: 'mysql://u:hunter2@h/db' }),
        (err: Error) => {
          assert.equal((err as InstantConnectError).code, 'ERR_VALIDATION');
          assert.doesNotMatch(err.message, /hunter2/);
          return true;
        },
      );
      const sqlite = await openStore({ dataDir: dir });
      assert.equal(sqlite.kind, 'sqlite');
      await sqlite.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unreachable or refusing database fails fast as 503, never showing the password', async () => {
    const secret = 'pw-7c1f-do-not-show';
    const wrongPassword = new URL(contractDb!.url);
    wrongPassword.username = 'nobody_here';
    wrongPassword.password = secret;
    const refused = new PostgresStore(`postgres://ic:${secret}@127.0.0.1:1/postgres`, {
      connectionTimeoutMillis: 2000,
    });
    const denied = new PostgresStore(wrongPassword.toString(), { connectionTimeoutMillis: 2000 });
    try {
      const started = Date.now();
      await assert.rejects(refused.ping(), (err: InstantConnectError) => {
        assert.equal(err.code, 'ERR_OVERLOADED');
        assert.equal(err.httpStatus, 503);
        assert.doesNotMatch(`${err.message} ${String(err.stack)}`, new RegExp(secret));
        return true;
      });
      await assert.rejects(refused.getOrg('x'), { code: 'ERR_OVERLOADED' });
      assert.ok(Date.now() - started < 5000, 'fails fast');
      await assert.rejects(denied.ping(), (err: Error) => {
        assert.doesNotMatch(`${err.message} ${String(err.stack)}`, new RegExp(secret));
        return true;
      });
    } finally {
      await refused.close();
      await denied.close();
    }
  });

  test('text PostgreSQL cannot hold (NUL) is a 400, not a 500; JSON fields keep it', async () => {
    const store = new PostgresStore(contractDb!.url);
    try {
      const org = (await store.getDefaultOrg())!;
      await assert.rejects(
        store.createHook({ id: 'hook\0nul', orgId: org.id, name: 'n', secret: 's', createdAt: 1 }),
        { code: 'ERR_VALIDATION' },
      );
      await store.appendEvent({
        orgId: org.id,
        visitId: 'vis-nul',
        at: 1,
        actor: 'x',
        type: 't',
        data: { s: 'a\0b' },
      });
      const [event] = await store.listEvents(org.id, 'vis-nul');
      assert.equal(event?.data['s'], 'a\0b');
    } finally {
      await store.close();
    }
  });

  test('a connection the database drops is replaced: the store keeps working', async () => {
    const store = new PostgresStore(contractDb!.url);
    try {
      const pid = (await store.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      const [row] = await queryOnce<{ done: boolean }>(base!, 'SELECT pg_terminate_backend($1) AS done', [
        pid,
      ]);
      assert.equal(row?.done, true);
      // The pool noticed (or notices on use) and opens a new connection.
      let ok = false;
      for (let i = 0; i < 20 && !ok; i++) {
        ok = await store.ping().then(
          () => true,
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(ok);
      assert.ok(await store.getDefaultOrg());
    } finally {
      await store.close();
    }
  });
});
