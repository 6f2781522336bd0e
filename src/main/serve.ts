/**
 * Starts the service: the container (store, broker, services, adapters, jobs), then the HTTP app on
 * them; stops gracefully (stop accepting, finish, close the database).
 */
import type { FastifyInstance } from 'fastify';
import { type PruneRetention, Pruner, pruneTasks } from '../jobs/prune.js';
import { DEFAULT_RATE_LIMITS, type RateLimits } from '../reliability/rate-limit.js';
import { buildApp } from '../server/app.js';
import { createLimits } from '../server/limits.js';
import { LOG_REDACT, LOG_SERIALIZERS } from '../server/log.js';
import { serveMetrics } from '../server/metrics.js';
import type { TrustProxy } from '../server/trust-proxy.js';
import type { Config } from './config.js';
import { type BrokerContext, type BrokerContextOptions, openBrokerContext } from './container.js';

/**
 * The container's options (handed to it as they are: one list, not a copy per layer), and what the
 * HTTP side adds. `serveOptions(config)` makes them from `serve`'s Config.
 */
export interface ServeOptions extends Omit<BrokerContextOptions, 'publicUrl' | 'gatewayUrl'> {
  port: number;
  host: string;
  /**
   * Public origin of this server; default from the listen address. Given (PUBLIC_URL), it is also
   * the origin of gateway links for visits on Cisco's brokers.
   */
  publicUrl?: string;
  /** Per-minute limits (default DEFAULT_RATE_LIMITS; `serve` reads RATE_LIMIT_* variables). */
  rateLimits?: RateLimits;
  /** pino logger options, or false. */
  logger?: boolean | Record<string, unknown>;
  /** Proxies believed about the client's address (TRUST_PROXY); default none. */
  trustProxy?: TrustProxy;
  /**
   * /metrics: a bearer `token` (METRICS_TOKEN), and/or a listener of its own (METRICS_PORT, on
   * `host`, default 127.0.0.1), then not on the main port. Neither: the main port, this machine only.
   */
  metrics?: { token?: string; host?: string; port?: number; perMinute?: number };
  /** The pruning job: interval (0: once at start only) and retention; false: never prunes. */
  prune?: false | (PruneRetention & { intervalSeconds?: number });
  /** Seconds between two runs of the closing job (default CLOSE_INTERVAL_SECONDS; 0: at start only). */
  closeIntervalSeconds?: number;
}

/** How often the closing job looks for visits whose window closed (their no-show is that late at most). */
const CLOSE_INTERVAL_SECONDS = 15;

