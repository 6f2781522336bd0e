/**
 * GET /metrics in Prometheus format: requests by route and status, latency, links issued, the
 * crypto queue, rate-limit refusals and job retries. No labels carry user data (routes are
 * patterns, never URLs with ciphers).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BrokerService } from '../broker/service.js';
import type { WorkLimiter } from '../crypto/limiter.js';
import type { JobRunner } from '../jobs/runner.js';
import type { Limits } from './limits.js';

export interface MetricSources {
  broker: BrokerService;
  limiter: WorkLimiter;
  runner: JobRunner;
  limits: Limits;
}

/** Call on the root app before the routes: its onResponse hook must see every route. */
export function setupMetrics(app: FastifyInstance, sources: MetricSources): void {
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
  app.get('/metrics', async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
