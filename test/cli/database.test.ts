/**
 * The commands that open the store take --database / DATABASE_URL: keys, hooks, links and decode
 * all work on one PostgreSQL database (no data directory needed), and a wrong URL is refused
 * without echoing it (it holds a password).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, PG_SKIP, type TestDatabase, testDatabaseUrl } from '../support/postgres.js';
import { removeDir, runCli, show, tempDir } from './run-cli.js';

const base = testDatabaseUrl();

test('a DATABASE_URL that is not postgres:// is a usage error that does not show the URL', async () => {
  const r = await runCli(['keys', 'list'], { env: { DATABASE_URL: 'mysql://u:hunter2-secret@db/x' } });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /DATABASE_URL/);
  assert.doesNotMatch(r.stdout + r.stderr, /hunter2-secret/);
  const flag = await runCli(['hooks', 'list', '--database', 'sqlite://nope-secret']);
  assert.equal(flag.code, 2, show(flag));
  assert.doesNotMatch(flag.stdout + flag.stderr, /nope-secret/);
});

describe('the CLI on PostgreSQL', { skip: base ? false : PG_SKIP }, () => {
  let db: TestDatabase;
  let cwd: string;
  before(async () => {
    db = await createTestDatabase(base!);
    cwd = tempDir();
  });
  after(async () => {
    await db?.drop();
    if (cwd) removeDir(cwd);
  });

  test('keys, hooks and links share the database, whether named by flag or by DATABASE_URL', async () => {
    const made = await runCli(['keys', 'create', '--name', 'pg-key', '--json', '--database', db.url], {
      cwd,
    });
    assert.equal(made.code, 0, show(made));
    const key = JSON.parse(made.stdout) as { id: string };
    const listed = await runCli(['keys', 'list', '--json'], { cwd, env: { DATABASE_URL: db.url } });
    assert.equal(listed.code, 0, show(listed));
    assert.ok((JSON.parse(listed.stdout) as { id: string }[]).some((k) => k.id === key.id));

    const hook = await runCli(['hooks', 'create', '--name', 'ehr', '--json'], {
      cwd,
      env: { DATABASE_URL: db.url },
    });
    assert.equal(hook.code, 0, show(hook));
    const hooks = await runCli(['hooks', 'list', '--json', '--database', db.url], { cwd });
    assert.ok(hooks.stdout.includes(JSON.parse(hook.stdout).id), show(hooks));

    const links = await runCli(['links', '--short', '--json', '--iterations', '1000'], {
      cwd,
      env: { DATABASE_URL: db.url },
    });
    assert.equal(links.code, 0, show(links));
    const { username, password } = new URL(db.url);
    assert.ok(!links.stderr.includes(`${username}:${password}@`), 'the credentials are never printed');
    assert.ok(links.stderr.includes(`PostgreSQL ${new URL(db.url).host}/${db.name}`), show(links));
    const shortUrl = JSON.parse(links.stdout).guests[0].shortUrl as string;
    const decoded = await runCli(['decode', shortUrl, '--json'], { cwd, env: { DATABASE_URL: db.url } });
    assert.equal(decoded.code, 0, show(decoded));
    assert.equal(JSON.parse(decoded.stdout).local.found, true, 'the short code is in the database');
    assert.equal(existsSync(join(cwd, 'data')), false, 'no SQLite data directory was made');
  });
});
