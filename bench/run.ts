/**
 * `npm run bench`: figures as ratios against baselines measured in the same run on this machine.
 *
 * 1. Issuing at the default (random) PBES2 parameters: PBKDF2 iterations per second the broker
 *    spends on the tokens it answered (the sum of each token's p2c, read from its header, over
 *    wall time), against raw node:crypto PBKDF2-SHA512 iterations per second on all cores.
 * 2. The same with `iterations: 1000`, links per second against raw keys per second at 1000.
 * 3. p50/p99 latency of GET /visit/:code, idle and while links are issued at full load.
 */
import { spawnSync } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AUDIENCE } from '../src/domain/constants.js';
import { type ChildServer, CLI, fmt, p2cOf, percentile, startChildServer, timedLoop } from './lib.js';

const pbkdf2Async = promisify(pbkdf2);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 6);
const cores = availableParallelism();

async function rawIterationsPerSecond(
  iterations: () => number,
): Promise<{ iterPerSec: number; keysPerSec: number }> {
  // As many jobs as libuv's pool has threads: the most raw PBKDF2 this process can do.
  let total = 0;
  let keys = 0;
  const elapsed = await timedLoop(4, seconds * 1000, async () => {
    const n = iterations();
    await pbkdf2Async('password-of-32-bytes-0123456789a', 'salt-of-sixteen!', n, 32, 'sha512');
    total += n;
    keys += 1;
  });
  return { iterPerSec: total / elapsed, keysPerSec: keys / elapsed };
}