/** What `serve` starts with its Config: every section where the server expects it. */
export function serveOptions(config: Config): ServeOptions {
  const { listen, data } = config;
  return {
    port: listen.port,
    host: listen.host,
    dataDir: data.dir,
    ...(data.databaseUrl ? { databaseUrl: data.databaseUrl } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    linkSource: config.linkSource,
    ...(config.webex ? { webex: config.webex } : {}),
    meetings: config.meetings,
    ...(config.sms ? { sms: config.sms } : {}),
    ...(config.timeZone ? { timeZone: config.timeZone } : {}),
    jobs: config.jobs,
    events: config.events,
    alerts: config.alerts,
    reminders: config.reminders,
    ...(config.email ? { email: config.email } : {}),
    crypto: config.crypto,
    rateLimits: config.rateLimits,
    live: config.live,
    trustProxy: config.trustProxy,
    metrics: config.metrics,
    prune: config.prune,
    logger: config.logger,
  };
}

export interface RunningServer {
  app: FastifyInstance;
  context: BrokerContext;
  /** Where it listens, e.g. http://127.0.0.1:8080 */
  url: string;
  publicUrl: string;
  /** Where /metrics listens when it has a port of its own. */
  metricsUrl?: string;
  /** The pruning job (undefined when turned off). */
  pruner?: Pruner;
  /** The closing job: finds visits whose window closed and records their no-show, every CLOSE_INTERVAL_SECONDS. */
  closer: Pruner;
  close(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  // The links' origin is known once listening (below); until then, the loopback default.
  const context = await openBrokerContext({
    ...options,
    publicUrl: options.publicUrl ?? 'http://127.0.0.1',
    ...(options.publicUrl ? { gatewayUrl: options.publicUrl } : {}),
    // Each notice attempt, addresses masked (pino's redaction knows nothing of them).
    noticeLog: (level, line) => app?.log[level](line),
  });
  const pruner =
    options.prune === false
      ? undefined
      : new Pruner({
          tasks: pruneTasks(context.store, options.prune ?? {}),
          // A failed table (the database is down) is tried again at the next run.
          onError: (task, err) =>
            app?.log.warn(
              { task, error: (err as Error).message },
              'pruning failed; trying again at the next run',
            ),
          ...(options.prune?.intervalSeconds !== undefined
            ? { intervalSeconds: options.prune.intervalSeconds }
            : {}),
        });
  // Windows close by the clock: a short, bounded run finds them (each visit closed once, across instances).
  const closer = new Pruner({
    tasks: [{ name: 'visit_windows', prune: (_now, limit) => context.visits.closeWindows(limit) }],
    intervalSeconds: options.closeIntervalSeconds ?? CLOSE_INTERVAL_SECONDS,
    batch: 200,
    onError: (task, err) =>
      app?.log.warn(
        { task, error: (err as Error).message },
        'closing visits failed; trying again at the next run',
      ),
  });
  const metricsPort = options.metrics?.port;
  let app: FastifyInstance;
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  const limits = createLimits(context.rateLimiter, options.rateLimits ?? DEFAULT_RATE_LIMITS);
  // The bot's visits go through the same issuing limits (before the job runner starts, below).
  context.bot?.useLimits(limits);
  try {
    const logger =
      options.logger === false || options.logger === undefined
        ? false
        : {
            level: 'info',
            redact: LOG_REDACT,
            serializers: LOG_SERIALIZERS,
            ...(options.logger === true ? {} : options.logger),
          };
    app = await buildApp(
      {
        store: context.store,
        broker: context.broker,
        apiKeys: context.apiKeys,
        visits: context.visits,
        live: context.live,
        trigger: context.trigger,
        events: context.events,
        limits,
        limiter: context.limiter,
        runner: context.runner,
        eventWorker: context.eventWorker,
        ...(context.bot ? { bot: context.bot } : {}),
        ...(context.meetings ? { meetings: context.meetings } : {}),
        ...(context.smsService ? { sms: context.smsService } : {}),
        ...(pruner ? { pruner } : {}),
      },
      {
        logger,
        secureCookies: /^https:/i.test(options.publicUrl ?? ''),
        ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
        metrics: {
          ...(options.metrics?.token !== undefined ? { token: options.metrics.token } : {}),
          ...(options.metrics?.perMinute !== undefined ? { perMinute: options.metrics.perMinute } : {}),
          onMainPort: metricsPort === undefined,
        },
      },
    );
    await app.listen({ port: options.port, host: options.host });
  } catch (err) {
    await context.close();
    throw err;
  }
  if (metricsPort !== undefined) {
    try {
      metricsServer = await serveMetrics(app, {
        host: options.metrics?.host ?? '127.0.0.1',
        port: metricsPort,
      });
    } catch (err) {
      await app.close();
      await context.close();
      throw err;
    }
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  const publicUrl = (options.publicUrl ?? url).replace(/\/+$/, '');
  context.broker.publicUrl = publicUrl;
  context.runner.start();
  // A failed delivery attempt is a warning (its attempts are also in GET /api/events/deliveries).
  context.eventWorker.onFailure = (failure) => app.log.warn(failure, 'outbound event delivery failed');
  context.eventWorker.start();
  if (context.meetings) {
    context.meetings.onError = (what, err) =>
      app.log.warn({ error: (err as Error).message }, `${what} failed; trying again at the next round`);
    context.meetings.start();
  }
  pruner?.start();
  closer.start();
  let closing: Promise<void> | undefined;
  return {
    app,
    context,
    url,
    publicUrl,
    ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
    ...(pruner ? { pruner } : {}),
    closer,
    close: () => {
      closing ??= (async () => {
        await metricsServer?.server.close();
        await app.close(); // stops accepting, waits for requests in flight
        await pruner?.stop();
        await closer.stop();
        await context.close();
      })();
      return closing;
    },
  };
}
