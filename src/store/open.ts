/**
 * Opens the configured store: SQLite in the data directory by default, PostgreSQL when a
 * `postgres://` URL is given (several instances on one database). The pg driver is loaded only then.
 */
import { join } from 'node:path';
import { InstantConnectError } from '../errors.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export const SQLITE_FILE = 'instant-connect.db';

export interface OpenStoreOptions {
  dataDir: string;
  /** `postgres://` or `postgresql://`: use PostgreSQL instead of SQLite. A secret: never logged. */
  databaseUrl?: string;
  /** Apply pending migrations (default true; `doctor` only looks). */
  migrate?: boolean;
}

/** True for a URL the PostgreSQL store accepts. */
function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url.trim());
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  let store: Store;
  if (options.databaseUrl) {
    // The message names the variable, never its value (it holds a password).
    if (!isPostgresUrl(options.databaseUrl))
      throw new InstantConnectError(
        'ERR_VALIDATION',
        'DATABASE_URL (--database) must be a postgres:// or postgresql:// URL',
      );
    const { PostgresStore } = await import('./postgres.js');
    store = new PostgresStore(options.databaseUrl.trim());
  } else {
    store = new SqliteStore(join(options.dataDir, SQLITE_FILE));
  }
  if (options.migrate === false) return store;
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
