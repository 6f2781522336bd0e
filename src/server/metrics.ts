/**
 * GET /metrics in Prometheus format: requests by route and status, latency, links issued, the
 * crypto queue, rate-limit refusals and job retries. No labels carry user data (routes are
 * patterns, never URLs with ciphers).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BrokerService } from '../broker/service.js';
import type { WorkLimiter } from '../crypto/limiter.js';
import { InstantConnectError, RateLimitedError, UnauthorizedError } from '../errors.js';
import type { Pruner } from '../jobs/prune.js';
import type { JobRunner } from '../jobs/runner.js';
import { MemoryRateLimiter } from '../reliability/rate-limit.js';
import type { Store } from '../store/types.js';
import { sendError } from './http-errors.js';
import type { Limits } from './limits.js';
import { route } from './route.js';

export interface MetricSources {
  broker: BrokerService;
  store: Pick<Store, 'writeStats'>;
  limiter: WorkLimiter;
  runner: JobRunner;
  limits: Limits;
  pruner?: Pruner;
  /** Outbound events' delivery worker: deliveries done, attempts failed, subscriptions disabled. */
  events?: { stats: { delivered: number; failedAttempts: number; disabled: number } };
}

/**
 * Who may read /metrics (its figures are no secret, but they show traffic and load):
 * - with `token`, a request with `Authorization: Bearer <token>` (401 otherwise), from anywhere;
 * - without, only a request from this machine: its socket address is loopback and it carries no
 *   forwarding header (so a reverse proxy on the same host does not pass the internet through);
 *   403 otherwise.
 * Every request counts against a per-address budget (429 with Retry-After past it).
 */
export interface MetricsAccess {
  token?: string;
  /** false: no /metrics route on the main app (a separate listener serves it, see serveMetrics). */
  onMainPort?: boolean;
  /** Scrapes per address per minute (default 60; 0: no limit). */
  perMinute?: number;
}

const DEFAULT_METRICS_PER_MINUTE = 60;

/** The /metrics handler, for the main app or a listener of its own. */
type MetricsHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** Constant time whatever the lengths: both sides are hashed first. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = sha256(match?.[1] ?? '');
  return timingSafeEqual(given, sha256(token)) && match !== null;
}

function isLoopback(address: string | undefined): boolean {
  if (!address || isIP(address) === 0) return false;
  return address === '::1' || /^(::ffff:)?127\./i.test(address);
}

const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host'];

