/**
 * The store's schema, written once: tables, columns in portable types, indexes, each tagged with
 * the migration version that added it. The DDL of each dialect and the ordered, versioned
 * migrations are generated from it (`migrations(dialect)`), version for version the same as the
 * hand-written lists of 0.1 (test/support/migrations-0.1.ts; store/schema.test.ts compares).
 *
 * Adding a table later (recipients, deliveries, an outbox…) is one entry with `since` the next
 * version; a column is one entry with its `since`. A released version is never edited.
 */

export type Dialect = 'sqlite' | 'postgres';

/**
 * `key`: text compared bytewise (PostgreSQL `COLLATE "C"`, SQLite's default); `time`: epoch seconds
 * and other big integers (BIGINT); `int`: small integers; `bool`: a flag (SQLite 0/1); `serial`:
 * an auto-incrementing integer primary key; `text` also holds JSON as written by JSON.stringify.
 */
type ColumnType = 'text' | 'key' | 'int' | 'time' | 'bool' | 'serial';

interface Column {
  name: string;
  type: ColumnType;
  /** NOT NULL (a primary key is implied not null and says nothing). */
  notNull?: boolean;
  primaryKey?: boolean;
  unique?: boolean;
  /** `table(column)`. */
  references?: string;
  default?: number;
  /** The version that added the column to an existing table (ALTER TABLE … ADD COLUMN). */
  since?: number;
}

interface Table {
  name: string;
  /** The version that created the table. */
  since: number;
  columns: Column[];
  /** A composite primary key. */
  primaryKey?: string[];
  unique?: string[][];
}

interface Index {
  name: string;
  table: string;
  /** Columns, or expressions (an index on an expression serves queries that say the same one). */
  columns: string[];
  since: number;
  /** An index method per dialect (PostgreSQL `hash` for equality-only look-ups). */
  using?: Partial<Record<Dialect, string>>;
  /** Only in these dialects (default: both). */
  dialects?: Dialect[];
  /** A UNIQUE index (SQLite cannot add a UNIQUE column to an existing table: an index can). */
  unique?: boolean;
  /** The version that dropped it, per dialect. */
  dropped?: Partial<Record<Dialect, number>>;
}

/** A data step of a migration, after its tables and columns and before its indexes. */
interface DataStep {
  since: number;
  sql: string | Record<Dialect, string>;
}

const col = (name: string, type: ColumnType, more: Omit<Column, 'name' | 'type'> = {}): Column => ({
  name,
  type,
  ...more,
});
const req = (name: string, type: ColumnType, more: Omit<Column, 'name' | 'type' | 'notNull'> = {}) =>
  col(name, type, { ...more, notNull: true });

