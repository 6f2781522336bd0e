/** `instant-connect serve`: the broker and service on an embedded database. */

import {
  CliError,
  DEFAULT_HOST,
  DEFAULT_PORT,
  databaseUrl,
  dataDir,
  parsePort,
  whereData,
} from '../config.js';
import type { CliEnv, CliIo } from '../io.js';
import { webexApiBase } from './whoami.js';

export interface ServeFlags {
  port?: number;
  host?: string;
  data?: string;
  database?: string;
  publicUrl?: string;
  quiet?: boolean;
}

/**
 * Background jobs from JOB_POLL_MS (how often due jobs are looked for) and JOB_LEASE_SECONDS (how
 * long a claimed job is held before another worker may take it: a crashed worker's job comes back
 * after it); unset: the runner's defaults.
 */
export function jobsFromEnv(env: CliEnv): {
  pollMs?: number;
  leaseSeconds?: number;
} {
  const read = (name: string) => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return undefined;
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new CliError(`${name} must be a whole number from 1`, 2);
    return Number(raw);
  };
  const pollMs = read('JOB_POLL_MS');
  const leaseSeconds = read('JOB_LEASE_SECONDS');
  return {
    ...(pollMs !== undefined ? { pollMs } : {}),
    ...(leaseSeconds !== undefined ? { leaseSeconds } : {}),
  };
}

/**
 * Operations from the environment: TRUST_PROXY (which proxies' X-Forwarded-For is believed),
 * METRICS_TOKEN / METRICS_HOST / METRICS_PORT (who reads /metrics), PRUNE_INTERVAL_SECONDS,
 * DELIVERY_RETENTION_DAYS, SHORT_LINK_GRACE_DAYS and RETENTION_DAYS (the pruning job; finished
 * visits are kept forever without the last). Errors name the variable,
 * never a token's value.
 */
