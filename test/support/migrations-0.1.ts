/**
 * The migrations of 0.1, frozen exactly as released (the SQL each version applied, per dialect):
 * tests build databases with them and check that today's schema (store/schema.ts) opens, migrates
 * and reads them without loss, and that it makes the same tables, columns and indexes.
 */

export const SQLITE_0_1: string[] = [
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
  `CREATE TABLE visits (
     id TEXT PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     subject TEXT NOT NULL,
     status TEXT NOT NULL,
     not_before INTEGER,
     expires_at INTEGER NOT NULL,
     vertical TEXT NOT NULL,
     host_login INTEGER NOT NULL,
     short_urls INTEGER NOT NULL,
     devices TEXT NOT NULL,
     source TEXT NOT NULL,
     created_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     ended_at INTEGER,
     cancelled_at INTEGER,
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
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     org_id TEXT NOT NULL,
     visit_id TEXT,
     at INTEGER NOT NULL,
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
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  `CREATE TABLE hooks (
     id TEXT PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES orgs(id),
     name TEXT NOT NULL,
     secret TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );
   CREATE TABLE idempotency_keys (
     org_id TEXT NOT NULL,
     key TEXT NOT NULL,
     request_hash TEXT NOT NULL,
     visit_id TEXT,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (org_id, key)
   );
   CREATE TABLE deliveries (
     key TEXT PRIMARY KEY,
     at INTEGER NOT NULL
   );
   CREATE INDEX deliveries_at ON deliveries (at);
   CREATE TABLE jobs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     type TEXT NOT NULL,
     payload TEXT NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     max_attempts INTEGER NOT NULL,
     run_at INTEGER NOT NULL,
     last_error TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX jobs_due ON jobs (status, run_at);
   CREATE TABLE settings (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  `CREATE TABLE counters (
     key TEXT PRIMARY KEY,
     value INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX counters_expiry ON counters (expires_at);
   CREATE INDEX visit_links_cipher ON visit_links (cipher);`,
  // Broker keys retire: keys replaced before this version retire once every link recorded so far
  // has expired.
  `ALTER TABLE broker_keys ADD COLUMN retires_at INTEGER;
   UPDATE broker_keys SET retires_at = MAX(
     COALESCE((SELECT MAX(expires_at) FROM visits), 0),
     COALESCE((SELECT MAX(expires_at) FROM short_links), 0),
     CAST(strftime('%s', 'now') AS INTEGER) + 1200
   ) WHERE active = 0;`,
  // The pruning job finds expired rows by these.
  `CREATE INDEX short_links_expiry ON short_links (expires_at);
   CREATE INDEX sessions_expiry ON sessions (expires_at);`,
  // Idempotency-Keys as Stripe keeps them: the visit chosen when the key is reserved, a lease a
  // retry takes over after a crash, completion apart from the visit id, expiry by first use.
  // Hooks: the secret before a rotation, accepted for a grace period.
  `ALTER TABLE idempotency_keys ADD COLUMN lease_owner TEXT;
   ALTER TABLE idempotency_keys ADD COLUMN lease_until INTEGER;
   ALTER TABLE idempotency_keys ADD COLUMN completed_at INTEGER;
   UPDATE idempotency_keys SET completed_at = created_at WHERE visit_id IS NOT NULL;
   CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
   ALTER TABLE hooks ADD COLUMN previous_secret TEXT;
   ALTER TABLE hooks ADD COLUMN previous_secret_until INTEGER;`,
  // purge finds the Idempotency-Keys of the visits it removes by this.
  `CREATE INDEX idempotency_keys_visit ON idempotency_keys (visit_id);`,
];

export const POSTGRES_0_1: string[] = [
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
