/**
 * The server's configuration, read once: `loadConfig` reads the environment and the flags into one
 * validated, frozen `Config` (the settings it reads are the rows of `settings.ts`' SETTINGS). Flags win over the environment,
 * the environment over the defaults. A bad value throws ERR_VALIDATION naming the variable (or the
 * flag) and the rule, never a secret's value. Nothing else in the server reads the environment.
 */
import { BlockList } from 'node:net';
import { resolve } from 'node:path';
import { DEFAULT_HTTP_BODY, templateProblem } from '../adapters/sms/http.js';
import type { SmsProviderConfig } from '../adapters/sms/index.js';
import { TWILIO_API_URL } from '../adapters/sms/twilio.js';
import { type BotAccessOptions, botAccessFromEnv } from '../bot/access.js';
import { normalizePhone } from '../domain/sms.js';
import { parseDuration } from '../domain/time.js';
import { addCidr } from '../events/ssrf.js';
import { DEFAULT_PRUNE_INTERVAL_SECONDS, DEFAULT_RETENTION, type PruneRetention } from '../jobs/prune.js';
import { DEFAULT_JOB_TIMING } from '../jobs/runner.js';
import { DEFAULT_POLL, TELEMETRY_MODES, type TelemetryMode } from '../meetings/telemetry.js';
import { type RateLimits, rateLimitsFromEnv } from '../reliability/rate-limit.js';
import { parseTrustProxy, type TrustProxy } from '../server/trust-proxy.js';
import { DEFAULT_WAITING_ALERT_SECONDS } from '../visits/alerts.js';
import { type LiveLimits, liveLimitsFromEnv } from '../visits/live.js';
import { DEFAULT_REMINDER_OFFSETS } from '../visits/notices.js';
import { defaultCryptoConcurrency } from './container.js';
import {
  DEFAULT_DATA_DIR,
  DEFAULT_HOST,
  DEFAULT_PORT,
  invalid,
  parseDatabaseUrl,
  portVariable,
  webexApiBase,
  wholeFrom,
} from './settings.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The flags of `serve` that override a variable (commander has parsed and checked them). */
export interface ConfigFlags {
  port?: number;
  host?: string;
  data?: string;
  database?: string;
  publicUrl?: string;
  quiet?: boolean;
}

export interface Config {
  readonly listen: { readonly port: number; readonly host: string };
  /** SQLite in `dir`, or PostgreSQL at `databaseUrl` (a secret). */
  readonly data: { readonly dir: string; readonly databaseUrl?: string };
  readonly publicUrl?: string;
  /** Where visits get their links, with the token a Cisco broker needs. */
  readonly linkSource: { readonly broker: string; readonly token?: string };
  /** The bot, present with a WEBEX_TOKEN. */
  readonly webex?: {
    readonly token: string;
    readonly apiUrl: string;
    readonly webhookSecret?: string;
    readonly access: BotAccessOptions;
  };
  /**
   * Meeting telemetry of Cisco visits: webhooks, or polling where Webex has no meeting webhooks
   * (the default with BROKER=usgov), or off; a token for participants and the webhooks' secret.
   */
  readonly meetings: {
    readonly mode: TelemetryMode;
    readonly pollSeconds: number;
    readonly token?: string;
    readonly webhookSecret?: string;
  };
  /** SMS: the provider (SMS_PROVIDER) and its settings; absent: SMS is off. */
  readonly sms?: SmsProviderConfig;
  /** The Webex API base, with or without a token (for messages). */
  readonly webexApiUrl: string;
  readonly timeZone?: string;
  /** pino options, or false (`--quiet`). */
  readonly logger: false | { readonly level: string };
  readonly crypto: { readonly concurrency: number };
  readonly rateLimits: RateLimits;
  readonly live: LiveLimits;
  readonly jobs: { readonly pollMs: number; readonly leaseSeconds: number };
  /** Outbound events: which private addresses subscribers may be at (EVENTS_ALLOW_PRIVATE). */
  readonly events: { readonly allowPrivate?: true | readonly string[] };
  /** "A patient is waiting": seconds before the host is told (0: never). Needs the bot. */
  readonly alerts: { readonly waitingSeconds: number };
  /** Reminders: seconds before a visit's start (REMINDER_OFFSETS; empty: off). */
  readonly reminders: { readonly offsets: readonly number[] };
  /** Email notices (SMTP_URL, a secret, and SMTP_FROM); absent: email is off. */
  readonly email?: {
    readonly url: string;
    readonly from: { readonly name: string; readonly address: string };
  };
  readonly trustProxy: TrustProxy;
  readonly metrics: { readonly token?: string; readonly port?: number; readonly host?: string };
  /** Every default filled in (the services' own), so what `serve` prints is what runs. */
  readonly prune: Required<Omit<PruneRetention, 'visitsSeconds'>> &
    Pick<PruneRetention, 'visitsSeconds'> & { readonly intervalSeconds: number };
}

