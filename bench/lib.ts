/** Small helpers shared by the benchmarks: a child server, percentiles, a timed loop. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface ChildServer {
  url: string;
  key: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The load generator's HTTP client: node:http over kept-alive sockets. fetch (undici) cost the
 * generator about 2 ms of CPU per issuing call, as much as the server's main thread, on the same two
 * cores; this costs about 0.6 ms, so more of the machine is left to the server being measured.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

export interface BenchResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<BenchResponse> {
  const { hostname, port, pathname, search } = new URL(url);
  const headers = { ...options.headers };
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: hostname, port, path: pathname + search, method: options.method ?? 'GET', headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * The built CLI's `serve` in its own process, as users run it, with a fresh data directory (or the
 * database `env.DATABASE_URL` names).
 */
export async function startChildServer(env: Record<string, string> = {}): Promise<ChildServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ic-bench-'));
  const created = spawnSync(
    process.execPath,
    [CLI, 'keys', 'create', '--name', 'bench', '--json', '--data', dataDir],
    // The server's environment: with DATABASE_URL, the key goes into that database.
    { encoding: 'utf8', env: { ...process.env, ...env } },
  );
  if (created.status !== 0) throw new Error(`keys create failed: ${created.stderr}`);
  const key = JSON.parse(created.stdout).key as string;
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'serve', '--quiet', '--port', String(port), '--data', dataDir],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    key,
    dataDir,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-GB', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Runs `worker` in `concurrency` loops until `ms` have passed; returns the elapsed seconds. */
export async function timedLoop(
  concurrency: number,
  ms: number,
  worker: () => Promise<void>,
): Promise<number> {
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await worker();
    }),
  );
  return (performance.now() - start) / 1000;
}

/** p2c of a token, from its protected header (no crypto). */
export function p2cOf(cipher: string): number {
  const header = JSON.parse(Buffer.from(cipher.split('.')[0]!, 'base64url').toString('utf8')) as {
    p2c: number;
  };
  return header.p2c;
}
