/**
 * PostgreSQL for tests: TEST_DATABASE_URL names a server and a role that may create databases
 * (.ci/run starts Debian's PostgreSQL and sets it). Each test file gets a fresh database of its
 * own, dropped at the end, so files run in parallel without seeing each other's rows.
 *
 * Without TEST_DATABASE_URL the PostgreSQL tests are skipped with a reason, except in CI
 * (CI set), where that is an error: CI must run them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_SKIP = 'PostgreSQL not available: set TEST_DATABASE_URL';

/** The server to test against, undefined (skip) outside CI when none is configured. */
export function testDatabaseUrl(): string | undefined {
  const url = process.env['TEST_DATABASE_URL']?.trim();
  if (url) return url;
  if (process.env['CI']) {
    throw new Error(
      'TEST_DATABASE_URL is not set, and CI must run the PostgreSQL tests: .ci/run starts PostgreSQL and sets it',
    );
  }
  return undefined;
}

/** The same server and credentials, another database. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Ends every connection to it and drops it. */
  drop(): Promise<void>;
}

async function admin<T>(baseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database `ic_test_<random>` on the server of `baseUrl`. */
export async function createTestDatabase(baseUrl: string): Promise<TestDatabase> {
  const name = `ic_test_${randomBytes(6).toString('hex')}`;
  await admin(baseUrl, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  let dropped = false;
  return {
    name,
    url: withDatabase(baseUrl, name),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await admin(baseUrl, async (c) => {
        await c.query(
          // Only our own sessions: an autovacuum worker on the database runs as a superuser (DROP
          // … WITH (FORCE) below ends it), and terminating it would fail.
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND usename = current_user AND backend_type = 'client backend'",
          [name],
        );
        const version = Number((await c.query('SHOW server_version_num')).rows[0]?.server_version_num);
        const sql = `DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)}${version >= 130000 ? ' WITH (FORCE)' : ''}`;
        // An autovacuum worker that started on the new database runs as a superuser: FORCE cannot end
        // it (42501) and a plain drop waits for it (55006). It finishes within moments: try again.
        for (let attempt = 1; ; attempt++) {
          try {
            await c.query(sql);
            return;
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (attempt >= 50 || (code !== '42501' && code !== '55006')) throw err;
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
      });
    },
  };
}

/** Runs one query on a database and closes the connection. */
export async function queryOnce<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  return admin(url, async (c) => (await c.query<R>(sql, params)).rows);
}
