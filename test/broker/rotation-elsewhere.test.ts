/**
 * A rotation made by another process is used by a running server from its very next issuing
 * call (issue 11, finding 8): `keys rotate-broker` runs as a child process on the server's data
 * directory (SQLite) or database (PostgreSQL, two instances), then the server issues.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../cli/run-cli.js';
import { testFetch } from '../support/inject-fetch.js';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { headerOf, issue } from './helpers.js';

async function rotate(flags: string[]): Promise<string> {
  const r = await runCli(['keys', 'rotate-broker', '--json', ...flags]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).kid as string;
}

describe('rotation by another process, SQLite', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('keys rotate-broker in a child process: the next token the running server issues carries the new kid', async () => {
    const before = await issue(server, 'rotation-before');
    const oldKid = headerOf(before.guest[0]!.cipher)['kid'];
    const kid = await rotate(['--data', server.dataDir]);
    assert.notEqual(kid, oldKid);
    const after = await issue(server, 'rotation-after');
    assert.equal(headerOf(after.guest[0]!.cipher)['kid'], kid);
    // Links of the old key still open (it retires only after its links expire).
    const page = await testFetch(`${server.url}/api/v1/space?int=jose&data=${before.guest[0]!.cipher}`);
    assert.equal(page.status, 200);
    // Twice in a row, and the listing says which key issues.
    const again = await rotate(['--data', server.dataDir]);
    assert.equal(headerOf((await issue(server, 'rotation-again')).guest[0]!.cipher)['kid'], again);
    const listed = await runCli(['keys', 'list-broker', '--json', '--data', server.dataDir]);
    assert.equal(listed.code, 0, listed.stderr);
    const keys = JSON.parse(listed.stdout) as Array<{ kid: string; state: string; retiresAt?: number }>;
    assert.deepEqual(
      keys.map((k) => [k.kid === again, k.state]).sort(),
      [
        [false, 'opening'],
        [false, 'opening'],
        [true, 'active'],
      ].sort(),
    );
    assert.ok(keys.filter((k) => k.state === 'opening').every((k) => typeof k.retiresAt === 'number'));
  });
});

const base = testDatabaseUrl();

describe('rotation by another process, PostgreSQL with two instances', {
  skip: base ? false : PG_SKIP,
}, () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    db = await createTestDatabase(base!);
    a = await startTestServer({ databaseUrl: db.url });
    b = await startTestServer({ databaseUrl: db.url });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  test('keys rotate-broker --database: the next token of each running instance carries the new kid', async () => {
    const first = await issue(a, 'pg-rotation-before');
    await issue(b, 'pg-rotation-before-b');
    const kid = await rotate(['--database', db.url]);
    assert.notEqual(headerOf(first.guest[0]!.cipher)['kid'], kid);
    assert.equal(headerOf((await issue(a, 'pg-rotation-a')).guest[0]!.cipher)['kid'], kid);
    assert.equal(headerOf((await issue(b, 'pg-rotation-b')).guest[0]!.cipher)['kid'], kid);
  });
});