export async function opsFromEnv(env: CliEnv) {
  const { parseTrustProxy } = await import('../../server/trust-proxy.js');
  const whole = (name: string, min: number) => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return undefined;
    if (!/^\d+$/.test(raw) || Number(raw) < min)
      throw new CliError(`${name} must be a whole number from ${min}`, 2);
    return Number(raw);
  };
  const token = env['METRICS_TOKEN']?.trim();
  if (token !== undefined && token !== '' && !/^[\x21-\x7e]{16,512}$/.test(token))
    throw new CliError('METRICS_TOKEN must be 16 to 512 printable characters without spaces', 2);
  const portRaw = env['METRICS_PORT']?.trim();
  const port = portRaw ? parsePortVariable('METRICS_PORT', portRaw) : undefined;
  const host = env['METRICS_HOST']?.trim() || undefined;
  if (host !== undefined && port === undefined) throw new CliError('METRICS_HOST needs METRICS_PORT', 2);
  const intervalSeconds = whole('PRUNE_INTERVAL_SECONDS', 0);
  const retentionDays = whole('DELIVERY_RETENTION_DAYS', 1);
  const graceDays = whole('SHORT_LINK_GRACE_DAYS', 0);
  const visitDays = whole('RETENTION_DAYS', 1);
  let trustProxy: ReturnType<typeof parseTrustProxy>;
  try {
    trustProxy = parseTrustProxy(env['TRUST_PROXY']);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  const DAY = 86_400;
  return {
    trustProxy,
    metrics: {
      ...(token ? { token } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(host !== undefined ? { host } : {}),
    },
    prune: {
      ...(intervalSeconds !== undefined ? { intervalSeconds } : {}),
      ...(retentionDays !== undefined ? { deliveriesSeconds: retentionDays * DAY } : {}),
      ...(graceDays !== undefined ? { shortLinkGraceSeconds: graceDays * DAY } : {}),
      ...(visitDays !== undefined ? { visitsSeconds: visitDays * DAY } : {}),
    },
  };
}

function parsePortVariable(name: string, raw: string): number {
  try {
    return parsePort(raw);
  } catch {
    throw new CliError(`${name} must be a port number from 0 to 65535`, 2);
  }
}

export async function run(flags: ServeFlags, io: CliIo): Promise<void> {
  const { startServer } = await import('../../main/serve.js');
  const envPort = io.env['PORT'];
  const port = flags.port ?? (envPort !== undefined ? parsePort(envPort) : DEFAULT_PORT);
  const host = flags.host ?? io.env['HOST'] ?? DEFAULT_HOST;
  const dir = dataDir(flags.data, io);
  const database = databaseUrl(flags.database, io.env);
  const publicUrl = flags.publicUrl ?? io.env['PUBLIC_URL'];
  const broker = io.env['BROKER'] ?? 'local';
  const token = io.env['WEBEX_TOKEN']?.trim();
  const apiUrl = webexApiBase({ broker }, io.env);
  const webhookSecret = io.env['WEBEX_WEBHOOK_SECRET']?.trim();
  const { rateLimitsFromEnv } = await import('../../reliability/rate-limit.js');
  const { botAccessFromEnv } = await import('../../bot/access.js');
  const access = botAccessFromEnv(io.env);
  const { liveLimitsFromEnv } = await import('../../visits/live.js');
  const jobs = jobsFromEnv(io.env);
  const rateLimits = rateLimitsFromEnv(io.env);
  const live = liveLimitsFromEnv(io.env);
  const ops = await opsFromEnv(io.env);
  const { defaultCryptoConcurrency } = await import('../../main/container.js');
  const server = await startServer({
    ...ops,
    crypto: { concurrency: defaultCryptoConcurrency(io.env) },
    rateLimits,
    live,
    ...(Object.keys(jobs).length > 0 ? { jobs } : {}),
    linkSource: { broker, ...(token ? { token } : {}) },
    ...(token ? { webex: { token, apiUrl, access, ...(webhookSecret ? { webhookSecret } : {}) } } : {}),
    ...(io.env['TZ'] ? { timeZone: io.env['TZ'] } : {}),
    port,
    host,
    dataDir: dir,
    ...(database ? { databaseUrl: database } : {}),
    ...(publicUrl ? { publicUrl } : {}),
    logger: flags.quiet ? false : { level: io.env['LOG_LEVEL'] ?? 'info' },
  });
  // Handlers first: a supervisor (or a test) may signal as soon as it reads "listening on" below,
  // and a signal before they are installed would kill the process without closing the database.
  const stop = (signal: string) => {
    io.stderr.write(`\n${signal}: finishing requests in flight and closing the database…\n`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        io.stderr.write(`error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));

  const { org, created, store } = server.context;
  const lines = [
    `instant-connect listening on ${server.url}`,
    `  data:          ${whereData(dir, database)} (${store.kind})`,
    `  organisation:  ${org.name} (${org.id})`,
    `  short links:   ${server.publicUrl}/visit/<code>`,
    `  visit links:   ${broker === 'local' ? 'the local broker' : `${broker} (with WEBEX_TOKEN)`}`,
    `  bot:           ${token ? `on, Webex API ${apiUrl}, webhook POST ${server.publicUrl}/hooks/webex` : 'off (set WEBEX_TOKEN to a bot token)'}`,
  ];
  const { describeTrustProxy } = await import('../../server/trust-proxy.js');
  lines.push(
    `  proxies:       ${describeTrustProxy(ops.trustProxy)}`,
    `  metrics:       ${server.metricsUrl ?? server.url}/metrics${ops.metrics.token ? ' (with METRICS_TOKEN)' : server.metricsUrl ? '' : ' (this machine only)'}`,
  );
  // What the limit, job, pruning and crypto variables came to (operators check their settings here).
  const { DEFAULT_RETENTION } = await import('../../jobs/prune.js');
  const { DEFAULT_BOT_VISITS_PER_PERSON } = await import('../../reliability/rate-limit.js');
  const off = (n: number, text: string) => (n > 0 ? text : `${text.split(' ').slice(1).join(' ')} off`);
  const r = rateLimits;
  const days = (seconds: number) => `${seconds / 86_400} d`;
  lines.push(
    `  limits:        ${[
      off(r.issuePerKey, `${r.issuePerKey} issuing/key a minute`),
      off(r.issuePerAddress, `${r.issuePerAddress} issuing/address`),
      off(r.publicPerAddress, `${r.publicPerAddress} pages/address`),
      off(r.failedOpensPerAddress, `${r.failedOpensPerAddress} unrecorded tokens/address`),
      off(
        r.shortCodeMissesPerAddress ?? 60,
        `${r.shortCodeMissesPerAddress ?? 60} short-code misses/address`,
      ),
      off(
        r.botVisitsPerPerson ?? DEFAULT_BOT_VISITS_PER_PERSON,
        `${r.botVisitsPerPerson ?? DEFAULT_BOT_VISITS_PER_PERSON} bot visits/person an hour`,
      ),
    ].join(', ')}`,
    `  live:          ${live.streamsPerParticipant} streams/link, ${live.streamsPerAddress}/address, ${live.streams}/instance, ${live.joinsPerMinute} joins/link a minute, host grace ${live.hostGraceSeconds} s`,
    `  jobs:          poll ${server.context.runner.settings.pollMs} ms, lease ${server.context.runner.settings.leaseSeconds} s`,
    `  pruning:       ${
      ops.prune.intervalSeconds === 0 ? 'at start only' : `every ${ops.prune.intervalSeconds ?? 3600} s`
    }; deliveries after ${days(ops.prune.deliveriesSeconds ?? DEFAULT_RETENTION.deliveriesSeconds)}, short links ${days(
      ops.prune.shortLinkGraceSeconds ?? DEFAULT_RETENTION.shortLinkGraceSeconds,
    )} after expiry, ${
      ops.prune.visitsSeconds !== undefined
        ? `finished visits after ${days(ops.prune.visitsSeconds)}`
        : 'visits kept (RETENTION_DAYS)'
    }`,
    `  crypto:        ${server.context.limiter.concurrency} PBKDF2 jobs in flight, queue ${server.context.limiter.maxQueue}`,
  );
  if (server.context.bot) {
    lines.push(
      server.context.bot.access.closed
        ? '  bot access:    CLOSED: it refuses every command until BOT_ALLOWED_DOMAINS or BOT_ALLOWED_ORGS is set'
        : `  bot access:    ${server.context.bot.access.describe()}`,
    );
  }
  if (created.org) lines.push('  first start:   created the database, the broker key and the organisation');
  // The commands name this server's data and address, so what they make is this server's.
  const where = database ? '(with the same DATABASE_URL)' : `--data ${JSON.stringify(dir)}`;
  lines.push(
    '',
    'Make an API key for POST /api/v2/joseencrypt:',
    `  npx instant-connect keys create --name my-app ${where}`,
    'Or make links straight away (they open on this server):',
    `  PUBLIC_URL=${server.publicUrl} npx instant-connect links --short ${where}`,
  );
  io.stderr.write(`${lines.join('\n')}\n`);
}