const TABLES: Table[] = [
  {
    name: 'orgs',
    since: 1,
    columns: [col('id', 'key', { primaryKey: true }), req('name', 'text'), req('created_at', 'time')],
  },
  {
    name: 'api_keys',
    since: 1,
    columns: [
      col('id', 'key', { primaryKey: true }),
      req('org_id', 'text', { references: 'orgs(id)' }),
      req('name', 'text'),
      req('prefix', 'text'),
      req('hash', 'text', { unique: true }),
      req('created_at', 'time'),
      col('last_used_at', 'time'),
      col('revoked_at', 'time'),
    ],
  },
  {
    name: 'broker_keys',
    since: 1,
    columns: [
      col('kid', 'key', { primaryKey: true }),
      req('material', 'text'),
      req('created_at', 'time'),
      req('active', 'bool'),
      col('retires_at', 'time', { since: 5 }),
    ],
  },
  {
    name: 'short_links',
    since: 1,
    columns: [
      col('code', 'key', { primaryKey: true }),
      req('org_id', 'text', { references: 'orgs(id)' }),
      req('cipher', 'text'),
      req('role', 'text'),
      req('vertical', 'text'),
      req('host_login', 'bool'),
      req('subject', 'text'),
      req('expires_at', 'time'),
      req('created_at', 'time'),
    ],
  },
  {
    name: 'spaces',
    since: 1,
    columns: [
      col('seq', 'serial'),
      req('id', 'text', { unique: true }),
      req('org_id', 'text', { references: 'orgs(id)' }),
      req('subject', 'text'),
      req('created_at', 'time'),
    ],
    unique: [['org_id', 'subject']],
  },
  {
    name: 'visits',
    since: 2,
    columns: [
      col('id', 'key', { primaryKey: true }),
      req('org_id', 'text', { references: 'orgs(id)' }),
      req('subject', 'text'),
      req('status', 'text'),
      col('not_before', 'time'),
      req('expires_at', 'time'),
      req('vertical', 'text'),
      req('host_login', 'bool'),
      req('short_urls', 'bool'),
      req('devices', 'text'),
      req('source', 'text'),
      req('created_by', 'text'),
      req('created_at', 'time'),
      col('started_at', 'time'),
      col('ended_at', 'time'),
      col('cancelled_at', 'time'),
      req('hosts', 'int'),
      req('guests', 'int'),
      // Cisco-brokered visits whose links go through this service's gateway (PUBLIC_URL/visit/<code>).
      col('gateway', 'bool', { since: 11 }),
      // Arrivals, as facts the states are derived from (domain/visit-state.ts).
      col('first_guest_at', 'time', { since: 12 }),
      col('waiting_since', 'time', { since: 12 }),
      req('waits', 'int', { default: 0, since: 12 }),
      col('observed_by', 'text', { since: 12 }),
      // Set once, by the job that finds visits whose window closed (and records their no-show).
      col('closed_at', 'time', { since: 12 }),
      // Who hears that a guest is waiting: `email:<address>` or `person:<Webex person id>`.
      col('alert_to', 'text', { since: 12 }),
    ],
  },
  {
    name: 'visit_links',
    since: 2,
    columns: [
      req('visit_id', 'text', { references: 'visits(id)' }),
      req('role', 'text'),
      req('idx', 'int'),
      req('cipher', 'text'),
      col('short', 'text'),
      col('short_url', 'text'),
      req('long_url', 'text'),
      col('forced_login_url', 'text'),
      col('jti', 'text', { unique: true }),
      // The link's gateway code (unique: visit_links_gateway_code), when the visit has a gateway.
      col('gateway_code', 'key', { since: 11 }),
      // The first redirect through the gateway; the last one that was logged (one event per minute).
      col('opened_at', 'time', { since: 11 }),
      col('logged_open_at', 'time', { since: 11 }),
      // Withdrawn on its own (DELETE /api/visits/{id}/links/{role}/{index}).
      col('revoked_at', 'time', { since: 11 }),
    ],
    primaryKey: ['visit_id', 'role', 'idx'],
  },
  {
    name: 'events',
    since: 2,
    columns: [
      col('id', 'serial'),
      req('org_id', 'text'),
      col('visit_id', 'text'),
      req('at', 'time'),
      req('actor', 'text'),
      req('type', 'text'),
      req('data', 'text'),
    ],
  },
  {
    name: 'sessions',
    since: 2,
    columns: [
      col('hash', 'text', { primaryKey: true }),
      req('org_id', 'text'),
      req('api_key_id', 'text'),
      req('csrf', 'text'),
      req('created_at', 'time'),
      req('expires_at', 'time'),
    ],
  },
  {
    name: 'hooks',
    since: 3,
    columns: [
      col('id', 'key', { primaryKey: true }),
      req('org_id', 'text', { references: 'orgs(id)' }),
      req('name', 'text'),
      req('secret', 'text'),
      req('created_at', 'time'),
      col('revoked_at', 'time'),
      col('previous_secret', 'text', { since: 7 }),
      col('previous_secret_until', 'time', { since: 7 }),
    ],
  },
  {
    name: 'idempotency_keys',
    since: 3,
    columns: [
      req('org_id', 'text'),
      req('key', 'text'),
      req('request_hash', 'text'),
      col('visit_id', 'text'),
      req('created_at', 'time'),
      col('lease_owner', 'text', { since: 7 }),
      col('lease_until', 'time', { since: 7 }),
      col('completed_at', 'time', { since: 7 }),
    ],
    primaryKey: ['org_id', 'key'],
  },
  {
    name: 'deliveries',
    since: 3,
    columns: [col('key', 'text', { primaryKey: true }), req('at', 'time')],
  },
  {
    name: 'jobs',
    since: 3,
    columns: [
      col('id', 'serial'),
      req('type', 'text'),
      req('payload', 'text'),
      req('status', 'text'),
      req('attempts', 'int', { default: 0 }),
      req('max_attempts', 'int'),
      req('run_at', 'time'),
      col('last_error', 'text'),
      req('created_at', 'time'),
      req('updated_at', 'time'),
    ],
  },
  {
    name: 'settings',
    since: 3,
    columns: [col('key', 'text', { primaryKey: true }), req('value', 'text')],
  },
  {
    name: 'counters',
    since: 4,
    columns: [col('key', 'text', { primaryKey: true }), req('value', 'time'), req('expires_at', 'time')],
  }, // Outbound visit events (issue 15 §4): who subscribes to what, one row per (subscription, event)
  // written with the event itself, and every attempt to send one.
  {
    name: 'event_subscriptions',
    since: 10,
    columns: [
      col('id', 'key', { primaryKey: true }),
      req('org_id', 'text', { references: 'orgs(id)' }),
      req('url', 'text'),
      // `*`, or `,a,b,` (domain/outbound-events.ts typesColumn): matched with LIKE on both dialects.
      req('types', 'text'),
      col('description', 'text'),
      req('secret', 'text'),
      col('previous_secret', 'text'),
      col('previous_secret_until', 'time'),
      req('created_at', 'time'),
      col('disabled_at', 'time'),
      col('disabled_reason', 'text'),
      req('consecutive_failures', 'int', { default: 0 }),
      col('failing_since', 'time'),
    ],
  },
  {
    name: 'event_deliveries',
    since: 10,
    columns: [
      col('id', 'serial'),
      req('subscription_id', 'text', { references: 'event_subscriptions(id)' }),
      req('event_id', 'time'),
      req('org_id', 'text'),
      col('visit_id', 'text'),
      req('type', 'text'),
      req('status', 'text'),
      req('attempts', 'int', { default: 0 }),
      req('next_at', 'time'),
      col('lease_until', 'time'),
      col('first_attempt_at', 'time'),
      req('created_at', 'time'),
      col('delivered_at', 'time'),
      col('last_status', 'int'),
      col('last_error', 'text'),
      // Standard Webhooks' `webhook-id`: the same for every retry and replay of this delivery.
      req('webhook_id', 'text', { unique: true }),
    ],
  },
  {
    name: 'event_attempts',
    since: 10,
    columns: [
      col('id', 'serial'),
      req('delivery_id', 'time'),
      req('at', 'time'),
      col('status', 'int'),
      req('latency_ms', 'int'),
      col('error', 'text'),
    ],
  },
  // Meeting telemetry: a Cisco visit's Webex space and meeting, found once by the space's title
  // and its meetingInfo, so deliveries that name only a meeting find their visit.
  {
    name: 'meeting_links',
    since: 13,
    columns: [
      col('visit_id', 'key', { primaryKey: true }),
      req('org_id', 'text'),
      req('room_id', 'text'),
      req('meeting_id', 'key'),
      col('meeting_number', 'text'),
      req('created_at', 'time'),
    ],
  },
  // Who Webex says joined a visit's meeting (webhooks, or polling where there are none): one row a
  // participant, so a repeated delivery or a poll that sees the same people changes nothing.
  {
    name: 'meeting_participants',
    since: 13,
    columns: [
      req('visit_id', 'key'),
      req('participant_id', 'key'),
      req('role', 'text'),
      req('joined_at', 'time'),
      col('left_at', 'time'),
    ],
    primaryKey: ['visit_id', 'participant_id'],
  },
  // Numbers that replied STOP (or another opt-out keyword): no SMS goes to them until START. One
  // row a number: the sender is the server's, as Twilio keeps opt-outs per sender.
  {
    name: 'sms_opt_outs',
    since: 15,
    columns: [
      col('phone', 'key', { primaryKey: true }),
      col('org_id', 'text'),
      req('keyword', 'text'),
      req('at', 'time'),
    ],
  },
  // The SMS a provider accepted, by its id, with the status its callbacks report (a status never
  // goes back: `status_rank` orders them, as callbacks may arrive out of order).
  {
    name: 'sms_messages',
    since: 15,
    columns: [
      col('provider_id', 'key', { primaryKey: true }),
      req('provider', 'text'),
      req('phone', 'key'),
      req('status', 'text'),
      req('status_rank', 'int'),
      col('error_code', 'text'),
      req('created_at', 'time'),
      req('updated_at', 'time'),
    ],
  },
  // Who each link goes to (personal data: purged with its visit). One row a link at most.
  {
    name: 'recipients',
    since: 14,
    columns: [
      req('visit_id', 'key'),
      req('role', 'text'),
      req('idx', 'int'),
      col('name', 'text'),
      col('email', 'text'),
      // E.164.
      col('phone', 'text'),
      // `email` or `sms`; NULL: email when there is an address, else SMS.
      col('channel', 'text'),
      col('language', 'text'),
      col('time_zone', 'text'),
    ],
    primaryKey: ['visit_id', 'role', 'idx'],
  },
  // Each attempt to send a link to its recipient (not `deliveries`: that table keeps dedup keys).
  {
    name: 'delivery_log',
    since: 14,
    columns: [
      col('id', 'serial'),
      req('org_id', 'text'),
      req('visit_id', 'key'),
      req('role', 'text'),
      req('idx', 'int'),
      req('channel', 'text'),
      req('address', 'text'),
      // What made it: `visit.created`, `visit.cancelled`, …; and who did that.
      req('cause', 'text'),
      req('actor', 'text'),
      req('attempt', 'int'),
      // queued, sent, failed.
      req('status', 'text'),
      col('provider_id', 'text'),
      col('error', 'text'),
      req('at', 'time'),
    ],
  },
];