async function issue(server: ChildServer, extra: Record<string, unknown>, sub: string) {
  const response = await fetch(`${server.url}/api/v2/joseencrypt`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ aud: AUDIENCE, jwt: { sub }, numHost: 5, numGuest: 20, ...extra }),
  });
  if (!response.ok) throw new Error(`issue failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { host: { cipher: string }[]; guest: { cipher: string }[] };
  return [...body.host, ...body.guest].map((l) => l.cipher);
}

async function issuing(server: ChildServer, extra: Record<string, unknown>) {
  let links = 0;
  let iterations = 0;
  let n = 0;
  const elapsed = await timedLoop(4, seconds * 1000, async () => {
    const ciphers = await issue(server, extra, `bench-${n++}`);
    links += ciphers.length;
    for (const c of ciphers) iterations += p2cOf(c);
  });
  return { linksPerSec: links / elapsed, iterPerSec: iterations / elapsed };
}

async function visitLatency(server: ChildServer, codes: string[], count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const r = await fetch(`${server.url}/visit/${codes[i % codes.length]}`, { redirect: 'manual' });
    await r.arrayBuffer();
    if (r.status !== 302) throw new Error(`visit answered ${r.status}`);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

/** Median wall time of a command started from scratch, over `runs` runs. */
function coldStart(args: string[], runs = 9): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

function cliColdStarts(): [string, string, string, string][] {
  const data = mkdtempSync(join(tmpdir(), 'ic-bench-cli-'));
  try {
    const bare = coldStart(['-e', '']);
    const version = coldStart([CLI, '--version']);
    spawnSync(process.execPath, [CLI, 'keys', 'list', '--data', data]); // create the store once, as a user's first run does
    const links = coldStart([CLI, 'links', '--data', data, '--iterations', '1000', '--json']);
    return [
      [
        'CLI cold start: --version',
        `${fmt(version, 0)} ms`,
        `${fmt(bare, 0)} ms bare node -e ""`,
        fmt(version / bare, 2),
      ],
      [
        'CLI cold start: links (local, p2c 1000)',
        `${fmt(links, 0)} ms`,
        `${fmt(bare, 0)} ms bare node -e ""`,
        fmt(links / bare, 2),
      ],
    ];
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

/** Resident memory of the server, from its own /metrics. */
async function serverRss(server: ChildServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = /^ic_process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * Sustained load: issuing (5 hosts + 20 guests, default parameters) and resolving short links
 * (redirect and page) in a fixed mix for a fixed time; counts every non-2xx/3xx answer and samples
 * the server's memory, which must stay flat once warm.
 */
async function sustained(server: ChildServer, codes: string[]) {
  const ms = Number(process.env['BENCH_SUSTAINED_SECONDS'] ?? 20) * 1000;
  let errors = 0;
  let issued = 0;
  let resolved = 0;
  const samples: number[] = [];
  const warm = await serverRss(server);
  const sampler = setInterval(() => {
    serverRss(server).then(
      (v) => samples.push(v),
      () => {},
    );
  }, 1000);
  const elapsed = await timedLoop(6, ms, async () => {
    const pick = Math.random();
    try {
      if (pick < 0.2) {
        issued += (
          await issue(
            server,
            { iterations: 1000 + Math.floor(Math.random() * 4000) },
            `sustained-${Math.random()}`,
          )
        ).length;
      } else {
        const code = codes[Math.floor(Math.random() * codes.length)]!;
        const r = await fetch(`${server.url}/visit/${code}`, {
          redirect: pick < 0.6 ? 'manual' : 'follow',
          headers: { accept: 'text/html' },
        });
        await r.arrayBuffer();
        if (r.status >= 400) errors += 1;
        else resolved += 1;
      }
    } catch {
      errors += 1;
    }
  });
  clearInterval(sampler);
  const last = samples.slice(-3);
  const end = last.length > 0 ? last.reduce((a, b) => a + b, 0) / last.length : Number.NaN;
  return {
    elapsed,
    errors,
    issued,
    resolved,
    warmMb: warm / 2 ** 20,
    endMb: end / 2 ** 20,
    peakMb: Math.max(...samples) / 2 ** 20,
  };
}

async function main() {
  console.log(
    `instant-connect bench: node ${process.version}, ${cores} cores, ${seconds} s per measurement\n`,
  );
  const rawDefault = await rawIterationsPerSecond(() => 1000 + Math.floor(Math.random() * 31768));
  const raw1000 = await rawIterationsPerSecond(() => 1000);
  // All load comes from one address (127.0.0.1): the per-address and per-key limits are off here.
  const server = await startChildServer({
    RATE_LIMIT_ISSUE_PER_KEY: '0',
    RATE_LIMIT_ISSUE_PER_ADDRESS: '0',
    RATE_LIMIT_PUBLIC_PER_ADDRESS: '0',
  });
  try {
    const defaults = await issuing(server, {});
    const at1000 = await issuing(server, { iterations: 1000 });
    const short = await fetch(`${server.url}/api/v2/joseencrypt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        aud: AUDIENCE,
        jwt: { sub: 'latency' },
        numGuest: 24,
        provideShortUrls: true,
        iterations: 1000,
      }),
    });
    const codes = ((await short.json()) as { guest: { short: string }[] }).guest.map((g) => g.short);
    await visitLatency(server, codes, 100); // warm up
    const idle = await visitLatency(server, codes, 1000);
    let loaded: number[] = [];
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        let n = 0;
        while (!stop) await issue(server, {}, `load-${i}-${n++}`);
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    loaded = await visitLatency(server, codes, 400);
    stop = true;
    await load;

    const meanP2c = defaults.iterPerSec / defaults.linksPerSec;
    const rows: [string, string, string, string][] = [
      ['measurement', 'broker', 'baseline (same run)', 'ratio'],
      [
        'issuing, default random p2c (PBKDF2 it/s)',
        `${fmt(defaults.iterPerSec / 1e6, 3)} M it/s (${fmt(defaults.linksPerSec)} links/s, mean p2c ${fmt(meanP2c, 0)})`,
        `${fmt(rawDefault.iterPerSec / 1e6, 3)} M it/s raw node:crypto`,
        fmt(defaults.iterPerSec / rawDefault.iterPerSec, 3),
      ],
      [
        'issuing, iterations 1000 (links/s)',
        `${fmt(at1000.linksPerSec)} links/s`,
        `${fmt(raw1000.keysPerSec)} keys/s raw node:crypto`,
        fmt(at1000.linksPerSec / raw1000.keysPerSec, 3),
      ],
      [
        'GET /visit/:code idle, p50 / p99',
        `${fmt(percentile(idle, 50), 2)} / ${fmt(percentile(idle, 99), 2)} ms`,
        '',
        '',
      ],
      [
        'GET /visit/:code under issuing load, p50 / p99',
        `${fmt(percentile(loaded, 50), 2)} / ${fmt(percentile(loaded, 99), 2)} ms`,
        '',
        '',
      ],
    ];
    const steady = await sustained(server, codes);
    rows.push([
      `sustained ${fmt(steady.elapsed, 0)} s mix (20% issuing, 80% resolving)`,
      `${fmt(steady.issued / steady.elapsed)} links/s + ${fmt(steady.resolved / steady.elapsed)} resolves/s, ${steady.errors} errors`,
      `server RSS ${fmt(steady.warmMb, 0)} MiB warm → ${fmt(steady.endMb, 0)} MiB at the end (peak ${fmt(steady.peakMb, 0)})`,
      fmt(steady.endMb / steady.warmMb, 2),
    ]);
    rows.push(...cliColdStarts());
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  } finally {
    await server.stop();
  }
}

await main();
