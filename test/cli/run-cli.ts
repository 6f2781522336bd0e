/**
 * Runs the command the way people run it, in a temporary working directory with a clean
 * environment: in this process through runCli (most tests), or as the BUILT bin
 * (`node dist/cli/main.js …`) in a child process where only a process shows the behaviour.
 *
 *   const { code, stdout, stderr } = await runCli(['links', '--short'], { cwd, env: { DATA_DIR } });
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/cli/io.js';
import { runCli as inProcessCli } from '../../src/cli/program.js';
import { tempDir as makeTempDir, removeDir } from '../support/temp-dir.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);

/** Variables that change what the CLI does; none of the caller's may leak into a test. */
const SCRUBBED = [
  'WEBEX_TOKEN',
  'BROKER',
  'DATA_DIR',
  'DATABASE_URL',
  'PUBLIC_URL',
  'PORT',
  'HOST',
  'WEBEX_API_URL',
  'LOG_LEVEL',
  'TRUST_PROXY',
  'METRICS_TOKEN',
  'METRICS_HOST',
  'METRICS_PORT',
  'PRUNE_INTERVAL_SECONDS',
  'DELIVERY_RETENTION_DAYS',
  'SHORT_LINK_GRACE_DAYS',
  'RETENTION_DAYS',
  'JOB_POLL_MS',
  'JOB_LEASE_SECONDS',
  'RATE_LIMIT_ISSUE_PER_KEY',
  'RATE_LIMIT_ISSUE_PER_ADDRESS',
  'RATE_LIMIT_PUBLIC_PER_ADDRESS',
  'RATE_LIMIT_FAILED_OPENS_PER_ADDRESS',
  'RATE_LIMIT_SHORT_CODE_MISSES_PER_ADDRESS',
  'WEBEX_WEBHOOK_SECRET',
  'MEETING_TELEMETRY',
  'MEETING_POLL_SECONDS',
  'WEBEX_MEETINGS_TOKEN',
  'WEBEX_MEETINGS_WEBHOOK_SECRET',
  'SMS_PROVIDER',
  'TWILIO_ACCOUNT_SID',
  'TWILIO_AUTH_TOKEN',
  'TWILIO_FROM',
  'TWILIO_MESSAGING_SERVICE_SID',
  'TWILIO_API_URL',
  'SMS_HTTP_URL',
  'SMS_HTTP_BODY',
  'SMS_HTTP_AUTH',
  'CRYPTO_CONCURRENCY',
  'UV_THREADPOOL_SIZE',
  'TZ',
  'BOT_ALLOWED_DOMAINS',
  'BOT_ALLOWED_ORGS',
  'BOT_VISITS_PER_PERSON',
  'LIVE_STREAMS',
  'LIVE_STREAMS_PER_LINK',
  'LIVE_STREAMS_PER_ADDRESS',
  'LIVE_JOINS_PER_MINUTE',
  'LIVE_HOST_GRACE_SECONDS',
  'NO_COLOR',
  'FORCE_COLOR',
  'NODE_OPTIONS',
  'NODE_TEST_CONTEXT',
];

/** process.env without the variables above, plus `extra` (an undefined value removes a variable). */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of SCRUBBED) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export interface CliResult {
  /** Exit code; null when the child was killed (a timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Working directory; default a fresh temporary directory. */
  cwd?: string;
  /** Added to the clean environment. */
  env?: Record<string, string | undefined>;
  /** Default 20 s: the child is killed after it (in-process: the run is given up). */
  timeoutMs?: number;
  /** Run the built bin as a child process even where in-process would do (smoke tests). */
  process?: boolean;
}

export function tempDir(prefix = 'ic-cli-'): string {
  return makeTempDir(prefix);
}

export { removeDir };

/**
 * Runs the command in this test process through `runCli(argv, io)` (the bin's own entry point)
 * with captured output: no process start, so CLI suites stay fast and do not time out on a busy
 * machine. A child process of the built bin runs instead where only a process can show the
 * behaviour: `serve` (signals, listening), a `.env` in the working directory (the bin loads it),
 * process-wide variables (TZ, NODE_OPTIONS, UV_THREADPOOL_SIZE), or `process: true`.
 */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const ownCwd = options.cwd === undefined;
  const cwd = options.cwd ?? tempDir();
  const env = options.env ?? {};
  const needsProcess =
    options.process === true ||
    args[0] === 'serve' ||
    existsSync(join(cwd, '.env')) ||
    PROCESS_WIDE.some((name) => env[name] !== undefined);
  const run = needsProcess ? runProcess(args, cwd, options) : runInProcess(args, cwd, options);
  return run.finally(() => {
    if (ownCwd) removeDir(cwd);
  });
}

/** Variables a process reads at its start: only a child process can be given them. */
const PROCESS_WIDE = ['TZ', 'NODE_OPTIONS', 'UV_THREADPOOL_SIZE'];

async function runInProcess(args: string[], cwd: string, options: RunOptions): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: cleanEnv(options.env),
    cwd,
  };
  const timeoutMs = options.timeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    const code = await Promise.race([inProcessCli(args, io), timedOut]);
    return { code, signal: code === null ? 'SIGKILL' : null, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

function runProcess(args: string[], cwd: string, options: RunOptions): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        cwd,
        env: cleanEnv(options.env),
        timeout: options.timeoutMs ?? 20_000,
        killSignal: 'SIGKILL',
        maxBuffer: 32 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const e = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}

/** Formats a result for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** A long-running child (serve): output collected as it comes. */
export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves when stderr (or stdout) matches, rejects after timeoutMs or if the child exits. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running (for cleanup). */
  kill(): void;
}

export function spawnCli(args: string[], options: { cwd: string; env?: Record<string, string> }): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: cleanEnv(options.env) });
  let out = '';
  let err = '';
  let listeners: (() => void)[] = [];
  const notify = () => {
    for (const l of listeners) l();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    notify();
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      done = true;
      notify();
      resolve({ code, signal });
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill() {
      if (!done) child.kill('SIGKILL');
    },
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(err) ?? pattern.exec(out);
          if (match) {
            cleanup();
            resolve(match);
          } else if (done) {
            cleanup();
            reject(new Error(`the process exited before ${pattern}\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}\n--- stderr\n${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners = listeners.filter((l) => l !== check);
        };
        listeners.push(check);
        check();
      });
    },
  };
}

/** The JWE protected header of a compact token (its first segment). */
export function jweHeader(cipher: string): Record<string, any> {
  return JSON.parse(Buffer.from(cipher.split('.')[0]!, 'base64url').toString('utf8'));
}
