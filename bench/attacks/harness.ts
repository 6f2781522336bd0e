/**
 * The attack bench's harness: each `bench/attacks/*.attack.ts` starts the built `serve` of a
 * checkout (ATTACK_ROOT, default this one) in its own process, runs one bounded attack from
 * 127.0.0.1, and reports what a genuine visitor saw meanwhile, the server's CPU time and the
 * refusals. The same script measured against the code before a fix and after it gives the
 * "before / after" figures of the security notes.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, percentile } from '../lib.js';

/** The checkout under test: its dist/ must be built (`npm run build`). */
export const ROOT = resolve(process.env['ATTACK_ROOT'] ?? join(import.meta.dirname, '..', '..'));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export interface Target {
  url: string;
  /** An API key of the server's organisation. */
  key: string;
  dataDir: string;
  pid: number;
  /** User + system CPU seconds the server process has used so far (from /proc). */
  cpuSeconds(): number;
  /** Runs the CLI of the checkout on the same data directory. */
  cli(
    args: string[],
    env?: Record<string, string>,
  ): { status: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

/** `serve` of ROOT on a fresh data directory, with `env` added (for example RATE_LIMIT_*). */
export async function startTarget(env: Record<string, string> = {}, args: string[] = []): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ic-attack-'));
  const cli = (cliArgs: string[], extra: Record<string, string> = {}) => {
    const run = spawnSync(process.execPath, [CLI, ...cliArgs, '--data', dataDir], {
      encoding: 'utf8',
      env: { ...process.env, ...env, ...extra },
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  };
  const created = cli(['keys', 'create', '--name', 'attack-bench', '--json']);
  if (created.status !== 0) throw new Error(`keys create failed: ${created.stderr}`);
  const key = JSON.parse(created.stdout).key as string;
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'serve', '--quiet', '--port', String(port), '--data', dataDir, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const ticks = 100; // USER_HZ on Linux
  return {
    url,
    key,
    dataDir,
    pid: child.pid!,
    cli,
    cpuSeconds() {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / ticks;
    },
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Timings of one kind of genuine request, in milliseconds. */
export interface Latency {
  n: number;
  p50: number;
  max: number;
  /** Requests that failed or did not answer as a genuine user expects. */
  failed: number;
}

/**
 * Sends `request` every `everyMs` while `during` runs (and at least once), and reports its latency.
 * `ok` says whether an answer is what a genuine user expects.
 */
export async function measureWhile(
  request: () => Promise<Response>,
  during: Promise<unknown>,
  options: { everyMs?: number; ok?: (res: Response) => boolean; timeoutMs?: number } = {},
): Promise<Latency> {
  const times: number[] = [];
  let failed = 0;
  let done = false;
  void during.finally(() => {
    done = true;
  });
  const everyMs = options.everyMs ?? 200;
  const ok = options.ok ?? ((res: Response) => res.status < 400);
  do {
    const start = performance.now();
    try {
      const res = await request();
      await res.arrayBuffer();
      if (!ok(res)) failed += 1;
    } catch {
      failed += 1;
    }
    times.push(performance.now() - start);
    if (!done) await new Promise((r) => setTimeout(r, everyMs));
  } while (!done);
  await during;
  times.sort((a, b) => a - b);
  return { n: times.length, p50: percentile(times, 50), max: times.at(-1)!, failed };
}

/** Counts answers by status ("error" for a failed request). */
export function tally(statuses: Array<number | 'error'>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of statuses) out[String(s)] = (out[String(s)] ?? 0) + 1;
  return out;
}

/** One attack's figures, as printed (one JSON line each, then a table by run.ts). */
export interface AttackReport {
  attack: string;
  /** What the attacker sent, bounded: "300 forged ciphers at once from one address". */
  load: string;
  /** What a genuine user saw meanwhile, per kind of request. */
  genuine: Record<string, Latency>;
  /** Server CPU seconds spent during the attack. */
  serverCpuSeconds: number;
  /** The attacker's answers by status. */
  refusals: Record<string, number>;
  /** Anything else worth a figure (visits made, streams held, …). */
  extra?: Record<string, number | string>;
}

export function report(r: AttackReport): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
