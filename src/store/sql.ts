/**
 * The store's statements, each written once with `?` placeholders, and the small dialect object
 * for what really differs between SQLite and PostgreSQL (placeholders, booleans, a list parameter,
 * `GREATEST`, `FOR UPDATE [SKIP LOCKED]`, the key a batched DELETE picks rows by). Each store
 * compiles them once (`compile`) and prepares them once: SQLite by SQL text, PostgreSQL as named
 * prepared statements where the result shape cannot change under it.
 *
 * What only one dialect can say stays in its store: PostgreSQL's `unnest` batch inserts, its
 * one-statement `SKIP LOCKED` job claim, table locks; SQLite's `BEGIN IMMEDIATE` transactions.
 */
import type { Dialect } from './schema.js';
import { PURGE_COUNT_SQL as PURGE_COUNT, PURGEABLE_SQL as PURGEABLE } from './visit-sql.js';

export interface SqlDialect {
  name: Dialect;
  /** `?` as the driver wants them. */
  placeholders(sql: string): string;
  /** A boolean parameter (SQLite stores 0/1). */
  bool(value: boolean): boolean | number;
  /** Literals of a flag in SQL text. */
  readonly true: string;
  readonly false: string;
  /** A condition `expr` in a list given as one parameter (see `list`). */
  inList(expr: string): string;
  /** A condition `expr` (a whole number) in a list of numbers given as one parameter (see `list`). */
  inNumbers(expr: string): string;
  /** The one parameter of `inList`. */
  list(values: string[]): unknown;
  /** The larger of its arguments. */
  readonly greatest: string;
  /** After a SELECT that will update what it read (PostgreSQL row locks; SQLite's writer is alone). */
  readonly forUpdate: string;
  /** After a SELECT whose rows another instance may take instead (PostgreSQL SKIP LOCKED). */
  readonly skipLocked: string;
  /** The LIMIT parameter meaning "no limit". */
  readonly noLimit: number | null;
  /** What a batched DELETE picks rows by: SQLite's rowid, PostgreSQL the table's key (or ctid). */
  rowKey(key: string): string;
  /** `column` holds the cipher `value`, said in the form the dialect's cipher index serves. */
  cipherIs(column: string, value: string): string;
  /** The id of the event this connection inserted last (insertEvent, just before). */
  readonly lastEventId: string;
}