/** The access rules of MetricsAccess around the registry's text. */
function metricsHandler(
  registry: Registry,
  access: Pick<MetricsAccess, 'token' | 'perMinute'> & { loopbackOnly: boolean },
): MetricsHandler {
  const limiter = new MemoryRateLimiter();
  const perMinute = access.perMinute ?? DEFAULT_METRICS_PER_MINUTE;
  return async (request, reply) => {
    if (perMinute > 0) {
      const decision = await limiter.hit(`metrics:ip:${request.ip}`, perMinute, 60);
      if (!decision.allowed)
        throw new RateLimitedError(
          `Too many metrics requests from your address: at most ${perMinute} a minute; try again in ${decision.retryAfter} s`,
          decision.retryAfter,
        );
    }
    if (access.token !== undefined) {
      if (!tokenMatches(request.headers.authorization, access.token))
        throw new UnauthorizedError('GET /metrics needs Authorization: Bearer <METRICS_TOKEN>');
    } else if (access.loopbackOnly) {
      const forwarded = FORWARDING_HEADERS.some((h) => request.headers[h] !== undefined);
      if (!isLoopback(request.socket.remoteAddress) || forwarded)
        throw new InstantConnectError(
          'ERR_FORBIDDEN',
          'GET /metrics answers only this machine; set METRICS_TOKEN or METRICS_PORT to scrape it from elsewhere',
        );
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  };
}

const HANDLERS = new WeakMap<FastifyInstance, { registry: Registry; perMinute?: number; token?: string }>();

/** The registry `setupMetrics` made for this app (a separate metrics listener serves it). */
const metricsOf = (app: FastifyInstance) => HANDLERS.get(app);

/** Call on the root app before the routes: its onResponse hook must see every route. */
export function setupMetrics(app: FastifyInstance, sources: MetricSources, access: MetricsAccess = {}): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ic_' });
  const requests = new Counter({
    name: 'ic_http_requests_total',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'ic_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // Counters kept by the services, exported as deltas at scrape time.
  const fromTotal = (name: string, help: string, read: () => number) => {
    let last = 0;
    return new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read();
        if (now > last) this.inc(now - last);
        last = now;
      },
    });
  };
  fromTotal(
    'ic_links_issued_total',
    'Links (tokens) issued by this broker',
    () => sources.broker.issuedLinks,
  );
  fromTotal(
    'ic_job_retries_total',
    'Background job attempts that failed and will be retried',
    () => sources.runner.stats.retried,
  );
  fromTotal(
    'ic_jobs_failed_total',
    'Background jobs given up after their last attempt',
    () => sources.runner.stats.failed,
  );
  fromTotal('ic_jobs_done_total', 'Background jobs done', () => sources.runner.stats.done);
  const events = sources.events;
  if (events) {
    fromTotal(
      'ic_event_deliveries_total',
      'Outbound event deliveries a subscriber accepted (2xx)',
      () => events.stats.delivered,
    );
    fromTotal(
      'ic_event_delivery_failures_total',
      'Outbound event delivery attempts that failed (each is retried until 24 h have passed)',
      () => events.stats.failedAttempts,
    );
    fromTotal(
      'ic_event_subscriptions_disabled_total',
      'Subscriptions disabled after failing for too long',
      () => events.stats.disabled,
    );
  }
  const writeStats = sources.store.writeStats;
  if (writeStats) {
    fromTotal('ic_store_commits_total', 'SQLite commits of the grouped writes', () => writeStats.commits);
    fromTotal(
      'ic_store_writes_total',
      'SQLite writes committed in groups (writes / commits: writes per commit)',
      () => writeStats.writes,
    );
  }
  const lastRefused: Record<string, number> = {};
  new Counter({
    name: 'ic_rate_limit_refusals_total',
    help: 'Requests refused by a rate limit, by kind (issue, public, open: failed token openings, short: unknown short-link codes)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      for (const [kind, total] of Object.entries(sources.limits.refused)) {
        this.inc({ kind }, total - (lastRefused[kind] ?? 0));
        lastRefused[kind] = total;
      }
    },
  });
  new Gauge({
    name: 'ic_crypto_queue_depth',
    help: 'PBKDF2 jobs waiting for the crypto limiter',
    registers: [registry],
    collect() {
      this.set(sources.limiter.queued);
    },
  });
  new Gauge({
    name: 'ic_crypto_in_flight',
    help: 'PBKDF2 jobs running',
    registers: [registry],
    collect() {
      this.set(sources.limiter.inFlight);
    },
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    latency.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });
  if (sources.pruner) {
    const pruner = sources.pruner;
    const last: Record<string, number> = {};
    new Counter({
      name: 'ic_pruned_rows_total',
      help: 'Rows deleted by the pruning job, by table (deliveries, short_links, sessions, …)',
      labelNames: ['table'] as const,
      registers: [registry],
      collect() {
        for (const [table, total] of Object.entries(pruner.stats.pruned)) {
          this.inc({ table }, total - (last[table] ?? 0));
          last[table] = total;
        }
      },
    });
  }

  HANDLERS.set(app, {
    registry,
    ...(access.token !== undefined ? { token: access.token } : {}),
    ...(access.perMinute !== undefined ? { perMinute: access.perMinute } : {}),
  });
  if (access.onMainPort === false) return;
  route(app, 'metrics', metricsHandler(registry, { ...access, loopbackOnly: true }));
}

/**
 * A listener of its own for /metrics (METRICS_HOST, default 127.0.0.1, and METRICS_PORT), serving
 * `app`'s registry and nothing else. The bind address decides who reaches it; a token, when set,
 * is required here too.
 */
export async function serveMetrics(
  app: FastifyInstance,
  listen: { host: string; port: number },
): Promise<{ server: FastifyInstance; url: string }> {
  const metrics = metricsOf(app);
  if (!metrics) throw new Error('setupMetrics was not called on this app');
  const server = Fastify({
    logger: false,
    requestTimeout: 30_000,
    connectionTimeout: 72_000,
    http: { headersTimeout: 10_000 },
  });
  server.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  server.setNotFoundHandler((request, reply) =>
    sendError(new InstantConnectError('ERR_NOT_FOUND', 'This port serves only GET /metrics'), request, reply),
  );
  server.get('/metrics', metricsHandler(metrics.registry, { ...metrics, loopbackOnly: false }));
  await server.listen(listen);
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : listen.port;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return { server, url: `http://${host}:${port}` };
}
