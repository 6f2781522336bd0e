/**
 * Outbound events survive `kill -9` (issue 15 §4), on SQLite and on PostgreSQL: a `serve` child
 * answers visits made and cancelled while their subscriber is down, so their deliveries are
 * pending (and being retried) when the child is killed. Started again on the same data with the
 * subscriber back, every event of every answered request arrives, verified with standardwebhooks,
 * in order per visit: none is lost (duplicates are allowed: delivery is at least once).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Receiver, startReceiver, typesOf } from '../events/receiver.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../support/free-port.js';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { removeDir, tempDir } from '../support/temp-dir.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = join(ROOT, 'test', 'support', 'serve-child.ts');
const EVENTS = {
  allowPrivate: ['127.0.0.1/32'],
  timing: { pollMs: 50, retrySchedule: [1], timeoutMs: 3000 },
};
const VISITS = 8;
const pgBase = testDatabaseUrl();

async function json(url: string, key: string, method: string, body?: unknown) {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as any };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`kill -9 with deliveries pending (${backend}): after a restart every event is delivered, in order per visit`, {
    skip: backend === 'postgres' && !pgBase ? PG_SKIP : false,
    timeout: 5 * 60_000,
  }, async () => {
    // a hang guard
    const dataDir = tempDir('ic-events-crash-');
    let db: TestDatabase | undefined;
    let first: TestServer | undefined;
    let again: TestServer | undefined;
    let receiver: Receiver | undefined;
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT'];
    delete env['NODE_OPTIONS'];
    let child: ReturnType<typeof spawn> | undefined;
    try {
      if (backend === 'postgres') db = await createTestDatabase(pgBase!);
      const database = db ? { databaseUrl: db.url } : {};
      // An API key and a subscription to a port where nothing listens yet.
      first = await startTestServer({ dataDir, ...database, events: EVENTS });
      const key = first.key;
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/hooks/visits`;
      const made = await json(`${first.url}/api/events/subscriptions`, key, 'POST', {
        url,
        types: ['visit.created', 'visit.cancelled'],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const secret = made.body.secret as string;
      await first.close();
      first = undefined;

      child = spawn(
        process.execPath,
        ['--import', 'tsx', CHILD, JSON.stringify({ dataDir, ...database, events: EVENTS })],
        { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (c: string) => {
        err += c;
      });
      const childUrl = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`the child did not start\n${err}`)), 120_000); // tsx starts slowly on a loaded machine
        child!.stdout!.setEncoding('utf8').on('data', (c: string) => {
          out += c;
          const m = /listening (\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child!.once('exit', (code) => reject(new Error(`the child exited (${code})\n${err}`)));
      });
      const expected = new Map<string, string[]>();
      for (let i = 0; i < VISITS; i++) {
        const v = await json(`${childUrl}/api/visits`, key, 'POST', { crypto: { iterations: 1000 } });
        assert.equal(v.status, 201, JSON.stringify(v.body));
        const types = ['visit.created'];
        if (i % 2 === 0) {
          const c = await json(`${childUrl}/api/visits/${v.body.id}`, key, 'DELETE');
          assert.equal(c.status, 200, JSON.stringify(c.body));
          types.push('visit.cancelled');
        }
        expected.set(v.body.id, types);
      }
      // The worker is trying (and failing: nobody listens) when the process dies.
      await eventually(
        async () => (await json(`${childUrl}/api/events/deliveries?status=pending`, key, 'GET')).body.items,
        (items: { attempts: number }[]) => items.some((d) => d.attempts > 0),
        'a failed attempt before the kill',
        30_000,
      );
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      child = undefined;

      const rx = await startReceiver('127.0.0.1', port);
      receiver = rx;
      again = await startTestServer({ dataDir, ...database, events: EVENTS });
      const all = [...expected.keys()];
      await eventually(
        () => all.map((id) => typesOf(rx.received, id).length),
        (counts) => counts.every((n, i) => n >= expected.get(all[i]!)!.length),
        'every event after the restart',
        60_000,
      );
      for (const [id, types] of expected) {
        // At least once: a repeat keeps its webhook-id; the first arrivals are in order.
        const seen = rx.received.filter((r) => r.body.data['visitId'] === id);
        const firsts = [...new Map(seen.map((r) => [r.id, r.body.type])).values()];
        assert.deepEqual(firsts, types, id);
      }
      for (const r of rx.received) rx.verify(r, secret);
    } finally {
      child?.kill('SIGKILL');
      await again?.close();
      await first?.close();
      await receiver?.stop();
      await db?.drop();
      removeDir(dataDir);
    }
  });
}
