/**
 * Two instances on one PostgreSQL database, both with SMTP: each notice is sent once, whichever
 * instance made or cancelled the visit and whichever runs the job (the job's lease, SKIP LOCKED),
 * and each is one `sent` record.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../support/eventually.js';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { type SmtpTestServer, startSmtpServer } from '../support/smtp.js';
import { api, createVisit } from '../visits/helpers.js';

const base = testDatabaseUrl();
const VISITS = 8;

let db: TestDatabase;
let smtp: SmtpTestServer;
let a: TestServer;
let b: TestServer;

before(async () => {
  if (!base) return;
  db = await createTestDatabase(base);
  smtp = await startSmtpServer();
  const email = { url: smtp.url, from: { name: 'Clinic', address: 'visits@clinic.example' } };
  a = await startTestServer({ databaseUrl: db.url, email, jobs: { pollMs: 20 } });
  b = await startTestServer({ databaseUrl: db.url, email, jobs: { pollMs: 20 } });
});
after(async () => {
  await a?.close();
  await b?.close();
  await smtp?.stop();
  await db?.drop();
});

test('two instances send each notice once', { skip: base ? false : PG_SKIP }, async () => {
  const ids: string[] = [];
  for (let i = 0; i < VISITS; i++) {
    const [maker, canceller] = i % 2 === 0 ? [a, b] : [b, a];
    const v = await createVisit(maker, {
      recipients: [
        { role: 'guest', email: `guest${i}@patients.example` },
        { role: 'host', email: `host${i}@clinic.example` },
      ],
    });
    const c = await api(canceller, 'DELETE', `/api/visits/${v.id}`);
    assert.equal(c.status, 200, c.text);
    ids.push(v.id);
  }
  // Every cancel notice (a creation notice not sent before its cancel is not sent at all).
  await eventually(
    () => smtp.messages.filter((m) => /^METHOD:CANCEL/m.test(m.raw)).length,
    (n) => n === VISITS * 2,
    'every cancel notice',
    30_000,
  );
  const seen = new Map<string, number>();
  for (const m of smtp.messages) {
    const key = `${m.to.join(',')} ${/^METHOD:(\w+)/m.exec(m.raw)?.[1]}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  for (const [key, count] of seen) assert.equal(count, 1, `${key} sent ${count} times`);
  for (const id of ids) {
    const records = await eventually(
      async () => (await api(a, 'GET', `/api/visits/${id}/deliveries`)).body.items as { status: string }[],
      (r) => r.filter((d) => d.status === 'sent').length >= 2,
      'the records',
      30_000,
    );
    assert.ok(
      records.every((r) => r.status === 'sent'),
      JSON.stringify(records),
    );
  }
  // Nothing was sent twice (each message is one address and one method).
  assert.equal(smtp.messages.length, [...seen.values()].length);
});
