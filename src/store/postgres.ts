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
import { isOutbound, typePattern, typesColumn } from '../domain/outbound-events.js';
import { DatabaseUnavailableError, InstantConnectError } from '../errors.js';
import {
  apiKeyFrom,
  brokerKeyFrom,
  deliveryLogFrom,
  disabledEvent,
  eventAttemptFrom,
  eventDeliveryFrom,
  eventDeliveryJobFrom,
  eventFrom,
  eventSubscriptionFrom,
  hookFrom,
  idempotencyOf,
  jobFrom,
  linkOpening,
  mappedVisitFrom,
  meetingLinkFrom,
  meetingParticipantFrom,
  num,
  orgFrom,
  purgeCounts,
  type Row,
  recipientFrom,
  STATUS_COLUMN,
  sessionFrom,
  shortLinkFrom,
  smsMessageFrom,
  smsOptOutFrom,
  spaceFrom,
  visitFrom,
  visitLinkFrom,
} from './rows.js';
import { migrations } from './schema.js';
import {
  compile,
  eventDeliveryWhere,
  numbered,
  POSTGRES,
  pruneSql,
  type StatementName,
  transitionSql,
} from './sql.js';

export { numbered };

import type {
  ApiKeyRecord,
  DeliveryLogRecord,
  EventAttemptOutcome,
  EventAttemptRecord,
  EventDeliveryJob,
  EventDeliveryQuery,
  EventDeliveryRecord,
  EventRecord,
  EventSubscriptionRecord,
  HookRecord,
  IdempotencyClaim,
  IdempotencyReservation,
  JobRecord,
  LinkOpening,
  MappedVisit,
  MeetingLinkRecord,
  MeetingParticipantChange,
  MeetingParticipantRecord,
  NewJob,
  Org,
  PurgeCounts,
  RecipientRecord,
  SessionRecord,
  ShortLinkRecord,
  SmsMessageRecord,
  SmsOptOutRecord,
  SmsStatus,
  SpaceRecord,
  Store,
  StoredBrokerKey,
  VisitLinkRecord,
  VisitQuery,
  VisitRecord,
  VisitSource,
} from './types.js';
import { visitOrder, visitWhere } from './visit-sql.js';

/** Versioned migrations, generated from the one schema (store/schema.ts): one SQL text per version. */
const MIGRATIONS: string[] = migrations('postgres').map((statements) => statements.join(';\n'));

/** The advisory lock held while migrating (any constant; the same in every instance). */
const MIGRATION_LOCK = 7_212_632_001;

type Queryable = Pick<pg.PoolClient, 'query'>;

const SQL = compile(POSTGRES);

/**
 * Statements prepared once per connection under a name (pg's `name`): those whose result has a
 * fixed shape. A `SELECT *` or `RETURNING *` stays unnamed: a prepared one fails ("cached plan
 * must not change result type") once another instance's migration adds a column.
 */
const NAMED = new Set(
  (Object.keys(SQL) as StatementName[]).filter(
    (name) => !/(SELECT|RETURNING|[a-z]\.)\s*\*/i.test(SQL[name].replace(/COUNT\(\*\)/gi, '')),
  ),
);

