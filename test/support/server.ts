/**
 * A real server for tests: `serve` on 127.0.0.1 port 0 with a SQLite file in a temporary data
 * directory, and an API key. `restart()` reopens the same directory (to prove durability).
 */
import { type RunningServer, type ServeOptions, startServer } from '../../src/main/serve.js';
import { injectFor } from './inject-fetch.js';
import { removeDir, tempDir } from './temp-dir.js';

export interface TestServer {
  url: string;
  dataDir: string;
  /** A valid API key of the organisation. */
  key: string;
  server: RunningServer;
  /** Stops and starts again on the same data directory (and port 0 → a new port). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /**
   * Real sockets for every request (SSE streams, slow clients, shutdown with requests in flight).
   * Without it the server still listens (for browsers, child processes, the SDK), but requests made
   * with the suites' `call` (test/support/inject-fetch.ts) go through `app.inject()`.
   */
  sockets?: boolean;
  dataDir?: string;
  /** PostgreSQL instead of SQLite in the data directory (see test/support/postgres.ts). */
  databaseUrl?: string;
  /** The bot (and trigger deliveries) against a Webex API, e.g. the emulator's. */
  webex?: ServeOptions['webex'];
  /** Background jobs (default the server's). */
  jobs?: ServeOptions['jobs'];
  timeZone?: string;
  /** Dials room devices when a host joins (default the server's, which only records). */
  dialler?: ServeOptions['dialler'];
  /**
   * Per-minute limits. Suites send far more forged tokens from 127.0.0.1 than any real client,
   * so by default they get room; the rate-limit tests pass the real limits.
   */
  rateLimits?: ServeOptions['rateLimits'];
  crypto?: ServeOptions['crypto'];
  trustProxy?: ServeOptions['trustProxy'];
  metrics?: ServeOptions['metrics'];
  prune?: ServeOptions['prune'];
  logger?: ServeOptions['logger'];
  /** Bounds on event streams and joins (default the server's). */
  live?: ServeOptions['live'];
  /** Outbound events: private addresses allowed, the delivery worker's timing. */
  events?: ServeOptions['events'];
  /** A fixed port (default 0: any free one), e.g. to give a PUBLIC_URL on it. */
  port?: number;
  /** PUBLIC_URL, as if set explicitly (gateway links for visits on another broker use it). */
  publicUrl?: string;
  /** Where visits get their links (default this server's broker), e.g. another server as BROKER. */
  linkSource?: ServeOptions['linkSource'];
  /** "A patient is waiting" (default the server's: 60 s, with the bot only). */
  alerts?: ServeOptions['alerts'];
  /** Seconds between runs of the closing job (default the server's). */
  closeIntervalSeconds?: number;
  /** Meeting telemetry of Cisco visits (needs `webex` and a `linkSource` other than local). */
  meetings?: ServeOptions['meetings'];
  /** SMS through a provider (e.g. Twilio's API at a stub). */
  sms?: ServeOptions['sms'];
  /** Email notices through an SMTP server (SMTP_URL, SMTP_FROM). */
  email?: ServeOptions['email'];
  reminders?: ServeOptions['reminders'];
}

export const ROOMY_LIMITS = {
  issuePerKey: 100_000,
  issuePerAddress: 100_000,
  publicPerAddress: 100_000,
  failedOpensPerAddress: 100_000,
  shortCodeMissesPerAddress: 100_000,
};

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir('ic-test-');
  const owned = options.dataDir === undefined;
  const start = () =>
    startServer({
      port: options.port ?? 0,
      host: '127.0.0.1',
      ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
      ...(options.linkSource ? { linkSource: options.linkSource } : {}),
      dataDir,
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      logger: options.logger ?? false,
      ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      ...(options.prune !== undefined ? { prune: options.prune } : {}),
      ...(options.webex ? { webex: options.webex } : {}),
      ...(options.jobs ? { jobs: options.jobs } : {}),
      ...(options.timeZone ? { timeZone: options.timeZone } : {}),
      ...(options.dialler ? { dialler: options.dialler } : {}),
      rateLimits: options.rateLimits ?? ROOMY_LIMITS,
      ...(options.crypto ? { crypto: options.crypto } : {}),
      ...(options.live ? { live: options.live } : {}),
      ...(options.events ? { events: options.events } : {}),
      ...(options.alerts ? { alerts: options.alerts } : {}),
      ...(options.closeIntervalSeconds !== undefined
        ? { closeIntervalSeconds: options.closeIntervalSeconds }
        : {}),
      ...(options.meetings ? { meetings: options.meetings } : {}),
      ...(options.sms ? { sms: options.sms } : {}),
      ...(options.email ? { email: options.email } : {}),
      ...(options.reminders ? { reminders: options.reminders } : {}),
    });
  let server = await start();
  let uninject = options.sockets ? () => {} : injectFor(server.url, server.app);
  const { key } = await server.context.apiKeys.create(server.context.org, 'test');
  const handle: TestServer = {
    get url() {
      return server.url;
    },
    dataDir,
    key,
    get server() {
      return server;
    },
    async restart() {
      uninject();
      await server.close();
      server = await start();
      uninject = options.sockets ? () => {} : injectFor(server.url, server.app);
    },
    async close() {
      uninject();
      await server.close();
      if (owned) removeDir(dataDir);
    },
  };
  return handle;
}

/** POST JSON with the test key (or another Authorization) and return status, headers and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  options: { key?: string; authorization?: string | null; contentType?: string; raw?: string } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  if (options.authorization !== null) {
    const auth = options.authorization ?? (options.key ? `Bearer ${options.key}` : undefined);
    if (auth) headers['authorization'] = auth;
  }
  const response = await fetch(url, { method: 'POST', headers, body: options.raw ?? JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, body: parsed };
}