const INDEXES: Index[] = [
  { name: 'visits_org_subject', table: 'visits', columns: ['org_id', 'subject'], since: 2 },
  { name: 'visits_org_window', table: 'visits', columns: ['org_id', 'expires_at'], since: 2 },
  { name: 'events_visit', table: 'events', columns: ['visit_id', 'id'], since: 2 },
  { name: 'deliveries_at', table: 'deliveries', columns: ['at'], since: 3 },
  { name: 'jobs_due', table: 'jobs', columns: ['status', 'run_at'], since: 3 },
  { name: 'counters_expiry', table: 'counters', columns: ['expires_at'], since: 4 },
  // A page finds the visit of a link by its cipher before any crypto. PostgreSQL's hash index
  // keeps 4 bytes per row; SQLite's B-tree kept each whole ~700-character cipher, about 5 per page,
  // so every issued link wrote several index pages.
  {
    name: 'visit_links_cipher',
    table: 'visit_links',
    columns: ['cipher'],
    since: 4,
    using: { postgres: 'hash' },
    dropped: { sqlite: 9 },
  },
  // From version 9, SQLite indexes the cipher's last 24 characters instead: they lie inside the
  // JWE's authentication tag (16 or 32 random bytes), so they tell links apart as well as the whole
  // cipher, and a look-up compares the whole cipher after (CIPHER_TAIL in store/sql.ts).
  {
    name: 'visit_links_cipher_tail',
    table: 'visit_links',
    columns: ['substr(cipher, -24)'],
    since: 9,
    dialects: ['sqlite'],
  },
  // The pruning job finds expired rows by these.
  { name: 'short_links_expiry', table: 'short_links', columns: ['expires_at'], since: 6 },
  { name: 'sessions_expiry', table: 'sessions', columns: ['expires_at'], since: 6 },
  { name: 'idempotency_keys_created', table: 'idempotency_keys', columns: ['created_at'], since: 7 },
  // purge finds the Idempotency-Keys of the visits it removes by this.
  { name: 'idempotency_keys_visit', table: 'idempotency_keys', columns: ['visit_id'], since: 8 },
  // The delivery worker's due query, the per-(subscription, visit) order check, listings.
  { name: 'event_deliveries_due', table: 'event_deliveries', columns: ['status', 'next_at'], since: 10 },
  {
    name: 'event_deliveries_order',
    table: 'event_deliveries',
    columns: ['subscription_id', 'visit_id', 'status', 'id'],
    since: 10,
  },
  { name: 'event_deliveries_org', table: 'event_deliveries', columns: ['org_id', 'id'], since: 10 },
  { name: 'event_attempts_delivery', table: 'event_attempts', columns: ['delivery_id', 'id'], since: 10 },
  {
    name: 'event_subscriptions_org',
    table: 'event_subscriptions',
    columns: ['org_id', 'disabled_at'],
    since: 10,
  },
  // A gateway link (GET /visit/{code}) is found by its code; NULL for links without a gateway.
  {
    name: 'visit_links_gateway_code',
    table: 'visit_links',
    columns: ['gateway_code'],
    since: 11,
    unique: true,
  },
  // The closing job finds the visits whose window closed and that it has not closed yet by this.
  { name: 'visits_unclosed', table: 'visits', columns: ['closed_at', 'expires_at'], since: 12 },
  // A delivery names a meeting: its visit is found by the meeting's series id.
  { name: 'meeting_links_meeting', table: 'meeting_links', columns: ['meeting_id'], since: 13 },
  // Pruning old SMS records goes by age.
  { name: 'sms_messages_created', table: 'sms_messages', columns: ['created_at'], since: 15 },
  // A visit's delivery records, in order.
  { name: 'delivery_log_visit', table: 'delivery_log', columns: ['visit_id', 'id'], since: 14 },
];