const DAY = 86_400;

/**
 * REMINDER_OFFSETS: durations before a visit's start (`24h,1h`, `30m`, ISO `PT1H`), comma-separated;
 * `off` or empty: no reminders; unset: DEFAULT_REMINDER_OFFSETS. Largest first, each once.
 */
function reminderOffsetsFromEnv(env: Env): readonly number[] {
  const raw = env['REMINDER_OFFSETS'];
  if (raw === undefined) return DEFAULT_REMINDER_OFFSETS;
  const text = raw.trim();
  if (text === '' || text.toLowerCase() === 'off') return [];
  const offsets = new Set<number>();
  for (const part of text.split(',')) {
    const parsed = parseDuration(part.trim());
    if (!parsed.ok)
      invalid(`REMINDER_OFFSETS must be durations before the start, like 24h,1h (or off): ${parsed.message}`);
    offsets.add(parsed.value);
  }
  return [...offsets].sort((a, b) => b - a);
}

/**
 * Background jobs from JOB_POLL_MS (how often due jobs are looked for) and JOB_LEASE_SECONDS (how
 * long a claimed job is held before another worker may take it: a crashed worker's job comes back
 * after it); unset: the runner's defaults.
 */
function jobsFromEnv(env: Env): Config['jobs'] {
  return {
    pollMs: wholeFrom(env, 'JOB_POLL_MS', 1) ?? DEFAULT_JOB_TIMING.pollMs,
    leaseSeconds: wholeFrom(env, 'JOB_LEASE_SECONDS', 1) ?? DEFAULT_JOB_TIMING.leaseSeconds,
  };
}

/**
 * Operations: TRUST_PROXY, METRICS_TOKEN / METRICS_HOST / METRICS_PORT (who reads /metrics), and
 * the pruning job (PRUNE_INTERVAL_SECONDS, DELIVERY_RETENTION_DAYS, SHORT_LINK_GRACE_DAYS,
 * RETENTION_DAYS: finished visits are kept forever without the last). Never a token's value.
 */
function opsFromEnv(env: Env): Pick<Config, 'trustProxy' | 'metrics' | 'prune'> {
  const token = env['METRICS_TOKEN']?.trim();
  if (token !== undefined && token !== '' && !/^[\x21-\x7e]{16,512}$/.test(token))
    invalid('METRICS_TOKEN must be 16 to 512 printable characters without spaces');
  const portRaw = env['METRICS_PORT']?.trim();
  const port = portRaw ? portVariable('METRICS_PORT', portRaw) : undefined;
  const host = env['METRICS_HOST']?.trim() || undefined;
  if (host !== undefined && port === undefined) invalid('METRICS_HOST needs METRICS_PORT');
  const intervalSeconds = wholeFrom(env, 'PRUNE_INTERVAL_SECONDS', 0);
  const retentionDays = wholeFrom(env, 'DELIVERY_RETENTION_DAYS', 1);
  const graceDays = wholeFrom(env, 'SHORT_LINK_GRACE_DAYS', 0);
  const visitDays = wholeFrom(env, 'RETENTION_DAYS', 1);
  const trustProxy = parseTrustProxy(env['TRUST_PROXY']);
  return {
    trustProxy,
    metrics: {
      ...(token ? { token } : {}),
      // Its own listener is on this machine unless METRICS_HOST says otherwise.
      ...(port !== undefined ? { port, host: host ?? DEFAULT_HOST } : {}),
    },
    prune: {
      intervalSeconds: intervalSeconds ?? DEFAULT_PRUNE_INTERVAL_SECONDS,
      deliveriesSeconds:
        retentionDays !== undefined ? retentionDays * DAY : DEFAULT_RETENTION.deliveriesSeconds,
      shortLinkGraceSeconds:
        graceDays !== undefined ? graceDays * DAY : DEFAULT_RETENTION.shortLinkGraceSeconds,
      ...(visitDays !== undefined ? { visitsSeconds: visitDays * DAY } : {}),
    },
  };
}

/**
 * EVENTS_ALLOW_PRIVATE: unset or `false` refuses loopback, private, link-local and metadata
 * addresses for outbound events; `true` opens them all; a comma list of CIDRs opens only those.
 */
