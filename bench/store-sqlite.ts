/**
 * `node --import tsx bench/store-sqlite.ts [module]`: operations per second of the hot SQLite
 * writes (insertShortLinks, addVisitLinks, incrementCounter) and two reads, on a file in a temp
 * directory (durability settings as shipped: WAL, synchronous FULL) and in memory. `module`: the
 * store module to measure (default src/store/sqlite.ts), e.g. another checkout's, for a
 * before/after comparison in the same run.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Store } from '../src/store/types.js';

const modulePath = resolve(process.argv[2] ?? 'src/store/sqlite.ts');
const seconds = Number(process.env['BENCH_SECONDS'] ?? 2);
const { SqliteStore } = (await import(pathToFileURL(modulePath).href)) as {
  SqliteStore: new (file: string) => Store;
};

async function rate(label: string, fn: (i: number) => Promise<unknown>): Promise<void> {
  const end = performance.now() + seconds * 1000;
  let i = 0;
  const start = performance.now();
  while (performance.now() < end) await fn(i++);
  const perSecond = i / ((performance.now() - start) / 1000);
  console.log(`${label.padEnd(36)} ${perSecond.toFixed(0).padStart(8)} /s`);
}

async function run(where: string, file: string): Promise<void> {
  const store = new SqliteStore(file);
  await store.migrate();
  const { org } = await store.ensureDefaultOrg(() => ({ id: randomUUID(), name: 'b', createdAt: 1 }));
  const visitId = randomUUID();
  const link = (i: number, role: 'host' | 'guest') => ({
    visitId,
    role,
    index: i,
    cipher: `c${i}`,
    longUrl: `https://x/${i}`,
  });
  const event = { orgId: org.id, visitId, at: 1, actor: 'system', type: 'bench', data: {} };
  await store.createVisit(
    {
      id: visitId,
      orgId: org.id,
      subject: 's',
      status: 'pending',
      expiresAt: 2_000_000_000,
      vertical: 'hc',
      hostLogin: false,
      shortUrls: true,
      devices: [],
      source: 'local',
      createdBy: 'bench',
      createdAt: 1,
      hosts: 0,
      guests: 0,
    },
    [],
    event,
  );
  console.log(`-- ${where} (${modulePath})`);
  await rate('insertShortLinks (2 links)', (i) =>
    store.insertShortLinks(
      [0, 1].map((j) => ({
        code: `k${i}-${j}`,
        orgId: org.id,
        cipher: 'c',
        role: 'guest' as const,
        vertical: 'hc' as const,
        hostLogin: false,
        subject: 's',
        expiresAt: 2_000_000_000,
        createdAt: 1,
      })),
    ),
  );
  await rate('addVisitLinks (1 link + event)', (i) =>
    store.addVisitLinks(org.id, visitId, [link(i, 'guest')], event),
  );
  await rate('incrementCounter', (i) => store.incrementCounter(`r${i % 50}`, 1, 2_000_000_000));
  await rate('getVisitLinks (read)', () => store.getVisitLinks(randomUUID()));
  await rate('listApiKeys (read)', () => store.listApiKeys(org.id));
  await store.close();
}

const dir = mkdtempSync(join(tmpdir(), 'ic-bench-store-'));
try {
  await run('file, WAL, synchronous FULL', join(dir, 'bench.db'));
  await run('memory', ':memory:');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
