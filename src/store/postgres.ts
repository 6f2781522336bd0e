/**
 * The store for several instances: PostgreSQL through the `pg` driver, with the same tables,
 * versioned migrations and semantics as the SQLite store (the same contract suite runs on both).
 *
 * Every multi-statement method is one transaction; races are settled by the database itself:
 * `INSERT … ON CONFLICT DO NOTHING` for first-wins records, conditional `UPDATE … RETURNING` for
 * transitions, `FOR UPDATE SKIP LOCKED` for job claims, and a transaction-level advisory lock
 * around migrations so instances starting at once apply each version exactly once.
 *
 * The connection string is a secret (it usually holds a password): it is never logged nor put in
 * an error message.
 */
import pg from 'pg';
import { DatabaseUnavailableError, InstantConnectError } from '../errors.js';
import {
  apiKeyFrom,
  eventFrom,
  hookFrom,
  idempotencyOf,
  jobFrom,
  num,
  orgFrom,
  purgeCounts,
  type Row,
  STATUS_COLUMN,
  shortLinkFrom,
  spaceFrom,
  visitFrom,
  visitLinkFrom,
} from './rows.js';
import type {
  ApiKeyRecord,
  EventRecord,
  HookRecord,
  IdempotencyClaim,
  IdempotencyReservation,
  JobRecord,
  Org,
  PurgeCounts,
  SessionRecord,
  ShortLinkRecord,
  SpaceRecord,
  Store,
  StoredBrokerKey,
  VisitLinkRecord,
  VisitQuery,
  VisitRecord,
} from './types.js';
import { PURGE_COUNT_SQL, PURGEABLE_SQL, visitOrder, visitWhere } from './visit-sql.js';

/**
 * Versioned migrations, version for version the same tables as the SQLite store's (epoch seconds
 * are BIGINT, flags BOOLEAN, JSON is TEXT as written by JSON.stringify). Never edited once
 * released, only added to.
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE orgs (
     id TEXT COLLATE "C" PRIMARY KEY,
     name TEXT NOT NULL,
     created_at BIGINT NOT NULL
   );
   CREATE TABLE api_keys (
     id TEXT COLLATE "C" PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     name TEXT NOT NULL,
     prefix TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_at BIGINT NOT NULL,
     last_used_at BIGINT,
     revoked_at BIGINT
   );
   CREATE TABLE broker_keys (
     kid TEXT COLLATE "C" PRIMARY KEY,
     material TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     active BOOLEAN NOT NULL
   );
   CREATE TABLE short_links (
     code TEXT COLLATE "C" PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     cipher TEXT NOT NULL,
     role TEXT NOT NULL,
     vertical TEXT NOT NULL,
     host_login BOOLEAN NOT NULL,
     subject TEXT NOT NULL,
     expires_at BIGINT NOT NULL,
     created_at BIGINT NOT NULL
   );
   CREATE TABLE spaces (
     seq BIGSERIAL PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     subject TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     UNIQUE (org_id, subject)
   );`,
  `CREATE TABLE visits (
     id TEXT COLLATE "C" PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     subject TEXT NOT NULL,
     status TEXT NOT NULL,
     not_before BIGINT,
     expires_at BIGINT NOT NULL,
     vertical TEXT NOT NULL,
     host_login BOOLEAN NOT NULL,
     short_urls BOOLEAN NOT NULL,
     devices TEXT NOT NULL,
     source TEXT NOT NULL,
     created_by TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     started_at BIGINT,
     ended_at BIGINT,
     cancelled_at BIGINT,
     hosts INTEGER NOT NULL,
     guests INTEGER NOT NULL
   );
   CREATE INDEX visits_org_subject ON visits (org_id, subject);
   CREATE INDEX visits_org_window ON visits (org_id, expires_at);
   CREATE TABLE visit_links (
     visit_id TEXT NOT NULL REFERENCES visits(id),
     role TEXT NOT NULL,
     idx INTEGER NOT NULL,
     cipher TEXT NOT NULL,
     short TEXT,
     short_url TEXT,
     long_url TEXT NOT NULL,
     forced_login_url TEXT,
     jti TEXT UNIQUE,
     PRIMARY KEY (visit_id, role, idx)
   );
   CREATE TABLE events (
     id BIGSERIAL PRIMARY KEY,
     org_id TEXT NOT NULL,
     visit_id TEXT,
     at BIGINT NOT NULL,
     actor TEXT NOT NULL,
     type TEXT NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX events_visit ON events (visit_id, id);
   CREATE TABLE sessions (
     hash TEXT PRIMARY KEY,
     org_id TEXT NOT NULL,
     api_key_id TEXT NOT NULL,
     csrf TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );`,
  `CREATE TABLE hooks (
     id TEXT COLLATE "C" PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     name TEXT NOT NULL,
     secret TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     revoked_at BIGINT
   );
   CREATE TABLE idempotency_keys (
     org_id TEXT NOT NULL,
     key TEXT NOT NULL,
     request_hash TEXT NOT NULL,
     visit_id TEXT,
     created_at BIGINT NOT NULL,
     PRIMARY KEY (org_id, key)
   );
   CREATE TABLE deliveries (
     key TEXT PRIMARY KEY,
     at BIGINT NOT NULL
   );
   CREATE INDEX deliveries_at ON deliveries (at);
   CREATE TABLE jobs (
     id BIGSERIAL PRIMARY KEY,
     type TEXT NOT NULL,
     payload TEXT NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     max_attempts INTEGER NOT NULL,
     run_at BIGINT NOT NULL,
     last_error TEXT,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL
   );
   CREATE INDEX jobs_due ON jobs (status, run_at);
   CREATE TABLE settings (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  `CREATE TABLE counters (
     key TEXT PRIMARY KEY,
     value BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX counters_expiry ON counters (expires_at);
   CREATE INDEX visit_links_cipher ON visit_links USING hash (cipher);`,
  // Broker keys retire: keys replaced before this version retire once every link recorded so far
  // has expired.
  `ALTER TABLE broker_keys ADD COLUMN retires_at BIGINT;
   UPDATE broker_keys SET retires_at = GREATEST(
     (SELECT MAX(expires_at) FROM visits),
     (SELECT MAX(expires_at) FROM short_links),
     EXTRACT(EPOCH FROM now())::bigint + 1200
   ) WHERE NOT active;`,
  // The pruning job finds expired rows by these.
  `CREATE INDEX short_links_expiry ON short_links (expires_at);
   CREATE INDEX sessions_expiry ON sessions (expires_at);`,
  // As SQLite's: Idempotency-Key leases, completion and expiry; a hook's previous secret.
  `ALTER TABLE idempotency_keys ADD COLUMN lease_owner TEXT;
   ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT;
   ALTER TABLE idempotency_keys ADD COLUMN completed_at BIGINT;
   UPDATE idempotency_keys SET completed_at = created_at WHERE visit_id IS NOT NULL;
   CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
   ALTER TABLE hooks ADD COLUMN previous_secret TEXT;
   ALTER TABLE hooks ADD COLUMN previous_secret_until BIGINT;`,
  // purge finds the Idempotency-Keys of the visits it removes by this.
  `CREATE INDEX idempotency_keys_visit ON idempotency_keys (visit_id);`,
];

/** The advisory lock held while migrating (any constant; the same in every instance). */
const MIGRATION_LOCK = 7_212_632_001;