export function eventsFromEnv(env: Env): Config['events'] {
  const raw = env['EVENTS_ALLOW_PRIVATE']?.trim();
  if (raw === undefined || raw === '' || raw.toLowerCase() === 'false') return {};
  if (raw.toLowerCase() === 'true') return { allowPrivate: true };
  const cidrs = raw
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const check = new BlockList();
  for (const cidr of cidrs) {
    try {
      addCidr(check, cidr);
    } catch (err) {
      invalid(`EVENTS_ALLOW_PRIVATE must be true, false or a comma list of CIDRs: ${(err as Error).message}`);
    }
  }
  return { allowPrivate: cidrs };
}

/**
 * MEETING_TELEMETRY (`webhooks`, `poll`, `off`; `poll` by default for US government, which has no
 * meeting webhooks), MEETING_POLL_SECONDS, WEBEX_MEETINGS_TOKEN, WEBEX_MEETINGS_WEBHOOK_SECRET.
 */
function meetingsFromEnv(env: Env, broker: string): Config['meetings'] {
  const raw = env['MEETING_TELEMETRY']?.trim().toLowerCase();
  if (raw && !TELEMETRY_MODES.includes(raw as TelemetryMode))
    invalid(`MEETING_TELEMETRY must be one of ${TELEMETRY_MODES.join(', ')}`);
  const token = env['WEBEX_MEETINGS_TOKEN']?.trim();
  const webhookSecret = env['WEBEX_MEETINGS_WEBHOOK_SECRET']?.trim();
  return {
    mode: (raw as TelemetryMode | undefined) || (broker === 'usgov' ? 'poll' : 'webhooks'),
    pollSeconds: wholeFrom(env, 'MEETING_POLL_SECONDS', 1) ?? DEFAULT_POLL.seconds,
    ...(token ? { token } : {}),
    ...(webhookSecret ? { webhookSecret } : {}),
  };
}

/** An http(s) URL, or a refusal naming the variable (never its value: it may carry credentials). */
function httpUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    invalid(`${name} must be an http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    invalid(`${name} must be an http:// or https:// URL`);
  return raw;
}

/**
 * SMS_PROVIDER (`twilio`, `http`; unset or `off`: SMS off) and its provider's variables: Twilio's
 * TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID,
 * TWILIO_API_URL; the generic provider's SMS_HTTP_URL, SMS_HTTP_BODY, SMS_HTTP_AUTH. Errors name
 * the variable and the rule, never a secret's value.
 */
