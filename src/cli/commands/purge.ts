/**
 * `instant-connect purge --older-than 90d [--dry-run] [--json]`: deletes visits that finished
 * (ended, expired or cancelled) before the cutoff, with their links, events, short links and
 * Idempotency-Keys, and the spaces of subjects no visit uses any more. Subjects often hold patient
 * names: this is how they leave the database. Never an open, live or scheduled visit.
 */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { nowSeconds, parseDuration } from '../../domain/time.js';
import type { PurgeCounts } from '../../store/types.js';
import { CliError, databaseUrl, dataDir, whereData } from '../config.js';
import type { CliIo } from '../io.js';

export interface PurgeFlags {
  olderThan: string;
  dryRun?: boolean;
  json?: boolean;
  data?: string;
  database?: string;
}

/** Visits per transaction: each batch is a short write, so a running `serve` keeps answering. */
const BATCH = 500;

const NOUNS: [keyof PurgeCounts, string, string][] = [
  ['visits', 'visit', 'visits'],
  ['links', 'link', 'links'],
  ['events', 'event', 'events'],
  ['shortLinks', 'short link', 'short links'],
  ['idempotencyKeys', 'Idempotency-Key', 'Idempotency-Keys'],
  ['spaces', 'space', 'spaces'],
];

export function describeCounts(counts: PurgeCounts): string {
  const parts = NOUNS.map(([k, one, many]) => `${counts[k]} ${counts[k] === 1 ? one : many}`);
  return `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

export async function run(flags: PurgeFlags, io: CliIo): Promise<void> {
  const parsed = parseDuration(flags.olderThan);
  if (!parsed.ok) throw new CliError(`--older-than ${parsed.message} (e.g. 90d, 12w, 2160h)`, 2);
  const database = databaseUrl(flags.database, io.env);
  const dir = dataDir(flags.data, io);
  const { SQLITE_FILE, openStore } = await import('../../store/open.js');
  if (!database && !existsSync(resolve(dir, SQLITE_FILE)))
    throw new CliError(`no database in ${dir} (--data, DATA_DIR)`, 2);
  const now = nowSeconds();
  const before = now - parsed.value;
  const store = await openStore({ dataDir: dir, ...(database ? { databaseUrl: database } : {}) });
  let counts: PurgeCounts;
  try {
    if (flags.dryRun) counts = await store.purgeVisits(before, { dryRun: true });
    else {
      counts = { visits: 0, links: 0, events: 0, shortLinks: 0, idempotencyKeys: 0, spaces: 0 };
      for (;;) {
        const batch = await store.purgeVisits(before, { limit: BATCH });
        for (const [k] of NOUNS) counts[k] += batch[k];
        if (batch.visits < BATCH) break;
      }
    }
  } finally {
    await store.close();
  }
  const cutoff = new Date(before * 1000).toISOString();
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify({ dryRun: Boolean(flags.dryRun), before: cutoff, [flags.dryRun ? 'wouldRemove' : 'removed']: counts }, null, 2)}\n`,
    );
    return;
  }
  io.stdout.write(
    `${flags.dryRun ? 'Would remove' : 'Removed'} ${describeCounts(counts)} of visits finished before ${cutoff} (${whereData(dir, database)}).\n`,
  );
  if (flags.dryRun) io.stdout.write('Nothing was deleted (--dry-run).\n');
}
