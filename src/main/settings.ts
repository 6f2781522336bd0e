/**
 * The settings the README's Configuration table documents, one row each (its variable, its flag,
 * its default, whether it is a secret), and the small rules they share with other commands. Light
 * on purpose: every command loads it; `config.ts` (loadConfig) loads the services' parsers.
 */
import { ENVIRONMENTS } from '../domain/urls.js';
import { InstantConnectError } from '../errors.js';
import type { Config } from './config.js';

type Env = Readonly<Record<string, string | undefined>>;

/** One documented setting. */
export interface Setting {
  /** The environment variable. */
  env: string;
  /** The flag that overrides it (of `serve` unless `command` says otherwise). */
  flag?: string;
  /** The command that has the flag, when it is not `serve`. */
  command?: string;
  /** The default, as the README says it. */
  default: string;
  /** A secret: never printed, never in an error message. */
  secret: boolean;
  /** What it does, in one line. */
  doc: string;
  /** The section of Config it feeds (undefined: read by other commands only). */
  section?: keyof Config;
}

const whole0 = 'a whole number (0 turns the limit off)';
const whole1 = 'a whole number from 1';

/** Every setting, in the README's order. The parsers are the ones named by each section below. */
export const SETTINGS: readonly Setting[] = Object.freeze([
  {
    env: 'PORT',
    flag: '--port',
    default: '8080',
    secret: false,
    doc: 'port to listen on',
    section: 'listen',
  },
  {
    env: 'HOST',
    flag: '--host',
    default: '127.0.0.1',
    secret: false,
    doc: 'address to listen on',
    section: 'listen',
  },
  {
    env: 'DATA_DIR',
    flag: '--data',
    default: './data',
    secret: false,
    doc: 'the embedded SQLite database',
    section: 'data',
  },
  {
    env: 'DATABASE_URL',
    flag: '--database',
    default: 'none',
    secret: true,
    doc: 'PostgreSQL instead of SQLite (postgres:// URL)',
    section: 'data',
  },
  {
    env: 'PUBLIC_URL',
    flag: '--public-url',
    default: 'http://HOST:PORT',
    secret: false,
    doc: 'origin of short and long links; set explicitly, also of gateway links for visits on Cisco brokers',
    section: 'publicUrl',
  },
  {
    env: 'BROKER',
    flag: '--broker',
    command: 'links',
    default: 'local',
    secret: false,
    doc: 'where links come from',
    section: 'linkSource',
  },
  {
    env: 'WEBEX_TOKEN',
    flag: '--token-file',
    command: 'whoami',
    default: 'none',
    secret: true,
    doc: 'bot (or personal) token',
    section: 'webex',
  },
  {
    env: 'WEBEX_API_URL',
    flag: '--api-url',
    command: 'whoami',
    default: 'https://webexapis.com/v1',
    secret: false,
    doc: 'Webex REST API base',
    section: 'webex',
  },
  {
    env: 'WEBEX_WEBHOOK_SECRET',
    default: 'the one webhook register stored',
    secret: true,
    doc: 'secret of X-Spark-Signature',
    section: 'webex',
  },
  {
    env: 'MEETING_TELEMETRY',
    default: 'webhooks (BROKER=usgov: poll)',
    secret: false,
    doc: "how Cisco visits' meetings are watched: webhooks, poll or off",
    section: 'meetings',
  },
  {
    env: 'MEETING_POLL_SECONDS',
    default: '30',
    secret: false,
    doc: `time between polls of meeting participants: ${whole1}`,
    section: 'meetings',
  },
  {
    env: 'WEBEX_MEETINGS_TOKEN',
    default: 'WEBEX_TOKEN',
    secret: true,
    doc: 'a token that may read meeting participants (polling)',
    section: 'meetings',
  },
  {
    env: 'WEBEX_MEETINGS_WEBHOOK_SECRET',
    default: 'the one webhook register --meetings stored',
    secret: true,
    doc: 'secret of the meeting webhooks',
    section: 'meetings',
  },
  {
    env: 'SMS_PROVIDER',
    default: 'none (SMS off)',
    secret: false,
    doc: 'who sends SMS: twilio or http',
    section: 'sms',
  },
  {
    env: 'TWILIO_ACCOUNT_SID',
    default: 'none',
    secret: false,
    doc: "Twilio's account (AC…)",
    section: 'sms',
  },
  {
    env: 'TWILIO_AUTH_TOKEN',
    default: 'none',
    secret: true,
    doc: "Twilio's auth token (Basic auth, and X-Twilio-Signature)",
    section: 'sms',
  },
  {
    env: 'TWILIO_FROM',
    default: 'none',
    secret: false,
    doc: 'the sender: an E.164 number or an alphanumeric id',
    section: 'sms',
  },
  {
    env: 'TWILIO_MESSAGING_SERVICE_SID',
    default: 'none',
    secret: false,
    doc: 'a messaging service (MG…) instead of TWILIO_FROM',
    section: 'sms',
  },
  {
    env: 'TWILIO_API_URL',
    default: 'https://api.twilio.com',
    secret: false,
    doc: "Twilio's API origin",
    section: 'sms',
  },
  {
    env: 'SMS_HTTP_URL',
    default: 'none',
    secret: false,
    doc: 'the generic provider: the URL it POSTs to',
    section: 'sms',
  },
  {
    env: 'SMS_HTTP_BODY',
    default: '{"to":"{{to}}","text":"{{text}}"}',
    secret: false,
    doc: 'the generic provider: the body template (JSON or form)',
    section: 'sms',
  },
  {
    env: 'SMS_HTTP_AUTH',
    default: 'none',
    secret: true,
    doc: 'the generic provider: its auth header',
    section: 'sms',
  },
  {
    env: 'TZ',
    flag: '--tz',
    command: 'links',
    default: "the machine's",
    secret: false,
    doc: 'zone for times written without one',
    section: 'timeZone',
  },
  {
    env: 'LOG_LEVEL',
    flag: '--quiet',
    default: 'info',
    secret: false,
    doc: 'structured JSON logs (pino)',
    section: 'logger',
  },
  {
    env: 'UV_THREADPOOL_SIZE',
    default: '4',
    secret: false,
    doc: 'libuv pool; PBKDF2 jobs in flight stay below it',
    section: 'crypto',
  },
  {
    env: 'CRYPTO_CONCURRENCY',
    default: 'cores + 2, at most the pool',
    secret: false,
    doc: 'PBKDF2 work in flight',
    section: 'crypto',
  },
  {
    env: 'RATE_LIMIT_ISSUE_PER_KEY',
    default: '600',
    secret: false,
    doc: `issuing per API key a minute: ${whole0}`,
    section: 'rateLimits',
  },
  {
    env: 'RATE_LIMIT_ISSUE_PER_ADDRESS',
    default: '600',
    secret: false,
    doc: `issuing per address a minute: ${whole0}`,
    section: 'rateLimits',
  },
  {
    env: 'RATE_LIMIT_PUBLIC_PER_ADDRESS',
    default: '3000',
    secret: false,
    doc: `pages per address a minute: ${whole0}`,
    section: 'rateLimits',
  },
  {
    env: 'RATE_LIMIT_FAILED_OPENS_PER_ADDRESS',
    default: '30',
    secret: false,
    doc: `unrecorded tokens per address a minute: ${whole0}`,
    section: 'rateLimits',
  },
  {
    env: 'RATE_LIMIT_SHORT_CODE_MISSES_PER_ADDRESS',
    default: '60',
    secret: false,
    doc: `short-code misses per address a minute: ${whole0}`,
    section: 'rateLimits',
  },
  {
    env: 'LIVE_STREAMS_PER_LINK',
    default: '2',
    secret: false,
    doc: `event streams one link holds: ${whole1}`,
    section: 'live',
  },
  {
    env: 'LIVE_STREAMS_PER_ADDRESS',
    default: '50',
    secret: false,
    doc: `event streams from one address: ${whole1}`,
    section: 'live',
  },
  {
    env: 'LIVE_STREAMS',
    default: '500',
    secret: false,
    doc: `event streams on one instance: ${whole1}`,
    section: 'live',
  },
  {
    env: 'LIVE_JOINS_PER_MINUTE',
    default: '30',
    secret: false,
    doc: `joins and leaves per link a minute: ${whole1}`,
    section: 'live',
  },
  {
    env: 'LIVE_HOST_GRACE_SECONDS',
    default: '20',
    secret: false,
    doc: `seconds a host stays present: ${whole1}`,
    section: 'live',
  },
  {
    env: 'TRUST_PROXY',
    default: 'off',
    secret: false,
    doc: 'whose X-Forwarded-For is believed',
    section: 'trustProxy',
  },
  {
    env: 'METRICS_TOKEN',
    default: 'none',
    secret: true,
    doc: 'bearer token that opens /metrics from anywhere',
    section: 'metrics',
  },
  {
    env: 'METRICS_PORT',
    default: 'none',
    secret: false,
    doc: '/metrics on a listener of its own',
    section: 'metrics',
  },
  {
    env: 'METRICS_HOST',
    default: '127.0.0.1',
    secret: false,
    doc: 'address of that listener',
    section: 'metrics',
  },
  {
    env: 'BOT_ALLOWED_DOMAINS',
    default: 'none',
    secret: false,
    doc: 'email domains whose people may use the bot',
    section: 'webex',
  },
  {
    env: 'BOT_ALLOWED_ORGS',
    default: 'none',
    secret: false,
    doc: 'Webex organisations whose people may use the bot',
    section: 'webex',
  },
  {
    env: 'BOT_VISITS_PER_PERSON',
    default: '20',
    secret: false,
    doc: `visits the bot makes for one person an hour: ${whole0}`,
    section: 'rateLimits',
  },
  {
    env: 'WAITING_ALERT_SECONDS',
    default: '60',
    secret: false,
    doc: 'seconds a guest waits with no host before the bot tells the host who asked for the visit (0: no alerts)',
    section: 'alerts',
  },
  {
    env: 'SMTP_URL',
    default: '(email off)',
    secret: true,
    doc: 'the SMTP server notices go through: smtp:// (STARTTLS when offered) or smtps://, with user:password@; needs SMTP_FROM',
    section: 'email',
  },
  {
    env: 'SMTP_FROM',
    default: '(none)',
    secret: false,
    doc: 'the sender of notices and the organizer of their invitations: an address, or `Name <address>`',
    section: 'email',
  },
  {
    env: 'REMINDER_OFFSETS',
    default: '24h,1h',
    secret: false,
    doc: 'when recipients are reminded before a visit starts: durations, comma-separated (off or empty: no reminders)',
    section: 'email',
  },
  {
    env: 'PRUNE_INTERVAL_SECONDS',
    default: '3600',
    secret: false,
    doc: 'time between pruning runs (0: at start only)',
    section: 'prune',
  },
  {
    env: 'DELIVERY_RETENTION_DAYS',
    default: '7',
    secret: false,
    doc: 'how long deliveries and job dedup keys are kept',
    section: 'prune',
  },
  {
    env: 'SHORT_LINK_GRACE_DAYS',
    default: '30',
    secret: false,
    doc: 'how long an expired short link is kept',
    section: 'prune',
  },
  {
    env: 'RETENTION_DAYS',
    default: 'none (kept)',
    secret: false,
    doc: 'days a finished visit is kept',
    section: 'prune',
  },
  {
    env: 'EVENTS_ALLOW_PRIVATE',
    default: 'false',
    secret: false,
    doc: 'outbound event subscribers at loopback, private, link-local or metadata addresses: true, or a comma list of CIDRs',
    section: 'events',
  },
  {
    env: 'JOB_POLL_MS',
    default: '1000',
    secret: false,
    doc: 'how often due background jobs are looked for',
    section: 'jobs',
  },
  {
    env: 'JOB_LEASE_SECONDS',
    default: '120',
    secret: false,
    doc: 'how long a worker holds a job it took',
    section: 'jobs',
  },
] satisfies Setting[]);

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_DIR = './data';