function smsFromEnv(env: Env): SmsProviderConfig | undefined {
  const provider = env['SMS_PROVIDER']?.trim().toLowerCase();
  if (!provider || provider === 'off') return undefined;
  const get = (name: string) => env[name]?.trim() || undefined;
  if (provider === 'twilio') {
    const accountSid = get('TWILIO_ACCOUNT_SID');
    const authToken = get('TWILIO_AUTH_TOKEN');
    if (!accountSid || !/^AC[0-9a-fA-F]{32}$/.test(accountSid))
      invalid('SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID: AC and 32 hexadecimal digits');
    if (!authToken) invalid('SMS_PROVIDER=twilio needs TWILIO_AUTH_TOKEN');
    if (!/^[\x21-\x7e]{16,128}$/.test(authToken))
      invalid('TWILIO_AUTH_TOKEN must be 16 to 128 printable characters without spaces');
    const from = get('TWILIO_FROM');
    const messagingServiceSid = get('TWILIO_MESSAGING_SERVICE_SID');
    if (!from && !messagingServiceSid)
      invalid('SMS_PROVIDER=twilio needs TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID (a sender)');
    if (from && messagingServiceSid) invalid('Set TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID, not both');
    let sender = from;
    if (from) {
      // An E.164 number (written any way), a short code, or an alphanumeric sender id.
      sender = from.startsWith('+') || from.startsWith('00') ? normalizePhone(from) : from;
      if (
        !sender ||
        !(/^\+/.test(sender) || /^\d{3,8}$/.test(sender) || /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/.test(sender))
      )
        invalid(
          'TWILIO_FROM must be an E.164 number, a short code or an alphanumeric sender id (at most 11 letters, digits, spaces)',
        );
    }
    if (messagingServiceSid && !/^MG[0-9a-fA-F]{32}$/.test(messagingServiceSid))
      invalid('TWILIO_MESSAGING_SERVICE_SID must be MG and 32 hexadecimal digits');
    const apiUrl = httpUrl('TWILIO_API_URL', get('TWILIO_API_URL') ?? TWILIO_API_URL);
    return {
      provider: 'twilio',
      accountSid,
      authToken,
      apiUrl,
      ...(sender ? { from: sender } : {}),
      ...(messagingServiceSid ? { messagingServiceSid } : {}),
    };
  }
  if (provider === 'http') {
    const url = get('SMS_HTTP_URL');
    if (!url) invalid('SMS_PROVIDER=http needs SMS_HTTP_URL');
    httpUrl('SMS_HTTP_URL', url);
    const body = env['SMS_HTTP_BODY']?.trim() || DEFAULT_HTTP_BODY;
    const problem = templateProblem(body);
    if (problem) invalid(`SMS_HTTP_BODY ${problem}`);
    const auth = get('SMS_HTTP_AUTH');
    if (auth !== undefined && !/^[\x20-\x7e]+$/.test(auth))
      invalid('SMS_HTTP_AUTH must be printable ASCII (a header value)');
    return { provider: 'http', url, body, ...(auth ? { auth } : {}) };
  }
  return invalid('SMS_PROVIDER must be twilio or http (unset: SMS off)');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Reads the environment and the flags once into a validated, frozen Config (flags over the
 * environment over the defaults). `cwd` resolves a relative data directory.
 */
export function loadConfig(input: { env: Env; flags?: ConfigFlags; cwd?: string }): Config {
  const { env } = input;
  const flags = input.flags ?? {};
  const envPort = env['PORT'];
  const port = flags.port ?? (envPort !== undefined ? portVariable('PORT', envPort) : DEFAULT_PORT);
  const host = flags.host ?? env['HOST'] ?? DEFAULT_HOST;
  const dir = resolve(input.cwd ?? '.', flags.data ?? env['DATA_DIR'] ?? DEFAULT_DATA_DIR);
  const databaseUrl = parseDatabaseUrl(flags.database ?? env['DATABASE_URL']);
  const publicUrl = flags.publicUrl ?? env['PUBLIC_URL'];
  const broker = env['BROKER'] ?? 'local';
  const token = env['WEBEX_TOKEN']?.trim();
  const apiUrl = webexApiBase({ broker }, env);
  const webhookSecret = env['WEBEX_WEBHOOK_SECRET']?.trim();
  const access = botAccessFromEnv(env);
  const jobs = jobsFromEnv(env);
  const rateLimits = rateLimitsFromEnv(env);
  const live = liveLimitsFromEnv(env);
  const ops = opsFromEnv(env);
  const sms = smsFromEnv(env);
  const config: Config = {
    listen: { port, host },
    data: { dir, ...(databaseUrl ? { databaseUrl } : {}) },
    ...(publicUrl ? { publicUrl } : {}),
    linkSource: { broker, ...(token ? { token } : {}) },
    ...(token ? { webex: { token, apiUrl, access, ...(webhookSecret ? { webhookSecret } : {}) } } : {}),
    meetings: meetingsFromEnv(env, broker),
    ...(sms ? { sms } : {}),
    webexApiUrl: apiUrl,
    ...(env['TZ'] ? { timeZone: env['TZ'] } : {}),
    logger: flags.quiet ? false : { level: env['LOG_LEVEL'] ?? 'info' },
    crypto: { concurrency: defaultCryptoConcurrency(env) },
    rateLimits,
    live,
    jobs,
    events: eventsFromEnv(env),
    alerts: { waitingSeconds: wholeFrom(env, 'WAITING_ALERT_SECONDS', 0) ?? DEFAULT_WAITING_ALERT_SECONDS },
    reminders: { offsets: reminderOffsetsFromEnv(env) },
    ...ops,
  };
  const email = emailFromEnv(env);
  if (email) (config as { email?: Config['email'] }).email = email;
  return deepFreeze(config);
}

/**
 * SMTP_URL and SMTP_FROM: both, or neither (email off). The URL is a secret: no message quotes it.
 */
function emailFromEnv(env: Env): Config['email'] {
  const url = env['SMTP_URL']?.trim() || undefined;
  const from = env['SMTP_FROM']?.trim() || undefined;
  if (!url && !from) return undefined;
  if (!url) invalid('SMTP_FROM is set but SMTP_URL is not: set both to send email, or neither');
  if (!from) invalid('SMTP_URL is set but SMTP_FROM is not: set SMTP_FROM to the address notices come from');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') || !parsed.hostname)
    invalid(
      'SMTP_URL must be an smtp:// or smtps:// URL with a host (its value is not shown: it holds a password)',
    );
  const named = /^\s*(.*?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(from);
  const address = named ? named[2]! : from;
  if (!/^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$/.test(address))
    invalid('SMTP_FROM must be an email address, or `Name <address>`');
  const name = named?.[1]?.replace(/^"|"$/g, '') || 'Instant Connect';
  return { url, from: { name, address } };
}