/**
 * `?` placeholders (as visit-sql.ts writes them) numbered `$n` for PostgreSQL, from `$start`;
 * a `?` inside a quoted literal is left alone.
 */
export function numbered(sql: string, start = 1): string {
  let n = start;
  let quoted = false;
  let out = '';
  for (const c of sql) {
    if (c === "'") quoted = !quoted;
    out += c === '?' && !quoted ? `$${n++}` : c;
  }
  return out;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

/** BIGINT arrives as a string; every stored value is a safe integer (epoch seconds, ids, counts). */
const parseInt8 = (value: string) => Number(value);

/** SQLSTATE classes and codes that mean "the database cannot be reached right now". */
const UNAVAILABLE = /^(08|53|57P0[1-3])/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Errors as the rest of the service understands them: an unreachable database is a 503 (retry
 * later), text PostgreSQL cannot hold (a NUL character) is the caller's 400; anything else as is.
 * Messages never carry the connection string.
 */
function translate(err: unknown): unknown {
  if (err instanceof InstantConnectError) return err;
  const e = err as { code?: string; message?: string };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (
    UNAVAILABLE.test(code) ||
    NETWORK_CODES.has(code) ||
    /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error/i.test(
      e?.message ?? '',
    )
  ) {
    return new DatabaseUnavailableError(err);
  }
  if (code === '22021' || code === '22P05') {
    return new InstantConnectError('ERR_VALIDATION', 'Text with a NUL character cannot be stored', {
      cause: err,
    });
  }
  return err;
}

export interface PostgresStoreOptions {
  /** Connections in the pool (default 10). */
  max?: number;
  /** How long to wait for a connection before failing (default 5 s): fail fast when the database is down. */
  connectionTimeoutMillis?: number;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  /** The pool, shared with the live bus's publisher. */
  readonly pool: pg.Pool;
  #closed = false;

  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    this.pool = new pg.Pool({
      connectionString,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'instant-connect',
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === pg.types.builtins.INT8
            ? parseInt8
            : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
      },
    });
    // An idle connection that drops (database restart) is removed from the pool; without a listener
    // the pool's 'error' event would end the process. The next query opens a new connection.
    this.pool.on('error', () => {});
  }

  async #query(sql: string, params: unknown[] = []): Promise<pg.QueryResult<Row>> {
    try {
      return await this.pool.query<Row>(sql, params);
    } catch (err) {
      throw translate(err);
    }
  }

  async #one(sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.#query(sql, params)).rows[0];
  }

  /** Runs `fn` in one transaction: committed when it returns, rolled back when it throws. */
  async #tx<T>(fn: (client: Queryable) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translate(err);
    }
    let broken: Error | undefined;
    // A checked-out client has no pool listener: a connection dropped mid-transaction (database
    // restart) would emit an unhandled 'error' and end the process. Note it; the query fails.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query(begin);
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error; // the connection is gone: do not reuse it
      }
      throw translate(err);
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async migrate(): Promise<void> {
    await this.#tx(async (c) => {
      // Held until COMMIT: a second instance waits here, then finds every version applied.
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
      );
      const { rows } = await c.query<Row>('SELECT MAX(version) AS v FROM schema_migrations');
      const current = Number(rows[0]?.['v'] ?? 0);
      for (const [i, sql] of MIGRATIONS.slice(current).entries()) {
        await c.query(sql);
        await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
          current + i + 1,
          Math.floor(Date.now() / 1000),
        ]);
      }
    });
  }

  async schemaStatus(): Promise<{ applied: number; latest: number }> {
    const { rows } = await this.#query(
      "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE (SELECT COALESCE(MAX(version), 0) FROM schema_migrations) END AS v",
    );
    return { applied: Number(rows[0]?.['v'] ?? 0), latest: MIGRATIONS.length };
  }

  async ping(): Promise<void> {
    await this.#query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }

  async getOrg(id: string): Promise<Org | undefined> {
    const r = await this.#one('SELECT * FROM orgs WHERE id = $1', [id]);
    return r && orgFrom(r);
  }

  async getDefaultOrg(): Promise<Org | undefined> {
    const r = await this.#one('SELECT * FROM orgs ORDER BY created_at, id LIMIT 1');
    return r && orgFrom(r);
  }

  async ensureDefaultOrg(make: () => Org): Promise<{ org: Org; created: boolean }> {
    const existing = await this.getDefaultOrg();
    if (existing) return { org: existing, created: false };
    return this.#tx(async (c) => {
      // Instances starting at once on an empty database: the second waits here, then finds the first's.
      await c.query('LOCK TABLE orgs IN SHARE ROW EXCLUSIVE MODE');
      const found = (await c.query<Row>('SELECT * FROM orgs ORDER BY created_at, id LIMIT 1')).rows[0];
      if (found) return { org: orgFrom(found), created: false };
      const org = make();
      await c.query('INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)', [
        org.id,
        org.name,
        org.createdAt,
      ]);
      return { org, created: true };
    });
  }

  async createOrg(org: Org): Promise<void> {
    await this.#query('INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)', [
      org.id,
      org.name,
      org.createdAt,
    ]);
  }

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    await this.#query(
      `INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at, last_used_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [k.id, k.orgId, k.name, k.prefix, k.hash, k.createdAt, k.lastUsedAt ?? null, k.revokedAt ?? null],
    );
  }

  async listApiKeys(orgId: string): Promise<ApiKeyRecord[]> {
    const { rows } = await this.#query('SELECT * FROM api_keys WHERE org_id = $1 ORDER BY created_at, id', [
      orgId,
    ]);
    return rows.map(apiKeyFrom);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.#one('SELECT * FROM api_keys WHERE hash = $1', [hash]);
    return r && apiKeyFrom(r);
  }

  async touchApiKey(id: string, at: number, coarseSeconds = 60): Promise<void> {
    await this.#query(
      'UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)',
      [at, id, at - coarseSeconds],
    );
  }

  async revokeApiKey(orgId: string, id: string, at: number): Promise<boolean> {
    const result = await this.#query(
      'UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL',
      [at, id, orgId],
    );
    return result.rowCount === 1;
  }

  async listBrokerKeys(): Promise<StoredBrokerKey[]> {
    const { rows } = await this.#query(
      'SELECT * FROM broker_keys ORDER BY active DESC, created_at DESC, kid',
    );
    return rows.map((r) => ({
      kid: String(r['kid']),
      material: String(r['material']),
      createdAt: num(r['created_at']),
      active: r['active'] === true,
      ...(r['retires_at'] !== null && r['retires_at'] !== undefined
        ? { retiresAt: num(r['retires_at']) }
        : {}),
    }));
  }

  async addBrokerKey(key: StoredBrokerKey, options: { retireNotBefore?: number } = {}): Promise<void> {
    await this.#tx(async (c) => {
      // Rotations on two instances at once: the second waits, so exactly one key ends up active.
      await c.query('LOCK TABLE broker_keys IN SHARE ROW EXCLUSIVE MODE');
      if (key.active)
        await c.query(
          `UPDATE broker_keys SET active = FALSE, retires_at = GREATEST($1::bigint,
             (SELECT MAX(expires_at) FROM visits), (SELECT MAX(expires_at) FROM short_links))
           WHERE active`,
          [options.retireNotBefore ?? key.createdAt],
        );
      await c.query('INSERT INTO broker_keys (kid, material, created_at, active) VALUES ($1, $2, $3, $4)', [
        key.kid,
        key.material,
        key.createdAt,
        key.active,
      ]);
    });
  }

  async brokerKeysVersion(): Promise<number> {
    const r = await this.#one('SELECT COUNT(*) AS n FROM broker_keys');
    return Number(r?.['n'] ?? 0);
  }

  async insertShortLinks(links: ShortLinkRecord[]): Promise<string[]> {
    if (links.length === 0) return [];
    const codes = links.map((l) => l.code);
    const repeated = codes.filter((c, i) => codes.indexOf(c) !== i);
    return this.#tx(async (c) => {
      if (repeated.length > 0) {
        const { rows } = await c.query<Row>('SELECT code FROM short_links WHERE code = ANY($1::text[])', [
          codes,
        ]);
        const existing = new Set(rows.map((r) => String(r['code'])));
        return [...repeated, ...codes.filter((code) => existing.has(code))];
      }
      // A code taken by a concurrent insert waits for it, then counts as taken: never a unique violation.
      const { rows } = await c.query<Row>(
        `INSERT INTO short_links (code, org_id, cipher, role, vertical, host_login, subject, expires_at, created_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[],
                              $7::text[], $8::bigint[], $9::bigint[])
         ON CONFLICT (code) DO NOTHING
         RETURNING code`,
        [
          codes,
          links.map((l) => l.orgId),
          links.map((l) => l.cipher),
          links.map((l) => l.role),
          links.map((l) => l.vertical),
          links.map((l) => l.hostLogin),
          links.map((l) => l.subject),
          links.map((l) => l.expiresAt),
          links.map((l) => l.createdAt),
        ],
      );
      if (rows.length === links.length) return [];
      const inserted = new Set(rows.map((r) => String(r['code'])));
      throw new TakenCodes(codes.filter((code) => !inserted.has(code)));
    }).catch((err: unknown) => {
      // All or none: the rollback removed the codes that did go in.
      if (err instanceof TakenCodes) return err.codes;
      throw err;
    });
  }

  async getShortLink(code: string): Promise<ShortLinkRecord | undefined> {
    const r = await this.#one('SELECT * FROM short_links WHERE code = $1', [code]);
    return r && shortLinkFrom(r);
  }

  async getOrCreateSpace(
    orgId: string,
    subject: string,
    make: () => { id: string; createdAt: number },
  ): Promise<SpaceRecord> {
    return this.#tx(async (c) => {
      const find = () =>
        c.query<Row>('SELECT * FROM spaces WHERE org_id = $1 AND subject = $2', [orgId, subject]);
      const found = (await find()).rows[0];
      if (found) return spaceFrom(found);
      const { id, createdAt } = make();
      // A concurrent first use inserts too: this one waits for it and then keeps its space.
      await c.query(
        'INSERT INTO spaces (id, org_id, subject, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, subject) DO NOTHING',
        [id, orgId, subject, createdAt],
      );
      const row = (await find()).rows[0];
      if (!row) throw new Error('space vanished while being created');
      return spaceFrom(row);
    });
  }

  async #insertEvent(c: Queryable, e: EventRecord): Promise<void> {
    await c.query(
      'INSERT INTO events (org_id, visit_id, at, actor, type, data) VALUES ($1, $2, $3, $4, $5, $6)',
      [e.orgId, e.visitId ?? null, e.at, e.actor, e.type, JSON.stringify(e.data)],
    );
  }

  async #insertLinks(c: Queryable, links: VisitLinkRecord[]): Promise<void> {
    if (links.length === 0) return;
    await c.query(
      `INSERT INTO visit_links (visit_id, role, idx, cipher, short, short_url, long_url, forced_login_url, jti)
       SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::text[],
                            $7::text[], $8::text[], $9::text[])`,
      [
        links.map((l) => l.visitId),
        links.map((l) => l.role),
        links.map((l) => l.index),
        links.map((l) => l.cipher),
        links.map((l) => l.short ?? null),
        links.map((l) => l.shortUrl ?? null),
        links.map((l) => l.longUrl),
        links.map((l) => l.forcedLoginUrl ?? null),
        links.map((l) => l.jti ?? null),
      ],
    );
  }

  async createVisit(v: VisitRecord, links: VisitLinkRecord[], event: EventRecord): Promise<void> {
    await this.#tx(async (c) => {
      await c.query(
        `INSERT INTO visits (id, org_id, subject, status, not_before, expires_at, vertical, host_login, short_urls,
           devices, source, created_by, created_at, started_at, ended_at, cancelled_at, hosts, guests)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
        [
          v.id,
          v.orgId,
          v.subject,
          v.status,
          v.notBefore ?? null,
          v.expiresAt,
          v.vertical,
          v.hostLogin,
          v.shortUrls,
          JSON.stringify(v.devices),
          v.source,
          v.createdBy,
          v.createdAt,
          v.startedAt ?? null,
          v.endedAt ?? null,
          v.cancelledAt ?? null,
          v.hosts,
          v.guests,
        ],
      );
      await this.#insertLinks(c, links);
      await this.#insertEvent(c, event);
    });
  }

  async addVisitLinks(
    orgId: string,
    visitId: string,
    links: VisitLinkRecord[],
    event: EventRecord,
  ): Promise<void> {
    await this.#tx(async (c) => {
      const hosts = links.filter((l) => l.role === 'host').length;
      const result = await c.query(
        'UPDATE visits SET hosts = hosts + $1, guests = guests + $2 WHERE id = $3 AND org_id = $4',
        [hosts, links.length - hosts, visitId, orgId],
      );
      if (result.rowCount !== 1) throw new Error(`no visit ${visitId}`);
      await this.#insertLinks(c, links);
      await this.#insertEvent(c, event);
    });
  }

  async getVisit(orgId: string, id: string): Promise<VisitRecord | undefined> {
    const r = await this.#one('SELECT * FROM visits WHERE id = $1 AND org_id = $2', [id, orgId]);
    return r && visitFrom(r);
  }

  async findVisitBySubject(orgId: string, subject: string): Promise<VisitRecord | undefined> {
    const r = await this.#one(
      "SELECT * FROM visits WHERE org_id = $1 AND subject = $2 AND status <> 'cancelled' ORDER BY created_at DESC, id DESC LIMIT 1",
      [orgId, subject],
    );
    return r && visitFrom(r);
  }

  async listVisits(orgId: string, query: VisitQuery): Promise<{ items: VisitRecord[]; total: number }> {
    const { sql, params } = visitWhere(orgId, query);
    const where = numbered(sql);
    const n = params.length;
    // One snapshot for the count and the page.
    return this.#tx(async (c) => {
      const total = Number(
        (await c.query<Row>(`SELECT COUNT(*) AS n FROM visits WHERE ${where}`, params)).rows[0]?.['n'] ?? 0,
      );
      const { rows } = await c.query<Row>(
        `SELECT * FROM visits WHERE ${where} ORDER BY ${visitOrder(query)} LIMIT $${n + 1} OFFSET $${n + 2}`,
        [...params, query.limit, query.offset],
      );
      return { items: rows.map(visitFrom), total };
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  async getVisitLinks(visitId: string): Promise<VisitLinkRecord[]> {
    const { rows } = await this.#query(
      "SELECT * FROM visit_links WHERE visit_id = $1 ORDER BY CASE role WHEN 'host' THEN 0 ELSE 1 END, idx",
      [visitId],
    );
    return rows.map(visitLinkFrom);
  }

  async incrementCounter(key: string, by: number, expiresAt: number): Promise<number> {
    if (Math.random() < 0.01) {
      await this.#query('DELETE FROM counters WHERE expires_at < $1', [Math.floor(Date.now() / 1000)]);
    }
    const row = await this.#one(
      `INSERT INTO counters (key, value, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET value = counters.value + EXCLUDED.value RETURNING value`,
      [key, by, expiresAt],
    );
    return Number(row?.['value'] ?? 0);
  }

  async findVisitLinkByCipher(
    cipher: string,
  ): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined> {
    const r = await this.#one(
      'SELECT l.*, v.* FROM visit_links l JOIN visits v ON v.id = l.visit_id WHERE l.cipher = $1',
      [cipher],
    );
    return r && { visit: visitFrom(r), link: visitLinkFrom(r) };
  }

  async findVisitLinkByJti(jti: string): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined> {
    // The two tables share no column name but the key, so one row feeds both mappers.
    const r = await this.#one(
      'SELECT l.*, v.* FROM visit_links l JOIN visits v ON v.id = l.visit_id WHERE l.jti = $1',
      [jti],
    );
    return r && { visit: visitFrom(r), link: visitLinkFrom(r) };
  }

  async transitionVisit(
    orgId: string,
    id: string,
    from: VisitRecord['status'][],
    to: VisitRecord['status'],
    at: number,
    event: EventRecord,
  ): Promise<VisitRecord | undefined> {
    return this.#tx(async (c) => {
      const column = STATUS_COLUMN[to];
      // A concurrent transition of the same row waits for this one, then re-checks the status.
      const { rows } = await c.query<Row>(
        column
          ? `UPDATE visits SET status = $1, ${column} = $5 WHERE id = $2 AND org_id = $3 AND status = ANY($4::text[]) RETURNING *`
          : 'UPDATE visits SET status = $1 WHERE id = $2 AND org_id = $3 AND status = ANY($4::text[]) RETURNING *',
        column ? [to, id, orgId, from, at] : [to, id, orgId, from],
      );
      const row = rows[0];
      if (!row) return undefined;
      await this.#insertEvent(c, event);
      return visitFrom(row);
    });
  }

  async appendEvent(event: EventRecord): Promise<void> {
    await this.#query(
      'INSERT INTO events (org_id, visit_id, at, actor, type, data) VALUES ($1, $2, $3, $4, $5, $6)',
      [event.orgId, event.visitId ?? null, event.at, event.actor, event.type, JSON.stringify(event.data)],
    );
  }

  async listEvents(orgId: string, visitId: string): Promise<EventRecord[]> {
    const { rows } = await this.#query(
      'SELECT * FROM events WHERE org_id = $1 AND visit_id = $2 ORDER BY id',
      [orgId, visitId],
    );
    return rows.map(eventFrom);
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.#query(
      'INSERT INTO sessions (hash, org_id, api_key_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [s.hash, s.orgId, s.apiKeyId, s.csrf, s.createdAt, s.expiresAt],
    );
  }

  async getSession(hash: string): Promise<SessionRecord | undefined> {
    const r = await this.#one('SELECT * FROM sessions WHERE hash = $1', [hash]);
    return (
      r && {
        hash: String(r['hash']),
        orgId: String(r['org_id']),
        apiKeyId: String(r['api_key_id']),
        csrf: String(r['csrf']),
        createdAt: num(r['created_at']),
        expiresAt: num(r['expires_at']),
      }
    );
  }

  async deleteSession(hash: string): Promise<void> {
    await this.#query('DELETE FROM sessions WHERE hash = $1', [hash]);
  }

  async createHook(h: HookRecord): Promise<void> {
    await this.#query(
      'INSERT INTO hooks (id, org_id, name, secret, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [h.id, h.orgId, h.name, h.secret, h.createdAt, h.revokedAt ?? null],
    );
  }

  async getHook(id: string): Promise<HookRecord | undefined> {
    const r = await this.#one('SELECT * FROM hooks WHERE id = $1', [id]);
    return r && hookFrom(r);
  }

  async listHooks(orgId: string): Promise<HookRecord[]> {
    const { rows } = await this.#query('SELECT * FROM hooks WHERE org_id = $1 ORDER BY created_at, id', [
      orgId,
    ]);
    return rows.map(hookFrom);
  }

  async revokeHook(orgId: string, id: string, at: number): Promise<boolean> {
    const result = await this.#query(
      'UPDATE hooks SET revoked_at = $1 WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL',
      [at, id, orgId],
    );
    return result.rowCount === 1;
  }

  async rotateHookSecret(orgId: string, id: string, secret: string, previousUntil: number): Promise<boolean> {
    const result = await this.#query(
      'UPDATE hooks SET previous_secret = secret, previous_secret_until = $1, secret = $2 WHERE id = $3 AND org_id = $4 AND revoked_at IS NULL',
      [previousUntil, secret, id, orgId],
    );
    return result.rowCount === 1;
  }

  async reserveIdempotencyKey(
    orgId: string,
    key: string,
    requestHash: string,
    at: number,
    claim: IdempotencyClaim,
  ): Promise<IdempotencyReservation> {
    // One transaction: the insert of a racing request waits for the winner's, then does nothing;
    // the row is then read FOR UPDATE, so one request at a time decides (expired, taken over…).
    // When the winner released the key between our insert and our read, try again (a few times).
    return this.#tx(async (c) => {
      for (let attempt = 0; ; attempt++) {
        if (!claim.existingOnly) {
          const inserted = await c.query(
            `INSERT INTO idempotency_keys (org_id, key, request_hash, visit_id, lease_owner, lease_until, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
            [orgId, key, requestHash, claim.visitId, claim.owner, claim.leaseUntil, at],
          );
          if (inserted.rowCount === 1) return { status: 'new', visitId: claim.visitId, takenOver: false };
        }
        const r = (
          await c.query<Row>('SELECT * FROM idempotency_keys WHERE org_id = $1 AND key = $2 FOR UPDATE', [
            orgId,
            key,
          ])
        ).rows[0];
        if (r === undefined) {
          if (claim.existingOnly) return { status: 'absent' };
          if (attempt >= 5) return { status: 'pending', requestHash, leaseUntil: claim.leaseUntil };
          continue;
        }
        if (num(r['created_at']) < claim.expiredBefore) {
          if (claim.existingOnly) return { status: 'absent' };
          await c.query(
            `UPDATE idempotency_keys SET request_hash = $1, visit_id = $2, lease_owner = $3, lease_until = $4,
               created_at = $5, completed_at = NULL WHERE org_id = $6 AND key = $7`,
            [requestHash, claim.visitId, claim.owner, claim.leaseUntil, at, orgId, key],
          );
          return { status: 'new', visitId: claim.visitId, takenOver: false };
        }
        const found = idempotencyOf(r, requestHash, at);
        if (found.status !== 'takeover') return found;
        const visitId = found.visitId ?? claim.visitId;
        await c.query(
          'UPDATE idempotency_keys SET visit_id = $1, lease_owner = $2, lease_until = $3 WHERE org_id = $4 AND key = $5',
          [visitId, claim.owner, claim.leaseUntil, orgId, key],
        );
        return { status: 'new', visitId, takenOver: true };
      }
    });
  }

  async completeIdempotencyKey(orgId: string, key: string, visitId: string, at: number): Promise<void> {
    await this.#query(
      'UPDATE idempotency_keys SET completed_at = $1, lease_owner = NULL, lease_until = NULL WHERE org_id = $2 AND key = $3 AND visit_id = $4 AND completed_at IS NULL',
      [at, orgId, key, visitId],
    );
  }

  async releaseIdempotencyKey(orgId: string, key: string, owner: string): Promise<void> {
    await this.#query(
      'DELETE FROM idempotency_keys WHERE org_id = $1 AND key = $2 AND lease_owner = $3 AND completed_at IS NULL',
      [orgId, key, owner],
    );
  }

  async pruneIdempotencyKeys(before: number, limit?: number): Promise<number> {
    // Keyed by (org_id, key): batches pick rows by ctid.
    return this.#prune('idempotency_keys', 'ctid', 'created_at', '<', before, limit);
  }

  async markDelivery(key: string, at: number): Promise<boolean> {
    const result = await this.#query(
      'INSERT INTO deliveries (key, at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [key, at],
    );
    return result.rowCount === 1;
  }

  /**
   * One DELETE of at most `limit` rows (all without a limit). SKIP LOCKED: instances pruning at
   * the same moment take different rows instead of waiting for each other.
   */
  async #prune(table: string, key: string, column: string, op: '<' | '<=', bound: number, limit?: number) {
    const result =
      limit === undefined
        ? await this.#query(`DELETE FROM ${table} WHERE ${column} ${op} $1`, [bound])
        : await this.#query(
            `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE ${column} ${op} $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
            [bound, limit],
          );
    return result.rowCount ?? 0;
  }

  async pruneDeliveries(before: number, limit?: number): Promise<number> {
    return this.#prune('deliveries', 'key', 'at', '<', before, limit);
  }

  async pruneShortLinks(before: number, limit?: number): Promise<number> {
    return this.#prune('short_links', 'code', 'expires_at', '<', before, limit);
  }

  async pruneSessions(now: number, limit?: number): Promise<number> {
    return this.#prune('sessions', 'hash', 'expires_at', '<=', now, limit);
  }

  async purgeVisits(
    before: number,
    options: { limit?: number; dryRun?: boolean } = {},
  ): Promise<PurgeCounts> {
    const bound = Math.min(before, Math.floor(Date.now() / 1000));
    if (options.dryRun) return purgeCounts((await this.#one(numbered(PURGE_COUNT_SQL), [bound, bound]))!);
    return this.#tx(async (c) => {
      // SKIP LOCKED: instances purging at once take different visits.
      const { rows } = await c.query<Row>(
        `SELECT id, org_id, subject FROM visits WHERE ${numbered(PURGEABLE_SQL)} ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [bound, bound, options.limit ?? null],
      );
      const counts: PurgeCounts = {
        visits: 0,
        links: 0,
        events: 0,
        shortLinks: 0,
        idempotencyKeys: 0,
        spaces: 0,
      };
      if (rows.length === 0) return counts;
      const ids = rows.map((r) => String(r['id']));
      const del = async (sql: string) => (await c.query(sql, [ids])).rowCount ?? 0;
      counts.shortLinks = await del(
        'DELETE FROM short_links WHERE code IN (SELECT short FROM visit_links WHERE visit_id = ANY($1::text[]) AND short IS NOT NULL)',
      );
      counts.idempotencyKeys = await del('DELETE FROM idempotency_keys WHERE visit_id = ANY($1::text[])');
      counts.events = await del('DELETE FROM events WHERE visit_id = ANY($1::text[])');
      counts.links = await del('DELETE FROM visit_links WHERE visit_id = ANY($1::text[])');
      counts.visits = await del('DELETE FROM visits WHERE id = ANY($1::text[])');
      const spaces = await c.query(
        `DELETE FROM spaces s USING unnest($1::text[], $2::text[]) AS u(org_id, subject)
         WHERE s.org_id = u.org_id AND s.subject = u.subject
           AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.org_id = s.org_id AND v.subject = s.subject)`,
        [rows.map((r) => String(r['org_id'])), rows.map((r) => String(r['subject']))],
      );
      counts.spaces = spaces.rowCount ?? 0;
      return counts;
    });
  }

  async enqueueJob(job: {
    type: string;
    payload: Record<string, unknown>;
    runAt: number;
    maxAttempts: number;
    dedupKey?: string;
  }): Promise<number | undefined> {
    const now = Math.floor(Date.now() / 1000);
    return this.#tx(async (client) => {
      if (job.dedupKey !== undefined) {
        const fresh = await client.query(
          'INSERT INTO deliveries (key, at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
          [job.dedupKey, now],
        );
        if (fresh.rowCount === 0) return undefined;
      }
      const r = await client.query(
        "INSERT INTO jobs (type, payload, status, max_attempts, run_at, created_at, updated_at) VALUES ($1, $2, 'pending', $3, $4, $5, $5) RETURNING id",
        [job.type, JSON.stringify(job.payload), job.maxAttempts, job.runAt, now],
      );
      return num(r.rows[0]?.['id']);
    });
  }

  async claimJobs(now: number, limit: number, leaseSeconds: number): Promise<JobRecord[]> {
    // One statement: the due rows are locked as they are picked, and rows another worker is
    // claiming right now are skipped rather than waited for (each job goes to one worker). A
    // running job whose lease ran out belonged to a worker that died: it is due again. The rows
    // come back as they were before the lease, as the SQLite store returns them.
    const { rows } = await this.#query(
      `WITH due AS (
         SELECT id, status, run_at FROM jobs
         WHERE status IN ('pending', 'running') AND run_at <= $1
         ORDER BY run_at, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED
       )
       UPDATE jobs SET status = 'running', run_at = $3, updated_at = $1
       FROM due WHERE jobs.id = due.id
       RETURNING jobs.id, jobs.type, jobs.payload, jobs.attempts, jobs.max_attempts, jobs.last_error,
                 due.status, due.run_at`,
      [now, limit, now + leaseSeconds],
    );
    return rows.map(jobFrom).sort((a, b) => a.runAt - b.runAt || a.id - b.id);
  }

  async completeJob(id: number, at: number): Promise<void> {
    await this.#query(
      "UPDATE jobs SET status = 'done', attempts = attempts + 1, updated_at = $1 WHERE id = $2",
      [at, id],
    );
  }

  async failJob(id: number, error: string, retryAt: number | undefined, at: number): Promise<void> {
    await this.#query(
      'UPDATE jobs SET status = $1, attempts = attempts + 1, last_error = $2, run_at = COALESCE($3::bigint, run_at), updated_at = $4 WHERE id = $5',
      // PostgreSQL text cannot hold NUL: an error message is kept readable without it.
      [
        retryAt === undefined ? 'failed' : 'pending',
        error.slice(0, 1000).replaceAll('\0', ''),
        retryAt ?? null,
        at,
        id,
      ],
    );
  }

  async getJob(id: number): Promise<(JobRecord & { status: string }) | undefined> {
    const r = await this.#one('SELECT * FROM jobs WHERE id = $1', [id]);
    return r && jobFrom(r);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const r = await this.#one('SELECT value FROM settings WHERE key = $1', [key]);
    return r ? String(r['value']) : undefined;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.#query(
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [key, value],
    );
  }
}

/** Thrown inside insertShortLinks' transaction to roll it back; carries the taken codes out. */
class TakenCodes extends Error {
  constructor(readonly codes: string[]) {
    super('short codes taken');
  }
}
