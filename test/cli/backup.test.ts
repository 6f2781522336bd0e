/**
 * `instant-connect backup`: a consistent copy of the live SQLite database while the server writes
 * to it, private to its owner, that a server restored from it serves.
 */
import assert from 'node:assert/strict';
import { copyFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.js';
import { createVisit, openPage } from '../visits/helpers.js';
import { removeDir, runCli, show, tempDir } from './run-cli.js';

let cwd: string;
let server: TestServer;

before(async () => {
  cwd = tempDir();
  server = await startTestServer();
});
after(async () => {
  await server.close();
  removeDir(cwd);
});

describe('backup', () => {
  test('while visits are being made: the copy holds every visit made before, is 0600, and a server restored from it serves their links', async () => {
    const before = await Promise.all([createVisit(server), createVisit(server), createVisit(server)]);
    const out = join(cwd, 'copy.db');
    // Writers keep going during the backup: the copy is one moment of the database, never torn.
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing && n < 200) {
        await createVisit(server);
        n += 1;
      }
      return n;
    })();
    const r = await runCli(['backup', '--out', out, '--data', server.dataDir], { cwd });
    writing = false;
    assert.ok((await writer) >= 1);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /integrity checked, mode 0600/);
    assert.equal(statSync(out).mode & 0o777, 0o600);

    const restored = join(cwd, 'restored');
    const made = await runCli(['keys', 'list', '--data', restored], { cwd });
    assert.equal(made.code, 0, show(made));
    copyFileSync(out, join(restored, 'instant-connect.db'));
    const again = await startTestServer({ dataDir: restored });
    try {
      for (const visit of before) {
        const html = await openPage(`${again.url}/visit/${visit.guests[0]!.short}`);
        assert.match(html, /data-ticket=/, `the restored server opens ${visit.id}`);
      }
    } finally {
      await again.close();
    }
  });

  test('an existing --out is kept unless --force; PostgreSQL is pointed to pg_dump; no database is named', async () => {
    const out = join(cwd, 'taken.db');
    writeFileSync(out, 'keep me');
    const taken = await runCli(['backup', '--out', out, '--data', server.dataDir], { cwd });
    assert.equal(taken.code, 2, show(taken));
    assert.match(taken.stderr, /exists \(add --force to replace it\)/);
    const forced = await runCli(['backup', '--out', out, '--data', server.dataDir, '--force'], { cwd });
    assert.equal(forced.code, 0, show(forced));

    const pg = await runCli(['backup', '--out', join(cwd, 'pg.db')], {
      cwd,
      env: { DATABASE_URL: 'postgres://u:secret-pw@127.0.0.1:1/db' },
    });
    assert.equal(pg.code, 2, show(pg));
    assert.match(pg.stderr, /pg_dump/);
    assert.doesNotMatch(pg.stderr, /secret-pw/);

    const none = await runCli(['backup', '--out', join(cwd, 'none.db'), '--data', join(cwd, 'nothing')], {
      cwd,
    });
    assert.equal(none.code, 2, show(none));
    assert.match(none.stderr, /no database in/);
  });
});
