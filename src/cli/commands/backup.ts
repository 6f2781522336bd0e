/**
 * `instant-connect backup --out FILE`: a consistent online copy of the embedded SQLite database
 * while `serve` runs (SQLite's backup API), readable only by its owner: it holds the broker's
 * secrets and every visit. PostgreSQL is backed up with its own tools (pg_dump).
 */

import { chmodSync, existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError, databaseUrl, dataDir } from '../config.js';
import type { CliIo } from '../io.js';

export interface BackupFlags {
  out: string;
  data?: string;
  database?: string;
  force?: boolean;
}

export async function run(flags: BackupFlags, io: CliIo): Promise<void> {
  if (databaseUrl(flags.database, io.env)) {
    throw new CliError(
      'backup copies the embedded SQLite database; for PostgreSQL use pg_dump, e.g. pg_dump --format=custom --file=instant-connect.dump "$DATABASE_URL"',
      2,
    );
  }
  const out = resolve(io.cwd, flags.out);
  if (existsSync(out)) {
    if (!flags.force) throw new CliError(`--out: ${out} exists (add --force to replace it)`, 2);
    rmSync(out);
  }
  const dir = dataDir(flags.data, io);
  const { SQLITE_FILE, openStore } = await import('../../store/open.js');
  if (!existsSync(resolve(dir, SQLITE_FILE)))
    throw new CliError(`no database in ${dir} (--data, DATA_DIR)`, 2);
  const { SqliteStore } = await import('../../store/sqlite.js');
  const store = await openStore({ dataDir: dir, migrate: false });
  try {
    if (!(store instanceof SqliteStore)) throw new CliError('backup: not an SQLite database', 2);
    const { bytes } = await store.backup(out);
    chmodSync(out, 0o600);
    io.stderr.write(
      `Backed up ${dir} to ${out} (${(bytes / 1024).toFixed(0)} KiB, integrity checked, mode 0600: it holds the broker's secrets).\n` +
        `Restore: stop serve, copy it to ${resolve(dir, SQLITE_FILE)} (remove any -wal and -shm beside it), start serve.\n`,
    );
  } finally {
    await store.close();
  }
}
