/**
 * `instant-connect purge --older-than …` and RETENTION_DAYS: visits that finished before the cutoff
 * leave the database with everything that points at them; open, live and scheduled visits stay.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SQLITE_FILE } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { VisitRecord } from '../../src/store/types.js';
import { eventually } from '../support/eventually.js';
import { type CliProcess, removeDir, runCli, show, spawnCli, tempDir } from './run-cli.js';

const DAY = 86_400;
let cwd: string;
const children: CliProcess[] = [];
before(() => {
  cwd = tempDir();
});
after(() => {
  for (const child of children) child.kill();
  removeDir(cwd);
});

/** A data directory with two visits finished 100 days ago, one 10 days ago, and open, live and scheduled ones. */
async function seed(dir: string): Promise<{ orgId: string; ids: Record<string, string> }> {
  const store = new SqliteStore(join(dir, SQLITE_FILE));
  await store.migrate();
  const orgId = randomUUID();
  await store.createOrg({ id: orgId, name: 'Clinic', createdAt: 1 });
  const t = Math.floor(Date.now() / 1000);
  const ids: Record<string, string> = {};
  const add = async (name: string, extra: Partial<VisitRecord>) => {
    const id = `vis_${name}_${randomUUID().slice(0, 6)}`;
    ids[name] = id;
    const visit: VisitRecord = {
      id,
      orgId,
      subject: `Virtual Visit - ${name}`,
      status: 'pending',
      expiresAt: t + 3600,
      vertical: 'hc',
      hostLogin: true,
      shortUrls: true,
      devices: [],
      source: 'local',
      createdBy: 'key:k1',
      createdAt: t - 200 * DAY,
      hosts: 1,
      guests: 1,
      ...extra,
    };
    const code = `P${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    await store.createVisit(
      visit,
      [
        { visitId: id, role: 'host', index: 0, cipher: `h-${id}`, longUrl: `L-h-${id}`, jti: `jh-${id}` },
        {
          visitId: id,
          role: 'guest',
          index: 0,
          cipher: `g-${id}`,
          short: code,
          longUrl: `L-g-${id}`,
          jti: `jg-${id}`,
        },
      ],
      { orgId, visitId: id, at: visit.createdAt, actor: 'key:k1', type: 'visit.created', data: {} },
    );
    await store.insertShortLinks([
      {
        code,
        orgId,
        cipher: `g-${id}`,
        role: 'guest',
        vertical: 'hc',
        hostLogin: false,
        subject: visit.subject,
        expiresAt: visit.expiresAt,
        createdAt: visit.createdAt,
      },
    ]);
    await store.getOrCreateSpace(orgId, visit.subject, () => ({
      id: randomUUID(),
      createdAt: visit.createdAt,
    }));
  };
  await add('Jane Doe', { status: 'cancelled', cancelledAt: t - 100 * DAY, expiresAt: t - 99 * DAY });
  await add('expired', { expiresAt: t - 100 * DAY });
  await add('recent', { status: 'ended', endedAt: t - 10 * DAY, expiresAt: t - 10 * DAY });
  await add('open', {});
  await add('live', { status: 'live', startedAt: t - 60 });
  await add('scheduled', { notBefore: t + 7 * DAY, expiresAt: t + 8 * DAY });
  await store.close();
  return { orgId, ids };
}

async function remaining(dir: string, orgId: string, ids: Record<string, string>): Promise<string[]> {
  const store = new SqliteStore(join(dir, SQLITE_FILE));
  try {
    const left: string[] = [];
    for (const [name, id] of Object.entries(ids)) if (await store.getVisit(orgId, id)) left.push(name);
    return left.sort();
  } finally {
    await store.close();
  }
}

describe('purge', () => {
  test('--dry-run --json counts what would go and deletes nothing; then purge removes it, in every table', async () => {
    const dir = join(cwd, 'purge');
    const { orgId, ids } = await seed(dir);
    const dry = await runCli(['purge', '--older-than', '90d', '--dry-run', '--json', '--data', dir], { cwd });
    assert.equal(dry.code, 0, show(dry));
    const expected = { visits: 2, links: 4, events: 2, shortLinks: 2, idempotencyKeys: 0, spaces: 2 };
    const out = JSON.parse(dry.stdout);
    assert.equal(out.dryRun, true);
    assert.deepEqual(out.wouldRemove, expected);
    assert.ok(Math.abs(Date.parse(out.before) - (Date.now() - 90 * DAY * 1000)) < 60_000, out.before);
    assert.equal((await remaining(dir, orgId, ids)).length, 6, 'a dry run deletes nothing');

    const human = await runCli(['purge', '--older-than', '12w', '--dry-run', '--data', dir], { cwd });
    assert.equal(human.code, 0, show(human));
    assert.match(
      human.stdout,
      /^Would remove 2 visits, 4 links, 2 events, 2 short links, 0 Idempotency-Keys and 2 spaces of visits finished before /,
    );
    assert.match(human.stdout, /Nothing was deleted \(--dry-run\)/);

    const done = await runCli(['purge', '--older-than', '2160h', '--data', dir], { cwd });
    assert.equal(done.code, 0, show(done));
    assert.match(
      done.stdout,
      /^Removed 2 visits, 4 links, 2 events, 2 short links, 0 Idempotency-Keys and 2 spaces /,
    );
    assert.deepEqual(await remaining(dir, orgId, ids), ['live', 'open', 'recent', 'scheduled']);
    const store = new SqliteStore(join(dir, SQLITE_FILE));
    try {
      assert.equal(await store.findVisitLinkByJti(`jg-${ids['Jane Doe']}`), undefined, 'its links went');
      assert.deepEqual(await store.listEvents(orgId, ids['Jane Doe']!), [], 'its events went');
      let made = 0;
      await store.getOrCreateSpace(orgId, 'Virtual Visit - Jane Doe', () => {
        made += 1;
        return { id: randomUUID(), createdAt: 2 };
      });
      assert.equal(made, 1, 'the space of the patient name went');
    } finally {
      await store.close();
    }
    const again = await runCli(['purge', '--older-than', '90d', '--json', '--data', dir], { cwd });
    assert.deepEqual(JSON.parse(again.stdout).removed, {
      visits: 0,
      links: 0,
      events: 0,
      shortLinks: 0,
      idempotencyKeys: 0,
      spaces: 0,
    });
  });

  for (const [value, rule] of [
    ['90', /--older-than "90" has no unit: write 90m for minutes/],
    ['soon', /--older-than "soon" is not a duration/],
  ] as const) {
    test(`--older-than ${value} exits 2 naming the rule`, async () => {
      const r = await runCli(['purge', '--older-than', value, '--data', join(cwd, 'none')], { cwd });
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, rule);
    });
  }

  test('without a database it exits 2 and creates none', async () => {
    const r = await runCli(['purge', '--older-than', '90d', '--data', join(cwd, 'empty')], { cwd });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /no database in .*empty/);
  });

  test('serve with RETENTION_DAYS purges finished visits older than it in its pruning job', async () => {
    const dir = join(cwd, 'retention');
    const { orgId, ids } = await seed(dir);
    const p = spawnCli(['serve', '--port', '0', '--data', dir, '--quiet'], {
      cwd,
      env: { RETENTION_DAYS: '30' },
    });
    children.push(p);
    await p.waitFor(/instant-connect listening on/, 20_000);
    await eventually(
      () => remaining(dir, orgId, ids),
      (left) => left.length === 4,
      'the pruning job to purge the visits finished 100 days ago',
      15_000,
    );
    assert.deepEqual(await remaining(dir, orgId, ids), ['live', 'open', 'recent', 'scheduled']);
    p.child.kill('SIGTERM');
    assert.equal((await p.exited).code, 0, p.stderr());
  });

  test('a bad RETENTION_DAYS exits 2 naming the variable', async () => {
    const r = await runCli(['serve', '--port', '0', '--data', join(cwd, 'bad')], {
      cwd,
      env: { RETENTION_DAYS: '0' },
    });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /RETENTION_DAYS must be a whole number from 1/);
  });
});
