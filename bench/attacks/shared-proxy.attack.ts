/**
 * Issue 11, findings 4 and 6. A reverse proxy (in this process, appending X-Forwarded-For as nginx
 * does) in front of the target started with TRUST_PROXY=1 (the code before the fix ignores it).
 * One abusive client behind the proxy floods a public route until it is refused (429) and goes
 * on; meanwhile a genuine patient behind the same proxy opens a visit page (short link, then the
 * page). Before the fix every client behind the proxy shares one address, so the patient is
 * refused too. Also: the modes of the data directory and database files a fresh `serve` creates.
 *
 *   ATTACK_ROOT=/work/base node --import tsx bench/attacks/shared-proxy.attack.ts   # before
 *   node --import tsx bench/attacks/shared-proxy.attack.ts                          # after
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startForwardingProxy } from '../../test/support/forwarding-proxy.js';
import { freePort } from '../lib.js';
import { measureWhile, ROOT, report, startTarget, tally } from './harness.js';

const ATTACK_REQUESTS = 400;
const ATTACK_CONCURRENCY = 4;
const PUBLIC_PER_MINUTE = 100;

/** A fresh `serve` of ROOT on a directory that does not exist yet (umask 022): the modes it makes. */
async function freshModes(): Promise<Record<string, string>> {
  const parent = mkdtempSync(join(tmpdir(), 'ic-attack-modes-'));
  const data = join(parent, 'data');
  const port = await freePort();
  const cli = join(ROOT, 'dist', 'cli', 'main.js');
  const child = spawn(
    '/bin/sh',
    ['-c', `umask 022; exec '${process.execPath}' '${cli}' serve --quiet --port ${port} --data '${data}'`],
    { stdio: 'ignore' },
  );
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch {}
      if (Date.now() > deadline) throw new Error('serve did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const mode = (p: string) => (existsSync(p) ? `0${(statSync(p).mode & 0o777).toString(8)}` : 'absent');
    const db = join(data, 'instant-connect.db');
    return { dataDir: mode(data), db: mode(db), wal: mode(`${db}-wal`), shm: mode(`${db}-shm`) };
  } finally {
    child.kill('SIGKILL');
    rmSync(parent, { recursive: true, force: true });
  }
}

const modes = await freshModes();
const target = await startTarget({
  TRUST_PROXY: '1',
  RATE_LIMIT_PUBLIC_PER_ADDRESS: String(PUBLIC_PER_MINUTE),
});
// One proxy hop per client, both on 127.0.0.1: the server sees one address, as behind one nginx.
const patientProxy = await startForwardingProxy(target.url, '198.51.100.7');
const attackerProxy = await startForwardingProxy(target.url, '203.0.113.66');
try {
  const made = await fetch(`${target.url}/api/v2/joseencrypt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.key}` },
    body: JSON.stringify({
      aud: 'a4d886b0-979f-4e2c-a958-3e8c14605e51',
      jwt: { sub: 'shared-proxy-bench' },
      provideShortUrls: true,
    }),
  });
  if (made.status !== 200) throw new Error(`joseencrypt answered ${made.status}: ${await made.text()}`);
  const { guest } = (await made.json()) as { guest: Array<{ short: string }> };
  const code = guest[0]!.short;

  /** The patient opens the short link, then the page it points to, both through the proxy. */
  const openPage = async (): Promise<Response> => {
    const short = await fetch(`${patientProxy.url}/visit/${code}`, { redirect: 'manual' });
    if (short.status !== 302) return short;
    await short.arrayBuffer();
    const location = new URL(short.headers.get('location') ?? '/', target.url);
    return fetch(`${patientProxy.url}${location.pathname}${location.search}`, {
      headers: { accept: 'text/html' },
    });
  };

  const cpuBefore = target.cpuSeconds();
  const statuses: Array<number | 'error'> = [];
  let sent = 0;
  let firstRefusalAt: number | undefined;
  const attack = (async () => {
    await Promise.all(
      Array.from({ length: ATTACK_CONCURRENCY }, async () => {
        while (sent < ATTACK_REQUESTS) {
          sent += 1;
          try {
            const r = await fetch(`${attackerProxy.url}/visit/Abc1234`);
            await r.arrayBuffer();
            statuses.push(r.status);
            if (r.status === 429) firstRefusalAt ??= statuses.length;
          } catch {
            statuses.push('error');
          }
        }
      }),
    );
  })();
  const page = await measureWhile(openPage, attack, { everyMs: 300, ok: (r) => r.status === 200 });
  report({
    attack: 'shared-proxy',
    load: `${ATTACK_REQUESTS} requests to a public route from one client behind a proxy (TRUST_PROXY=1, ${PUBLIC_PER_MINUTE}/min per address)`,
    genuine: { 'page behind the same proxy': page },
    serverCpuSeconds: target.cpuSeconds() - cpuBefore,
    refusals: tally(statuses),
    extra: {
      attackerRefusedFrom: firstRefusalAt ?? 'never',
      freshDataDirMode: modes['dataDir']!,
      freshDbMode: modes['db']!,
      freshWalMode: modes['wal']!,
      freshShmMode: modes['shm']!,
    },
  });
} finally {
  await Promise.all([patientProxy.close(), attackerProxy.close()]);
  await target.stop();
}
