/**
 * `npm run bench`: figures as ratios against baselines measured in the same run on this machine.
 *
 * Issuing, on the calls integrators make and on the batch calls, each against raw node:crypto
 * PBKDF2-SHA512 on all cores (the same p2c distribution, measured in this process first):
 *   - at the default (random) parameters: PBKDF2 iterations per second the broker spends on the
 *     tokens it answered (each token's p2c, read from its header, summed over wall time);
 *   - at `iterations: 1000`: links per second against raw keys per second at 1000.
 * Two ratios per row: plain, and fair, with the load generator's own CPU (this process: node:http,
 * JSON) taken out of the machine's capacity (fair = plain × cores / (cores − generator cores)).
 * Rate limits are off for the whole run: all load comes from one address (127.0.0.1).
 * Then p50/p99 latency of GET /visit/:code, idle and while links are issued at full load
 * (4 and 8 concurrent issuers), a sustained mix, and the CLI's cold starts. With
 * BENCH_DATABASE_URL (a PostgreSQL server; a new database is made on it and dropped), the 2-link
 * rows again with the store on PostgreSQL.
 */
import { spawnSync } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AUDIENCE, ITERATIONS } from '../src/domain/constants.js';
import { createTestDatabase } from '../test/support/postgres.js';
import { type ChildServer, CLI, fmt, p2cOf, percentile, send, startChildServer, timedLoop } from './lib.js';

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
  const response = await send(`${server.url}/api/v2/joseencrypt`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ aud: AUDIENCE, jwt: { sub }, numHost: 5, numGuest: 20, ...extra }),
  });
  if (response.status !== 200) throw new Error(`issue failed: ${response.status} ${response.body}`);
  const body = JSON.parse(response.body) as { host: { cipher: string }[]; guest: { cipher: string }[] };
  return [...body.host, ...body.guest].map((l) => l.cipher);
}

interface Issuing {
  linksPerSec: number;
  iterPerSec: number;
  /** Cores the load generator (this process) kept busy on average. */
  generatorCores: number;
}

/**
 * Calls made by `concurrency` clients for `seconds`; `extra` goes into each body, and call n has
 * the subject `subjectOf(n)`.
 */
async function issuing(
  server: ChildServer,
  extra: Record<string, unknown>,
  options: { concurrency?: number; subjectOf?: (n: number) => string } = {},
): Promise<Issuing> {
  let links = 0;
  let iterations = 0;
  let n = 0;
  const subjectOf = options.subjectOf ?? ((i: number) => `bench-${Math.random()}-${i}`);
  const cpu = process.cpuUsage();
  const elapsed = await timedLoop(options.concurrency ?? 4, seconds * 1000, async () => {
    const ciphers = await issue(server, extra, subjectOf(n++));
    links += ciphers.length;
    for (const c of ciphers) iterations += p2cOf(c);
  });
  const used = process.cpuUsage(cpu);
  return {
    linksPerSec: links / elapsed,
    iterPerSec: iterations / elapsed,
    generatorCores: (used.user + used.system) / 1e6 / elapsed,
  };
}

/** The plain ratio and the fair one (the generator's cores taken out of the capacity). */
function ratios(plain: number, generatorCores: number): string {
  const fair = (plain * cores) / Math.max(0.01, cores - generatorCores);
  return `${fmt(plain, 3)} (fair ${fmt(fair, 3)}; generator ${fmt(generatorCores, 2)} cores)`;
}

type Row = [string, string, string, string];

/** A row measured in PBKDF2 iterations per second (default p2c), against raw it/s. */
function iterationRow(label: string, r: Issuing, rawIterPerSec: number, detail = ''): Row {
  return [
    label,
    `${fmt(r.iterPerSec / 1e6, 3)} M it/s (${fmt(r.linksPerSec)} links/s${detail})`,
    `${fmt(rawIterPerSec / 1e6, 3)} M it/s raw node:crypto`,
    ratios(r.iterPerSec / rawIterPerSec, r.generatorCores),
  ];
}