const DATA_STEPS: DataStep[] = [
  // Broker keys retire: keys replaced before version 5 retire once every link recorded so far has
  // expired.
  {
    since: 5,
    sql: {
      sqlite: `UPDATE broker_keys SET retires_at = MAX(
     COALESCE((SELECT MAX(expires_at) FROM visits), 0),
     COALESCE((SELECT MAX(expires_at) FROM short_links), 0),
     CAST(strftime('%s', 'now') AS INTEGER) + 1200
   ) WHERE active = 0`,
      postgres: `UPDATE broker_keys SET retires_at = GREATEST(
     (SELECT MAX(expires_at) FROM visits),
     (SELECT MAX(expires_at) FROM short_links),
     EXTRACT(EPOCH FROM now())::bigint + 1200
   ) WHERE NOT active`,
    },
  },
  // Idempotency-Keys as Stripe keeps them: keys completed before leases existed are done.
  { since: 7, sql: 'UPDATE idempotency_keys SET completed_at = created_at WHERE visit_id IS NOT NULL' },
];

const TYPES: Record<ColumnType, Record<Dialect, string>> = {
  text: { sqlite: 'TEXT', postgres: 'TEXT' },
  key: { sqlite: 'TEXT', postgres: 'TEXT COLLATE "C"' },
  int: { sqlite: 'INTEGER', postgres: 'INTEGER' },
  time: { sqlite: 'INTEGER', postgres: 'BIGINT' },
  bool: { sqlite: 'INTEGER', postgres: 'BOOLEAN' },
  serial: { sqlite: 'INTEGER PRIMARY KEY AUTOINCREMENT', postgres: 'BIGSERIAL PRIMARY KEY' },
};

