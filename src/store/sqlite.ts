/** The embedded default store: one SQLite file in the data directory (better-sqlite3, WAL). */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ApiKeyRecord, Org, ShortLinkRecord, SpaceRecord, Store, StoredBrokerKey } from './types.js';

/** Versioned migrations; a version is never edited once released, only added. */
const MIGRATIONS: string[] = [
  `CREATE TABLE orgs (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     name TEXT NOT NULL,
     prefix TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER,
     revoked_at INTEGER
   );
   CREATE TABLE broker_keys (
     kid TEXT PRIMARY KEY,
     material TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     active INTEGER NOT NULL
   );
   CREATE TABLE short_links (
     code TEXT PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     cipher TEXT NOT NULL,
     role TEXT NOT NULL,
     vertical TEXT NOT NULL,
     host_login INTEGER NOT NULL,
     subject TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE spaces (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     subject TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     UNIQUE (org_id, subject)
   );`,
];

type Row = Record<string, unknown>;
const opt = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

function apiKeyFrom(r: Row): ApiKeyRecord {
  const key: ApiKeyRecord = {
    id: String(r['id']),
    orgId: String(r['org_id']),
    name: String(r['name']),
    prefix: String(r['prefix']),
    hash: String(r['hash']),
    createdAt: Number(r['created_at']),
  };
  const lastUsedAt = opt(r['last_used_at']);
  const revokedAt = opt(r['revoked_at']);
  if (lastUsedAt !== undefined) key.lastUsedAt = lastUsedAt;
  if (revokedAt !== undefined) key.revokedAt = revokedAt;
  return key;
}

function shortLinkFrom(r: Row): ShortLinkRecord {
  return {
    code: String(r['code']),
    orgId: String(r['org_id']),
    cipher: String(r['cipher']),
    role: r['role'] as ShortLinkRecord['role'],
    vertical: r['vertical'] as ShortLinkRecord['vertical'],
    hostLogin: Number(r['host_login']) === 1,
    subject: String(r['subject']),
    expiresAt: Number(r['expires_at']),
    createdAt: Number(r['created_at']),
  };
}

function spaceFrom(r: Row): SpaceRecord {
  return {
    id: String(r['id']),
    orgId: String(r['org_id']),
    subject: String(r['subject']),
    seq: Number(r['seq']),
    createdAt: Number(r['created_at']),
  };
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    // FULL: an answered request survives a crash or power loss, not only a process kill.
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.pragma('busy_timeout = 5000');
  }

  async migrate(): Promise<void> {
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    // IMMEDIATE takes the write lock first, so two processes starting at once apply each version once.
    const apply = this.#db.transaction(() => {
      const row = this.#db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as Row;
      const current = Number(row['v'] ?? 0);
      MIGRATIONS.slice(current).forEach((sql, i) => {
        this.#db.exec(sql);
        this.#db
          .prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)')
          .run(current + i + 1, Math.floor(Date.now() / 1000));
      });
    });
    apply.immediate();
  }

  async ping(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  async getOrg(id: string): Promise<Org | undefined> {
    const r = this.#db.prepare('SELECT * FROM orgs WHERE id = ?').get(id) as Row | undefined;
    return r && { id: String(r['id']), name: String(r['name']), createdAt: Number(r['created_at']) };
  }

  async getDefaultOrg(): Promise<Org | undefined> {
    const r = this.#db.prepare('SELECT * FROM orgs ORDER BY created_at, id LIMIT 1').get() as Row | undefined;
    return r && { id: String(r['id']), name: String(r['name']), createdAt: Number(r['created_at']) };
  }

  async createOrg(org: Org): Promise<void> {
    this.#db
      .prepare('INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)')
      .run(org.id, org.name, org.createdAt);
  }

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO api_keys (id, org_id, name, prefix, hash, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(k.id, k.orgId, k.name, k.prefix, k.hash, k.createdAt, k.lastUsedAt ?? null, k.revokedAt ?? null);
  }

  async listApiKeys(orgId: string): Promise<ApiKeyRecord[]> {
    const rows = this.#db
      .prepare('SELECT * FROM api_keys WHERE org_id = ? ORDER BY created_at, id')
      .all(orgId) as Row[];
    return rows.map(apiKeyFrom);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM api_keys WHERE hash = ?').get(hash) as Row | undefined;
    return r && apiKeyFrom(r);
  }

  async touchApiKey(id: string, at: number, coarseSeconds = 60): Promise<void> {
    this.#db
      .prepare(
        'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)',
      )
      .run(at, id, at - coarseSeconds);
  }

  async revokeApiKey(orgId: string, id: string, at: number): Promise<boolean> {
    const info = this.#db
      .prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL')
      .run(at, id, orgId);
    return info.changes === 1;
  }

  async listBrokerKeys(): Promise<StoredBrokerKey[]> {
    const rows = this.#db
      .prepare('SELECT * FROM broker_keys ORDER BY active DESC, created_at DESC, kid')
      .all() as Row[];
    return rows.map((r) => ({
      kid: String(r['kid']),
      material: String(r['material']),
      createdAt: Number(r['created_at']),
      active: Number(r['active']) === 1,
    }));
  }

  async addBrokerKey(key: StoredBrokerKey): Promise<void> {
    this.#db.transaction(() => {
      if (key.active) this.#db.prepare('UPDATE broker_keys SET active = 0').run();
      this.#db
        .prepare('INSERT INTO broker_keys (kid, material, created_at, active) VALUES (?, ?, ?, ?)')
        .run(key.kid, key.material, key.createdAt, key.active ? 1 : 0);
    })();
  }

  async insertShortLinks(links: ShortLinkRecord[]): Promise<string[]> {
    const exists = this.#db.prepare('SELECT 1 FROM short_links WHERE code = ?');
    const insert = this.#db.prepare(
      `INSERT INTO short_links (code, org_id, cipher, role, vertical, host_login, subject, expires_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.#db.transaction(() => {
      const codes = links.map((l) => l.code);
      const repeated = codes.filter((c, i) => codes.indexOf(c) !== i);
      const taken = [...repeated, ...codes.filter((c) => exists.get(c))];
      if (taken.length > 0) return taken;
      for (const l of links) {
        insert.run(
          l.code,
          l.orgId,
          l.cipher,
          l.role,
          l.vertical,
          l.hostLogin ? 1 : 0,
          l.subject,
          l.expiresAt,
          l.createdAt,
        );
      }
      return [];
    })();
  }

  async getShortLink(code: string): Promise<ShortLinkRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM short_links WHERE code = ?').get(code) as Row | undefined;
    return r && shortLinkFrom(r);
  }

  async getOrCreateSpace(
    orgId: string,
    subject: string,
    make: () => { id: string; createdAt: number },
  ): Promise<SpaceRecord> {
    const find = this.#db.prepare('SELECT * FROM spaces WHERE org_id = ? AND subject = ?');
    return this.#db.transaction(() => {
      const found = find.get(orgId, subject) as Row | undefined;
      if (found) return spaceFrom(found);
      const { id, createdAt } = make();
      this.#db
        .prepare('INSERT INTO spaces (id, org_id, subject, created_at) VALUES (?, ?, ?, ?)')
        .run(id, orgId, subject, createdAt);
      return spaceFrom(find.get(orgId, subject) as Row);
    })();
  }
}
