/**
 * Helpers of the durability tests: the BUILT `serve` command as a child process that a test can
 * `kill -9` and start again on the same data, requests that never wait without bound, and a
 * private PostgreSQL instance (initdb + pg_ctl in a temporary directory) that a test may stop and
 * start without disturbing anyone else's database server.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { type CliProcess, spawnCli } from '../cli/run-cli.js';
import { freePort } from '../support/free-port.js';

export { setTimeout as sleep } from 'node:timers/promises';

const run = promisify(execFile);

/** Children still running when this process exits are killed (a failed test leaves none behind). */
const alive = new Set<CliProcess>();
const clusters = new Set<() => void>();
process.on('exit', () => {
  for (const child of alive) child.kill();
  for (const stop of clusters) stop();
});

export interface ServeChild {
  process: CliProcess;
  /** Where it listens, e.g. http://127.0.0.1:41234 */
  url: string;
  /** `kill -9`: nothing is closed or flushed. Resolves once the process is gone. */
  crash(): Promise<void>;
  /** Whether the process is still running. */
  running(): boolean;
  /** The last lines it wrote (for assertion messages). */
  tail(): string;
}

/** Starts `instant-connect serve` (built) with `env` (PORT, DATA_DIR or DATABASE_URL, …) in `cwd`. */
export async function startServe(cwd: string, env: Record<string, string>): Promise<ServeChild> {
  const p = spawnCli(['serve'], { cwd, env });
  alive.add(p);
  void p.exited.then(() => alive.delete(p));
  const tail = () => `--- stderr\n${p.stderr().slice(-3000)}\n--- stdout\n${p.stdout().slice(-3000)}`;
  let match: RegExpExecArray;
  try {
    match = await p.waitFor(/instant-connect listening on (http:\/\/127\.0\.0\.1:\d+)\n/, 120_000);
  } catch (err) {
    p.kill();
    throw err;
  }
  let done = false;
  void p.exited.then(() => {
    done = true;
  });
  return {
    process: p,
    url: match[1]!,
    async crash() {
      p.kill();
      await p.exited;
    },
    running: () => !done && p.child.exitCode === null && p.child.signalCode === null,
    tail,
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON when the answer is JSON. */
  body: any;
  ms: number;
}

/** One request, never followed, never waiting more than `timeoutMs` (then it rejects). */
export async function http(url: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<Answer> {
  const started = Date.now();
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), ...init });
    text = await response.text();
  } catch (err) {
    // Which request, and why (fetch's own message is only "fetch failed"); the name is kept.
    const e = err as Error;
    const cause = (e.cause as { code?: string; message?: string } | undefined) ?? {};
    const { pathname } = new URL(url);
    const wrapped = new Error(
      `${init.method ?? 'GET'} ${pathname}: ${e.message} (${cause.code ?? cause.message ?? 'no cause'})`,
      {
        cause: err,
      },
    );
    wrapped.name = e.name;
    throw wrapped;
  }
  let body: unknown = text;
  if ((response.headers.get('content-type') ?? '').includes('application/json')) {
    try {
      body = JSON.parse(text);
    } catch {}
  }
  return { status: response.status, headers: response.headers, text, body, ms: Date.now() - started };
}

/** Whether a failed request timed out (a hang) rather than finding the server gone (reset, refused). */
export function isTimeout(err: unknown): boolean {
  const name = (err as Error)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL instance.

/** The directory of the newest installed PostgreSQL's programs with initdb, or undefined. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  } catch {}
  return undefined;
}

/** initdb refuses to run as root: as root the cluster belongs to the `postgres` user. */
function owner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export interface PrivatePostgres {
  port: number;
  /** A login role's URL to its own database (what the servers use). */
  url: string;
  /** The superuser's URL (for inspecting sessions). */
  adminUrl: string;
  /** `pg_ctl stop -m fast`, waiting until it is down. */
  stop(): Promise<void>;
  /** `pg_ctl start`, waiting until pg_isready answers. */
  start(): Promise<void>;
  /** Stops it (immediately) and removes its directory. */
  destroy(): Promise<void>;
}

/**
 * initdb in a new temporary directory, started on a free loopback port with its socket in that
 * directory, and a role `ic_private` owning a database `ic_private`. Nobody else uses it, so a
 * test may stop it.
 */
export async function startPrivatePostgres(bin: string): Promise<PrivatePostgres> {
  const who = owner();
  const as = (program: string, args: string[]) =>
    who
      ? run('runuser', ['-u', 'postgres', '--', join(bin, program), ...args], { timeout: 60_000 })
      : run(join(bin, program), args, { timeout: 60_000 });
  const dir = mkdtempSync(join(tmpdir(), 'ic-pg-'));
  if (who) chownSync(dir, who.uid, who.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c max_connections=60',
  ].join(' ');
  let up = false;
  const stopNow = () => {
    if (!up) return;
    up = false;
    try {
      const args = ['-D', data, '-m', 'immediate', '-w', 'stop'];
      if (who)
        execFileSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args], { stdio: 'ignore' });
      else execFileSync(join(bin, 'pg_ctl'), args, { stdio: 'ignore' });
    } catch {}
  };
  clusters.add(stopNow);
  const ready = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await run(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)], { timeout: 5000 });
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`private PostgreSQL not ready on port ${port}`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const start = async () => {
    await as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '30', 'start']);
    up = true;
    await ready();
  };
  try {
    await as('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
    ]);
    await start();
    const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
    await admin.connect();
    try {
      await admin.query("CREATE ROLE ic_private LOGIN PASSWORD 'ic_private'");
      await admin.query('CREATE DATABASE ic_private OWNER ic_private');
    } finally {
      await admin.end();
    }
    return {
      port,
      url: `postgres://ic_private:ic_private@127.0.0.1:${port}/ic_private`,
      adminUrl,
      start,
      async stop() {
        await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
        up = false;
      },
      async destroy() {
        stopNow();
        clusters.delete(stopNow);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    stopNow();
    clusters.delete(stopNow);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