export function invalid(message: string): never {
  throw new InstantConnectError('ERR_VALIDATION', message);
}

/** A port variable: names the variable and the rule. */
export function portVariable(name: string, raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) invalid(`${name} must be a port number from 0 to 65535`);
  return Number(raw);
}

/** A whole number from `min`, or undefined when unset. */
export function wholeFrom(env: Env, name: string, min: number): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min) invalid(`${name} must be a whole number from ${min}`);
  return Number(raw);
}

/**
 * The PostgreSQL URL from --database or DATABASE_URL; undefined for the embedded database.
 * Errors name the option, never its value (it holds a password).
 */
export function parseDatabaseUrl(value: string | undefined): string | undefined {
  const url = value?.trim();
  if (!url) return undefined;
  if (!/^postgres(ql)?:\/\//i.test(url))
    invalid('--database (or DATABASE_URL) must be a postgres:// or postgresql:// URL');
  return url;
}

/** The Webex API base: --api-url or WEBEX_API_URL, else the broker's environment's. */
export function webexApiBase(flags: { broker?: string; apiUrl?: string }, env: Env): string {
  const explicit = flags.apiUrl ?? env['WEBEX_API_URL'];
  if (explicit) return explicit.replace(/\/+$/, '');
  const broker = flags.broker ?? env['BROKER'];
  return broker === 'usgov' ? ENVIRONMENTS.usgov.webexApiUrl! : ENVIRONMENTS.commercial.webexApiUrl!;
}
