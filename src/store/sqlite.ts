/** The embedded default store: one SQLite file in the data directory (better-sqlite3, WAL). */
import { statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { prepareDataFiles, type Warn } from './files.js';

/**
 * The driver for this Node: better-sqlite3 13 on Node 22 and newer, 12 on Node 20. 12 (raw
 * node::ObjectWrap) can abort Node 24 when the GC deletes a wrapper (`RemoveEnvironmentCleanupHook:
 * env != nullptr`); 13 (node-addon-api) fixes that but needs Node 22 and segfaults on Node 20. Both
 * are optional dependencies with their true engine ranges, so npm installs 13 (under the alias
 * better-sqlite3-13) only where it runs; on Node 22+ without it, 12 is the fallback.
 */
export function sqliteDriver(): typeof BetterSqlite3 {
  const require = createRequire(import.meta.url);
  const modern = Number(process.versions.node.split('.')[0]) >= 22;
  for (const name of modern ? ['better-sqlite3-13', 'better-sqlite3'] : ['better-sqlite3']) {
    try {
      return require(name) as typeof BetterSqlite3;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  throw new Error(
    `no SQLite driver is installed for Node ${process.versions.node}: run npm install (better-sqlite3${modern ? ' 13 or 12' : ' 12'}), or use DATABASE_URL for PostgreSQL`,
  );
}
const Database = sqliteDriver();
type Database = BetterSqlite3.Database;

import { isOutbound, typePattern, typesColumn } from '../domain/outbound-events.js';
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
import { compile, eventDeliveryWhere, pruneSql, SQLITE, type StatementName, transitionSql } from './sql.js';
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
const MIGRATIONS: string[] = migrations('sqlite').map((statements) => statements.join(';\n'));

const SQL = compile(SQLITE);

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: Database;
  /**
   * Every statement is prepared once and reused, keyed by its SQL text: every call site goes through
   * here. The texts are fixed by this file but for a few built from a bounded set of options (a
   * visit list's filters, a transition's source states); the cap only guards against a mistake.
   */
  readonly #statements = new Map<string, BetterSqlite3.Statement>();

  #stmt(sql: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      if (this.#statements.size >= 1000) this.#statements.clear();
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** A shared statement (store/sql.ts), compiled for SQLite. */
  #get(name: StatementName, ...params: unknown[]): Row | undefined {
    return this.#stmt(SQL[name]).get(...params) as Row | undefined;
  }

  #all(name: StatementName, ...params: unknown[]): Row[] {
    return this.#stmt(SQL[name]).all(...params) as Row[];
  }

  #run(name: StatementName, ...params: unknown[]): BetterSqlite3.RunResult {
    return this.#stmt(SQL[name]).run(...params);
  }

  /**
   * Group commit, and the disk wait off the main thread. With synchronous = FULL every commit
   * waits for an fsync of the WAL, and better-sqlite3 waits on the main thread: two commits per
   * issuing request held it about 3 ms, during which no other request moved. Instead:
   *   - every write is queued, and the writes queued within one turn of the event loop are
   *     committed in one transaction, each in a savepoint of its own (one that throws is rolled
   *     back alone and rejects alone);
   *   - the connection runs synchronous = NORMAL, so COMMIT writes the WAL without waiting for the
   *     disk, and then the WAL file is fsynced (fdatasync) on libuv's pool while the main thread
   *     serves other requests; commits made during one fsync share the next;
   *   - each caller's promise settles only after that fsync.
   * So an answer still means the write is on disk, as with FULL: nothing answered is lost to a
   * kill -9 or a power cut. (SQLite's own checkpoints, every 1000 pages, still sync the WAL and
   * the database file on the main thread: a few milliseconds, rarely.)
   */
  readonly writeStats = { commits: 0, writes: 0 };
  #queue: { work: () => unknown; resolve: (value: unknown) => void; reject: (err: unknown) => void }[] = [];
  /** One transaction for a batch, each write in a savepoint (a transaction called inside another). */
  readonly #group: BetterSqlite3.Transaction<
    (works: (() => unknown)[]) => { value?: unknown; error?: unknown }[]
  >;

  #commit<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.#queue.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    if (!this.#db.open) {
      for (const w of batch) w.reject(new Error('the store is closed'));
      return;
    }
    let outcomes: { value?: unknown; error?: unknown }[];
    try {
      // IMMEDIATE: the write lock first, so another process (the CLI) cannot make it fail midway.
      outcomes = this.#group.immediate(batch.map((w) => w.work));
    } catch (err) {
      for (const w of batch) w.reject(err); // the commit failed: nothing of the batch is stored
      return;
    }
    this.writeStats.commits += 1;
    this.writeStats.writes += batch.length;
    const settle = () =>
      batch.forEach((w, i) => {
        const outcome = outcomes[i]!;
        if ('error' in outcome) w.reject(outcome.error);
        else w.resolve(outcome.value);
      });
    // Not on disk is not stored, as far as the caller can know: every write of the batch fails.
    this.#synced().then(settle, (err: unknown) => {
      for (const w of batch) w.reject(err);
    });
  }

  readonly #file: string;
  /** WAL mode with our own fsync; false in memory, or where SQLite could not use WAL (then FULL). */
  readonly #walSynced: boolean;
  readonly #walSync: (wal: FileHandle) => Promise<void>;
  #wal: Promise<FileHandle> | undefined;
  #syncing: Promise<void> | undefined;
  #nextSync: Promise<void> | undefined;

  /** Resolves once every commit made before the call is on disk (an fsync of the WAL that started after it). */
  #synced(): Promise<void> {
    if (!this.#walSynced) return Promise.resolve();
    if (this.#nextSync) return this.#nextSync;
    if (!this.#syncing) return this.#startSync();
    // The fsync in flight may have started before this commit: the next one covers it.
    const next = this.#syncing.then(
      () => this.#startSync(),
      () => this.#startSync(),
    );
    this.#nextSync = next;
    return next;
  }

  #startSync(): Promise<void> {
    this.#nextSync = undefined;
    this.#wal ??= open(`${this.#file}-wal`, 'r');
    const wal = this.#wal;
    wal.catch(() => {
      if (this.#wal === wal) this.#wal = undefined; // tried again at the next sync
    });
    const syncing: Promise<void> = wal
      .then((handle) => this.#walSync(handle))
      .finally(() => {
        if (this.#syncing === syncing) this.#syncing = undefined;
      });
    this.#syncing = syncing;
    return syncing;
  }

  /**
   * `warn`: where a line goes when the data directory or a database file was readable by others.
   * `walSync`: how the WAL reaches the disk (default fdatasync; a test holds it to see who waits).
   */
  constructor(file: string, options: { warn?: Warn; walSync?: (wal: FileHandle) => Promise<void> } = {}) {
    this.#file = file;
    this.#walSync = options.walSync ?? ((wal) => wal.datasync());
    // The directory 0700 and the files 0600 whatever the umask (they hold keys and secrets).
    if (file !== ':memory:') prepareDataFiles(file, options.warn);
    this.#db = new Database(file);
    const mode = this.#db.pragma('journal_mode = WAL', { simple: true });
    this.#walSynced = mode === 'wal' && file !== ':memory:';
    // NORMAL, with the WAL fsynced before any write is answered (#synced): an answered request
    // survives a crash or a power loss, as with FULL, without the main thread waiting for the disk.
    // Without WAL (a file system that cannot share memory), FULL: SQLite waits for the disk itself.
    this.#db.exec(`PRAGMA synchronous = ${this.#walSynced ? 'NORMAL' : 'FULL'}`);
    this.#db.exec('PRAGMA foreign_keys = ON');
    this.#db.exec('PRAGMA busy_timeout = 5000');
    const savepoint = this.#db.transaction((work: () => unknown) => work());
    this.#group = this.#db.transaction((works: (() => unknown)[]) =>
      works.map((work) => {
        try {
          return { value: savepoint(work) };
        } catch (error) {
          return { error };
        }
      }),
    );
  }

  async migrate(): Promise<void> {
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    // IMMEDIATE takes the write lock first, so two processes starting at once apply each version once.
    const apply = this.#db.transaction(() => {
      const row = this.#stmt('SELECT MAX(version) AS v FROM schema_migrations').get() as Row;
      const current = Number(row['v'] ?? 0);
      MIGRATIONS.slice(current).forEach((sql, i) => {
        this.#db.exec(sql);
        this.#stmt('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(
          current + i + 1,
          Math.floor(Date.now() / 1000),
        );
      });
    });
    apply.immediate();
    await this.#synced();
  }

  /**
   * A consistent copy of the live database in `file`, through SQLite's online backup API: writers
   * go on meanwhile, and the copy is one moment of the database (WAL included). Checked after.
   */
  async backup(file: string): Promise<{ bytes: number; pages: number }> {
    const { totalPages } = await this.#db.backup(file);
    const copy = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const result = copy.pragma('integrity_check', { simple: true });
      if (result !== 'ok') throw new Error(`the copy failed its integrity check: ${String(result)}`);
    } finally {
      copy.close();
    }
    return { bytes: statSync(file).size, pages: totalPages };
  }

  async schemaStatus(): Promise<{ applied: number; latest: number }> {
    const table = this.#stmt(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    ).get();
    const row = table ? (this.#stmt('SELECT MAX(version) AS v FROM schema_migrations').get() as Row) : {};
    return { applied: Number(row['v'] ?? 0), latest: MIGRATIONS.length };
  }

  async ping(): Promise<void> {
    this.#stmt('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.#flush(); // writes still queued are committed (or rejected) first, and synced
    await this.#synced().catch(() => {});
    if (this.#wal) await (await this.#wal.catch(() => undefined))?.close();
    this.#wal = undefined;
    if (this.#db.open) this.#db.close();
  }

  async getOrg(id: string): Promise<Org | undefined> {
    const r = this.#get('getOrg', id);
    return r && orgFrom(r);
  }

  async getDefaultOrg(): Promise<Org | undefined> {
    const r = this.#get('getDefaultOrg');
    return r && orgFrom(r);
  }

  async ensureDefaultOrg(make: () => Org): Promise<{ org: Org; created: boolean }> {
    // The group commits IMMEDIATE: a second process waits for the first's organisation, then finds it.
    return this.#commit(() => {
      const r = this.#get('getDefaultOrg');
      if (r) return { org: orgFrom(r), created: false };
      const org = make();
      this.#run('insertOrg', org.id, org.name, org.createdAt);
      return { org, created: true };
    });
  }

  async createOrg(org: Org): Promise<void> {
    await this.#commit(() => this.#run('insertOrg', org.id, org.name, org.createdAt));
  }

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    await this.#commit(() =>
      this.#run(
        'insertApiKey',
        k.id,
        k.orgId,
        k.name,
        k.prefix,
        k.hash,
        k.createdAt,
        k.lastUsedAt ?? null,
        k.revokedAt ?? null,
      ),
    );
  }

  async listApiKeys(orgId: string): Promise<ApiKeyRecord[]> {
    return this.#all('listApiKeys', orgId).map(apiKeyFrom);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = this.#get('findApiKeyByHash', hash);
    return r && apiKeyFrom(r);
  }

  async touchApiKey(id: string, at: number, coarseSeconds = 60): Promise<void> {
    await this.#commit(() => this.#run('touchApiKey', at, id, at - coarseSeconds));
  }

  async revokeApiKey(orgId: string, id: string, at: number): Promise<boolean> {
    return this.#commit(() => this.#run('revokeApiKey', at, id, orgId).changes === 1);
  }

  async listBrokerKeys(): Promise<StoredBrokerKey[]> {
    return this.#all('listBrokerKeys').map(brokerKeyFrom);
  }

  async addBrokerKey(key: StoredBrokerKey, options: { retireNotBefore?: number } = {}): Promise<void> {
    await this.#commit(() => {
      if (key.active) this.#run('retireBrokerKeys', options.retireNotBefore ?? key.createdAt);
      this.#run('insertBrokerKey', key.kid, key.material, key.createdAt, SQLITE.bool(key.active));
    });
    this.#keysVersion = undefined;
  }

  /** The data_version seen last, and the key count read then. */
  #keysVersion: { data: number; count: number } | undefined;

  async brokerKeysVersion(): Promise<number> {
    // Changes only when another connection commits: then (and only then) count the keys again.
    const data = Number((this.#stmt('PRAGMA data_version').get() as Row)['data_version']);
    if (this.#keysVersion?.data === data) return this.#keysVersion.count;
    const count = Number(this.#get('countBrokerKeys')?.['n']);
    this.#keysVersion = { data, count };
    return count;
  }

  async insertShortLinks(links: ShortLinkRecord[]): Promise<string[]> {
    return this.#commit(() => {
      const codes = links.map((l) => l.code);
      const repeated = codes.filter((c, i) => codes.indexOf(c) !== i);
      const taken = [...repeated, ...codes.filter((c) => this.#get('shortLinkExists', c))];
      if (taken.length > 0) return taken;
      for (const l of links) {
        this.#run(
          'insertShortLink',
          l.code,
          l.orgId,
          l.cipher,
          l.role,
          l.vertical,
          SQLITE.bool(l.hostLogin),
          l.subject,
          l.expiresAt,
          l.createdAt,
        );
      }
      return [];
    });
  }

  async getShortLink(code: string): Promise<ShortLinkRecord | undefined> {
    const r = this.#get('getShortLink', code);
    return r && shortLinkFrom(r);
  }

  async getOrCreateSpace(
    orgId: string,
    subject: string,
    make: () => { id: string; createdAt: number },
  ): Promise<SpaceRecord> {
    return this.#commit(() => {
      const found = this.#get('findSpace', orgId, subject);
      if (found) return spaceFrom(found);
      const { id, createdAt } = make();
      this.#run('insertSpace', id, orgId, subject, createdAt);
      return spaceFrom(this.#get('findSpace', orgId, subject) as Row);
    });
  }

  /** An event, and its pending deliveries when its type goes out (the same transaction). */
  #insertEvent(e: EventRecord): void {
    this.#run('insertEvent', e.orgId, e.visitId ?? null, e.at, e.actor, e.type, JSON.stringify(e.data));
    if (isOutbound(e.type))
      this.#run('fanOutEvent', e.visitId ?? null, e.type, e.at, e.at, e.orgId, typePattern(e.type));
  }

  #insertLinks(links: VisitLinkRecord[]): void {
    for (const l of links) {
      this.#run(
        'insertVisitLink',
        l.visitId,
        l.role,
        l.index,
        l.cipher,
        l.short ?? null,
        l.shortUrl ?? null,
        l.longUrl,
        l.forcedLoginUrl ?? null,
        l.jti ?? null,
        l.gatewayCode ?? null,
      );
    }
  }

  async createVisit(
    v: VisitRecord,
    links: VisitLinkRecord[],
    event: EventRecord,
    more: { recipients?: RecipientRecord[]; jobs?: NewJob[] } = {},
  ): Promise<void> {
    await this.#commit(() => {
      this.#run(
        'insertVisit',
        v.id,
        v.orgId,
        v.subject,
        v.status,
        v.notBefore ?? null,
        v.expiresAt,
        v.vertical,
        SQLITE.bool(v.hostLogin),
        SQLITE.bool(v.shortUrls),
        JSON.stringify(v.devices),
        v.source,
        v.createdBy,
        v.createdAt,
        v.startedAt ?? null,
        v.endedAt ?? null,
        v.cancelledAt ?? null,
        v.hosts,
        v.guests,
        v.gateway ? 1 : null,
        v.firstGuestAt ?? null,
        v.waitingSince ?? null,
        v.waits ?? 0,
        v.observedBy ?? null,
        v.closedAt ?? null,
        v.alertTo ?? null,
      );
      this.#insertLinks(links);
      this.#insertEvent(event);
      for (const r of more.recipients ?? []) this.#insertRecipient(r);
      for (const job of more.jobs ?? []) this.#insertJob(job);
    });
  }

  #insertRecipient(r: RecipientRecord): void {
    this.#run(
      'insertRecipient',
      r.visitId,
      r.role,
      r.index,
      r.name ?? null,
      r.email ?? null,
      r.phone ?? null,
      r.channel ?? null,
      r.language ?? null,
      r.timeZone ?? null,
    );
  }

  async listRecipients(visitId: string): Promise<RecipientRecord[]> {
    return this.#all('listRecipients', visitId).map(recipientFrom);
  }

  async recordDelivery(d: DeliveryLogRecord, event?: EventRecord): Promise<number> {
    return this.#commit(() => {
      const row = this.#get(
        'insertDeliveryLog',
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
      );
      if (event) this.#insertEvent(event);
      return Number(row?.['id']);
    });
  }

  async listDeliveries(visitId: string): Promise<DeliveryLogRecord[]> {
    return this.#all('listDeliveryLog', visitId).map(deliveryLogFrom);
  }

  async addVisitLinks(
    orgId: string,
    visitId: string,
    links: VisitLinkRecord[],
    event: EventRecord,
  ): Promise<void> {
    await this.#commit(() => {
      const hosts = links.filter((l) => l.role === 'host').length;
      const info = this.#run('addVisitCounts', hosts, links.length - hosts, visitId, orgId);
      if (info.changes !== 1) throw new Error(`no visit ${visitId}`);
      this.#insertLinks(links);
      this.#insertEvent(event);
    });
  }

  async getVisit(orgId: string, id: string): Promise<VisitRecord | undefined> {
    const r = this.#get('getVisit', id, orgId);
    return r && visitFrom(r);
  }

  async findVisitBySubject(orgId: string, subject: string): Promise<VisitRecord | undefined> {
    const r = this.#get('findVisitBySubject', orgId, subject);
    return r && visitFrom(r);
  }

  async listVisits(orgId: string, query: VisitQuery): Promise<{ items: VisitRecord[]; total: number }> {
    const { sql, params } = visitWhere(orgId, query);
    // One snapshot for the count and the page.
    return this.#db.transaction(() => {
      const total = Number(
        (this.#stmt(`SELECT COUNT(*) AS n FROM visits WHERE ${sql}`).get(...params) as Row)['n'],
      );
      const rows = this.#stmt(
        `SELECT * FROM visits WHERE ${sql} ORDER BY ${visitOrder(query)} LIMIT ? OFFSET ?`,
      ).all(...params, query.limit, query.offset) as Row[];
      return { items: rows.map(visitFrom), total };
    })();
  }

  async getVisitLinks(visitId: string): Promise<VisitLinkRecord[]> {
    return this.#all('getVisitLinks', visitId).map(visitLinkFrom);
  }

  async findVisitLinkByJti(jti: string): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined> {
    const r = this.#get('findVisitLinkByJti', jti);
    return r && { visit: visitFrom(r), link: visitLinkFrom(r) };
  }

  async findGatewayLink(code: string): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined> {
    const r = this.#get('findGatewayLink', code);
    return r && { visit: visitFrom(r), link: visitLinkFrom(r) };
  }

  async recordLinkOpening(
    visitId: string,
    role: VisitLinkRecord['role'],
    index: number,
    at: number,
    options: { logEverySeconds: number; event: EventRecord },
  ): Promise<LinkOpening> {
    // One writer at a time (BEGIN IMMEDIATE): a cancel comes entirely before or after this.
    return this.#commit(() => {
      const { opening, loggedAt } = linkOpening(
        this.#get('lockVisitLink', visitId, role, index),
        at,
        options.logEverySeconds,
      );
      if (opening.outcome !== 'opened') return opening;
      this.#run('markLinkOpened', at, loggedAt, visitId, role, index);
      if (opening.logged) this.#insertEvent(options.event);
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
    return this.#commit(() => {
      const r = this.#get('revokeVisitLink', at, visitId, role, index);
      if (!r) return undefined;
      this.#insertEvent(event);
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
    return this.#commit(() => {
      const column = STATUS_COLUMN[to];
      const row = this.#stmt(transitionSql(SQLITE, column)).get(
        to,
        ...(column ? [at] : []),
        id,
        orgId,
        SQLITE.list(from),
      ) as Row | undefined;
      if (!row) return undefined;
      this.#insertEvent(event);
      for (const job of jobs) this.#insertJob(job);
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
    return this.#commit(() => {
      this.#run('markFirstGuest', at, id, orgId);
      const started = this.#get('startWaiting', at, id, orgId, at, at);
      if (started) {
        const visit = visitFrom(started);
        this.#insertEvent(event);
        const job = jobOf?.(visit);
        if (job) this.#insertJob(job);
        return { visit, waitStarted: true };
      }
      const row = this.#get('getVisit', id, orgId);
      return row && { visit: visitFrom(row), waitStarted: false };
    });
  }

  async stopWaiting(orgId: string, id: string): Promise<VisitRecord | undefined> {
    return this.#commit(() => {
      const row = this.#get('stopWaiting', id, orgId);
      return row && visitFrom(row);
    });
  }

  async closeVisits(
    now: number,
    limit: number,
    eventOf: (visit: VisitRecord) => EventRecord | undefined,
  ): Promise<VisitRecord[]> {
    return this.#commit(() => {
      const closed = this.#all('closeVisits', now, now, limit).map(visitFrom);
      for (const visit of closed) {
        const event = eventOf(visit);
        if (event) this.#insertEvent(event);
      }
      return closed;
    });
  }

  async appendEvent(event: EventRecord): Promise<void> {
    await this.#commit(() => this.#insertEvent(event));
  }

  async listEvents(orgId: string, visitId: string): Promise<EventRecord[]> {
    return this.#all('listEvents', orgId, visitId).map(eventFrom);
  }

  async createEventSubscription(sub: EventSubscriptionRecord): Promise<void> {
    await this.#commit(() =>
      this.#run(
        'insertEventSubscription',
        sub.id,
        sub.orgId,
        sub.url,
        typesColumn(sub.types),
        sub.description ?? null,
        sub.secret,
        sub.createdAt,
      ),
    );
  }

  async getEventSubscription(orgId: string, id: string): Promise<EventSubscriptionRecord | undefined> {
    const r = this.#get('getEventSubscription', id, orgId);
    return r && eventSubscriptionFrom(r);
  }

  async listEventSubscriptions(orgId: string): Promise<EventSubscriptionRecord[]> {
    return this.#all('listEventSubscriptions', orgId).map(eventSubscriptionFrom);
  }

  async deleteEventSubscription(orgId: string, id: string, at: number): Promise<boolean> {
    return this.#commit(() => {
      if (this.#run('disableEventSubscription', at, 'unsubscribed', id, orgId).changes !== 1) return false;
      this.#run('dropEventDeliveries', 'unsubscribed', id);
      return true;
    });
  }

  async rotateEventSubscriptionSecret(
    orgId: string,
    id: string,
    secret: string,
    previousUntil: number,
  ): Promise<boolean> {
    return this.#commit(() => this.#run('rotateEventSecret', previousUntil, secret, id, orgId).changes === 1);
  }

  async claimEventDeliveries(now: number, limit: number, leaseSeconds: number): Promise<EventDeliveryJob[]> {
    return this.#commit(() => {
      const ids = this.#all('dueEventDeliveries', now, now, limit).map((r) => Number(r['id']));
      return ids.map((id) => {
        this.#run('leaseEventDelivery', now + leaseSeconds, id);
        return eventDeliveryJobFrom(this.#get('eventDeliveryToSend', id) as Row);
      });
    });
  }

  async recordEventAttempt(o: EventAttemptOutcome): Promise<{ disabled: boolean }> {
    return this.#commit(() => {
      const { attempt: a } = o;
      const error = a.error === undefined ? null : a.error.slice(0, 1000);
      this.#run('insertEventAttempt', o.deliveryId, a.at, a.status ?? null, a.latencyMs, error);
      const row = this.#get(
        'finishEventDelivery',
        o.outcome === 'retry' ? 'pending' : o.outcome,
        o.outcome === 'retry' ? (o.retryAt ?? a.at) : null,
        a.at,
        o.outcome === 'delivered' ? a.at : null,
        a.status ?? null,
        error,
        o.deliveryId,
      );
      if (!row) return { disabled: false };
      const subscriptionId = String(row['subscription_id']);
      if (o.outcome === 'delivered') {
        this.#run('eventSubscriptionSucceeded', subscriptionId);
        return { disabled: false };
      }
      const state = this.#get('eventSubscriptionFailed', a.at, subscriptionId);
      if (!state) return { disabled: false };
      const run = {
        consecutiveFailures: Number(state['consecutive_failures']),
        failingSince: Number(state['failing_since']),
      };
      if (!o.disableWhen(run)) return { disabled: false };
      const orgId = String(row['org_id']);
      const reason = `every attempt failed: ${run.consecutiveFailures} in a row since ${new Date(run.failingSince * 1000).toISOString()}`;
      this.#run('disableEventSubscription', a.at, reason, subscriptionId, orgId);
      this.#run('dropEventDeliveries', 'subscription disabled', subscriptionId);
      this.#insertEvent(disabledEvent(orgId, subscriptionId, a.at, reason, run));
      return { disabled: true };
    });
  }

  async listEventDeliveries(
    orgId: string,
    query: EventDeliveryQuery,
  ): Promise<(EventDeliveryRecord & { attemptLog: EventAttemptRecord[] })[]> {
    const { sql, params } = eventDeliveryWhere(orgId, query);
    return this.#db.transaction(() => {
      const rows = this.#stmt(
        `SELECT d.* FROM event_deliveries d WHERE ${sql} ORDER BY d.id DESC LIMIT ?`,
      ).all(...params, query.limit) as Row[];
      const attempts = this.#stmt('SELECT * FROM event_attempts WHERE delivery_id = ? ORDER BY id');
      return rows.map((r) => ({
        ...eventDeliveryFrom(r),
        attemptLog: (attempts.all(r['id']) as Row[]).map(eventAttemptFrom),
      }));
    })();
  }

  async getEventDelivery(orgId: string, id: number): Promise<EventDeliveryRecord | undefined> {
    const r = this.#get('getEventDelivery', id, orgId);
    return r && eventDeliveryFrom(r);
  }

  async replayEventDelivery(orgId: string, id: number, at: number): Promise<boolean> {
    return this.#commit(() => this.#run('replayEventDelivery', at, id, orgId).changes === 1);
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.#commit(() =>
      this.#run('insertSession', s.hash, s.orgId, s.apiKeyId, s.csrf, s.createdAt, s.expiresAt),
    );
  }

  async getSession(hash: string): Promise<SessionRecord | undefined> {
    const r = this.#get('getSession', hash);
    return r && sessionFrom(r);
  }

  async deleteSession(hash: string): Promise<void> {
    await this.#commit(() => this.#run('deleteSession', hash));
  }

  async createHook(h: HookRecord): Promise<void> {
    await this.#commit(() =>
      this.#run('insertHook', h.id, h.orgId, h.name, h.secret, h.createdAt, h.revokedAt ?? null),
    );
  }

  async getHook(id: string): Promise<HookRecord | undefined> {
    const r = this.#get('getHook', id);
    return r && hookFrom(r);
  }

  async listHooks(orgId: string): Promise<HookRecord[]> {
    return this.#all('listHooks', orgId).map(hookFrom);
  }

  async revokeHook(orgId: string, id: string, at: number): Promise<boolean> {
    return this.#commit(() => this.#run('revokeHook', at, id, orgId).changes === 1);
  }

  async rotateHookSecret(orgId: string, id: string, secret: string, previousUntil: number): Promise<boolean> {
    return this.#commit(() => this.#run('rotateHookSecret', previousUntil, secret, id, orgId).changes === 1);
  }

  async reserveIdempotencyKey(
    orgId: string,
    key: string,
    requestHash: string,
    at: number,
    claim: IdempotencyClaim,
  ): Promise<IdempotencyReservation> {
    return this.#commit((): IdempotencyReservation => {
      const r = this.#get('getIdempotencyKey', orgId, key);
      const expired = r !== undefined && Number(r['created_at']) < claim.expiredBefore;
      if (r === undefined || expired) {
        if (claim.existingOnly) return { status: 'absent' };
        this.#stmt(
          `INSERT INTO idempotency_keys (org_id, key, request_hash, visit_id, lease_owner, lease_until, created_at, completed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
           ON CONFLICT (org_id, key) DO UPDATE SET request_hash = excluded.request_hash, visit_id = excluded.visit_id,
             lease_owner = excluded.lease_owner, lease_until = excluded.lease_until,
             created_at = excluded.created_at, completed_at = NULL`,
        ).run(orgId, key, requestHash, claim.visitId, claim.owner, claim.leaseUntil, at);
        return { status: 'new', visitId: claim.visitId, takenOver: false };
      }
      const found = idempotencyOf(r, requestHash, at);
      if (found.status !== 'takeover') return found;
      const visitId = found.visitId ?? claim.visitId;
      this.#run('takeOverIdempotencyKey', visitId, claim.owner, claim.leaseUntil, orgId, key);
      return { status: 'new', visitId, takenOver: true };
    });
  }

  async completeIdempotencyKey(orgId: string, key: string, visitId: string, at: number): Promise<void> {
    await this.#commit(() => this.#run('completeIdempotencyKey', at, orgId, key, visitId));
  }

  async releaseIdempotencyKey(orgId: string, key: string, owner: string): Promise<void> {
    await this.#commit(() => this.#run('releaseIdempotencyKey', orgId, key, owner));
  }

  async pruneIdempotencyKeys(before: number, limit?: number): Promise<number> {
    return this.#commit(() => this.#prune('idempotency_keys', 'created_at', '<', before, limit));
  }

  async markDelivery(key: string, at: number): Promise<boolean> {
    return this.#commit(() => this.#run('insertDelivery', key, at).changes === 1);
  }

  /**
   * One DELETE of at most `limit` rows (all without a limit): each batch is its own short write
   * transaction, so a large prune never holds the write lock for long.
   */
  #prune(table: string, column: string, op: '<' | '<=', bound: number, limit?: number): number {
    const sql = pruneSql(SQLITE, table, 'rowid', column, op, limit !== undefined);
    return this.#stmt(sql).run(...(limit === undefined ? [bound] : [bound, limit])).changes;
  }

  async pruneDeliveries(before: number, limit?: number): Promise<number> {
    return this.#commit(() => this.#prune('deliveries', 'at', '<', before, limit));
  }

  async pruneShortLinks(before: number, limit?: number): Promise<number> {
    return this.#commit(() => this.#prune('short_links', 'expires_at', '<', before, limit));
  }

  async pruneSessions(now: number, limit?: number): Promise<number> {
    return this.#commit(() => this.#prune('sessions', 'expires_at', '<=', now, limit));
  }

  async pruneEventDeliveries(before: number, limit?: number): Promise<number> {
    return this.#commit(() => {
      const ids = this.#all('prunableEventDeliveries', before, limit ?? SQLITE.noLimit).map((r) =>
        Number(r['id']),
      );
      if (ids.length === 0) return 0;
      const list = JSON.stringify(ids);
      this.#run('pruneEventAttemptsOf', list);
      return this.#run('pruneEventDeliveryRows', list).changes;
    });
  }

  async purgeVisits(
    before: number,
    options: { limit?: number; dryRun?: boolean } = {},
  ): Promise<PurgeCounts> {
    const bound = Math.min(before, Math.floor(Date.now() / 1000));
    if (options.dryRun) return purgeCounts(this.#get('purgeCounts', bound, bound) as Row);
    return this.#commit((): PurgeCounts => {
      const rows = this.#all('purgeableVisits', bound, bound, options.limit ?? SQLITE.noLimit);
      const counts: PurgeCounts = {
        visits: 0,
        links: 0,
        events: 0,
        shortLinks: 0,
        idempotencyKeys: 0,
        spaces: 0,
      };
      if (rows.length === 0) return counts;
      const list = SQLITE.list(rows.map((r) => String(r['id'])));
      counts.shortLinks = this.#run('purgeShortLinks', list).changes;
      counts.idempotencyKeys = this.#run('purgeIdempotencyKeys', list).changes;
      counts.events = this.#run('purgeEvents', list).changes;
      this.#run('purgeEventAttempts', list);
      this.#run('purgeEventDeliveries', list);
      this.#run('purgeMeetingParticipants', list);
      this.#run('purgeMeetingLinks', list);
      this.#run('purgeRecipients', list);
      this.#run('purgeDeliveryLog', list);
      this.#run('purgeRecipients', list);
      this.#run('purgeDeliveryLog', list);
      counts.links = this.#run('purgeVisitLinks', list).changes;
      counts.visits = this.#run('purgeVisitRows', list).changes;
      const space = this.#stmt(
        'DELETE FROM spaces WHERE org_id = ? AND subject = ? AND NOT EXISTS (SELECT 1 FROM visits WHERE org_id = ? AND subject = ?)',
      );
      const seen = new Set<string>();
      for (const r of rows) {
        const key = JSON.stringify([r['org_id'], r['subject']]);
        if (seen.has(key)) continue;
        seen.add(key);
        counts.spaces += space.run(r['org_id'], r['subject'], r['org_id'], r['subject']).changes;
      }
      return counts;
    });
  }

  async enqueueJob(job: NewJob): Promise<number | undefined> {
    return this.#commit(() => this.#insertJob(job));
  }

  #insertJob(job: NewJob): number | undefined {
    const now = Math.floor(Date.now() / 1000);
    if (job.dedupKey !== undefined && this.#run('insertDelivery', job.dedupKey, now).changes === 0)
      return undefined;
    const r = this.#get(
      'insertJob',
      job.type,
      JSON.stringify(job.payload),
      job.maxAttempts,
      job.runAt,
      now,
      now,
    );
    return Number(r?.['id']);
  }

  async claimJobs(now: number, limit: number, leaseSeconds: number): Promise<JobRecord[]> {
    return this.#commit(() => {
      // A running job whose lease ran out belonged to a worker that died: it is due again.
      const rows = this.#stmt(
        "SELECT * FROM jobs WHERE (status = 'pending' AND run_at <= ?) OR (status = 'running' AND run_at <= ?) ORDER BY run_at, id LIMIT ?",
      ).all(now, now, limit) as Row[];
      const lease = this.#stmt("UPDATE jobs SET status = 'running', run_at = ?, updated_at = ? WHERE id = ?");
      for (const r of rows) lease.run(now + leaseSeconds, now, r['id']);
      return rows.map((r) => jobFrom(r));
    });
  }

  async completeJob(id: number, at: number): Promise<void> {
    await this.#commit(() => this.#run('completeJob', at, id));
  }

  async failJob(id: number, error: string, retryAt: number | undefined, at: number): Promise<void> {
    await this.#commit(() =>
      this.#run(
        'failJob',
        retryAt === undefined ? 'failed' : 'pending',
        error.slice(0, 1000),
        retryAt ?? null,
        at,
        id,
      ),
    );
  }

  async getJob(id: number): Promise<(JobRecord & { status: string }) | undefined> {
    const r = this.#get('getJob', id);
    return r && jobFrom(r);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const r = this.#get('getSetting', key);
    return r ? String(r['value']) : undefined;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.#commit(() => this.#run('setSetting', key, value));
  }

  async incrementCounter(key: string, by: number, expiresAt: number): Promise<number> {
    return this.#commit(() => {
      if (Math.random() < 0.01) this.#run('sweepCounters', Math.floor(Date.now() / 1000));
      return Number(this.#get('incrementCounter', key, by, expiresAt)?.['value']);
    });
  }

  async saveMeetingLink(m: MeetingLinkRecord): Promise<void> {
    await this.#commit(() => {
      const params = [m.visitId, m.orgId, m.roomId, m.meetingId, m.meetingNumber ?? null, m.createdAt];
      if (this.#run('insertMeetingLink', ...params).changes === 1)
        this.#run('observeVisit', 'telemetry', m.visitId);
    });
  }

  async getMeetingLink(visitId: string): Promise<MeetingLinkRecord | undefined> {
    const r = this.#get('getMeetingLink', visitId);
    return r && meetingLinkFrom(r);
  }

  async findMeetingLinks(meetingId: string): Promise<MeetingLinkRecord[]> {
    return this.#all('findMeetingLinks', meetingId).map(meetingLinkFrom);
  }

  async unmappedMeetingVisits(sources: VisitSource[], now: number, limit: number): Promise<VisitRecord[]> {
    return this.#all('unmappedMeetingVisits', SQLITE.list(sources), now, now, limit).map(visitFrom);
  }

  async mappedMeetingVisits(sources: VisitSource[], now: number, limit: number): Promise<MappedVisit[]> {
    return this.#all('mappedMeetingVisits', SQLITE.list(sources), now, now, limit).map(mappedVisitFrom);
  }

  async recordMeetingParticipant(change: MeetingParticipantChange, event: EventRecord): Promise<boolean> {
    return this.#commit(() => {
      const { visitId, participantId, role, state, at } = change;
      const joined =
        state === 'joined' &&
        this.#run('insertMeetingParticipant', visitId, participantId, role, at).changes === 1;
      if (!joined) {
        const row = this.#get('getMeetingParticipant', visitId, participantId);
        const present = row !== undefined && row['left_at'] === null;
        if (state === 'joined' ? present : !present) return false;
        this.#run(
          state === 'joined' ? 'rejoinMeetingParticipant' : 'leaveMeetingParticipant',
          at,
          visitId,
          participantId,
        );
      }
      this.#insertEvent(event);
      return true;
    });
  }

  async listMeetingParticipants(visitId: string): Promise<MeetingParticipantRecord[]> {
    return this.#all('listMeetingParticipants', visitId).map(meetingParticipantFrom);
  }

  async findVisitLinkByCipher(
    cipher: string,
  ): Promise<{ visit: VisitRecord; link: VisitLinkRecord } | undefined> {
    const r = this.#get('findVisitLinkByCipher', cipher);
    return r && { visit: visitFrom(r), link: visitLinkFrom(r) };
  }

  async recordSmsOptOut(o: SmsOptOutRecord): Promise<void> {
    await this.#commit(() => this.#run('upsertSmsOptOut', o.phone, o.orgId ?? null, o.keyword, o.at));
  }

  async removeSmsOptOut(phone: string): Promise<boolean> {
    return this.#commit(() => this.#run('deleteSmsOptOut', phone).changes === 1);
  }

  async getSmsOptOut(phone: string): Promise<SmsOptOutRecord | undefined> {
    const r = this.#get('getSmsOptOut', phone);
    return r && smsOptOutFrom(r);
  }

  async saveSmsMessage(m: SmsMessageRecord): Promise<void> {
    await this.#commit(() =>
      this.#run(
        'insertSmsMessage',
        m.providerId,
        m.provider,
        m.phone,
        m.status,
        0,
        m.errorCode ?? null,
        m.createdAt,
        m.updatedAt,
      ),
    );
  }

  async updateSmsStatus(u: {
    providerId: string;
    status: SmsStatus;
    rank: number;
    errorCode?: string;
    at: number;
  }): Promise<SmsMessageRecord | undefined> {
    return this.#commit(() => {
      const r =
        this.#get('updateSmsStatus', u.status, u.rank, u.errorCode ?? null, u.at, u.providerId, u.rank) ??
        this.#get('getSmsMessage', u.providerId);
      return r && smsMessageFrom(r);
    });
  }

  async getSmsMessage(providerId: string): Promise<SmsMessageRecord | undefined> {
    const r = this.#get('getSmsMessage', providerId);
    return r && smsMessageFrom(r);
  }
}