/** A row measured in links per second (one p2c for all), against raw keys/s at that p2c. */
function linkRow(label: string, r: Issuing, rawKeysPerSec: number): Row {
  return [
    label,
    `${fmt(r.linksPerSec)} links/s`,
    `${fmt(rawKeysPerSec)} keys/s raw node:crypto`,
    ratios(r.linksPerSec / rawKeysPerSec, r.generatorCores),
  ];
}

/** A 2-link call (1 host, 1 guest), as the lab and every known integration send it. */
const TWO_LINKS = { numHost: 1, numGuest: 1 };
/** The lab's "complete sample" body: 1 + 1 links, 1000 iterations, an 8-byte salt, no short URLs. */
const LAB_SAMPLE = {
  ...TWO_LINKS,
  provideShortUrls: false,
  verticalType: 'gen',
  loginUrlForHost: false,
  jweAlg: 'PBES2-HS512+A256KW',
  saltLength: 8,
  iterations: 1000,
  enc: 'A256GCM',
  jwsAlg: 'HS512',
};

async function visitLatency(server: ChildServer, codes: string[], count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const r = await send(`${server.url}/visit/${codes[i % codes.length]}`);
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

function cliColdStarts(): Row[] {
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

/** All load comes from one address (127.0.0.1): every rate limit is off for the run. */
const NO_RATE_LIMITS = {
  RATE_LIMIT_ISSUE_PER_KEY: '0',
  RATE_LIMIT_ISSUE_PER_ADDRESS: '0',
  RATE_LIMIT_PUBLIC_PER_ADDRESS: '0',
  RATE_LIMIT_FAILED_OPENS_PER_ADDRESS: '0',
  RATE_LIMIT_SHORT_CODE_MISSES_PER_ADDRESS: '0',
};

/**
 * The 2-link rows again with the store on PostgreSQL (a new database on the server of
 * BENCH_DATABASE_URL, dropped after), when one is given; none otherwise.
 */
async function postgresRows(raw: { default: number; at1000: number }): Promise<Row[]> {
  const base = process.env['BENCH_DATABASE_URL']?.trim();
  if (!base) return [];
  const database = await createTestDatabase(base);
  const server = await startChildServer({ ...NO_RATE_LIMITS, DATABASE_URL: database.url });
  try {
    const twoDefault = await issuing(server, { ...TWO_LINKS, provideShortUrls: true }, { concurrency: 16 });
    const twoLab = await issuing(server, LAB_SAMPLE, { concurrency: 16 });
    return [
      iterationRow(
        'PostgreSQL: 2-link calls, new subject, short URLs, default p2c (it/s)',
        twoDefault,
        raw.default,
      ),
      linkRow("PostgreSQL: 2-link calls, the lab's sample (links/s)", twoLab, raw.at1000),
    ];
  } finally {
    await server.stop();
    await database.drop();
  }
}

/** Cisco's default: p2c drawn per token from 1000 to 32767. */
const defaultP2c = () => ITERATIONS.min + Math.floor(Math.random() * (ITERATIONS.max - ITERATIONS.min + 1));

async function main() {
  console.log(
    `instant-connect bench: node ${process.version}, ${cores} cores, ${seconds} s per measurement\n`,
  );
  const rawDefaultFirst = await rawIterationsPerSecond(defaultP2c);
  const raw1000First = await rawIterationsPerSecond(() => 1000);
  const server = await startChildServer(NO_RATE_LIMITS);
  console.log('rate limits: off for this run (every RATE_LIMIT_* is 0): all load comes from 127.0.0.1\n');
  try {
    const defaults = await issuing(server, {});
    const at1000 = await issuing(server, { iterations: 1000 });
    // The calls people make: 2 links, a new subject each, enough clients to keep both cores busy.
    const twoDefault = await issuing(server, { ...TWO_LINKS, provideShortUrls: true }, { concurrency: 16 });
    const twoLab = await issuing(server, LAB_SAMPLE, { concurrency: 16 });
    // More than 25 links for one subject: 25-link calls, four to a subject.
    const fourPerSubject = await issuing(
      server,
      { iterations: 1000, provideShortUrls: true },
      { concurrency: 8, subjectOf: (n) => `batch-${Math.floor(n / 4)}` },
    );
    // The baseline again, after the rows it divides. A shared machine's speed drifts (a neighbour
    // once slowed one raw measurement by a third): each ratio divides by the faster of the two, so
    // a slow moment can lower a ratio but never flatter it.
    const rawDefaultAgain = await rawIterationsPerSecond(defaultP2c);
    const raw1000Again = await rawIterationsPerSecond(() => 1000);
    const rawDefault =
      rawDefaultFirst.iterPerSec >= rawDefaultAgain.iterPerSec ? rawDefaultFirst : rawDefaultAgain;
    const raw1000 = raw1000First.keysPerSec >= raw1000Again.keysPerSec ? raw1000First : raw1000Again;
    console.log(
      `raw PBKDF2, before and after the issuing rows: ${fmt(rawDefaultFirst.iterPerSec / 1e6, 3)} and ${fmt(rawDefaultAgain.iterPerSec / 1e6, 3)} M it/s at default p2c, ${fmt(raw1000First.keysPerSec)} and ${fmt(raw1000Again.keysPerSec)} keys/s at 1000; ratios divide by the faster\n`,
    );
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
    /** /visit/:code latencies while `issuers` clients issue (`extra` in their bodies) without pause. */
    const underLoad = async (issuers: number, extra: Record<string, unknown>) => {
      let stop = false;
      const load = Promise.all(
        Array.from({ length: issuers }, async (_, i) => {
          let n = 0;
          while (!stop) await issue(server, extra, `load-${i}-${n++}-${Math.random()}`);
        }),
      );
      await new Promise((r) => setTimeout(r, 500));
      const times = await visitLatency(server, codes, 400);
      stop = true;
      await load;
      return times;
    };
    const loaded = await underLoad(4, {});
    const loaded8 = await underLoad(8, { ...TWO_LINKS, provideShortUrls: true });

    const meanP2c = defaults.iterPerSec / defaults.linksPerSec;
    const rows: Row[] = [
      ['measurement', 'broker', 'baseline (same run)', 'ratio'],
      iterationRow(
        'issuing 25-link calls, default random p2c (PBKDF2 it/s)',
        defaults,
        rawDefault.iterPerSec,
        `, mean p2c ${fmt(meanP2c, 0)}`,
      ),
      linkRow('issuing 25-link calls, iterations 1000 (links/s)', at1000, raw1000.keysPerSec),
      iterationRow(
        '2-link calls, new subject, short URLs, default p2c (it/s)',
        twoDefault,
        rawDefault.iterPerSec,
      ),
      linkRow(
        "2-link calls, the lab's sample: iterations 1000, salt 8 (links/s)",
        twoLab,
        raw1000.keysPerSec,
      ),
      linkRow(
        '25-link calls, four to a subject, iterations 1000 (links/s)',
        fourPerSubject,
        raw1000.keysPerSec,
      ),
      [
        'GET /visit/:code idle, p50 / p99',
        `${fmt(percentile(idle, 50), 2)} / ${fmt(percentile(idle, 99), 2)} ms`,
        '',
        '',
      ],
      [
        'GET /visit/:code, 4 issuers of 25-link calls, p50 / p99',
        `${fmt(percentile(loaded, 50), 2)} / ${fmt(percentile(loaded, 99), 2)} ms`,
        '',
        '',
      ],
      [
        'GET /visit/:code, 8 issuers of 2-link calls, p50 / p99',
        `${fmt(percentile(loaded8, 50), 2)} / ${fmt(percentile(loaded8, 99), 2)} ms`,
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
    rows.push(...(await postgresRows({ default: rawDefault.iterPerSec, at1000: raw1000.keysPerSec })));
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  } finally {
    await server.stop();
  }
}

await main();