/**
 * `?` placeholders numbered `$n` for PostgreSQL, from `$start`; a `?` inside a quoted literal is
 * left alone.
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

export const SQLITE: SqlDialect = {
  name: 'sqlite',
  placeholders: (sql) => sql,
  bool: (value) => (value ? 1 : 0),
  true: '1',
  false: '0',
  inList: (expr) => `${expr} IN (SELECT value FROM json_each(?))`,
  inNumbers: (expr) => `${expr} IN (SELECT value FROM json_each(?))`,
  list: (values) => JSON.stringify(values),
  greatest: 'MAX',
  forUpdate: '',
  skipLocked: '',
  noLimit: -1,
  rowKey: () => 'rowid',
  // SQLite indexes the cipher's tail (store/schema.ts, version 9): say the same expression, then
  // compare the whole cipher.
  cipherIs: (column, value) => `substr(${column}, -24) = substr(${value}, -24) AND ${column} = ${value}`,
  lastEventId: 'last_insert_rowid()',
};

export const POSTGRES: SqlDialect = {
  name: 'postgres',
  placeholders: (sql) => numbered(sql),
  bool: (value) => value,
  true: 'TRUE',
  false: 'FALSE',
  inList: (expr) => `${expr} = ANY(?::text[])`,
  inNumbers: (expr) => `${expr} = ANY(?::bigint[])`,
  list: (values) => values,
  greatest: 'GREATEST',
  forUpdate: ' FOR UPDATE',
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  noLimit: null,
  rowKey: (key) => key,
  cipherIs: (column, value) => `${column} = ${value}`,
  lastEventId: "currval('events_id_seq')",
};

/** Every statement both stores run, in `?` form, from the dialect's few differences. */
function statements(d: SqlDialect) {
  return {
    getOrg: 'SELECT * FROM orgs WHERE id = ?',
    getDefaultOrg: 'SELECT * FROM orgs ORDER BY created_at, id LIMIT 1',
    insertOrg: 'INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)',

    insertApiKey:
      'INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    listApiKeys: 'SELECT * FROM api_keys WHERE org_id = ? ORDER BY created_at, id',
    findApiKeyByHash: 'SELECT * FROM api_keys WHERE hash = ?',
    touchApiKey:
      'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)',
    revokeApiKey: 'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL',

    listBrokerKeys: 'SELECT * FROM broker_keys ORDER BY active DESC, created_at DESC, kid',
    /** The keys a new active key replaces retire when every link stored so far has expired (`?`: not before). */
    retireBrokerKeys: `UPDATE broker_keys SET active = ${d.false}, retires_at = ${d.greatest}(CAST(? AS BIGINT),
       COALESCE((SELECT MAX(expires_at) FROM visits), 0),
       COALESCE((SELECT MAX(expires_at) FROM short_links), 0))
     WHERE active = ${d.true}`,
    insertBrokerKey: 'INSERT INTO broker_keys (kid, material, created_at, active) VALUES (?, ?, ?, ?)',
    countBrokerKeys: 'SELECT COUNT(*) AS n FROM broker_keys',

    shortLinkExists: 'SELECT 1 FROM short_links WHERE code = ?',
    insertShortLink: `INSERT INTO short_links (code, org_id, cipher, role, vertical, host_login, subject, expires_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    getShortLink: 'SELECT * FROM short_links WHERE code = ?',

    findSpace: 'SELECT * FROM spaces WHERE org_id = ? AND subject = ?',
    /** A concurrent first use inserts too: this one waits for it, then keeps its space. */
    insertSpace:
      'INSERT INTO spaces (id, org_id, subject, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (org_id, subject) DO NOTHING',

    insertVisit: `INSERT INTO visits (id, org_id, subject, status, not_before, expires_at, vertical, host_login, short_urls,
       devices, source, created_by, created_at, started_at, ended_at, cancelled_at, hosts, guests, gateway,
       first_guest_at, waiting_since, waits, observed_by, closed_at, alert_to)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    insertVisitLink: `INSERT INTO visit_links (visit_id, role, idx, cipher, short, short_url, long_url, forced_login_url, jti,
       gateway_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    addVisitCounts: 'UPDATE visits SET hosts = hosts + ?, guests = guests + ? WHERE id = ? AND org_id = ?',
    getVisit: 'SELECT * FROM visits WHERE id = ? AND org_id = ?',
    findVisitBySubject:
      "SELECT * FROM visits WHERE org_id = ? AND subject = ? AND status <> 'cancelled' ORDER BY created_at DESC, id DESC LIMIT 1",
    getVisitLinks:
      "SELECT * FROM visit_links WHERE visit_id = ? ORDER BY CASE role WHEN 'host' THEN 0 ELSE 1 END, idx",
    // The two tables share no column name but the key, so one row feeds both mappers.
    findVisitLinkByJti:
      'SELECT l.*, v.* FROM visit_links l JOIN visits v ON v.id = l.visit_id WHERE l.jti = ?',
    // The cipher is bound once, as a one-row table, and compared where the dialect's index serves.
    findVisitLinkByCipher: `SELECT l.*, v.* FROM (SELECT CAST(? AS TEXT) AS c) p
      JOIN visit_links l ON ${d.cipherIs('l.cipher', 'p.c')} JOIN visits v ON v.id = l.visit_id`,

    findGatewayLink:
      'SELECT l.*, v.* FROM visit_links l JOIN visits v ON v.id = l.visit_id WHERE l.gateway_code = ?',
    /** A link and its visit's status, locked (PostgreSQL) so a cancel or a withdrawal waits for an opening. */
    lockVisitLink: `SELECT l.opened_at, l.logged_open_at, l.revoked_at, v.status FROM visit_links l
       JOIN visits v ON v.id = l.visit_id WHERE l.visit_id = ? AND l.role = ? AND l.idx = ?${d.forUpdate}`,
    markLinkOpened:
      'UPDATE visit_links SET opened_at = COALESCE(opened_at, ?), logged_open_at = ? WHERE visit_id = ? AND role = ? AND idx = ?',
    revokeVisitLink:
      'UPDATE visit_links SET revoked_at = ? WHERE visit_id = ? AND role = ? AND idx = ? AND revoked_at IS NULL RETURNING *',
    /** A guest's arrival: the first one's time is kept. */
    markFirstGuest:
      'UPDATE visits SET first_guest_at = ? WHERE id = ? AND org_id = ? AND first_guest_at IS NULL',
    /** A wait starts (once per wait): pending, inside its window (the clock twice), nobody waiting. */
    startWaiting: `UPDATE visits SET waiting_since = ?, waits = waits + 1
      WHERE id = ? AND org_id = ? AND status = 'pending' AND waiting_since IS NULL
        AND expires_at > ? AND (not_before IS NULL OR not_before <= ?) RETURNING *`,
    stopWaiting:
      'UPDATE visits SET waiting_since = NULL WHERE id = ? AND org_id = ? AND waiting_since IS NOT NULL RETURNING *',
    /**
     * Closes visits whose window closed (`?`: now, now, limit): once each, across instances (the
     * rows another instance is closing are skipped, and `closed_at IS NULL` is checked again).
     */
    closeVisits: `UPDATE visits SET closed_at = ?, waiting_since = NULL WHERE id IN
      (SELECT id FROM visits WHERE closed_at IS NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?${d.skipLocked})
      AND closed_at IS NULL RETURNING *`,

    insertEvent: 'INSERT INTO events (org_id, visit_id, at, actor, type, data) VALUES (?, ?, ?, ?, ?, ?)',
    listEvents: 'SELECT * FROM events WHERE org_id = ? AND visit_id = ? ORDER BY id',
    /**
     * Right after insertEvent, in its transaction, for a type of the outbound catalogue: one pending
     * delivery per active subscription of the organisation that asks for the type (visit id, type,
     * next_at, created_at, org id, the type's LIKE pattern). Its `webhook-id` is fixed here. The
     * event's id is read once, before any row is inserted (SQLite's last_insert_rowid() would
     * otherwise move to each delivery inserted).
     */
    fanOutEvent: `WITH e AS MATERIALIZED (SELECT ${d.lastEventId} AS id)
       INSERT INTO event_deliveries (subscription_id, event_id, org_id, visit_id, type, status, attempts, next_at,
         created_at, webhook_id)
       SELECT s.id, e.id, s.org_id, CAST(? AS TEXT), ?, 'pending', 0, CAST(? AS BIGINT), CAST(? AS BIGINT),
         'msg_' || substr(s.id, 5) || '_' || CAST(e.id AS TEXT)
       FROM e, event_subscriptions s
       WHERE s.org_id = ? AND s.disabled_at IS NULL AND (s.types = '*' OR s.types LIKE ?)`,

    insertEventSubscription: `INSERT INTO event_subscriptions (id, org_id, url, types, description, secret, created_at,
         consecutive_failures) VALUES (?, ?, ?, ?, ?, ?, ?, 0)`,
    getEventSubscription: 'SELECT * FROM event_subscriptions WHERE id = ? AND org_id = ?',
    listEventSubscriptions: 'SELECT * FROM event_subscriptions WHERE org_id = ? ORDER BY created_at, id',
    disableEventSubscription:
      'UPDATE event_subscriptions SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND org_id = ? AND disabled_at IS NULL',
    /** The pending deliveries of a subscription that stopped, closed with the reason. */
    dropEventDeliveries:
      "UPDATE event_deliveries SET status = 'failed', lease_until = NULL, last_error = ? WHERE subscription_id = ? AND status = 'pending'",
    rotateEventSecret:
      'UPDATE event_subscriptions SET previous_secret = secret, previous_secret_until = ?, secret = ? WHERE id = ? AND org_id = ? AND disabled_at IS NULL',
    insertEventAttempt:
      'INSERT INTO event_attempts (delivery_id, at, status, latency_ms, error) VALUES (?, ?, ?, ?, ?)',
    /** An attempt's outcome: status, next_at (null: unchanged), at, delivered_at, last status, last error, id. */
    finishEventDelivery: `UPDATE event_deliveries SET status = ?, attempts = attempts + 1, next_at = COALESCE(CAST(? AS BIGINT), next_at),
         lease_until = NULL, first_attempt_at = COALESCE(first_attempt_at, CAST(? AS BIGINT)), delivered_at = ?,
         last_status = ?, last_error = ? WHERE id = ? RETURNING subscription_id, org_id`,
    eventSubscriptionSucceeded:
      'UPDATE event_subscriptions SET consecutive_failures = 0, failing_since = NULL WHERE id = ?',
    eventSubscriptionFailed: `UPDATE event_subscriptions SET consecutive_failures = consecutive_failures + 1,
         failing_since = COALESCE(failing_since, CAST(? AS BIGINT)) WHERE id = ? AND disabled_at IS NULL
       RETURNING consecutive_failures, failing_since`,
    getEventDelivery: 'SELECT * FROM event_deliveries WHERE id = ? AND org_id = ?',
    /** Queued again (the same webhook-id), unless pending already or its subscription stopped. */
    replayEventDelivery: `UPDATE event_deliveries SET status = 'pending', next_at = ?, lease_until = NULL, first_attempt_at = NULL
       WHERE id = ? AND org_id = ? AND status <> 'pending'
         AND subscription_id IN (SELECT id FROM event_subscriptions WHERE disabled_at IS NULL)`,
    /**
     * Due deliveries (now, now, limit): pending, due, not leased, of an active subscription, and
     * with no earlier pending delivery of the same subscription and visit (order per visit).
     */
    dueEventDeliveries: `SELECT d.id FROM event_deliveries d JOIN event_subscriptions s ON s.id = d.subscription_id
       WHERE d.status = 'pending' AND d.next_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
         AND s.disabled_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM event_deliveries p WHERE p.subscription_id = d.subscription_id
           AND p.visit_id = d.visit_id AND p.status = 'pending' AND p.id < d.id)
       ORDER BY d.next_at, d.id LIMIT ?${d.name === 'postgres' ? ' FOR UPDATE OF d SKIP LOCKED' : ''}`,
    leaseEventDelivery: 'UPDATE event_deliveries SET lease_until = ? WHERE id = ?',
    /** What the worker needs to send a claimed delivery: the subscription's URL and secrets, the event. */
    eventDeliveryToSend: `SELECT d.id, d.subscription_id, d.event_id, d.org_id, d.visit_id, d.type, d.attempts, d.first_attempt_at,
         d.webhook_id, s.url, s.secret, s.previous_secret, s.previous_secret_until, e.at, e.actor, e.data
       FROM event_deliveries d JOIN event_subscriptions s ON s.id = d.subscription_id
       LEFT JOIN events e ON e.id = d.event_id WHERE d.id = ?`,

    insertSession:
      'INSERT INTO sessions (hash, org_id, api_key_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    getSession: 'SELECT * FROM sessions WHERE hash = ?',
    deleteSession: 'DELETE FROM sessions WHERE hash = ?',

    insertHook:
      'INSERT INTO hooks (id, org_id, name, secret, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)',
    getHook: 'SELECT * FROM hooks WHERE id = ?',
    listHooks: 'SELECT * FROM hooks WHERE org_id = ? ORDER BY created_at, id',
    revokeHook: 'UPDATE hooks SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL',
    rotateHookSecret:
      'UPDATE hooks SET previous_secret = secret, previous_secret_until = ?, secret = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL',

    getIdempotencyKey: `SELECT * FROM idempotency_keys WHERE org_id = ? AND key = ?${d.forUpdate}`,
    /** A key that expired starts again as new (request, visit, lease, first use). */
    renewIdempotencyKey: `UPDATE idempotency_keys SET request_hash = ?, visit_id = ?, lease_owner = ?, lease_until = ?,
       created_at = ?, completed_at = NULL WHERE org_id = ? AND key = ?`,
    takeOverIdempotencyKey:
      'UPDATE idempotency_keys SET visit_id = ?, lease_owner = ?, lease_until = ? WHERE org_id = ? AND key = ?',
    completeIdempotencyKey:
      'UPDATE idempotency_keys SET completed_at = ?, lease_owner = NULL, lease_until = NULL WHERE org_id = ? AND key = ? AND visit_id = ? AND completed_at IS NULL',
    releaseIdempotencyKey:
      'DELETE FROM idempotency_keys WHERE org_id = ? AND key = ? AND lease_owner = ? AND completed_at IS NULL',

    insertDelivery: 'INSERT INTO deliveries (key, at) VALUES (?, ?) ON CONFLICT DO NOTHING',

    insertJob:
      "INSERT INTO jobs (type, payload, status, max_attempts, run_at, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?) RETURNING id",
    completeJob: "UPDATE jobs SET status = 'done', attempts = attempts + 1, updated_at = ? WHERE id = ?",
    failJob:
      'UPDATE jobs SET status = ?, attempts = attempts + 1, last_error = ?, run_at = COALESCE(CAST(? AS BIGINT), run_at), updated_at = ? WHERE id = ?',
    getJob: 'SELECT * FROM jobs WHERE id = ?',

    getSetting: 'SELECT value FROM settings WHERE key = ?',
    setSetting:
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',

    sweepCounters: 'DELETE FROM counters WHERE expires_at < ?',
    incrementCounter: `INSERT INTO counters (key, value, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = counters.value + excluded.value RETURNING value`,

    insertMeetingLink: `INSERT INTO meeting_links (visit_id, org_id, room_id, meeting_id, meeting_number, created_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (visit_id) DO NOTHING`,
    getMeetingLink: 'SELECT * FROM meeting_links WHERE visit_id = ?',
    /** Telemetry sees who comes to a mapped visit (unless something else already does). */
    observeVisit: 'UPDATE visits SET observed_by = ? WHERE id = ? AND observed_by IS NULL',
    findMeetingLinks: 'SELECT * FROM meeting_links WHERE meeting_id = ? ORDER BY created_at DESC, visit_id',
    /** Unfinished visits of these sources whose window is open or opens by `?`, without a meeting link. */
    unmappedMeetingVisits: `SELECT v.* FROM visits v LEFT JOIN meeting_links m ON m.visit_id = v.id
       WHERE m.visit_id IS NULL AND ${d.inList('v.source')} AND v.status IN ('pending', 'live')
         AND v.expires_at > ? AND COALESCE(v.not_before, v.created_at) <= ?
       ORDER BY v.expires_at, v.id LIMIT ?`,
    /** Unfinished visits of these sources in their window, with their meeting (the pollers' work). */
    mappedMeetingVisits: `SELECT v.*, m.room_id, m.meeting_id, m.meeting_number, m.created_at AS mapped_at FROM visits v JOIN meeting_links m ON m.visit_id = v.id
       WHERE ${d.inList('v.source')} AND v.status IN ('pending', 'live')
         AND v.expires_at > ? AND COALESCE(v.not_before, v.created_at) <= ?
       ORDER BY v.expires_at, v.id LIMIT ?`,
    getMeetingParticipant: `SELECT * FROM meeting_participants WHERE visit_id = ? AND participant_id = ?${d.forUpdate}`,
    insertMeetingParticipant:
      'INSERT INTO meeting_participants (visit_id, participant_id, role, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    rejoinMeetingParticipant:
      'UPDATE meeting_participants SET joined_at = ?, left_at = NULL WHERE visit_id = ? AND participant_id = ?',
    leaveMeetingParticipant:
      'UPDATE meeting_participants SET left_at = ? WHERE visit_id = ? AND participant_id = ?',
    listMeetingParticipants:
      'SELECT * FROM meeting_participants WHERE visit_id = ? ORDER BY joined_at, participant_id',

    upsertSmsOptOut: `INSERT INTO sms_opt_outs (phone, org_id, keyword, at) VALUES (?, ?, ?, ?)
       ON CONFLICT (phone) DO UPDATE SET org_id = COALESCE(excluded.org_id, sms_opt_outs.org_id), keyword = excluded.keyword, at = excluded.at`,
    deleteSmsOptOut: 'DELETE FROM sms_opt_outs WHERE phone = ?',
    getSmsOptOut: 'SELECT * FROM sms_opt_outs WHERE phone = ?',
    insertSmsMessage: `INSERT INTO sms_messages (provider_id, provider, phone, status, status_rank, error_code, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider_id) DO NOTHING`,
    updateSmsStatus: `UPDATE sms_messages SET status = ?, status_rank = ?, error_code = COALESCE(?, error_code), updated_at = ?
       WHERE provider_id = ? AND status_rank <= ? RETURNING *`,
    getSmsMessage: 'SELECT * FROM sms_messages WHERE provider_id = ?',

    /**
     * Outbound deliveries done with (delivered or failed) and made before a bound, oldest first, at
     * most `?`; never a pending one. Their attempts go first (prune of old records).
     */
    prunableEventDeliveries: `SELECT id FROM event_deliveries WHERE status <> 'pending' AND created_at < ?
       ORDER BY id LIMIT ?${d.skipLocked}`,
    pruneEventAttemptsOf: `DELETE FROM event_attempts WHERE ${d.inNumbers('delivery_id')}`,
    pruneEventDeliveryRows: `DELETE FROM event_deliveries WHERE ${d.inNumbers('id')}`,
    insertRecipient: `INSERT INTO recipients (visit_id, role, idx, name, email, phone, channel, language, time_zone)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    listRecipients: 'SELECT * FROM recipients WHERE visit_id = ? ORDER BY role, idx',
    insertDeliveryLog: `INSERT INTO delivery_log (org_id, visit_id, role, idx, channel, address, cause, actor, attempt, status, provider_id, error, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    listDeliveryLog: 'SELECT * FROM delivery_log WHERE visit_id = ? ORDER BY id',

    /** Visits finished before a bound (given twice), at most `?` of them. */
    purgeableVisits: `SELECT id, org_id, subject FROM visits WHERE ${PURGEABLE} ORDER BY id LIMIT ?${d.skipLocked}`,
    purgeShortLinks: `DELETE FROM short_links WHERE code IN (SELECT short FROM visit_links WHERE ${d.inList('visit_id')} AND short IS NOT NULL)`,
    purgeIdempotencyKeys: `DELETE FROM idempotency_keys WHERE ${d.inList('visit_id')}`,
    purgeEvents: `DELETE FROM events WHERE ${d.inList('visit_id')}`,
    /** The outbound deliveries of purged visits, and their attempts, go with their events. */
    purgeEventAttempts: `DELETE FROM event_attempts WHERE delivery_id IN (SELECT id FROM event_deliveries WHERE ${d.inList('visit_id')})`,
    purgeEventDeliveries: `DELETE FROM event_deliveries WHERE ${d.inList('visit_id')}`,
    purgeMeetingLinks: `DELETE FROM meeting_links WHERE ${d.inList('visit_id')}`,
    purgeMeetingParticipants: `DELETE FROM meeting_participants WHERE ${d.inList('visit_id')}`,
    /** Recipients (personal data) and their delivery records go with their visit. */
    purgeRecipients: `DELETE FROM recipients WHERE ${d.inList('visit_id')}`,
    purgeDeliveryLog: `DELETE FROM delivery_log WHERE ${d.inList('visit_id')}`,
    purgeVisitLinks: `DELETE FROM visit_links WHERE ${d.inList('visit_id')}`,
    purgeVisitRows: `DELETE FROM visits WHERE ${d.inList('id')}`,
    purgeCounts: PURGE_COUNT,
  } as const;
}

/** The filters of a deliveries listing, in `?` form, on `event_deliveries d`. */
export function eventDeliveryWhere(
  orgId: string,
  q: { subscriptionId?: string; visitId?: string; status?: string },
): { sql: string; params: unknown[] } {
  const parts = ['d.org_id = ?'];
  const params: unknown[] = [orgId];
  if (q.subscriptionId !== undefined) {
    parts.push('d.subscription_id = ?');
    params.push(q.subscriptionId);
  }
  if (q.visitId !== undefined) {
    parts.push('d.visit_id = ?');
    params.push(q.visitId);
  }
  if (q.status !== undefined) {
    parts.push('d.status = ?');
    params.push(q.status);
  }
  return { sql: parts.join(' AND '), params };
}

export type StatementName = keyof ReturnType<typeof statements>;
export type Statements = Record<StatementName, string>;

/** The statements in the dialect's placeholders, computed once per store module. */
export function compile(d: SqlDialect): Statements {
  const out = {} as Statements;
  for (const [name, sql] of Object.entries(statements(d)) as [StatementName, string][])
    out[name] = d.placeholders(sql);
  return out;
}

/**
 * One batch of a prune: at most `limit` rows whose `column` is `op` the bound, picked by the
 * table's `key` (all of them without a limit: then `limit` is not a parameter).
 */
export function pruneSql(
  d: SqlDialect,
  table: string,
  key: string,
  column: string,
  op: '<' | '<=',
  limited: boolean,
): string {
  if (!limited) return d.placeholders(`DELETE FROM ${table} WHERE ${column} ${op} ?`);
  const k = d.rowKey(key);
  return d.placeholders(
    `DELETE FROM ${table} WHERE ${k} IN (SELECT ${k} FROM ${table} WHERE ${column} ${op} ? LIMIT ?${d.skipLocked})`,
  );
}

/**
 * A visit's move to `to` from any status of a list parameter, setting `column` when given. Every
 * move leaves `pending`, so nobody waits any more.
 */
export function transitionSql(d: SqlDialect, column: string | undefined): string {
  return d.placeholders(
    `UPDATE visits SET status = ?${column ? `, ${column} = ?` : ''}, waiting_since = NULL WHERE id = ? AND org_id = ? AND ${d.inList('status')} RETURNING *`,
  );
}
