import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { POSTGRES_0_1, SQLITE_0_1 } from '../../test/support/migrations-0.1.js';
import { createTestDatabase, PG_SKIP, queryOnce, testDatabaseUrl } from '../../test/support/postgres.js';
import { event, link, visit } from '../../test/support/store-records.js';
import { PostgresStore } from './postgres.js';
import { LATEST_VERSION, migrations } from './schema.js';
import { compile, SQLITE } from './sql.js';
import { SqliteStore } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'ic-schema-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `db-${++n}.db`);

/** A database as 0.1 made it: its own migration list, applied up to `upTo`, recorded the same way. */
function sqlite01(path: string, upTo = SQLITE_0_1.length): void {
  const db = new Database(path);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  SQLITE_0_1.slice(0, upTo).forEach((sql, i) => {
    db.exec(sql);
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(i + 1, 1);
  });
  db.close();
}

/** Tables, columns (type, not null, default, key), indexes (columns, unique) and foreign keys. */
function sqliteShape(path: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((t) => t.name);
    return tables.map((t) => ({
      t,
      columns: db.prepare(`PRAGMA table_info(${t})`).all(),
      indexes: (db.prepare(`PRAGMA index_list(${t})`).all() as { name: string }[])
        .map((i) => ({ ...i, seq: 0, columns: db.prepare(`PRAGMA index_info(${i.name})`).all() }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      foreignKeys: db.prepare(`PRAGMA foreign_key_list(${t})`).all(),
    }));
  } finally {
    db.close();
  }
}

describe('one schema, DDL per dialect', () => {
  test("versions: 0.1's eight, generated statement for statement, then 9 (SQLite's cipher index), 10 (outbound events), 11 (the link gateway), 12 (arrivals), 13 (meeting telemetry), 14 (recipients and delivery records), 15 (SMS)", () => {
    assert.equal(SQLITE_0_1.length, 8);
    assert.equal(POSTGRES_0_1.length, 8);
    assert.equal(LATEST_VERSION, 15);
    const sqlite = migrations('sqlite');
    const postgres = migrations('postgres');
    for (const list of [sqlite, postgres]) assert.equal(list.length, LATEST_VERSION);
    for (let v = 0; v < 8; v++) {
      assert.ok(sqlite[v]!.length > 0 && postgres[v]!.length > 0, `version ${v + 1}`);
    }
    assert.deepEqual(sqlite[8], [
      'DROP INDEX visit_links_cipher',
      'CREATE INDEX visit_links_cipher_tail ON visit_links (substr(cipher, -24))',
    ]);
    // PostgreSQL's hash index already keeps 4 bytes per cipher: version 9 changes nothing there.
    assert.deepEqual(postgres[8], []);
    // Version 10: the outbound events' three tables and their indexes, in both dialects.
    for (const list of [sqlite, postgres]) {
      const created = list[9]!
        .filter((sql) => sql.startsWith('CREATE TABLE'))
        .map((sql) => sql.split(' ')[2]);
      assert.deepEqual(created, EVENT_TABLES);
    }
    // Version 11: the link gateway (a visit's flag; each link's code, first opening, last logged
    // opening, withdrawal; codes unique, added as an index: SQLite cannot add a UNIQUE column).
    assert.deepEqual(sqlite[10], [
      'ALTER TABLE visits ADD COLUMN gateway INTEGER',
      'ALTER TABLE visit_links ADD COLUMN gateway_code TEXT',
      'ALTER TABLE visit_links ADD COLUMN opened_at INTEGER',
      'ALTER TABLE visit_links ADD COLUMN logged_open_at INTEGER',
      'ALTER TABLE visit_links ADD COLUMN revoked_at INTEGER',
      'CREATE UNIQUE INDEX visit_links_gateway_code ON visit_links (gateway_code)',
    ]);
    assert.deepEqual(postgres[10], [
      'ALTER TABLE visits ADD COLUMN gateway BOOLEAN',
      'ALTER TABLE visit_links ADD COLUMN gateway_code TEXT COLLATE "C"',
      'ALTER TABLE visit_links ADD COLUMN opened_at BIGINT',
      'ALTER TABLE visit_links ADD COLUMN logged_open_at BIGINT',
      'ALTER TABLE visit_links ADD COLUMN revoked_at BIGINT',
      'CREATE UNIQUE INDEX visit_links_gateway_code ON visit_links (gateway_code)',
    ]);
    // Version 12: a visit's arrivals, its closing and who hears that a guest is waiting.
    for (const list of [sqlite, postgres]) {
      assert.equal(list[11]!.filter((s) => s.startsWith('ALTER TABLE visits ADD COLUMN')).length, 6);
      assert.ok(list[11]!.includes('CREATE INDEX visits_unclosed ON visits (closed_at, expires_at)'));
    }
    assert.ok(sqlite[11]!.includes('ALTER TABLE visits ADD COLUMN waits INTEGER NOT NULL DEFAULT 0'));
  });

  test('version 13: the meeting telemetry tables, the same on both dialects but for key collation', () => {
    const sqlite = migrations('sqlite')[12]!;
    const postgres = migrations('postgres')[12]!;
    assert.deepEqual(sqlite, [
      'CREATE TABLE meeting_links (\n  visit_id TEXT PRIMARY KEY,\n  org_id TEXT NOT NULL,\n  room_id TEXT NOT NULL,\n  meeting_id TEXT NOT NULL,\n  meeting_number TEXT,\n  created_at INTEGER NOT NULL\n)',
      'CREATE TABLE meeting_participants (\n  visit_id TEXT NOT NULL,\n  participant_id TEXT NOT NULL,\n  role TEXT NOT NULL,\n  joined_at INTEGER NOT NULL,\n  left_at INTEGER,\n  PRIMARY KEY (visit_id, participant_id)\n)',
      'CREATE INDEX meeting_links_meeting ON meeting_links (meeting_id)',
    ]);
    assert.deepEqual(postgres, [
      'CREATE TABLE meeting_links (\n  visit_id TEXT COLLATE "C" PRIMARY KEY,\n  org_id TEXT NOT NULL,\n  room_id TEXT NOT NULL,\n  meeting_id TEXT COLLATE "C" NOT NULL,\n  meeting_number TEXT,\n  created_at BIGINT NOT NULL\n)',
      'CREATE TABLE meeting_participants (\n  visit_id TEXT COLLATE "C" NOT NULL,\n  participant_id TEXT COLLATE "C" NOT NULL,\n  role TEXT NOT NULL,\n  joined_at BIGINT NOT NULL,\n  left_at BIGINT,\n  PRIMARY KEY (visit_id, participant_id)\n)',
      'CREATE INDEX meeting_links_meeting ON meeting_links (meeting_id)',
    ]);
  });

  test('version 15: SMS opt-outs and messages, the same on both dialects but for key collation and BIGINT', () => {
    const sqlite = migrations('sqlite')[14]!;
    const postgres = migrations('postgres')[14]!;
    assert.deepEqual(sqlite, [
      'CREATE TABLE sms_opt_outs (\n  phone TEXT PRIMARY KEY,\n  org_id TEXT,\n  keyword TEXT NOT NULL,\n  at INTEGER NOT NULL\n)',
      'CREATE TABLE sms_messages (\n  provider_id TEXT PRIMARY KEY,\n  provider TEXT NOT NULL,\n  phone TEXT NOT NULL,\n  status TEXT NOT NULL,\n  status_rank INTEGER NOT NULL,\n  error_code TEXT,\n  created_at INTEGER NOT NULL,\n  updated_at INTEGER NOT NULL\n)',
      'CREATE INDEX sms_messages_created ON sms_messages (created_at)',
    ]);
    assert.deepEqual(postgres, [
      'CREATE TABLE sms_opt_outs (\n  phone TEXT COLLATE "C" PRIMARY KEY,\n  org_id TEXT,\n  keyword TEXT NOT NULL,\n  at BIGINT NOT NULL\n)',
      'CREATE TABLE sms_messages (\n  provider_id TEXT COLLATE "C" PRIMARY KEY,\n  provider TEXT NOT NULL,\n  phone TEXT COLLATE "C" NOT NULL,\n  status TEXT NOT NULL,\n  status_rank INTEGER NOT NULL,\n  error_code TEXT,\n  created_at BIGINT NOT NULL,\n  updated_at BIGINT NOT NULL\n)',
      'CREATE INDEX sms_messages_created ON sms_messages (created_at)',
    ]);
  });

  test('version 14: recipients (one a link) and the delivery log (not `deliveries`, the dedup keys)', () => {
    for (const [dialect, key] of [
      ['sqlite', 'TEXT'],
      ['postgres', 'TEXT COLLATE "C"'],
    ] as const) {
      const statements = migrations(dialect)[13]!;
      assert.deepEqual(
        statements.map((sql) => sql.split(' (')[0]),
        [
          'CREATE TABLE recipients',
          'CREATE TABLE delivery_log',
          'CREATE INDEX delivery_log_visit ON delivery_log',
        ],
        dialect,
      );
      assert.ok(statements[0]!.includes(`visit_id ${key} NOT NULL`), dialect);
      assert.ok(statements[0]!.includes('PRIMARY KEY (visit_id, role, idx)'), dialect);
      for (const column of [
        'address TEXT NOT NULL',
        'cause TEXT NOT NULL',
        'status TEXT NOT NULL',
        'provider_id TEXT',
      ])
        assert.ok(statements[1]!.includes(column), `${dialect}: ${column}`);
    }
  });

  test('SQLite: the generated versions 1 to 8 make what 0.1 made (tables, columns, types, keys, indexes)', () => {
    const old = file();
    sqlite01(old);
    const now = file();
    const db = new Database(now);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const statements of migrations('sqlite').slice(0, 8)) db.exec(statements.join(';\n'));
    db.close();
    assert.deepEqual(sqliteShape(now), sqliteShape(old));
  });

  test("SQLite: version 9 indexes the cipher by its tail, and a page's look-up uses that index", async () => {
    const path = file();
    const store = new SqliteStore(path);
    await store.migrate();
    const { org } = await store.ensureDefaultOrg(() => ({ id: 'o1', name: 'Org', createdAt: 1 }));
    // Two ciphers with the same last 24 characters: the index narrows, the whole cipher decides.
    const tail = 'T'.repeat(24);
    const withCipher = (role: 'host' | 'guest', cipher: string) => ({
      ...link('v1', 0),
      role,
      cipher,
      jti: `j-${role}`,
    });
    await store.createVisit(
      { ...visit(org.id, 'v1'), hosts: 1, guests: 1 },
      [withCipher('host', `host-${tail}`), withCipher('guest', `guest-${tail}`)],
      event(org.id, 'v1'),
    );
    assert.equal((await store.findVisitLinkByCipher(`host-${tail}`))?.link.role, 'host');
    assert.equal((await store.findVisitLinkByCipher(`guest-${tail}`))?.link.role, 'guest');
    assert.equal(await store.findVisitLinkByCipher(`other-${tail}`), undefined);
    assert.equal(await store.findVisitLinkByCipher('short'), undefined);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const indexes = (db.prepare('PRAGMA index_list(visit_links)').all() as { name: string }[]).map(
        (i) => i.name,
      );
      assert.ok(indexes.includes('visit_links_cipher_tail'));
      assert.ok(!indexes.includes('visit_links_cipher'));
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${compile(SQLITE).findVisitLinkByCipher}`)
        .all('x'.repeat(700)) as { detail: string }[];
      assert.ok(
        plan.some((row) => row.detail.includes('USING INDEX visit_links_cipher_tail')),
        JSON.stringify(plan),
      );
    } finally {
      db.close();
    }
  });

  test('SQLite: every stepping stone of 0.1 (versions 0..8) migrates to the same schema', async () => {
    const target = file();
    const fresh = new SqliteStore(target);
    await fresh.migrate();
    await fresh.close();
    for (let v = 0; v <= SQLITE_0_1.length; v++) {
      const path = file();
      sqlite01(path, v);
      const store = new SqliteStore(path);
      await store.migrate();
      assert.deepEqual(await store.schemaStatus(), { applied: LATEST_VERSION, latest: LATEST_VERSION });
      await store.close();
      assert.deepEqual(sqliteShape(path), sqliteShape(target), `from version ${v}`);
    }
  });

  test('SQLite: a database made by 0.1, with a row in every table, opens and reads every row', async () => {
    const path = file();
    sqlite01(path, 4); // before retiring keys, leases and hook rotation
    const db = new Database(path);
    db.exec(`
      INSERT INTO orgs VALUES ('o1', 'Org', 10);
      INSERT INTO api_keys VALUES ('k1', 'o1', 'key', 'ic_ab', 'h1', 11, 12, NULL);
      INSERT INTO broker_keys VALUES ('b-old', '{"m":1}', 1, 0);
      INSERT INTO broker_keys VALUES ('b-new', '{"m":2}', 2, 1);
      INSERT INTO short_links VALUES ('abc', 'o1', 'cipher', 'guest', 'hc', 1, 'subj', 5000000000, 13);
      INSERT INTO spaces (id, org_id, subject, created_at) VALUES ('s1', 'o1', 'subj', 14);
      INSERT INTO visits VALUES ('v1', 'o1', 'subj', 'pending', NULL, 5000000000, 'hc', 0, 1, '["d"]', 'local',
        'key:k1', 15, NULL, NULL, NULL, 1, 1);
      INSERT INTO visit_links VALUES ('v1', 'host', 0, 'c-h', 'abc', 'https://s/abc', 'https://l/h', NULL, 'j1');
      INSERT INTO visit_links VALUES ('v1', 'guest', 0, 'c-g', NULL, NULL, 'https://l/g', 'https://f/g', 'j2');
      INSERT INTO events (org_id, visit_id, at, actor, type, data) VALUES ('o1', 'v1', 16, 'key:k1', 'created', '{"a":1}');
      INSERT INTO sessions VALUES ('sh', 'o1', 'k1', 'csrf', 17, 5000000000);
      INSERT INTO hooks VALUES ('hk', 'o1', 'hook', 'secret', 18, NULL);
      INSERT INTO idempotency_keys VALUES ('o1', 'idem', 'rh', 'v1', 19);
      INSERT INTO deliveries VALUES ('d1', 20);
      INSERT INTO jobs (type, payload, status, max_attempts, run_at, created_at, updated_at)
        VALUES ('t', '{"p":1}', 'pending', 3, 21, 21, 21);
      INSERT INTO settings VALUES ('s', 'v');
      INSERT INTO counters VALUES ('c', 7, 5000000000);
    `);
    db.close();
    const store = new SqliteStore(path);
    try {
      await store.migrate();
      assert.deepEqual(await store.getOrg('o1'), { id: 'o1', name: 'Org', createdAt: 10 });
      assert.equal((await store.findApiKeyByHash('h1'))?.lastUsedAt, 12);
      const keys = await store.listBrokerKeys();
      assert.deepEqual(
        keys.map((k) => [k.kid, k.active]),
        [
          ['b-new', true],
          ['b-old', false],
        ],
      );
      // Version 5 retired the replaced key once every link recorded so far has expired.
      assert.ok((keys[1]?.retiresAt ?? 0) >= 5000000000);
      assert.equal(keys[0]?.retiresAt, undefined);
      assert.equal((await store.getShortLink('abc'))?.hostLogin, true);
      const space = await store.getOrCreateSpace('o1', 'subj', () => assert.fail('the space exists'));
      assert.equal(space.id, 's1');
      const visit = await store.getVisit('o1', 'v1');
      assert.deepEqual(visit?.devices, ['d']);
      assert.equal(visit?.shortUrls, true);
      const links = await store.getVisitLinks('v1');
      assert.deepEqual(
        links.map((l) => [l.role, l.short, l.forcedLoginUrl]),
        [
          ['host', 'abc', undefined],
          ['guest', undefined, 'https://f/g'],
        ],
      );
      assert.equal((await store.findVisitLinkByJti('j2'))?.link.cipher, 'c-g');
      assert.deepEqual(
        (await store.listEvents('o1', 'v1')).map((e) => e.data),
        [{ a: 1 }],
      );
      assert.equal((await store.getSession('sh'))?.csrf, 'csrf');
      assert.equal((await store.getHook('hk'))?.secret, 'secret');
      // Version 7: a key completed before leases existed is done.
      assert.deepEqual(
        await store.reserveIdempotencyKey('o1', 'idem', 'rh', 30, {
          visitId: 'v2',
          owner: 'x',
          leaseUntil: 60,
          expiredBefore: 0,
        }),
        { status: 'done', requestHash: 'rh', visitId: 'v1' },
      );
      assert.equal(await store.markDelivery('d1', 30), false);
      assert.deepEqual((await store.getJob(1))?.payload, { p: 1 });
      assert.equal(await store.getSetting('s'), 'v');
      assert.equal(await store.incrementCounter('c', 1, 5000000000), 8);
    } finally {
      await store.close();
    }
  });
});

/** The tables version 10 added (outbound events). */
const EVENT_TABLES = ['event_subscriptions', 'event_deliveries', 'event_attempts'];

const base = testDatabaseUrl();
describe('one schema on PostgreSQL', { skip: base ? false : PG_SKIP }, () => {
  test('the generated migrations make what 0.1 made, then migrated on (columns, types, defaults, indexes, constraints)', async () => {
    // A database as 0.1 made it (versions 1 to 8 recorded), migrated to the latest, has exactly the
    // shape of a new one.
    const old = await createTestDatabase(base!);
    const now = await createTestDatabase(base!);
    try {
      await queryOnce(
        old.url,
        [
          'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
          ...POSTGRES_0_1,
          ...POSTGRES_0_1.map(
            (_, i) => `INSERT INTO schema_migrations (version, applied_at) VALUES (${i + 1}, 1)`,
          ),
        ].join(';\n'),
      );
      for (const url of [now.url, old.url]) {
        const store = new PostgresStore(url);
        await store.migrate();
        await store.close();
      }
      const shape = async (url: string) => ({
        columns: await queryOnce(
          url,
          `SELECT table_name, column_name, ordinal_position, data_type, is_nullable, column_default, collation_name
           FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
        ),
        indexes: await queryOnce(
          url,
          'SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname',
        ),
        constraints: await queryOnce(
          url,
          `SELECT conrelid::regclass::text AS t, conname, contype, pg_get_constraintdef(oid) AS def
           FROM pg_constraint WHERE connamespace = current_schema()::regnamespace ORDER BY conname`,
        ),
      });
      assert.deepEqual(await shape(now.url), await shape(old.url));
    } finally {
      await old.drop();
      await now.drop();
    }
  });
});
