/**
 * A notice survives `kill -9` between queueing and sending (issue 16), on SQLite and PostgreSQL:
 * the built `serve` (SMTP_URL, SMTP_FROM) makes a visit with a recipient, and is killed while its
 * SMTP server holds the message unanswered (the notice is stored, the send is in flight, nothing
 * was accepted). Started again on the same data, the job comes back when its lease ends and the
 * notice arrives exactly once, recorded once as sent. `serve` says where email goes, and neither
 * its output nor the records hold the SMTP password.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../cli/run-cli.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import { type SmtpTestServer, startSmtpServer } from '../support/smtp.js';
import { removeDir, tempDir } from '../support/temp-dir.js';
import { http, type ServeChild, startServe } from './support.js';

const pgBase = testDatabaseUrl();
const LEASE_SECONDS = 2;

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`kill -9 while a notice is being sent (${backend}): after a restart it arrives exactly once`, {
    skip: backend === 'postgres' && !pgBase ? PG_SKIP : false,
    timeout: 5 * 60_000, // a hang guard
  }, async () => {
    const cwd = tempDir('ic-email-crash-');
    let db: TestDatabase | undefined;
    let smtp: SmtpTestServer | undefined;
    let server: ServeChild | undefined;
    try {
      smtp = await startSmtpServer();
      db = backend === 'postgres' ? await createTestDatabase(pgBase!) : undefined;
      const storeEnv: Record<string, string> = db
        ? { DATABASE_URL: db.url }
        : { DATA_DIR: join(cwd, 'data') };
      const made = await runCli(['keys', 'create', '--name', 'email', '--json'], { cwd, env: storeEnv });
      assert.equal(made.code, 0, made.stderr);
      const key = (JSON.parse(made.stdout) as { key: string }).key;
      const env: Record<string, string> = {
        ...storeEnv,
        PORT: String(await freePort()),
        SMTP_URL: smtp.url,
        SMTP_FROM: 'Clinic <visits@clinic.example>',
        JOB_LEASE_SECONDS: String(LEASE_SECONDS),
        JOB_POLL_MS: '100',
      };
      const api = (path: string, init: RequestInit = {}) =>
        http(`${server!.url}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        });

      smtp.hold = true;
      server = await startServe(cwd, env);
      const startLines = server.process.stderr() + server.process.stdout();
      assert.match(
        startLines,
        new RegExp(
          `email: +notices and invitations to recipients through smtp://127\\.0\\.0\\.1:${smtp.port}, from visits@clinic\\.example`,
        ),
      );
      const to = 'crash@patients.example';
      const visit = await api('/api/visits', {
        method: 'POST',
        body: JSON.stringify({ crypto: { iterations: 1000 }, recipients: [{ role: 'guest', email: to }] }),
      });
      assert.equal(visit.status, 201, visit.text);
      const id = visit.body.id as string;
      // The message is on the wire, unanswered: queued and being sent, not accepted.
      await eventually(
        () => smtp!.held,
        (n) => n === 1,
        'the message held at DATA',
        60_000,
      );
      const before = server.tail();
      await server.crash();
      server = undefined;
      assert.equal(smtp.messages.length, 0);

      smtp.hold = false;
      server = await startServe(cwd, env);
      await eventually(
        () => smtp!.messages.filter((m) => m.to.includes(to)).length,
        (n) => n >= 1,
        'the notice after the restart',
        60_000,
      );
      const records = await eventually(
        async () =>
          (await api(`/api/visits/${id}/deliveries`)).body.items as { status: string; attempt: number }[],
        (items) => items.length >= 1,
        'its delivery record',
        30_000,
      );
      assert.deepEqual(
        records.map((r) => r.status),
        ['sent'],
        'recorded once, as sent',
      );
      const events = (await api(`/api/visits/${id}/events`)).body.items as { type: string }[];
      assert.equal(events.filter((e) => e.type === 'link.delivered').length, 1);
      assert.equal(smtp.messages.filter((m) => m.to.includes(to)).length, 1, 'exactly once');
      assert.equal(smtp.held, 1, 'nothing else was held');
      for (const text of [before, server.tail(), JSON.stringify(records)])
        assert.ok(!text.includes(smtp.password), 'no SMTP password in output or records');
    } finally {
      await server?.crash();
      await smtp?.stop();
      await db?.drop();
      removeDir(cwd);
    }
  });
}
