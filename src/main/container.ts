/**
 * Wires the broker's parts on one store: the organisation, the keys, the issuing service.
 * `serve` and the `keys` commands share it, so both see the same data directory.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { CiscoLinkSource } from '../adapters/cisco-link-source.js';
import { type SmsProviderConfig, smsProvider } from '../adapters/sms/index.js';
import { SmtpChannel } from '../adapters/smtp.js';
import { WebexClient } from '../adapters/webex/client.js';
import type { BotAccessOptions } from '../bot/access.js';
import { BotService } from '../bot/bot.js';
import { ApiKeyService } from '../broker/api-keys.js';
import { Keyring } from '../broker/keyring.js';
import { BrokerService } from '../broker/service.js';
import { WorkLimiter } from '../crypto/limiter.js';
import type { Channel } from '../domain/channels.js';
import { nowSeconds } from '../domain/time.js';
import { InstantConnectError } from '../errors.js';
import { EventsService } from '../events/service.js';
import { AddressPolicy, type PrivateAllowance } from '../events/ssrf.js';
import { EventDeliveryWorker, type EventWorkerTiming } from '../events/worker.js';
import { TriggerService } from '../hooks/trigger.js';
import { JobRunner } from '../jobs/runner.js';
import { MeetingTelemetry, type TelemetryMode } from '../meetings/telemetry.js';
import { MemoryRateLimiter, type RateLimiter, StoreRateLimiter } from '../reliability/rate-limit.js';
import { SmsService } from '../sms/service.js';
import { openStore } from '../store/open.js';
import type { PostgresStore } from '../store/postgres.js';
import type { Org, Store } from '../store/types.js';
import { DEFAULT_WAITING_ALERT_SECONDS, WAITING_ALERT_JOB, WaitingAlerts } from '../visits/alerts.js';
import { Arrivals } from '../visits/arrivals.js';
import { type LinkSource, LocalLinkSource } from '../visits/link-source.js';
import { type Dialler, type LiveBus, type LiveLimits, LiveVisits } from '../visits/live.js';
import { NOTICE_JOB, Notices } from '../visits/notices.js';
import { VisitService } from '../visits/service.js';

export interface BrokerContextOptions {
  dataDir: string;
  /** PostgreSQL instead of SQLite in `dataDir` (postgres:// URL, a secret: never logged). */
  databaseUrl?: string;
  /** Public origin of the server (short and long links point here). */
  publicUrl: string;
  /**
   * The public origin when it was set explicitly (PUBLIC_URL, `.env` or `--public-url`): visits on
   * another broker (Cisco's) then get gateway links on it. Unset: no gateway (a guessed origin,
   * such as the listen address, would hand out links nobody can reach).
   */
  gatewayUrl?: string;
  orgName?: string;
  /** PBKDF2 work: jobs in flight (see defaultCryptoConcurrency) and how many may wait before issuing answers 503. */
  crypto?: { concurrency?: number; queue?: number };
  /** Where visits get their links: `local` (default), `commercial`, `usgov` or a broker URL, with its token. */
  linkSource?: { broker: string; token?: string };
  /** Zone for visit times given without one (default UTC). */
  timeZone?: string;
  /** How live visit changes reach other instances (default in-process; LISTEN/NOTIFY on PostgreSQL). */
  bus?: LiveBus;
  /** Dials room devices when a host joins (default: records only). */
  dialler?: Dialler;
  /** Bounds on event streams and joins (default DEFAULT_LIVE_LIMITS; `serve` reads LIVE_*). */
  live?: Partial<LiveLimits>;
  /**
   * The bot: its token, the Webex API base, the webhook secret when not stored by `webhook
   * register`, and who may use it (without `access` lists the bot is closed).
   */
  webex?: { token: string; apiUrl: string; webhookSecret?: string; access?: BotAccessOptions };
  /** Background jobs: how often to look for due jobs, and how long a claimed job is leased. */
  jobs?: { pollMs?: number; leaseSeconds?: number };
  /**
   * Outbound events: the private addresses subscribers may be at (EVENTS_ALLOW_PRIVATE), and the
   * delivery worker's timing (poll default `jobs.pollMs`, timeout, retries, when to disable).
   */
  events?: { allowPrivate?: PrivateAllowance; timing?: Partial<EventWorkerTiming> };
  /** "A patient is waiting": seconds before the host is told (default 60; 0: never). Needs `webex`. */
  alerts?: { waitingSeconds?: number };
  /**
   * Meeting telemetry for Cisco visits (needs `webex` and a Cisco link source): webhooks, polling
   * (FedRAMP has no meeting webhooks) or off; a token that may read meeting participants when the
   * bot's may not; the meeting webhooks' secret when not stored.
   */
  meetings?: { mode: TelemetryMode; pollSeconds?: number; token?: string; webhookSecret?: string };
  /** SMS through a provider (SMS_PROVIDER); absent: SMS is off. */
  sms?: SmsProviderConfig;
  /** Reminders before a visit's start (REMINDER_OFFSETS, seconds; default 24 h and 1 h; empty: off). */
  reminders?: { offsets?: readonly number[] };
  /** Email notices to visits' recipients: SMTP_URL (a secret) and SMTP_FROM. Absent: email off. */
  email?: { url: string; from: { name: string; address: string } };
  /** Told of each notice attempt (addresses masked). */
  noticeLog?: (level: 'info' | 'warn', line: string) => void;
}