/** A shared statement on a pool or a transaction's client. */
function run(c: Queryable, name: StatementName, params: unknown[] = []): Promise<pg.QueryResult<Row>> {
  const text = SQL[name];
  return c.query<Row>(
    NAMED.has(name) ? { name: `ic_${name}`, text, values: params } : { text, values: params },
  );
}

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

  /** Any SQL text, as a named prepared statement when `name` is given. */
  async #text(sql: string, params: unknown[] = [], name?: string): Promise<pg.QueryResult<Row>> {
    try {
      return await this.pool.query<Row>(
        name ? { name, text: sql, values: params } : { text: sql, values: params },
      );
    } catch (err) {
      throw translate(err);
    }
  }

  /** A shared statement (store/sql.ts), compiled for PostgreSQL. */
  async #query(name: StatementName, params: unknown[] = []): Promise<pg.QueryResult<Row>> {
    try {
      return await run(this.pool, name, params);
    } catch (err) {
      throw translate(err);
    }
  }

  async #one(name: StatementName, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.#query(name, params)).rows[0];
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
        if (sql) await c.query(sql); // a version may change only the other dialect
        await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
          current + i + 1,
          Math.floor(Date.now() / 1000),
        ]);
      }
    });
  }

  async schemaStatus(): Promise<{ applied: number; latest: number }> {
    const { rows } = await this.#text(
      "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE (SELECT COALESCE(MAX(version), 0) FROM schema_migrations) END AS v",
    );
    return { applied: Number(rows[0]?.['v'] ?? 0), latest: MIGRATIONS.length };
  }

  async ping(): Promise<void> {
    await this.#text('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }

  async getOrg(id: string): Promise<Org | undefined> {
    const r = await this.#one('getOrg', [id]);
    return r && orgFrom(r);
  }

  async getDefaultOrg(): Promise<Org | undefined> {
    const r = await this.#one('getDefaultOrg');
    return r && orgFrom(r);
  }

  async ensureDefaultOrg(make: () => Org): Promise<{ org: Org; created: boolean }> {
    const existing = await this.getDefaultOrg();
    if (existing) return { org: existing, created: false };
    return this.#tx(async (c) => {
      // Instances starting at once on an empty database: the second waits here, then finds the first's.
      await c.query('LOCK TABLE orgs IN SHARE ROW EXCLUSIVE MODE');
      const found = (await run(c, 'getDefaultOrg')).rows[0];
      if (found) return { org: orgFrom(found), created: false };
      const org = make();
      await run(c, 'insertOrg', [org.id, org.name, org.createdAt]);
      return { org, created: true };
    });
  }

  async createOrg(org: Org): Promise<void> {
    await this.#query('insertOrg', [org.id, org.name, org.createdAt]);
  }

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    await this.#query('insertApiKey', [
      k.id,
      k.orgId,
      k.name,
      k.prefix,
      k.hash,
      k.createdAt,
      k.lastUsedAt ?? null,
      k.revokedAt ?? null,
    ]);
  }

  async listApiKeys(orgId: string): Promise<ApiKeyRecord[]> {
    return (await this.#query('listApiKeys', [orgId])).rows.map(apiKeyFrom);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.#one('findApiKeyByHash', [hash]);
    return r && apiKeyFrom(r);
  }

  async touchApiKey(id: string, at: number, coarseSeconds = 60): Promise<void> {
    await this.#query('touchApiKey', [at, id, at - coarseSeconds]);
  }

  async revokeApiKey(orgId: string, id: string, at: number): Promise<boolean> {
    return (await this.#query('revokeApiKey', [at, id, orgId])).rowCount === 1;
  }

  async listBrokerKeys(): Promise<StoredBrokerKey[]> {
    return (await this.#query('listBrokerKeys')).rows.map(brokerKeyFrom);
  }

  async addBrokerKey(key: StoredBrokerKey, options: { retireNotBefore?: number } = {}): Promise<void> {
    await this.#tx(async (c) => {
      // Rotations on two instances at once: the second waits, so exactly one key ends up active.
      await c.query('LOCK TABLE broker_keys IN SHARE ROW EXCLUSIVE MODE');
      if (key.active) await run(c, 'retireBrokerKeys', [options.retireNotBefore ?? key.createdAt]);
      await run(c, 'insertBrokerKey', [key.kid, key.material, key.createdAt, POSTGRES.bool(key.active)]);
    });
  }

  async brokerKeysVersion(): Promise<number> {
    const r = await this.#one('countBrokerKeys');
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
      const { rows } = await c.query<Row>({
        name: 'ic_insertShortLinks',
        text: `INSERT INTO short_links (code, org_id, cipher, role, vertical, host_login, subject, expires_at, created_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[],
                              $7::text[], $8::bigint[], $9::bigint[])
         ON CONFLICT (code) DO NOTHING
         RETURNING code`,
        values: [
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
      });
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
    const r = await this.#one('getShortLink', [code]);
    return r && shortLinkFrom(r);
  }

  async getOrCreateSpace(
    orgId: string,
    subject: string,
    make: () => { id: string; createdAt: number },
  ): Promise<SpaceRecord> {
    return this.#tx(async (c) => {
      const found = (await run(c, 'findSpace', [orgId, subject])).rows[0];
      if (found) return spaceFrom(found);
      const { id, createdAt } = make();
      await run(c, 'insertSpace', [id, orgId, subject, createdAt]);
      const row = (await run(c, 'findSpace', [orgId, subject])).rows[0];
      if (!row) throw new Error('space vanished while being created');
      return spaceFrom(row);
    });
  }

  /** An event, and its pending deliveries when its type goes out (`c` is then a transaction's client). */
  async #insertEvent(c: Queryable, e: EventRecord): Promise<void> {
    await run(c, 'insertEvent', [e.orgId, e.visitId ?? null, e.at, e.actor, e.type, JSON.stringify(e.data)]);
    if (isOutbound(e.type))
      await run(c, 'fanOutEvent', [e.visitId ?? null, e.type, e.at, e.at, e.orgId, typePattern(e.type)]);
  }

  async #insertLinks(c: Queryable, links: VisitLinkRecord[]): Promise<void> {
    if (links.length === 0) return;
    await c.query({
      name: 'ic_insertVisitLinks',
      text: `INSERT INTO visit_links (visit_id, role, idx, cipher, short, short_url, long_url, forced_login_url, jti,
                               gateway_code)
       SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::text[],
                            $7::text[], $8::text[], $9::text[], $10::text[])`,
      values: [
        links.map((l) => l.visitId),
        links.map((l) => l.role),
        links.map((l) => l.index),
        links.map((l) => l.cipher),
        links.map((l) => l.short ?? null),
        links.map((l) => l.shortUrl ?? null),
        links.map((l) => l.longUrl),
        links.map((l) => l.forcedLoginUrl ?? null),
        links.map((l) => l.jti ?? null),
        links.map((l) => l.gatewayCode ?? null),
      ],
    });
  }

  async createVisit(
    v: VisitRecord,
    links: VisitLinkRecord[],
    event: EventRecord,
    more: { recipients?: RecipientRecord[]; jobs?: NewJob[] } = {},
  ): Promise<void> {
    await this.#tx(async (c) => {
      await run(c, 'insertVisit', [
        v.id,
        v.orgId,
        v.subject,
        v.status,
        v.notBefore ?? null,
        v.expiresAt,
        v.vertical,
        POSTGRES.bool(v.hostLogin),
        POSTGRES.bool(v.shortUrls),
        JSON.stringify(v.devices),
        v.source,
        v.createdBy,
        v.createdAt,
        v.startedAt ?? null,
        v.endedAt ?? null,
        v.cancelledAt ?? null,
        v.hosts,
        v.guests,
        v.gateway ? true : null,
        v.firstGuestAt ?? null,
        v.waitingSince ?? null,
        v.waits ?? 0,
        v.observedBy ?? null,
        v.closedAt ?? null,
        v.alertTo ?? null,
      ]);
      await this.#insertLinks(c, links);
      await this.#insertEvent(c, event);
      for (const r of more.recipients ?? []) await this.#insertRecipient(c, r);
      for (const job of more.jobs ?? []) await this.#insertJob(c, job);
    });
  }

  async #insertRecipient(c: Queryable, r: RecipientRecord): Promise<void> {
    await run(c, 'insertRecipient', [
      r.visitId,
      r.role,
      r.index,
      r.name ?? null,
      r.email ?? null,
      r.phone ?? null,
      r.channel ?? null,
      r.language ?? null,
      r.timeZone ?? null,
    ]);
  }

  async listRecipients(visitId: string): Promise<RecipientRecord[]> {
    return (await this.#query('listRecipients', [visitId])).rows.map(recipientFrom);
  }

  async recordDelivery(d: DeliveryLogRecord, event?: EventRecord): Promise<number> {
    return this.#tx(async (c) => {
      const r = await run(c, 'insertDeliveryLog', [
        d.orgId,
        d.visitId,
        d.role,
        d.index,
        d.channel,
        d.address,
        d.trigger,
        d.actor,
        d.attempt,
        d.status,
        d.providerId ?? null,
        d.error ?? null,
        d.at,
      ]);
      if (event) await this.#insertEvent(c, event);
      return num(r.rows[0]?.['id']);
    });
  }

  async listDeliveries(visitId: string): Promise<DeliveryLogRecord[]> {
    return (await this.#query('listDeliveryLog', [visitId])).rows.map(deliveryLogFrom);
  }

  async addVisitLinks(
    orgId: string,
    visitId: string,
    links: VisitLinkRecord[],
    event: EventRecord,
  ): Promise<void> {
    await this.#tx(async (c) => {
      const hosts = links.filter((l) => l.role === 'host').length;
      const result = await run(c, 'addVisitCounts', [hosts, links.length - hosts, visitId, orgId]);
      if (result.rowCount !== 1) throw new Error(`no visit ${visitId}`);
      await this.#insertLinks(c, links);
      await this.#insertEvent(c, event);
    });
  }

  async getVisit(orgId: string, id: string): Promise<VisitRecord | undefined> {
    const r = await this.#one('getVisit', [id, orgId]);
    return r && visitFrom(r);
  }

  async findVisitBySubject(orgId: string, subject: string): Promise<VisitRecord | undefined> {
    const r = await this.#one('findVisitBySubject', [orgId, subject]);
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
    return (await this.#query('getVisitLinks', [visitId])).rows.map(visitLinkFrom);
  }

  async incrementCounter(key: string, by: number, expiresAt: number): Promise<number> {
    if (Math.random() < 0.01) await this.#query('sweepCounters', [Math.floor(Date.now() / 1000)]);
    const row = await this.#one('incrementCounter', [key, by, expiresAt]);
    return Number(row?.['value'] ?? 0);
  }

  async saveMeetingLink(m: MeetingLinkRecord): Promise<void> {
    await this.#tx(async (c) => {
      const params = [m.visitId, m.orgId, m.roomId, m.meetingId, m.meetingNumber ?? null, m.createdAt];
      if ((await run(c, 'insertMeetingLink', params)).rowCount === 1)
        await run(c, 'observeVisit', ['telemetry', m.visitId]);
    });
  }

  async getMeetingLink(visitId: string): Promise<MeetingLinkRecord | undefined> {
    const r = await this.#one('getMeetingLink', [visitId]);
    return r && meetingLinkFrom(r);
  }

  async findMeetingLinks(meetingId: string): Promise<MeetingLinkRecord[]> {
    return (await this.#query('findMeetingLinks', [meetingId])).rows.map(meetingLinkFrom);
  }

  async unmappedMeetingVisits(sources: VisitSource[], now: number, limit: number): Promise<VisitRecord[]> {
    const { rows } = await this.#query('unmappedMeetingVisits', [POSTGRES.list(sources), now, now, limit]);
    return rows.map(visitFrom);
  }

  async mappedMeetingVisits(sources: VisitSource[], now: number, limit: number): Promise<MappedVisit[]> {
    const { rows } = await this.#query('mappedMeetingVisits', [POSTGRES.list(sources), now, now, limit]);
    return rows.map(mappedVisitFrom);
  }

  async recordMeetingParticipant(change: MeetingParticipantChange, event: EventRecord): Promise<boolean> {
    const { visitId, participantId, role, state, at } = change;
    return this.#tx(async (c) => {
      const joined =
        state === 'joined' &&
        (await run(c, 'insertMeetingParticipant', [visitId, participantId, role, at])).rowCount === 1;
      if (!joined) {
        // FOR UPDATE: two deliveries of one participant at once are applied one after the other.
        const row = (await run(c, 'getMeetingParticipant', [visitId, participantId])).rows[0];
        const present = row !== undefined && row['left_at'] === null;
        if (state === 'joined' ? present : !present) return false;
        await run(c, state === 'joined' ? 'rejoinMeetingParticipant' : 'leaveMeetingParticipant', [
          at,
          visitId,
          participantId,
        ]);
      }
      await this.#insertEvent(c, event);
      return true;
    });
  }

  async listMeetingParticipants(visitId: string): Promise<MeetingParticipantRecord[]> {
    return (await this.#query('listMeetingParticipants', [visitId])).rows.map(meetingParticipantFrom);
  }

  async findVisitLinkByCipher(
    cipher: string,
  ): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined> {
    const r = await this.#one('findVisitLinkByCipher', [cipher]);
    return r && { visit: visitFrom(r), link: visitLinkFrom(r) };
  }

  async findVisitLinkByJti(jti: string): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined> {
    const r = await this.#one('findVisitLinkByJti', [jti]);
    return r && { visit: visitFrom(r), link: visitLinkFrom(r) };
  }

  async findGatewayLink(code: string): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined> {
    const r = await this.#one('findGatewayLink', [code]);
    return r && { visit: visitFrom(r), link: visitLinkFrom(r) };
  }

  async recordLinkOpening(
    visitId: string,
    role: VisitLinkRecord['role'],
    index: number,
    at: number,
    options: { logEverySeconds: number; event: EventRecord },
  ): Promise<LinkOpening> {
    return this.#tx(async (c) => {
      // The link's and the visit's rows stay locked to the end: a cancel (an UPDATE of the visit)
      // or a withdrawal of the link waits for this opening, and an opening waits for them.
      const locked = (await run(c, 'lockVisitLink', [visitId, role, index])).rows[0];
      const { opening, loggedAt } = linkOpening(locked, at, options.logEverySeconds);
      if (opening.outcome !== 'opened') return opening;
      await run(c, 'markLinkOpened', [at, loggedAt, visitId, role, index]);
      if (opening.logged) await this.#insertEvent(c, options.event);
      return opening;
    });
  }

  async revokeVisitLink(
    visitId: string,
    role: VisitLinkRecord['role'],
    index: number,
    at: number,
    event: EventRecord,
  ): Promise<VisitLinkRecord | undefined> {
    return this.#tx(async (c) => {
      const r = (await run(c, 'revokeVisitLink', [at, visitId, role, index])).rows[0];
      if (!r) return undefined;
      await this.#insertEvent(c, event);
      return visitLinkFrom(r);
    });
  }

  async transitionVisit(
    orgId: string,
    id: string,
    from: VisitRecord['status'][],
    to: VisitRecord['status'],
    at: number,
    event: EventRecord,
    jobs: NewJob[] = [],
  ): Promise<VisitRecord | undefined> {
    return this.#tx(async (c) => {
      const column = STATUS_COLUMN[to];
      // A concurrent transition of the same row waits for this one, then re-checks the status.
      const { rows } = await c.query<Row>(transitionSql(POSTGRES, column), [
        to,
        ...(column ? [at] : []),
        id,
        orgId,
        POSTGRES.list(from),
      ]);
      const row = rows[0];
      if (!row) return undefined;
      await this.#insertEvent(c, event);
      for (const job of jobs) await this.#insertJob(c, job);
      return visitFrom(row);
    });
  }

  async recordGuestArrival(
    orgId: string,
    id: string,
    at: number,
    event: EventRecord,
    jobOf?: (visit: VisitRecord) => NewJob | undefined,
  ): Promise<{ visit: VisitRecord; waitStarted: boolean } | undefined> {
    return this.#tx(async (c) => {
      await run(c, 'markFirstGuest', [at, id, orgId]);
      // Two arrivals at once: the second waits for the first's row lock, then finds the wait started.
      const started = (await run(c, 'startWaiting', [at, id, orgId, at, at])).rows[0];
      if (started) {
        const visit = visitFrom(started);
        await this.#insertEvent(c, event);
        const job = jobOf?.(visit);
        if (job) await this.#insertJob(c, job);
        return { visit, waitStarted: true };
      }
      const row = (await run(c, 'getVisit', [id, orgId])).rows[0];
      return row && { visit: visitFrom(row), waitStarted: false };
    });
  }

  async stopWaiting(orgId: string, id: string): Promise<VisitRecord | undefined> {
    const row = await this.#one('stopWaiting', [id, orgId]);
    return row && visitFrom(row);
  }

  async closeVisits(
    now: number,
    limit: number,
    eventOf: (visit: VisitRecord) => EventRecord | undefined,
  ): Promise<VisitRecord[]> {
    return this.#tx(async (c) => {
      const closed = (await run(c, 'closeVisits', [now, now, limit])).rows.map(visitFrom);
      for (const visit of closed) {
        const event = eventOf(visit);
        if (event) await this.#insertEvent(c, event);
      }
      return closed;
    });
  }

  async appendEvent(event: EventRecord): Promise<void> {
    // An outbound event and its deliveries commit together (currval needs the same session).
    if (isOutbound(event.type)) await this.#tx((c) => this.#insertEvent(c, event));
    else await this.#insertEvent(this.pool, event);
  }

  async listEvents(orgId: string, visitId: string): Promise<EventRecord[]> {
    return (await this.#query('listEvents', [orgId, visitId])).rows.map(eventFrom);
  }

  async createEventSubscription(sub: EventSubscriptionRecord): Promise<void> {
    await this.#query('insertEventSubscription', [
      sub.id,
      sub.orgId,
      sub.url,
      typesColumn(sub.types),
      sub.description ?? null,
      sub.secret,
      sub.createdAt,
    ]);
  }

  async getEventSubscription(orgId: string, id: string): Promise<EventSubscriptionRecord | undefined> {
    const r = await this.#one('getEventSubscription', [id, orgId]);
    return r && eventSubscriptionFrom(r);
  }

  async listEventSubscriptions(orgId: string): Promise<EventSubscriptionRecord[]> {
    return (await this.#query('listEventSubscriptions', [orgId])).rows.map(eventSubscriptionFrom);
  }

  async deleteEventSubscription(orgId: string, id: string, at: number): Promise<boolean> {
    return this.#tx(async (c) => {
      if ((await run(c, 'disableEventSubscription', [at, 'unsubscribed', id, orgId])).rowCount !== 1)
        return false;
      await run(c, 'dropEventDeliveries', ['unsubscribed', id]);
      return true;
    });
  }

  async rotateEventSubscriptionSecret(
    orgId: string,
    id: string,
    secret: string,
    previousUntil: number,
  ): Promise<boolean> {
    return (await this.#query('rotateEventSecret', [previousUntil, secret, id, orgId])).rowCount === 1;
  }

  async claimEventDeliveries(now: number, limit: number, leaseSeconds: number): Promise<EventDeliveryJob[]> {
    // The due rows are locked as they are picked; rows another instance is claiming are skipped.
    return this.#tx(async (c) => {
      const ids = (await run(c, 'dueEventDeliveries', [now, now, limit])).rows.map((r) => Number(r['id']));
      const jobs: EventDeliveryJob[] = [];
      for (const id of ids) {
        await run(c, 'leaseEventDelivery', [now + leaseSeconds, id]);
        const row = (await run(c, 'eventDeliveryToSend', [id])).rows[0];
        if (row) jobs.push(eventDeliveryJobFrom(row));
      }
      return jobs;
    });
  }

  async recordEventAttempt(o: EventAttemptOutcome): Promise<{ disabled: boolean }> {
    return this.#tx(async (c) => {
      const { attempt: a } = o;
      const error = a.error === undefined ? null : a.error.slice(0, 1000).replaceAll('\0', '');
      await run(c, 'insertEventAttempt', [o.deliveryId, a.at, a.status ?? null, a.latencyMs, error]);
      const row = (
        await run(c, 'finishEventDelivery', [
          o.outcome === 'retry' ? 'pending' : o.outcome,
          o.outcome === 'retry' ? (o.retryAt ?? a.at) : null,
          a.at,
          o.outcome === 'delivered' ? a.at : null,
          a.status ?? null,
          error,
          o.deliveryId,
        ])
      ).rows[0];
      if (!row) return { disabled: false };
      const subscriptionId = String(row['subscription_id']);
      if (o.outcome === 'delivered') {
        await run(c, 'eventSubscriptionSucceeded', [subscriptionId]);
        return { disabled: false };
      }
      const state = (await run(c, 'eventSubscriptionFailed', [a.at, subscriptionId])).rows[0];
      if (!state) return { disabled: false };
      const failing = {
        consecutiveFailures: Number(state['consecutive_failures']),
        failingSince: Number(state['failing_since']),
      };
      if (!o.disableWhen(failing)) return { disabled: false };
      const orgId = String(row['org_id']);
      const reason = `every attempt failed: ${failing.consecutiveFailures} in a row since ${new Date(failing.failingSince * 1000).toISOString()}`;
      await run(c, 'disableEventSubscription', [a.at, reason, subscriptionId, orgId]);
      await run(c, 'dropEventDeliveries', ['subscription disabled', subscriptionId]);
      await this.#insertEvent(c, disabledEvent(orgId, subscriptionId, a.at, reason, failing));
      return { disabled: true };
    });
  }

  async listEventDeliveries(
    orgId: string,
    query: EventDeliveryQuery,
  ): Promise<(EventDeliveryRecord & { attemptLog: EventAttemptRecord[] })[]> {
    const { sql, params } = eventDeliveryWhere(orgId, query);
    const n = params.length;
    return this.#tx(async (c) => {
      const { rows } = await c.query<Row>(
        `SELECT d.* FROM event_deliveries d WHERE ${numbered(sql)} ORDER BY d.id DESC LIMIT $${n + 1}`,
        [...params, query.limit],
      );
      const attempts = await c.query<Row>(
        'SELECT * FROM event_attempts WHERE delivery_id = ANY($1::bigint[]) ORDER BY id',
        [rows.map((r) => Number(r['id']))],
      );
      return rows.map((r) => ({
        ...eventDeliveryFrom(r),
        attemptLog: attempts.rows
          .filter((a) => Number(a['delivery_id']) === Number(r['id']))
          .map(eventAttemptFrom),
      }));
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  async getEventDelivery(orgId: string, id: number): Promise<EventDeliveryRecord | undefined> {
    const r = await this.#one('getEventDelivery', [id, orgId]);
    return r && eventDeliveryFrom(r);
  }

  async replayEventDelivery(orgId: string, id: number, at: number): Promise<boolean> {
    return (await this.#query('replayEventDelivery', [at, id, orgId])).rowCount === 1;
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.#query('insertSession', [s.hash, s.orgId, s.apiKeyId, s.csrf, s.createdAt, s.expiresAt]);
  }

  async getSession(hash: string): Promise<SessionRecord | undefined> {
    const r = await this.#one('getSession', [hash]);
    return r && sessionFrom(r);
  }

  async deleteSession(hash: string): Promise<void> {
    await this.#query('deleteSession', [hash]);
  }

  async createHook(h: HookRecord): Promise<void> {
    await this.#query('insertHook', [h.id, h.orgId, h.name, h.secret, h.createdAt, h.revokedAt ?? null]);
  }

  async getHook(id: string): Promise<HookRecord | undefined> {
    const r = await this.#one('getHook', [id]);
    return r && hookFrom(r);
  }

  async listHooks(orgId: string): Promise<HookRecord[]> {
    return (await this.#query('listHooks', [orgId])).rows.map(hookFrom);
  }

  async revokeHook(orgId: string, id: string, at: number): Promise<boolean> {
    return (await this.#query('revokeHook', [at, id, orgId])).rowCount === 1;
  }

  async rotateHookSecret(orgId: string, id: string, secret: string, previousUntil: number): Promise<boolean> {
    return (await this.#query('rotateHookSecret', [previousUntil, secret, id, orgId])).rowCount === 1;
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
          const inserted = await c.query({
            name: 'ic_claimIdempotencyKey',
            text: `INSERT INTO idempotency_keys (org_id, key, request_hash, visit_id, lease_owner, lease_until, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
            values: [orgId, key, requestHash, claim.visitId, claim.owner, claim.leaseUntil, at],
          });
          if (inserted.rowCount === 1) return { status: 'new', visitId: claim.visitId, takenOver: false };
        }
        const r = (await run(c, 'getIdempotencyKey', [orgId, key])).rows[0];
        if (r === undefined) {
          if (claim.existingOnly) return { status: 'absent' };
          if (attempt >= 5) return { status: 'pending', requestHash, leaseUntil: claim.leaseUntil };
          continue;
        }
        if (num(r['created_at']) < claim.expiredBefore) {
          if (claim.existingOnly) return { status: 'absent' };
          await run(c, 'renewIdempotencyKey', [
            requestHash,
            claim.visitId,
            claim.owner,
            claim.leaseUntil,
            at,
            orgId,
            key,
          ]);
          return { status: 'new', visitId: claim.visitId, takenOver: false };
        }
        const found = idempotencyOf(r, requestHash, at);
        if (found.status !== 'takeover') return found;
        const visitId = found.visitId ?? claim.visitId;
        await run(c, 'takeOverIdempotencyKey', [visitId, claim.owner, claim.leaseUntil, orgId, key]);
        return { status: 'new', visitId, takenOver: true };
      }
    });
  }

  async completeIdempotencyKey(orgId: string, key: string, visitId: string, at: number): Promise<void> {
    await this.#query('completeIdempotencyKey', [at, orgId, key, visitId]);
  }

  async releaseIdempotencyKey(orgId: string, key: string, owner: string): Promise<void> {
    await this.#query('releaseIdempotencyKey', [orgId, key, owner]);
  }

  async pruneIdempotencyKeys(before: number, limit?: number): Promise<number> {
    // Keyed by (org_id, key): batches pick rows by ctid.
    return this.#prune('idempotency_keys', 'ctid', 'created_at', '<', before, limit);
  }

  async markDelivery(key: string, at: number): Promise<boolean> {
    return (await this.#query('insertDelivery', [key, at])).rowCount === 1;
  }

  /**
   * One DELETE of at most `limit` rows (all without a limit). SKIP LOCKED: instances pruning at
   * the same moment take different rows instead of waiting for each other.
   */
  async #prune(table: string, key: string, column: string, op: '<' | '<=', bound: number, limit?: number) {
    const sql = pruneSql(POSTGRES, table, key, column, op, limit !== undefined);
    const result = await this.#text(sql, limit === undefined ? [bound] : [bound, limit]);
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

  async pruneEventDeliveries(before: number, limit?: number): Promise<number> {
    return this.#tx(async (c) => {
      // SKIP LOCKED: instances pruning at once take different deliveries.
      const { rows } = await run(c, 'prunableEventDeliveries', [before, limit ?? POSTGRES.noLimit]);
      if (rows.length === 0) return 0;
      const ids = rows.map((r) => String(r['id']));
      await run(c, 'pruneEventAttemptsOf', [ids]);
      return (await run(c, 'pruneEventDeliveryRows', [ids])).rowCount ?? 0;
    });
  }

  async purgeVisits(
    before: number,
    options: { limit?: number; dryRun?: boolean } = {},
  ): Promise<PurgeCounts> {
    const bound = Math.min(before, Math.floor(Date.now() / 1000));
    if (options.dryRun) return purgeCounts((await this.#one('purgeCounts', [bound, bound]))!);
    return this.#tx(async (c) => {
      // SKIP LOCKED: instances purging at once take different visits.
      const { rows } = await run(c, 'purgeableVisits', [bound, bound, options.limit ?? POSTGRES.noLimit]);
      const counts: PurgeCounts = {
        visits: 0,
        links: 0,
        events: 0,
        shortLinks: 0,
        idempotencyKeys: 0,
        spaces: 0,
      };
      if (rows.length === 0) return counts;
      const ids = [POSTGRES.list(rows.map((r) => String(r['id'])))];
      const del = async (name: StatementName) => (await run(c, name, ids)).rowCount ?? 0;
      counts.shortLinks = await del('purgeShortLinks');
      counts.idempotencyKeys = await del('purgeIdempotencyKeys');
      counts.events = await del('purgeEvents');
      await del('purgeEventAttempts');
      await del('purgeEventDeliveries');
      await del('purgeMeetingParticipants');
      await del('purgeMeetingLinks');
      await del('purgeRecipients');
      await del('purgeDeliveryLog');
      counts.links = await del('purgeVisitLinks');
      counts.visits = await del('purgeVisitRows');
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

  async enqueueJob(job: NewJob): Promise<number | undefined> {
    return this.#tx((c) => this.#insertJob(c, job));
  }

  async #insertJob(c: Queryable, job: NewJob): Promise<number | undefined> {
    const now = Math.floor(Date.now() / 1000);
    if (job.dedupKey !== undefined && (await run(c, 'insertDelivery', [job.dedupKey, now])).rowCount === 0)
      return undefined;
    const r = await run(c, 'insertJob', [
      job.type,
      JSON.stringify(job.payload),
      job.maxAttempts,
      job.runAt,
      now,
      now,
    ]);
    return num(r.rows[0]?.['id']);
  }

  async claimJobs(now: number, limit: number, leaseSeconds: number): Promise<JobRecord[]> {
    // One statement: the due rows are locked as they are picked, and rows another worker is
    // claiming right now are skipped rather than waited for (each job goes to one worker). A
    // running job whose lease ran out belonged to a worker that died: it is due again. The rows
    // come back as they were before the lease, as the SQLite store returns them.
    const { rows } = await this.#text(
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
      'ic_claimJobs',
    );
    return rows.map(jobFrom).sort((a, b) => a.runAt - b.runAt || a.id - b.id);
  }

  async completeJob(id: number, at: number): Promise<void> {
    await this.#query('completeJob', [at, id]);
  }

  async failJob(id: number, error: string, retryAt: number | undefined, at: number): Promise<void> {
    await this.#query('failJob', [
      retryAt === undefined ? 'failed' : 'pending',
      // PostgreSQL text cannot hold NUL: an error message is kept readable without it.
      error.slice(0, 1000).replaceAll('\0', ''),
      retryAt ?? null,
      at,
      id,
    ]);
  }

  async getJob(id: number): Promise<(JobRecord & { status: string }) | undefined> {
    const r = await this.#one('getJob', [id]);
    return r && jobFrom(r);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const r = await this.#one('getSetting', [key]);
    return r ? String(r['value']) : undefined;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.#query('setSetting', [key, value]);
  }

  async recordSmsOptOut(o: SmsOptOutRecord): Promise<void> {
    await this.#query('upsertSmsOptOut', [o.phone, o.orgId ?? null, o.keyword, o.at]);
  }

  async removeSmsOptOut(phone: string): Promise<boolean> {
    return (await this.#query('deleteSmsOptOut', [phone])).rowCount === 1;
  }

  async getSmsOptOut(phone: string): Promise<SmsOptOutRecord | undefined> {
    const r = await this.#one('getSmsOptOut', [phone]);
    return r && smsOptOutFrom(r);
  }

  async saveSmsMessage(m: SmsMessageRecord): Promise<void> {
    await this.#query('insertSmsMessage', [
      m.providerId,
      m.provider,
      m.phone,
      m.status,
      0,
      m.errorCode ?? null,
      m.createdAt,
      m.updatedAt,
    ]);
  }

  async updateSmsStatus(u: {
    providerId: string;
    status: SmsStatus;
    rank: number;
    errorCode?: string;
    at: number;
  }): Promise<SmsMessageRecord | undefined> {
    const r =
      (await this.#one('updateSmsStatus', [
        u.status,
        u.rank,
        u.errorCode ?? null,
        u.at,
        u.providerId,
        u.rank,
      ])) ?? (await this.#one('getSmsMessage', [u.providerId]));
    return r && smsMessageFrom(r);
  }

  async getSmsMessage(providerId: string): Promise<SmsMessageRecord | undefined> {
    const r = await this.#one('getSmsMessage', [providerId]);
    return r && smsMessageFrom(r);
  }
}

/** Thrown inside insertShortLinks' transaction to roll it back; carries the taken codes out. */
class TakenCodes extends Error {
  constructor(readonly codes: string[]) {
    super('short codes taken');
  }
}
