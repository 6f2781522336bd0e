/** Opens the configured store: SQLite in the data directory by default. */
import { join } from 'node:path';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export const SQLITE_FILE = 'instant-connect.db';

export async function openStore(options: { dataDir: string }): Promise<Store> {
  const store = new SqliteStore(join(options.dataDir, SQLITE_FILE));
  await store.migrate();
  return store;
}