export interface BrokerContext {
  store: Store;
  org: Org;
  keyring: Keyring;
  broker: BrokerService;
  apiKeys: ApiKeyService;
  visits: VisitService;
  live: LiveVisits;
  limiter: WorkLimiter;
  runner: JobRunner;
  /** Rate limit counters: in memory, or in the database when instances share PostgreSQL. */
  rateLimiter: RateLimiter;
  trigger: TriggerService;
  /** Outbound event subscriptions and deliveries. */
  events: EventsService;
  /** Sends them (serve starts it). */
  eventWorker: EventDeliveryWorker;
  /** Present when a bot token is configured. */
  bot?: BotService;
  /** "A patient is waiting" messages: present with the bot, unless turned off (WAITING_ALERT_SECONDS=0). */
  alerts?: WaitingAlerts;
  /** Where arrivals are recorded (the live lobby, later the link gateway and telemetry). */
  arrivals: Arrivals;
  /** Present for Cisco visits with a token, unless turned off. */
  meetings?: MeetingTelemetry;
  /** Notices to visits' recipients: the jobs' handler, sending only on the channels that are on. */
  notices: Notices;
  webex?: WebexClient;
  /** Sends SMS (opted-out numbers refused, accepted messages recorded): present with SMS_PROVIDER. */
  sms?: Channel;
  /** The SMS provider's webhooks (status callbacks, replies such as STOP), with `sms`. */
  smsService?: SmsService;
  /** What the first start created, so `serve` can say so. */
  created: { org: boolean };
  close(): Promise<void>;
}

/** libuv's thread pool size: UV_THREADPOOL_SIZE, else libuv's default of 4. */
export function threadPoolSize(env: Readonly<Record<string, string | undefined>>): number {
  return Number(env['UV_THREADPOOL_SIZE']) || 4;
}

/**
 * PBKDF2 runs on libuv's thread pool (UV_THREADPOOL_SIZE, default 4, fixed when the process
 * starts). The limiter counts work in full-cost jobs (p2c 32767); measured on 2 cores, cores + 2
 * of them keeps both cores busy between each token's main-thread steps (3.5 M iterations/s
 * against 3.2 with cores + 1). Never more than the pool: an fs or DNS job then waits at most for
 * one PBKDF2 (about 20 ms), and page openings have the limiter's priority lane.
 * The caller passes the environment (the container reads none): CRYPTO_CONCURRENCY overrides; on larger machines also start with UV_THREADPOOL_SIZE=cores+2.
 */
export function defaultCryptoConcurrency(env: Readonly<Record<string, string | undefined>> = {}): number {
  const explicit = Number(env['CRYPTO_CONCURRENCY']);
  if (Number.isInteger(explicit) && explicit >= 1) return explicit;
  const pool = threadPoolSize(env);
  return Math.max(1, Math.min(availableParallelism() + 2, pool));
}

