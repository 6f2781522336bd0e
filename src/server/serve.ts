/** Starts the service: store, broker, HTTP; stops gracefully (stop accepting, finish, close the database). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type BrokerContext, openBrokerContext } from '../broker/context.js';
import { DEFAULT_RATE_LIMITS, type RateLimits } from '../reliability/rate-limit.js';
import type { Dialler } from '../visits/live.js';
import { buildApp } from './app.js';
import { createLimits } from './limits.js';

export interface ServeOptions {
  port: number;
  host: string;
  dataDir: string;
  /** PostgreSQL instead of SQLite in `dataDir` (postgres:// URL; never logged). */
  databaseUrl?: string;
  /** Public origin of this server; default from the listen address. */
  publicUrl?: string;
  orgName?: string;
  /** Where visits get their links (default the local broker). */
  linkSource?: { broker: string; token?: string };
  /** Zone for visit times given without one. */
  timeZone?: string;
  /** The bot (and deliveries): token, Webex API base, webhook secret. */
  webex?: { token: string; apiUrl: string; webhookSecret?: string };
  /** PBKDF2 work: jobs in flight and the queue bound past which issuing answers 503. */
  crypto?: { concurrency?: number; queue?: number };
  /** Per-minute limits (default DEFAULT_RATE_LIMITS; `serve` reads RATE_LIMIT_* variables). */
  rateLimits?: RateLimits;
  /** Background jobs: poll interval and lease. */
  jobs?: { pollMs?: number; leaseSeconds?: number };
  /** pino logger options, or false. */
  logger?: boolean | Record<string, unknown>;
  /** Dials room devices when a host joins (default: records only). */
  dialler?: Dialler;
}

export interface RunningServer {
  app: FastifyInstance;
  context: BrokerContext;
  /** Where it listens, e.g. http://127.0.0.1:8080 */
  url: string;
  publicUrl: string;
  close(): Promise<void>;
}

/** Secrets never reach a log line, whatever a route logs. */
export const LOG_REDACT = {
  paths: [
    'req.headers.authorization',
    'req.headers.cookie',
    'req.headers["x-spark-signature"]',
    'req.query.data',
    'headers.authorization',
    'authorization',
    'token',
    'key',
    'secret',
    'cipher',
  ],
  censor: '[REDACTED]',
};

/**
 * The request URL as logged: a link page's `?data=` is the link's whole secret (its cipher), so it
 * is censored; fastify's default serializer logs `url` with the query, which `req.query.data`
 * above never reaches.
 */
export function redactUrl(url: string): string {
  return url.replace(/([?&]data=)[^&#]*/gi, `$1${LOG_REDACT.censor}`);
}

const LOG_SERIALIZERS = {
  req: (request: FastifyRequest) => ({
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }),
};

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const context = await openBrokerContext({
    dataDir: options.dataDir,
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    publicUrl: options.publicUrl ?? 'http://127.0.0.1',
    ...(options.orgName ? { orgName: options.orgName } : {}),
    ...(options.linkSource ? { linkSource: options.linkSource } : {}),
    ...(options.timeZone ? { timeZone: options.timeZone } : {}),
    ...(options.webex ? { webex: options.webex } : {}),
    ...(options.jobs ? { jobs: options.jobs } : {}),
    ...(options.dialler ? { dialler: options.dialler } : {}),
    ...(options.crypto?.concurrency ? { cryptoConcurrency: options.crypto.concurrency } : {}),
    ...(options.crypto?.queue !== undefined ? { cryptoQueue: options.crypto.queue } : {}),
  });
  let app: FastifyInstance;
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
        limits: createLimits(context.rateLimiter, options.rateLimits ?? DEFAULT_RATE_LIMITS),
        limiter: context.limiter,
        runner: context.runner,
        ...(context.bot ? { bot: context.bot } : {}),
      },
      {
        logger,
        secureCookies: /^https:/i.test(options.publicUrl ?? ''),
      },
    );
    await app.listen({ port: options.port, host: options.host });
  } catch (err) {
    await context.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  const publicUrl = (options.publicUrl ?? url).replace(/\/+$/, '');
  context.broker.publicUrl = publicUrl;
  context.runner.start();
  let closing: Promise<void> | undefined;
  return {
    app,
    context,
    url,
    publicUrl,
    close: () => {
      closing ??= (async () => {
        await app.close(); // stops accepting, waits for requests in flight
        await context.close();
      })();
      return closing;
    },
  };
}
