/** `instant-connect serve`: the broker and service on an embedded database. */

import type { Config, ConfigFlags } from '../../main/config.js';
import { whereData } from '../config.js';
import type { CliIo } from '../io.js';

export async function run(flags: ConfigFlags, io: CliIo): Promise<void> {
  const { loadConfig } = await import('../../main/config.js');
  const { serveOptions, startServer } = await import('../../main/serve.js');
  // The environment and the flags, read once; every section below comes from it.
  const config = loadConfig({ env: io.env, flags, cwd: io.cwd });
  const { data, linkSource, rateLimits, live } = config;
  const dir = data.dir;
  const database = data.databaseUrl;
  const broker = linkSource.broker;
  const token = linkSource.token;
  const apiUrl = config.webexApiUrl;
  const [{ lowerPoolPriority }, { threadPoolSize }] = await Promise.all([
    import('../../main/pool-priority.js'),
    import('../../main/container.js'),
  ]);
  const lowered = await lowerPoolPriority(threadPoolSize(io.env));
  const server = await startServer(serveOptions(config));
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
    `  sms:           ${describeSms(config)}`,
  ];
  const { describeTrustProxy } = await import('../../server/trust-proxy.js');
  lines.push(
    `  proxies:       ${describeTrustProxy(config.trustProxy)}`,
    `  metrics:       ${server.metricsUrl ?? server.url}/metrics${config.metrics.token ? ' (with METRICS_TOKEN)' : server.metricsUrl ? '' : ' (this machine only)'}`,
  );
  // What the limit, job, pruning and crypto variables came to (operators check their settings here).
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
    `  waiting alert: ${
      config.alerts.waitingSeconds === 0
        ? 'off (WAITING_ALERT_SECONDS=0)'
        : server.context.alerts
          ? `the host who asked hears from the bot after ${config.alerts.waitingSeconds} s of a guest waiting`
          : `off: no bot to send it (set WEBEX_TOKEN), though WAITING_ALERT_SECONDS is ${config.alerts.waitingSeconds}`
    }`,
    `  email:         ${
      config.email
        ? `notices and invitations to recipients through ${smtpWhere(config.email.url)}, from ${config.email.from.address}`
        : 'off: recipients get no notices (set SMTP_URL and SMTP_FROM)'
    }`,
    `  reminders:     ${
      config.reminders.offsets.length === 0
        ? 'off (REMINDER_OFFSETS)'
        : `${config.reminders.offsets.map((o) => `${o} s`).join(', ')} before a visit's start`
    }`,
    `  pruning:       ${
      config.prune.intervalSeconds === 0 ? 'at start only' : `every ${config.prune.intervalSeconds} s`
    }; deliveries after ${days(config.prune.deliveriesSeconds)}, short links ${days(
      config.prune.shortLinkGraceSeconds,
    )} after expiry, ${
      config.prune.visitsSeconds !== undefined
        ? `finished visits after ${days(config.prune.visitsSeconds)}`
        : 'visits kept (RETENTION_DAYS)'
    }`,
    `  crypto:        ${server.context.limiter.concurrency} PBKDF2 jobs in flight, queue ${server.context.limiter.maxQueue}${lowered > 0 ? `, ${lowered} pool threads below the main thread's priority` : ''}`,
  );
  if (server.context.bot) {
    lines.push(
      server.context.bot.access.closed
        ? '  bot access:    CLOSED: it refuses every command until BOT_ALLOWED_DOMAINS or BOT_ALLOWED_ORGS is set'
        : `  bot access:    ${server.context.bot.access.describe()}`,
    );
  }
  if (broker !== 'local') {
    const meetings = server.context.meetings;
    lines.push(
      `  meetings:      ${
        !meetings
          ? `off${config.meetings.mode === 'off' ? '' : ' (needs WEBEX_TOKEN)'}: Cisco visits show no joins, live or end`
          : meetings.mode === 'poll'
            ? `polling participants every ${config.meetings.pollSeconds} s`
            : `webhooks at POST ${server.publicUrl}/hooks/webex/meetings (instant-connect webhook register --meetings)`
      }`,
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

/** Whether SMS is on, through whom, and where Twilio's webhooks are (never a credential). */
function describeSms(config: Config): string {
  const sms = config.sms;
  if (!sms) return 'off (set SMS_PROVIDER to twilio or http)';
  if (sms.provider === 'http') return `on, the HTTP provider at ${new URL(sms.url).origin}`;
  const sender = sms.from ? `from ${sms.from}` : `messaging service ${sms.messagingServiceSid}`;
  const hooks = config.publicUrl
    ? `status callbacks and replies (STOP/START) at POST ${config.publicUrl.replace(/\/+$/, '')}/hooks/sms/twilio/status and …/inbound`
    : 'no status callbacks or replies: set PUBLIC_URL (an address Twilio reaches)';
  return `on, Twilio ${sms.apiUrl === 'https://api.twilio.com' ? '' : `at ${sms.apiUrl} `}${sender}; ${hooks}`;
}

/** SMTP_URL without its credentials: scheme, host and port. */
function smtpWhere(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}`;
}