export async function openBrokerContext(options: BrokerContextOptions): Promise<BrokerContext> {
  const store = await openStore({
    dataDir: options.dataDir,
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
  });
  let ownBus: LiveBus | undefined;
  try {
    const now = nowSeconds();
    // One organisation, however many instances start at once on an empty database.
    const { org, created: createdOrg } = await store.ensureDefaultOrg(() => ({
      id: randomUUID(),
      name: options.orgName ?? 'Local organisation',
      createdAt: now,
    }));
    const keyring = new Keyring(store);
    await keyring.ensure(now);
    const limiter = new WorkLimiter({
      concurrency: options.crypto?.concurrency ?? defaultCryptoConcurrency(),
      maxQueue: options.crypto?.queue ?? 2000,
    });
    const broker = new BrokerService({ store, keyring, limiter, publicUrl: options.publicUrl });
    // Instances sharing a PostgreSQL database share live changes through it.
    if (!options.bus && store.kind === 'postgres' && options.databaseUrl) {
      const { PostgresBus } = await import('../adapters/pg-bus.js');
      ownBus = await PostgresBus.connect(options.databaseUrl, { pool: (store as PostgresStore).pool });
    }
    const bus = options.bus ?? ownBus;
    const rateLimiter = store.kind === 'postgres' ? new StoreRateLimiter(store) : new MemoryRateLimiter();
    // One place records arrivals, for the lobby and the visits service alike.
    const arrivals = new Arrivals({ store });
    const live = new LiveVisits({
      store,
      keyring,
      rateLimiter,
      arrivals,
      ...(options.live ? { limits: options.live } : {}),
      ...(bus ? { bus } : {}),
      ...(options.dialler ? { dialler: options.dialler } : {}),
    });
    const policy = new AddressPolicy(options.events?.allowPrivate);
    const eventWorker = new EventDeliveryWorker({
      store,
      policy,
      timing: {
        ...(options.jobs?.pollMs !== undefined ? { pollMs: options.jobs.pollMs } : {}),
        ...options.events?.timing,
      },
    });
    const events = new EventsService({ store, policy, onQueued: () => eventWorker.kick() });
    // Twilio calls back only a public address: PUBLIC_URL set explicitly.
    const publicUrl = options.gatewayUrl;
    const smsService: SmsService | undefined = options.sms
      ? new SmsService({
          store,
          provider: smsProvider(options.sms, {
            ...(publicUrl
              ? { statusCallback: `${publicUrl.replace(/\/+$/, '')}/hooks/sms/twilio/status` }
              : {}),
            // Twilio's 21610 (the number replied STOP to Twilio): recorded here too.
            onOptedOut: (phone): Promise<void> => smsService?.providerOptedOut(phone) ?? Promise.resolve(),
          }),
          ...(options.sms.provider === 'twilio' ? { twilioAuthToken: options.sms.authToken } : {}),
          ...(publicUrl ? { publicUrl: () => publicUrl } : {}),
        })
      : undefined;
    const smtp = options.email ? new SmtpChannel(options.email) : undefined;
    const notices = new Notices({
      store,
      // Each recipient's notices go on its channel when that channel is on (SMTP_URL, SMS_PROVIDER).
      channels: { ...(smtp ? { email: smtp } : {}), ...(smsService ? { sms: smsService.channel } : {}) },
      urlOf: (link) => visits.handedUrlOf(link),
      from: options.email?.from ?? { name: 'Instant Connect', address: 'noreply@invalid' },
      ...(options.timeZone ? { timeZone: options.timeZone } : {}),
      ...(options.reminders?.offsets ? { reminderOffsets: options.reminders.offsets } : {}),
      ...(options.noticeLog ? { log: options.noticeLog } : {}),
      onEvent: () => eventWorker.kick(),
    });
    const visits = new VisitService({
      notices,
      store,
      source: linkSource(broker, options.linkSource),
      ...(options.gatewayUrl ? { gatewayUrl: options.gatewayUrl } : {}),
      linkOrigin: () => broker.publicUrl,
      ...(options.timeZone ? { timeZone: options.timeZone } : {}),
      arrivals,
      // Pages of a cancelled visit learn it at once (a bus that cannot publish must not end the process);
      // the deliveries its event queued go out soon.
      onChange: (visit) => {
        eventWorker.kick();
        // The notices a creation or a cancel stored with it go out soon.
        runner.kick();
        void live.changed(visit.id).catch(() => {});
      },
    });
    const handlers = { [NOTICE_JOB]: notices.handler() };
    const runner = new JobRunner({ store, handlers, ...options.jobs });
    const webex = options.webex ? new WebexClient(options.webex.token, options.webex.apiUrl) : undefined;
    // Inline deliveries answer the trigger's caller now: no retries there (the job retries).
    const webexOnce = options.webex
      ? new WebexClient(options.webex.token, options.webex.apiUrl, { retry: { retries: 0 }, timeoutMs: 5000 })
      : undefined;
    const trigger = new TriggerService({ store, visits, runner, ...(webexOnce ? { webex: webexOnce } : {}) });
    const bot = webex
      ? new BotService({
          store,
          visits,
          runner,
          webex,
          org: async () => org,
          ...(options.webex?.webhookSecret ? { secret: options.webex.webhookSecret } : {}),
          ...(options.timeZone ? { timeZone: options.timeZone } : {}),
          ...(options.webex?.access ? { access: options.webex.access } : {}),
        })
      : undefined;
    if (bot) Object.assign(handlers, bot.handlers(), { deliver: bot.deliverHandler() });
    const waitingSeconds = options.alerts?.waitingSeconds ?? DEFAULT_WAITING_ALERT_SECONDS;
    const alerts =
      webex && waitingSeconds > 0
        ? new WaitingAlerts({
            store,
            webex,
            delaySeconds: waitingSeconds,
            urlOf: (link) => visits.handedUrlOf(link),
          })
        : undefined;
    if (alerts) {
      Object.assign(handlers, { [WAITING_ALERT_JOB]: alerts.handler() });
      arrivals.listen(alerts);
    }
    const source = visits.source.kind;
    const meetingsMode = options.meetings?.mode ?? 'off';
    const meetings =
      options.webex && source !== 'local' && meetingsMode !== 'off'
        ? new MeetingTelemetry({
            store,
            visits,
            runner,
            api: options.meetings?.token
              ? new WebexClient(options.meetings.token, options.webex.apiUrl)
              : (webex as WebexClient),
            mode: meetingsMode,
            sources: [source],
            ...(options.meetings?.webhookSecret ? { secret: options.meetings.webhookSecret } : {}),
            ...(options.meetings?.pollSeconds ? { poll: { seconds: options.meetings.pollSeconds } } : {}),
          })
        : undefined;
    if (meetings) Object.assign(handlers, meetings.handlers());
    return {
      ...(smsService ? { sms: smsService.channel, smsService } : {}),
      arrivals,
      notices,
      ...(alerts ? { alerts } : {}),
      rateLimiter,
      runner,
      trigger,
      events,
      eventWorker,
      ...(bot ? { bot } : {}),
      ...(meetings ? { meetings } : {}),
      ...(webex ? { webex } : {}),
      visits,
      live,
      store,
      org,
      keyring,
      broker,
      apiKeys: new ApiKeyService(store),
      limiter,
      created: { org: createdOrg },
      close: async () => {
        await eventWorker.stop();
        await meetings?.stop();
        await runner.stop();
        smtp?.close();
        await live.close();
        await store.close();
      },
    };
  } catch (err) {
    await ownBus?.close();
    await store.close();
    throw err;
  }
}

function linkSource(broker: BrokerService, config: BrokerContextOptions['linkSource']): LinkSource {
  if (!config || config.broker === 'local') return new LocalLinkSource(broker);
  if (!config.token) {
    throw new InstantConnectError(
      'ERR_VALIDATION',
      `BROKER=${config.broker} needs WEBEX_TOKEN (a bot token) in the server's configuration`,
    );
  }
  return new CiscoLinkSource(config.broker, config.token);
}