function columnSql(c: Column, dialect: Dialect): string {
  let sql = `${c.name} ${TYPES[c.type][dialect]}`;
  if (c.primaryKey) sql += ' PRIMARY KEY';
  if (c.notNull) sql += ' NOT NULL';
  if (c.default !== undefined) sql += ` DEFAULT ${c.default}`;
  if (c.unique) sql += ' UNIQUE';
  if (c.references) sql += ` REFERENCES ${c.references}`;
  return sql;
}

/** CREATE TABLE of a table as its version made it (columns added later come by ALTER TABLE). */
function createTableSql(t: Table, dialect: Dialect): string {
  const lines = t.columns.filter((c) => (c.since ?? t.since) <= t.since).map((c) => columnSql(c, dialect));
  if (t.primaryKey) lines.push(`PRIMARY KEY (${t.primaryKey.join(', ')})`);
  for (const u of t.unique ?? []) lines.push(`UNIQUE (${u.join(', ')})`);
  return `CREATE TABLE ${t.name} (\n  ${lines.join(',\n  ')}\n)`;
}

function indexSql(i: Index, dialect: Dialect): string {
  const using = i.using?.[dialect];
  return `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${i.name} ON ${i.table}${using ? ` USING ${using}` : ''} (${i.columns.join(', ')})`;
}

/** The newest version the schema knows. */
export const LATEST_VERSION = Math.max(
  ...TABLES.flatMap((t) => [t.since, ...t.columns.map((c) => c.since ?? t.since)]),
  ...INDEXES.flatMap((i) => [i.since, ...Object.values(i.dropped ?? {})]),
  ...DATA_STEPS.map((d) => d.since),
);

/**
 * The statements of each version, in order (index 0 is version 1): its new tables, its new
 * columns, its data steps, the indexes it drops, its new indexes. A version may have no statement
 * in one dialect (9 changed only SQLite's indexes); it is still recorded as applied.
 */
export function migrations(dialect: Dialect): string[][] {
  const versions: string[][] = [];
  for (let v = 1; v <= LATEST_VERSION; v++) {
    versions.push([
      ...TABLES.filter((t) => t.since === v).map((t) => createTableSql(t, dialect)),
      ...TABLES.flatMap((t) =>
        t.columns
          .filter((c) => c.since === v && c.since > t.since)
          .map((c) => `ALTER TABLE ${t.name} ADD COLUMN ${columnSql(c, dialect)}`),
      ),
      ...DATA_STEPS.filter((d) => d.since === v).map((d) =>
        typeof d.sql === 'string' ? d.sql : d.sql[dialect],
      ),
      ...INDEXES.filter((i) => i.dropped?.[dialect] === v).map((i) => `DROP INDEX ${i.name}`),
      ...INDEXES.filter((i) => i.since === v && (i.dialects ?? [dialect]).includes(dialect)).map((i) =>
        indexSql(i, dialect),
      ),
    ]);
  }
  return versions;
}
